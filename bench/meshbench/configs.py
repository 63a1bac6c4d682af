"""Configuration of every process: the nginx upstream, mesh-proxy, Envoy, HAProxy, nginx."""

import json
import os

HOST = "reviews.shop.svc.cluster.local"
BODY_1K = "x" * 1024
ROUTES = 100
BIG = 1_000_000_000


def nginx_common(d, workers):
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    return f"""daemon off;
master_process on;
worker_processes {workers};
worker_rlimit_nofile 16000;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 7000; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  default_type text/plain;
"""


def nginx_upstream(d, h1_ports, h2_port):
    """The upstream: a static responder on two HTTP/1.1 ports (subsets v1 and v2) and an h2c one."""
    listens = "".join(f"    listen 127.0.0.1:{p};\n" for p in h1_ports)
    return nginx_common(d, 1) + f"""  server {{
{listens}    listen 127.0.0.1:{h2_port} http2;
    location = /2b {{ return 200 "ok"; }}
    location = /1k {{ return 200 "{BODY_1K}"; }}
  }}
}}
"""


def nginx_proxy(d, workers, h1_port, h2_port, upstream):
    return nginx_common(d, workers) + f"""  upstream u {{ server 127.0.0.1:{upstream}; keepalive 128; keepalive_requests 1000000; }}
  server {{
    listen 127.0.0.1:{h1_port};
    listen 127.0.0.1:{h2_port} http2;
    location / {{
      proxy_pass http://u;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering on;
    }}
  }}
}}
"""


def haproxy(workers, h1_port, h2_port, upstream):
    return f"""global
  nbthread {workers}
  maxconn 7000
defaults
  mode http
  timeout connect 10s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
  http-reuse always
frontend f
  bind 127.0.0.1:{h1_port}
  bind 127.0.0.1:{h2_port} proto h2
  default_backend b
backend b
  server u 127.0.0.1:{upstream}
"""


# ---------------------------------------------------------------------------------------------
# mesh-proxy

def mesh_bootstrap(ns, name, sa, labels, inbound, app, outbound, admin, certs, cert_name):
    lines = [
        f"workload: {{name: {name}, namespace: {ns}, serviceAccount: {sa}, labels: {labels}}}",
        f'inbound: {{listen: "127.0.0.1:{inbound}", app: "127.0.0.1:{app}"}}',
    ]
    if outbound:
        lines.append(f'outbound: {{listen: "127.0.0.1:{outbound}"}}')
    lines += [
        "identity:",
        f"  cert: {certs}/{cert_name}.pem",
        f"  key: {certs}/{cert_name}.key",
        f"  trustBundle: {certs}/ca.pem",
    ]
    if admin:
        lines.append(f'admin: {{listen: "127.0.0.1:{admin}"}}')
    return "\n".join(lines) + "\n"


def service_entry(endpoints, mtls_sa=None):
    """`reviews` with endpoints [(version, port)]; with `mtls_sa`, reached over mTLS as that SA."""
    eps = ""
    for version, port in endpoints:
        extra = ""
        labels = f"app: reviews, version: {version}"
        if mtls_sa:
            extra = f"serviceAccount: {mtls_sa}, "
            labels += ", security.istio.io/tlsMode: istio"
        eps += f"  - {{address: 127.0.0.1, ports: {{http: {port}}}, {extra}labels: {{{labels}}}}}\n"
    return (
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
        "metadata: {name: reviews, namespace: shop}\nspec:\n"
        f"  hosts: [{HOST}]\n  location: MESH_INTERNAL\n  resolution: STATIC\n"
        "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
        f"  endpoints:\n{eps}"
    )


def mesh_full_policy():
    """100 routes (99 prefixes that never match the benchmark paths, then a 90/10 split with
    retries and a timeout), subsets with a retry budget and outlier detection, and an
    AuthorizationPolicy."""
    rules = ""
    for i in range(ROUTES - 1):
        rules += (
            f"  - name: r{i}\n    match: [{{uri: {{prefix: /svc-{i}/}}}}]\n"
            f"    route: [{{destination: {{host: {HOST}, subset: v1}}}}]\n"
        )
    rules += (
        "  - name: default\n"
        "    retries: {attempts: 2, perTryTimeout: 2s, retryOn: \"5xx,connect-failure,reset\"}\n"
        "    timeout: 5s\n"
        "    route:\n"
        f"    - {{destination: {{host: {HOST}, subset: v1}}, weight: 90}}\n"
        f"    - {{destination: {{host: {HOST}, subset: v2}}, weight: 10}}\n"
    )
    vs = (
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
        "metadata: {name: reviews, namespace: shop}\nspec:\n"
        f"  hosts: [{HOST}]\n  http:\n{rules}"
    )
    dr = (
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
        "metadata: {name: reviews, namespace: shop}\nspec:\n"
        f"  host: {HOST}\n"
        "  trafficPolicy:\n"
        "    retryBudget: {percent: 20, minRetryConcurrency: 3}\n"
        "    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s,"
        " maxEjectionPercent: 50}\n"
        "  subsets:\n"
        "  - {name: v1, labels: {version: v1}}\n"
        "  - {name: v2, labels: {version: v2}}\n"
    )
    authz = (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        "metadata: {name: reviews, namespace: shop}\nspec:\n"
        "  selector: {matchLabels: {app: reviews}}\n  action: ALLOW\n"
        "  rules:\n  - from: [{source: {principals: [cluster.local/ns/shop/sa/frontend]}}]\n"
        "    to: [{operation: {methods: [GET]}}]\n"
    )
    return vs + "---\n" + dr + "---\n" + authz


