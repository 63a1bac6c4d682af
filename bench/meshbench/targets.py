"""Starting the upstream and each target; every target knows its ports and its processes."""

import os
import subprocess

from . import configs
from .procs import ports, wait_port


class Target:
    def __init__(self, name, h1, h2, procs, note=""):
        self.name = name
        self.h1 = h1          # HTTP/1.1 port the load goes to
        self.h2 = h2          # h2c port (prior knowledge), or None
        self.procs = procs    # processes whose CPU and memory are the target's cost
        self.note = note

    def cpu_seconds(self):
        return sum(p.cpu_seconds() for p in self.procs)

    def memory(self):
        """KiB: RSS of a single-process proxy, PSS summed over the tree of a multi-process one
        (nginx's master and workers); a pair of proxies adds up each one's figure."""
        mems = [p.memory() for p in self.procs]
        multi = any(m["processes"] > 1 for m in mems)
        key = "pss_kib" if multi else "rss_kib"
        return {"kib": sum(m[key] for m in mems), "measure": "PSS" if multi else "RSS",
                "rss_kib": sum(m["rss_kib"] for m in mems),
                "anon_kib": sum(m["anon_kib"] for m in mems)}


class Env:
    """Tools, a work directory and the process registry."""

    def __init__(self, tools, mesh_bin, workdir, procs):
        self.tools = tools
        self.mesh_bin = mesh_bin
        self.dir = workdir
        self.procs = procs

    def sub(self, name):
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        return d

    def write(self, path, text):
        with open(path, "w") as f:
            f.write(text)
        return path


def upstream(env):
    """nginx on two HTTP/1.1 ports (v1, v2) and one h2c port; 1 worker."""
    d = env.sub("upstream")
    v1, v2, h2 = ports(3)
    conf = env.write(f"{d}/nginx.conf", configs.nginx_upstream(d, [v1, v2], h2))
    p = env.procs.start("upstream", [env.tools["nginx"], "-p", d, "-c", conf, "-e", "stderr"],
                        f"{d}/log")
    for port in (v1, v2, h2):
        wait_port(port, p)
    return {"v1": v1, "v2": v2, "h2": h2, "proc": p}


def direct(up):
    return Target("direct", up["v1"], up["h2"], [], "the load generator straight to the upstream")


def _mesh(env, name, workers, resources, bootstrap_args):
    d = env.sub(name)
    cfg = env.sub(f"{name}/config")
    env.write(f"{cfg}/resources.yaml", resources)
    boot = env.write(f"{d}/bootstrap.yaml", configs.mesh_bootstrap(**bootstrap_args))
    argv = [env.mesh_bin, "run", "--config", cfg, "--bootstrap", boot, "--workers", str(workers)]
    return env.procs.start(name, argv, f"{d}/log", dict(os.environ, RUST_LOG="warn"))


def certs(env):
    d = env.sub("certs")
    if not os.path.exists(f"{d}/ca.pem"):
        subprocess.run([env.mesh_bin, "certs", "--out", d, "--trust-domain", "cluster.local",
                        "--workload", "shop/frontend", "--workload", "shop/reviews"],
                       check=True, capture_output=True)
    return d


def mesh(env, up, workers, full):
    name = f"mesh-{'full' if full else 'pass'}-w{workers}"
    inbound, outbound, admin = ports(3)
    if full:
        resources = configs.service_entry([("v1", up["v1"]), ("v2", up["v2"])]) + "---\n" + \
            configs.mesh_full_policy()
    else:
        resources = configs.service_entry([("v1", up["v1"])])
    p = _mesh(env, name, workers, resources, {
        "ns": "shop", "name": "frontend-v1", "sa": "frontend", "labels": "{app: frontend}",
        "inbound": inbound, "app": up["v1"], "outbound": outbound, "admin": admin if full else None,
        "certs": certs(env), "cert_name": "shop.frontend",
    })
    wait_port(outbound, p)
    label = "mesh-full" if full else "mesh-pass"
    note = ("100 routes, 90/10 split over two subsets, retries + retry budget, outlier detection, "
            "AuthorizationPolicy loaded, metrics on") if full else "ServiceEntry only"
    return Target(label, outbound, outbound, [p], note)


