"""MeshASGIMiddleware and MeshWSGIMiddleware in front of real apps, with the shipped
AuthorizationPolicy of production/myapp (frontend and api-gateway on GET/POST /api/*; GET
/health and /ready for anyone)."""

import asyncio
import io
import os
import subprocess
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import pytest

from mesh_core import Mesh, MeshASGIMiddleware, MeshWSGIMiddleware

REPO = Path(__file__).resolve().parents[3]
POLICY = REPO / "examples" / "resources" / "authorizationpolicy-myapp.yaml"
XFCC = "x-forwarded-client-cert"
PROXY = "10.0.0.7"
FRONTEND = "By=spiffe://cluster.local/ns/production/sa/myapp;URI=spiffe://cluster.local/ns/production/sa/frontend"
INTRUDER = "By=spiffe://cluster.local/ns/production/sa/myapp;URI=spiffe://cluster.local/ns/production/sa/intruder"
SETTINGS = dict(workload="production/myapp", labels={"app": "myapp"}, trusted_identity_header=XFCC,
                trusted_proxies=["10.0.0.0/24"])


@pytest.fixture(scope="module")
def mesh() -> Mesh:
    return Mesh.from_path(POLICY)


# --- ASGI ---


async def asgi_app(scope, receive, send):
    """Echoes the headers it was given, so tests see what reached the app."""
    seen = "\n".join(f"{k.decode()}: {v.decode()}" for k, v in scope["headers"])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": f"app saw {scope['path']}\n{seen}".encode()})