# ---------------------------------------------------------------------------------------------
# Envoy (static), following its benchmarking FAQ: no request ids, no dynamic stats, circuit
# breakers raised out of the way.

def _cluster(name, port, full, tls=None):
    thresholds = {
        "max_connections": BIG, "max_pending_requests": BIG, "max_requests": BIG, "max_retries": BIG,
    }
    c = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "10s",
        "lb_policy": "LEAST_REQUEST",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}],
        },
        "circuit_breakers": {"thresholds": [thresholds]},
    }
    if full:
        thresholds["retry_budget"] = {"budget_percent": {"value": 20.0}, "min_retry_concurrency": 3}
        c["outlier_detection"] = {
            "consecutive_5xx": 5, "interval": "10s", "base_ejection_time": "30s",
            "max_ejection_percent": 50,
        }
    if tls:
        c["transport_socket"] = tls
    return c


def _routes(full, single_cluster="v1"):
    if not full:
        return [{"match": {"prefix": "/"}, "route": {"cluster": single_cluster, "timeout": "0s"}}]
    routes = [
        {"match": {"prefix": f"/svc-{i}/"}, "route": {"cluster": "v1", "timeout": "0s"}}
        for i in range(ROUTES - 1)
    ]
    routes.append({
        "match": {"prefix": "/"},
        "route": {
            "weighted_clusters": {"clusters": [
                {"name": "v1", "weight": 90}, {"name": "v2", "weight": 10}]},
            "timeout": "5s",
            "retry_policy": {
                "retry_on": "5xx,connect-failure,reset", "num_retries": 2, "per_try_timeout": "2s",
            },
        },
    })
    return routes


def _hcm(stat, routes, filters):
    return {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network."
                     "http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": stat,
            "codec_type": "AUTO",
            "generate_request_id": False,
            "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]},
            "http_filters": filters + [{
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                    "dynamic_stats": False,
                },
            }],
        },
    }


def _rbac(principal_regex=None):
    """An RBAC filter: GET allowed (from `principal` when given), as the AuthorizationPolicy."""
    principal = {"any": True}
    if principal_regex:
        principal = {"authenticated": {"principal_name": {"exact": principal_regex}}}
    return {
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {"action": "ALLOW", "policies": {"reviews": {
                "permissions": [{"header": {"name": ":method", "string_match": {"exact": "GET"}}}],
                "principals": [principal],
            }}},
        },
    }


def _listener(name, port, hcm, tls=None):
    chain = {"filters": [hcm]}
    if tls:
        chain["transport_socket"] = tls
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [chain],
    }


def _doc(admin, listeners, clusters):
    return json.dumps({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }, indent=1)


def envoy_plain(port, admin, v1, v2, full):
    filters = [_rbac()] if full else []
    clusters = [_cluster("v1", v1, full)] + ([_cluster("v2", v2, full)] if full else [])
    return _doc(admin, [_listener("out", port, _hcm("out", _routes(full), filters))], clusters)


def _tls_certs(certs, name):
    return {
        "tls_certificates": [{
            "certificate_chain": {"filename": f"{certs}/{name}.pem"},
            "private_key": {"filename": f"{certs}/{name}.key"},
        }],
        "tls_params": {"tls_minimum_protocol_version": "TLSv1_3",
                       "tls_maximum_protocol_version": "TLSv1_3"},
    }


def envoy_mtls_client(port, admin, server_port, certs):
    tls = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "common_tls_context": dict(_tls_certs(certs, "shop.frontend"), validation_context={
                "trusted_ca": {"filename": f"{certs}/ca.pem"},
                "match_typed_subject_alt_names": [{
                    "san_type": "URI",
                    "matcher": {"exact": "spiffe://cluster.local/ns/shop/sa/reviews"},
                }],
            }),
        },
    }
    cluster = _cluster("v1", server_port, False, tls)
    return _doc(admin, [_listener("out", port, _hcm("out", _routes(False), []))], [cluster])


def envoy_mtls_server(port, admin, app, certs):
    tls = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "require_client_certificate": True,
            "common_tls_context": dict(_tls_certs(certs, "shop.reviews"), validation_context={
                "trusted_ca": {"filename": f"{certs}/ca.pem"},
            }),
        },
    }
    hcm = _hcm("in", _routes(False), [_rbac("spiffe://cluster.local/ns/shop/sa/frontend")])
    return _doc(admin, [_listener("in", port, hcm, tls)], [_cluster("v1", app, False)])
