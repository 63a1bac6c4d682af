"""The shipped examples take, through Python, the decisions the Rust tests check."""

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import mesh_core
from mesh_core import Mesh, MeshConfigError, MeshRequestError

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "resources"
CLIENT = {"workload": "production/frontend", "labels": {"app": "frontend"}}


def mesh_of(*names: str) -> Mesh:
    text = "\n---\n".join((EXAMPLES / f"{n}.yaml").read_text() for n in names)
    return Mesh.from_yaml(text, file="+".join(names))


@pytest.fixture(scope="module")
def myapp() -> Mesh:
    return mesh_of("virtualservice-myapp", "destinationrule-myapp")


def sidecar(url: str, method: str = "GET", **more):
    return {"method": method, "url": url, **CLIENT, **more}


def test_header_route_to_v2(myapp):
    e = myapp.explain(sidecar("http://myapp/anything", headers={"x-version": "v2"}))
    assert e["route"]["virtual_service"] == "production/myapp"
    assert e["route"]["rule"] == 0
    picked = e["route"]["picked"]
    assert (picked["host"], picked["subset"]) == ("myapp.production.svc.cluster.local", "v2")
    policy = e["destination_policy"]
    assert policy["subset"]["labels"]["version"] == "v2"
    assert policy["load_balancer"]["simple"] == "LEAST_REQUEST"


def test_headers_as_pairs_route_the_same(myapp):
    r = myapp.route(sidecar("http://myapp/x", headers=[("x-version", "v2")]))
    assert r["picked"]["subset"] == "v2"
    assert myapp.route(sidecar("http://myapp/x"))["picked"]["subset"] == "v1"


def test_canary_90_10_converges_over_seeds(myapp):
    r = myapp.route(sidecar("http://myapp.example.com/api/users?x=1"))
    assert r["rule"] == 1
    assert [(d["subset"], d["percent"]) for d in r["destinations"]] == [("v1", 90.0), ("v2", 10.0)]
    n = 5000
    v2 = sum(
        myapp.route(sidecar("http://myapp/api/x", seed=seed))["picked"]["subset"] == "v2"
        for seed in range(n)
    )
    assert abs(v2 / n - 0.10) < 0.02, v2 / n


def test_same_seed_same_pick(myapp):
    picks = {myapp.route(sidecar("http://myapp/api/x", seed=42))["picked"]["subset"] for _ in range(50)}
    assert len(picks) == 1


def test_default_route_30s_timeout_and_3_retries(myapp):
    e = myapp.explain(sidecar("http://myapp/orders", method="POST"))
    route = e["route"]
    assert (route["rule"], route["timeout_ms"]) == (2, 30_000)
    retries = route["retries"]
    assert retries["attempts"] == 3
    assert retries["per_try_timeout_ms"] == 10_000
    assert retries["retry_on"] == ["connect-failure", "refused-stream", "retriable-status-codes"]
    assert retries["retriable_status_codes"] == [503]
    assert retries["default"] is False
    policy = e["destination_policy"]
    assert policy["load_balancer"]["simple"] == "ROUND_ROBIN"
    assert policy["connection_pool"]["max_connections"] == 100
    assert policy["outlier_detection"]["max_ejection_percent"] == 50


def test_fault_injection_on_the_header():
    m = mesh_of("virtualservice-fault")
    fault = m.route(sidecar("http://myapp/x", headers={"x-test-fault": "inject"}))["fault"]
    assert (fault["delay"]["fixed_delay_ms"], fault["delay"]["percentage"]) == (5000, 50.0)
    assert (fault["abort"]["http_status"], fault["abort"]["percentage"]) == (503, 10.0)
    plain = m.route(sidecar("http://myapp/x"))
    assert plain["rule"] == 1 and plain["fault"] is None


def test_mirror_to_v2_at_100_percent():
    r = mesh_of("virtualservice-mirror", "destinationrule-myapp").route(sidecar("http://myapp/x"))
    assert r["picked"]["subset"] == "v1"
    m = r["mirror"][0]
    assert (m["host"], m["subset"], m["percentage"]) == ("myapp.production.svc.cluster.local", "v2", 100.0)


def test_gateway_redirects_http():
    m = mesh_of("gateway-myapp", "virtualservice-myapp", "destinationrule-myapp")
    r = m.route({"url": "http://myapp.example.com/api/x?y=1", "gateway": "production/myapp-gateway", "port": 80})
    assert r["action"] == "redirect"
    assert r["redirect"]["location"] == "https://myapp.example.com/api/x?y=1"
    with pytest.raises(MeshRequestError, match="no server on port 81"):
        m.route({"url": "http://myapp.example.com/", "gateway": "production/myapp-gateway", "port": 81})