def asgi(app, path, method="GET", client=PROXY, xfcc=None, extensions=None, raw_path=None):
    headers = [(b"host", b"myapp.production")]
    if xfcc is not None:
        headers.append((XFCC.encode(), xfcc.encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": (raw_path or path).encode(), "query_string": b"",
             "headers": headers, "client": (client, 5123), "server": ("10.0.0.1", 8080)}
    if extensions is not None:
        scope["extensions"] = extensions
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(msg):
        sent.append(msg)

    asyncio.run(app(scope, receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    return status, body


@pytest.fixture
def wrapped_asgi(mesh):
    return MeshASGIMiddleware(asgi_app, mesh, **SETTINGS)


def test_asgi_frontend_via_trusted_proxy_reaches_the_app_without_the_header(wrapped_asgi):
    status, body = asgi(wrapped_asgi, "/api/x", xfcc=FRONTEND)
    assert status == 200
    assert body.startswith("app saw /api/x")
    assert XFCC not in body and "frontend" not in body


def test_asgi_other_principal_is_denied_with_403(wrapped_asgi):
    assert asgi(wrapped_asgi, "/api/x", xfcc=INTRUDER) == (403, "RBAC: access denied")
    # The frontend may GET and POST, not DELETE.
    assert asgi(wrapped_asgi, "/api/x", method="DELETE", xfcc=FRONTEND)[0] == 403


def test_asgi_header_from_an_untrusted_address_is_ignored(wrapped_asgi):
    assert asgi(wrapped_asgi, "/api/x", client="192.168.1.9", xfcc=FRONTEND) == (403, "RBAC: access denied")
    # Where the app is open, the header still never reaches it.
    status, body = asgi(wrapped_asgi, "/health", client="192.168.1.9", xfcc=FRONTEND)
    assert status == 200 and XFCC not in body


def test_asgi_health_is_open_to_anyone(wrapped_asgi):
    assert asgi(wrapped_asgi, "/health", client="203.0.113.5")[0] == 200
    assert asgi(wrapped_asgi, "/health", method="POST", client="203.0.113.5")[0] == 403


def test_asgi_dot_segments_are_judged_normalized(wrapped_asgi):
    # /api/../admin is /admin: not under /api/*, so even the frontend is denied.
    assert asgi(wrapped_asgi, "/admin", raw_path="/api/../admin", xfcc=FRONTEND)[0] == 403
    # /admin/../api/x is /api/x: allowed.
    assert asgi(wrapped_asgi, "/api/x", raw_path="/admin/../api/x", xfcc=FRONTEND)[0] == 200
    # Encoded dots too: the engine sees the undecoded target.
    assert asgi(wrapped_asgi, "/api/../admin", raw_path="/api/%2e%2e/admin", xfcc=FRONTEND)[0] == 403


def test_asgi_path_the_engine_cannot_normalize_is_answered_400(wrapped_asgi):
    status, body = asgi(wrapped_asgi, "/api/\x00", raw_path="/api/%00", xfcc=FRONTEND)
    assert (status, body) == (400, "Bad Request")


def test_asgi_lifespan_passes_through(wrapped_asgi):
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    asyncio.run(MeshASGIMiddleware(app, wrapped_asgi._gate.mesh, workload="production/myapp")(
        {"type": "lifespan"}, None, None))
    assert seen == ["lifespan"]


def test_asgi_peer_identity_from_the_tls_client_certificate(mesh, tmp_path):
    exe = os.environ.get("MESH_PROXY") or str(REPO / "target" / "debug" / "mesh-proxy")
    if not Path(exe).exists():
        pytest.skip("mesh-proxy is not built (scripts/test-bindings builds it)")
    subprocess.run([exe, "certs", "--out", str(tmp_path), "--workload", "production/frontend",
                    "--workload", "production/intruder"], check=True, capture_output=True)
    app = MeshASGIMiddleware(asgi_app, mesh, workload="production/myapp", labels={"app": "myapp"})

    def tls(sa):
        return {"tls": {"client_cert_chain": [(tmp_path / f"production.{sa}.pem").read_text()]}}

    assert asgi(app, "/api/x", client="192.168.1.9", extensions=tls("frontend"))[0] == 200
    assert asgi(app, "/api/x", client="192.168.1.9", extensions=tls("intruder"))[0] == 403
    assert asgi(app, "/api/x", client="192.168.1.9")[0] == 403
    # A certificate that cannot be read gives no identity, never an error.
    garbage = {"tls": {"client_cert_chain": ["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"]}}
    assert asgi(app, "/api/x", client="192.168.1.9", extensions=garbage)[0] == 403


# --- WSGI ---


def wsgi_app(environ, start_response):
    seen = "\n".join(f"{k}: {v}" for k, v in sorted(environ.items()) if k.startswith("HTTP_"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"app saw {environ['PATH_INFO']}\n{seen}".encode()]


def wsgi(app, path, method="GET", client=PROXY, xfcc=None, request_uri=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "REMOTE_ADDR": client,
               "HTTP_HOST": "myapp.production", "wsgi.input": io.BytesIO()}
    if request_uri is not None:
        environ["REQUEST_URI"] = request_uri
    if xfcc is not None:
        environ["HTTP_X_FORWARDED_CLIENT_CERT"] = xfcc
    setup_testing_defaults(environ)
    started = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: started.append(status)))
    return int(started[0].split()[0]), body.decode()


@pytest.fixture
def wrapped_wsgi(mesh):
    return MeshWSGIMiddleware(wsgi_app, mesh, **SETTINGS)


def test_wsgi_frontend_allowed_and_header_stripped(wrapped_wsgi):
    status, body = wsgi(wrapped_wsgi, "/api/x", xfcc=FRONTEND)
    assert status == 200 and body.startswith("app saw /api/x")
    assert "FORWARDED_CLIENT_CERT" not in body


def test_wsgi_denials(wrapped_wsgi):
    assert wsgi(wrapped_wsgi, "/api/x", xfcc=INTRUDER) == (403, "RBAC: access denied")
    assert wsgi(wrapped_wsgi, "/api/x", client="192.168.1.9", xfcc=FRONTEND) == (403, "RBAC: access denied")
    assert wsgi(wrapped_wsgi, "/api/../admin", xfcc=FRONTEND)[0] == 403
    assert wsgi(wrapped_wsgi, "/health", client="203.0.113.5")[0] == 200
    # The raw target (uWSGI REQUEST_URI, gunicorn RAW_URI) is what gets judged.
    assert wsgi(wrapped_wsgi, "/api/x", xfcc=FRONTEND, request_uri="/api/%2e%2e/admin")[0] == 403
    assert wsgi(wrapped_wsgi, "/api/x", xfcc=FRONTEND, request_uri="/api/%00") == (400, "Bad Request")


def test_bad_settings_raise():
    m = Mesh.from_path(POLICY)
    with pytest.raises(ValueError, match="workload"):
        MeshWSGIMiddleware(wsgi_app, m, workload="myapp")
    with pytest.raises(ValueError, match="trusted_proxies"):
        MeshASGIMiddleware(asgi_app, m, workload="production/myapp", trusted_proxies=["not-an-ip"])