def envoy(env, up, workers):
    d = env.sub(f"envoy-w{workers}")
    port, admin = ports(2)
    conf = env.write(f"{d}/envoy.json", configs.envoy_plain(port, admin, up["v1"], up["v2"], True))
    p = env.procs.start("envoy", [
        env.tools["envoy"], "-c", conf, "--concurrency", str(workers), "--disable-hot-restart",
        "--log-level", "warn",
    ], f"{d}/log")
    wait_port(port, p, timeout=40)
    return Target("envoy", port, port, [p], "same routes, split, retry budget, outlier detection, RBAC")


def haproxy(env, up, workers):
    d = env.sub(f"haproxy-w{workers}")
    h1, h2 = ports(2)
    conf = env.write(f"{d}/haproxy.cfg", configs.haproxy(workers, h1, h2, up["v1"]))
    p = env.procs.start("haproxy", [env.tools["haproxy"], "-f", conf, "-db"], f"{d}/log")
    wait_port(h1, p)
    wait_port(h2, p)
    return Target("haproxy", h1, h2, [p], "http-reuse always")


def nginx(env, up, workers):
    d = env.sub(f"nginx-w{workers}")
    h1, h2 = ports(2)
    conf = env.write(f"{d}/nginx.conf", configs.nginx_proxy(d, workers, h1, h2, up["v1"]))
    p = env.procs.start("nginx", [env.tools["nginx"], "-p", d, "-c", conf, "-e", "stderr"],
                        f"{d}/log")
    wait_port(h1, p)
    wait_port(h2, p)
    return Target("nginx", h1, h2, [p], "upstream keepalive, HTTP/1.1, empty Connection")


# ---------------------------------------------------------------------------------------------
# mTLS pairs: client sidecar -> server sidecar -> upstream

def mesh_pair(env, up):
    c = certs(env)
    s_in, s_admin, c_in, c_out = ports(4)
    authz = configs.mesh_full_policy().split("---\n")[2]
    server = _mesh(env, "mesh-mtls-server", 1, configs.service_entry([("v1", up["v1"])]) +
                   "---\n" + authz, {
        "ns": "shop", "name": "reviews-v1", "sa": "reviews", "labels": "{app: reviews}",
        "inbound": s_in, "app": up["v1"], "outbound": None, "admin": s_admin,
        "certs": c, "cert_name": "shop.reviews",
    })
    wait_port(s_in, server)
    client = _mesh(env, "mesh-mtls-client", 1,
                   configs.service_entry([("v1", s_in)], mtls_sa="reviews"), {
        "ns": "shop", "name": "frontend-v1", "sa": "frontend", "labels": "{app: frontend}",
        "inbound": c_in, "app": up["v1"], "outbound": c_out, "admin": None,
        "certs": c, "cert_name": "shop.frontend",
    })
    wait_port(c_out, client)
    return Target("mesh mTLS pair", c_out, None, [client, server]), server, s_in


def envoy_pair(env, up):
    c = certs(env)
    d = env.sub("envoy-mtls")
    s_port, s_admin, c_port, c_admin = ports(4)
    sconf = env.write(f"{d}/server.json", configs.envoy_mtls_server(s_port, s_admin, up["v1"], c))
    cconf = env.write(f"{d}/client.json", configs.envoy_mtls_client(c_port, c_admin, s_port, c))
    common = ["--concurrency", "1", "--disable-hot-restart", "--log-level", "warn"]
    server = env.procs.start("envoy-mtls-server", [env.tools["envoy"], "-c", sconf,
                                                   "--base-id", "11", *common], f"{d}/server.log")
    client = env.procs.start("envoy-mtls-client", [env.tools["envoy"], "-c", cconf,
                                                   "--base-id", "12", *common], f"{d}/client.log")
    wait_port(s_port, server, timeout=40)
    wait_port(c_port, client, timeout=40)
    return Target("envoy mTLS pair", c_port, None, [client, server]), server, s_port