def test_directory_loads_with_the_shadowing_warnings():
    m = Mesh.from_path(EXAMPLES)
    assert len(m.warnings) == 2
    assert all(w["severity"] == "warning" and w["path"] == "spec.hosts[0]" for w in m.warnings)
    assert Mesh.from_path(str(EXAMPLES / "destinationrule-myapp.yaml")).warnings == []


def test_explain_is_the_cli_document(myapp):
    """The same JSON, key for key, as `mesh-proxy explain` prints."""
    exe = os.environ.get("MESH_PROXY") or str(REPO / "target" / "debug" / "mesh-proxy")
    if not Path(exe).exists():
        pytest.skip("mesh-proxy is not built (scripts/test-bindings builds it)")
    args = [exe, "explain", "-c", str(EXAMPLES), "-r", "GET http://myapp/api/x", "-H", "x-version: v1",
            "--workload", "production/frontend", "--labels", "app=frontend", "--seed", "7"]
    cli = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    ours = Mesh.from_path(EXAMPLES).explain(
        sidecar("http://myapp/api/x", headers={"x-version": "v1"}, seed=7))
    assert ours == cli


def test_invalid_value_raises_with_line_and_column():
    text = (EXAMPLES / "virtualservice-myapp.yaml").read_text().replace("weight: 10", "weight: -5")
    with pytest.raises(MeshConfigError) as info:
        Mesh.from_yaml(text, file="vs.yaml")
    errors = [d for d in info.value.diagnostics if d["severity"] == "error"]
    assert len(errors) >= 1
    d = errors[0]
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "weight: -5" in l)
    assert (d["file"], d["line"]) == ("vs.yaml", line)
    assert d["column"] == text.splitlines()[line - 1].index("-5") + 1
    assert d["resource"] == "VirtualService production/myapp"
    assert d["path"] == "spec.http[1].route[1].weight"
    assert "vs.yaml:%d:" % line in str(info.value)


def test_broken_yaml_raises_with_line_and_column():
    with pytest.raises(MeshConfigError) as info:
        Mesh.from_yaml("kind: VirtualService\nspec:\n  hosts: [myapp\n", file="bad.yaml")
    d = info.value.diagnostics[0]
    assert set(d) == {"severity", "file", "line", "column", "resource", "path", "message"}
    assert d["severity"] == "error" and d["file"] == "bad.yaml"
    assert d["line"] >= 3 and d["column"] >= 1
    assert "invalid YAML" in d["message"]


def test_missing_path_raises():
    with pytest.raises(MeshConfigError, match="cannot read"):
        Mesh.from_path(EXAMPLES / "nope.yaml")


@pytest.mark.parametrize(
    "request_, message",
    [
        ({"url": "http://myapp/", "header": {}}, "unknown field `header`"),
        ({"url": "http://myapp/", "workload": "client"}, "expected NS/NAME"),
        ({"url": "http://myapp/", "port": 80}, "gateway and port"),
        ({"url": "/no-host"}, "no host"),
        ({"url": "http://myapp/", "seed": -1}, "request: seed: "),
        ({"method": "GET"}, "missing field `url`"),
        ({"url": "http://myapp/", "headers": "x-version: v2"}, r"list of \[name, value\] pairs"),
        # Values the direct dict read leaves to serde: still errors naming the field.
        ({"url": "http://myapp/", "workload": None}, "request: workload: "),
        ({"url": "http://myapp/", "headers": [("x-version", "v2", "extra")]}, "request: headers"),
    ],
)
def test_bad_requests_raise_mesh_request_error(myapp, request_, message):
    with pytest.raises(MeshRequestError, match=message):
        myapp.route(request_)


def test_request_forms_decide_alike(myapp):
    """Dicts are read directly, other mappings through serde: the same decisions either way."""
    from types import MappingProxyType

    base = {"url": "http://myapp/anything", "workload": "production/frontend", "labels": {"app": "frontend"},
            "seed": 3, "source_ip": None, "gateway": None, "port": None}
    for headers in ({"x-version": "v2"}, [("x-version", "v2")], [["x-version", "v2"]]):
        request = {**base, "headers": headers}
        assert myapp.route(request) == myapp.route(MappingProxyType(request))
        assert myapp.explain(request) == myapp.explain(MappingProxyType(request))
        assert myapp.route(request)["picked"]["subset"] == "v2"


def test_one_mesh_many_threads(myapp):
    reqs = [sidecar("http://myapp/api/x", seed=s) for s in range(400)]
    alone = [myapp.route(r) for r in reqs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(myapp.route, reqs)) == alone


