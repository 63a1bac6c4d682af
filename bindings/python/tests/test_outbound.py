"""MeshTransport (httpx) against real HTTP servers on port 0: the engine routes, splits, injects
faults, times out, retries and ejects; the servers count what reached them."""

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

httpx = pytest.importorskip("httpx")

from mesh_core import Mesh  # noqa: E402
from mesh_core.httpx import MeshTransport  # noqa: E402


class Upstream:
    """A real server answering `status` (after `sleep` seconds); counts requests and keeps the
    last request's path and headers."""

    def __init__(self, status=200, sleep=0.0):
        self.status, self.sleep, self.hits, self.last = status, sleep, 0, None
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body in separate writes

            def do_GET(self):
                upstream.hits += 1
                upstream.last = (self.path, dict(self.headers))
                if upstream.sleep:
                    time.sleep(upstream.sleep)
                body = f"{upstream.status} from {self.server.server_port}".encode()
                try:
                    self.send_response(upstream.status)
                    self.send_header("content-length", str(len(body)))
                    self.send_header("x-upstream", str(self.server.server_port))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def service(name, endpoints, port=80):
    eps = "\n".join(f"  - {{address: 127.0.0.1, ports: {{http: {u.port}}}, labels: {{version: {v}}}}}"
                    for v, u in endpoints)
    return f"""
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: {name}, namespace: shop}}
spec:
  hosts: [{name}.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{{number: {port}, name: http, protocol: HTTP}}]
  endpoints:
{eps}
---
"""


def virtual_service(name, http):
    return f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: shop}}
spec:
  hosts: [{name}.shop.svc.cluster.local]
  http: {http}
---
"""


SUBSETS = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {name}, namespace: shop}}
spec:
  host: {name}.shop.svc.cluster.local
  trafficPolicy: {policy}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
---
"""


@pytest.fixture(scope="module")
def world():
    ups = {k: Upstream() for k in ("v1", "v2", "good")}
    ups["bad"] = Upstream(status=500)
    ups["flaky"] = Upstream(status=503)
    ups["slow"] = Upstream(sleep=1.0)
    yaml = "".join([
        service("reviews", [("v1", ups["v1"]), ("v2", ups["v2"])]),
        SUBSETS.format(name="reviews", policy="{loadBalancer: {simple: RANDOM}}"),
        virtual_service("reviews", """
  - match: [{uri: {prefix: /fault}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: reviews.shop.svc.cluster.local}}]
  - match: [{uri: {prefix: /api}}]
    rewrite: {uri: /v1/api}
    headers: {response: {set: {x-mesh: "routed"}}}
    route:
    - {destination: {host: reviews.shop.svc.cluster.local, subset: v1}, weight: 90}
    - {destination: {host: reviews.shop.svc.cluster.local, subset: v2}, weight: 10}"""),
        service("flaky", [("v1", ups["flaky"])]),
        virtual_service("flaky", """
  - route: [{destination: {host: flaky.shop.svc.cluster.local}}]
    retries: {attempts: 2, retryOn: "5xx"}"""),
        service("pool", [("v1", ups["bad"]), ("v1", ups["good"])]),
        SUBSETS.format(name="pool", policy="{loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: "
                       "{consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100}}"),
        virtual_service("pool", """
  - route: [{destination: {host: pool.shop.svc.cluster.local}}]
    retries: {attempts: 0}"""),
        service("slow", [("v1", ups["slow"])]),
        virtual_service("slow", """
  - route: [{destination: {host: slow.shop.svc.cluster.local}}]
    timeout: 0.3s"""),
    ])
    mesh = Mesh.from_yaml(yaml, file="outbound.yaml")
    yield mesh, ups
    for u in ups.values():
        u.close()


def client(mesh):
    return httpx.Client(transport=MeshTransport(mesh, workload="shop/productpage", labels={"app": "productpage"}))


def test_canary_split_converges_over_2000_real_calls(world):
    mesh, ups = world
    before = (ups["v1"].hits, ups["v2"].hits)
    with client(mesh) as c:
        for _ in range(2000):
            r = c.get("http://reviews.shop.svc.cluster.local/api/users")
            assert r.status_code == 200
            assert r.headers["x-mesh"] == "routed"
    v1, v2 = ups["v1"].hits - before[0], ups["v2"].hits - before[1]
    assert v1 + v2 == 2000
    assert abs(v2 / 2000 - 0.10) <= 0.03, f"v2 share {v2 / 2000}"
    path, headers = ups["v2"].last
    assert path == "/v1/api/users"  # rewritten
    assert headers["host"] == "reviews.shop.svc.cluster.local"


def test_503_is_retried_twice_counted_at_the_upstream(world):
    mesh, ups = world
    before = ups["flaky"].hits
    with client(mesh) as c:
        r = c.get("http://flaky.shop.svc.cluster.local/")
    assert r.status_code == 503
    assert ups["flaky"].hits - before == 3  # the try and two retries


def test_failing_endpoint_is_ejected_and_traffic_moves(world):
    mesh, ups = world
    with client(mesh) as c:
        statuses = [c.get("http://pool.shop.svc.cluster.local/").status_code for _ in range(40)]
    # Round robin alternates until three consecutive 500s eject the bad endpoint.
    assert ups["bad"].hits == 3
    assert statuses.count(500) == 3
    assert statuses[-30:] == [200] * 30


def test_fault_abort_never_reaches_the_upstream(world):
    mesh, ups = world
    before = ups["v1"].hits + ups["v2"].hits
    with client(mesh) as c:
        r = c.get("http://reviews.shop.svc.cluster.local/fault")
    assert r.status_code == 418
    assert r.extensions["mesh_flag"] == "FI"
    assert ups["v1"].hits + ups["v2"].hits == before


def test_route_timeout_is_a_synthesized_504(world):
    mesh, _ = world
    with client(mesh) as c:
        r = c.get("http://slow.shop.svc.cluster.local/")
    assert (r.status_code, r.text, r.extensions["mesh_flag"]) == (504, "upstream request timeout", "UT")


def test_no_route_and_async_client(world):
    mesh, ups = world

    async def run():
        transport = MeshTransport(mesh, workload="shop/productpage", labels={"app": "productpage"})
        async with httpx.AsyncClient(transport=transport) as c:
            ok = await c.get("http://reviews.shop.svc.cluster.local/api/x")
            nr = await c.get("http://reviews.shop.svc.cluster.local/nothing-here")
            return ok, nr

    ok, nr = asyncio.run(run())
    assert ok.status_code == 200 and ok.headers["x-mesh"] == "routed"
    assert (nr.status_code, nr.extensions["mesh_flag"]) == (404, "NR")


def test_bad_workload_raises(world):
    mesh, _ = world
    with pytest.raises(ValueError, match="NS/NAME"):
        MeshTransport(mesh, workload="productpage")