def test_stubs_and_marker_ship():
    pkg = Path(mesh_core.__file__).parent
    assert (pkg / "py.typed").exists()
    assert any(pkg.glob("*.pyi"))


def test_authz_and_mtls_at_the_destination_workload():
    m = mesh_of("authorizationpolicy-myapp", "peerauthentication")
    dest = {"destination_workload": "production/myapp", "destination_labels": {"app": "myapp"}}
    frontend = {"source_principal": "cluster.local/ns/production/sa/frontend", "mtls": True}
    e = m.explain(sidecar("http://myapp/api/users", **dest, **frontend))
    assert e["authz"]["workload"] == "production/myapp"
    assert e["authz"]["decision"] == "ALLOW"
    assert e["mtls"] is not None
    other = {"source_principal": "cluster.local/ns/production/sa/other", "mtls": True}
    e = m.explain(sidecar("http://myapp/api/users", **dest, **other))
    assert (e["authz"]["decision"], e["authz"]["status"]) == ("DENY", 403)
    e = m.explain(sidecar("http://myapp/health", **dest))
    assert e["authz"]["decision"] == "ALLOW"


# --- authorize, RetryBudget, OutlierDetector ---


@pytest.fixture(scope="module")
def authz() -> Mesh:
    return mesh_of("authorizationpolicy-myapp")


def inbound(principal: str, path: str, method: str = "GET", mtls: bool = True):
    return {
        "method": method,
        "url": f"http://myapp.production{path}",
        "mtls": mtls,
        "source_principal": principal,
        "destination_workload": "production/myapp",
        "destination_labels": {"app": "myapp"},
    }


FRONTEND = "cluster.local/ns/production/sa/frontend"


def test_authorize_allows_frontend_get_api_with_mtls(authz):
    v = authz.authorize(inbound(FRONTEND, "/api/x"))
    assert (v["decision"], v["status"]) == ("ALLOW", None)
    assert (v["policy"], v["rule"], v["action"]) == ("production/myapp-authz", 0, "ALLOW")
    assert v["path"] == "/api/x"
    assert v == authz.explain(inbound(FRONTEND, "/api/x"))["authz"]


def test_authorize_denies_another_principal_and_plaintext(authz):
    v = authz.authorize(inbound("cluster.local/ns/production/sa/intruder", "/api/x"))
    assert (v["decision"], v["status"]) == ("DENY", 403)
    assert v["reason"]
    # Without mTLS the frontend has no identity either.
    assert authz.authorize(inbound(FRONTEND, "/api/x", mtls=False))["status"] == 403


def test_authorize_health_is_open(authz):
    v = authz.authorize(inbound("cluster.local/ns/elsewhere/sa/probe", "/health", mtls=False))
    assert (v["decision"], v["rule"]) == ("ALLOW", 1)
    assert authz.authorize(inbound("x", "/health", method="DELETE"))["decision"] == "DENY"


def test_authorize_bad_request_raises(authz):
    with pytest.raises(MeshRequestError, match="destination_workload"):
        authz.authorize({"url": "http://myapp/", "gateway": "istio-system/gw", "port": 80})


def test_budget_ratio_allows_twenty_retries_per_hundred_requests():
    b = mesh_core.RetryBudget(retry_ratio=0.2, min_retries_per_second=0, ttl_seconds=10)
    for _ in range(100):
        b.deposit()
    assert sum(b.withdraw() for _ in range(50)) == 20
    # The minimum comes on top: 1/s over 10 s is 10 more.
    b = mesh_core.RetryBudget(0.2, 1, 10)
    for _ in range(100):
        b.deposit()
    assert sum(b.withdraw() for _ in range(50)) == 30
    with pytest.raises(ValueError, match="retryRatio"):
        mesh_core.RetryBudget(-1, 0, 10)


def test_detector_ejects_after_five_503s_and_returns_after_base_time():
    d = mesh_core.OutlierDetector(
        ["a", "b"], consecutive_5xx=5, interval="1s", base_ejection_time="30s",
        max_ejection_percent=100,
    )
    assert [d.record("a", 503) for _ in range(5)] == [False] * 4 + [True]
    d.record("b", 503)
    assert d.ejected() == ["a"]
    d.advance(29)
    assert d.ejected() == ["a"]
    d.advance(2)
    assert d.ejected() == []
    with pytest.raises(ValueError, match="unknown host"):
        d.record("c", 503)
    with pytest.raises(ValueError, match="interval"):
        mesh_core.OutlierDetector(["a"], interval=5)
