"""The inbound middleware in real servers: uvicorn serving the ASGI app from a thread, gunicorn
(a subprocess on an inherited socket) and wsgiref serving the WSGI app; real HTTP requests get
403 and 200. The shipped AuthorizationPolicy of production/myapp lets the frontend (here through
the trusted header from 127.0.0.1) GET and POST /api/*, and anyone GET /health."""

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from mesh_core import Mesh, MeshASGIMiddleware, MeshWSGIMiddleware

REPO = Path(__file__).resolve().parents[3]
POLICY = REPO / "examples" / "resources" / "authorizationpolicy-myapp.yaml"
XFCC = "x-forwarded-client-cert"
FRONTEND = "By=spiffe://cluster.local/ns/production/sa/myapp;URI=spiffe://cluster.local/ns/production/sa/frontend"
INTRUDER = "By=spiffe://cluster.local/ns/production/sa/myapp;URI=spiffe://cluster.local/ns/production/sa/intruder"
SETTINGS = dict(workload="production/myapp", labels={"app": "myapp"}, trusted_identity_header=XFCC,
                trusted_proxies=["127.0.0.1"])


def get(port, path, method="GET", xfcc=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"host": "myapp.production"}
    if xfcc:
        headers[XFCC] = xfcc
    conn.request(method, path, headers=headers)
    rsp = conn.getresponse()
    out = rsp.status, rsp.read().decode()
    conn.close()
    return out


def check(port):
    status, body = get(port, "/api/x", xfcc=FRONTEND)
    assert status == 200 and body.startswith("app saw /api/x"), body
    assert XFCC not in body.lower()
    assert get(port, "/api/x", xfcc=INTRUDER) == (403, "RBAC: access denied")
    assert get(port, "/api/x")[0] == 403
    assert get(port, "/api/x", method="DELETE", xfcc=FRONTEND)[0] == 403
    assert get(port, "/api/../admin", xfcc=FRONTEND)[0] == 403
    assert get(port, "/health")[0] == 200


async def asgi_app(scope, receive, send):
    seen = " ".join(k.decode() for k, _ in scope["headers"])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": f"app saw {scope['path']} {seen}".encode()})


def wsgi_app(environ, start_response):
    seen = " ".join(k for k in environ if k.startswith("HTTP_"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"app saw {environ['PATH_INFO']} {seen}".encode()]


def listening_socket():
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def test_uvicorn_serving_the_asgi_middleware():
    uvicorn = pytest.importorskip("uvicorn")
    app = MeshASGIMiddleware(asgi_app, Mesh.from_path(POLICY), **SETTINGS)
    sock = listening_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.02)
        assert server.started
        check(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_wsgiref_serving_the_wsgi_middleware():
    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    app = MeshWSGIMiddleware(wsgi_app, Mesh.from_path(POLICY), **SETTINGS)
    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        check(server.server_port)
    finally:
        server.shutdown()
        server.server_close()


GUNICORN_APP = f"""
from mesh_core import Mesh, MeshWSGIMiddleware

def app(environ, start_response):
    seen = " ".join(k for k in environ if k.startswith("HTTP_"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"app saw {{environ['PATH_INFO']}} {{seen}}".encode()]

application = MeshWSGIMiddleware(app, Mesh.from_path({str(POLICY)!r}), workload="production/myapp",
    labels={{"app": "myapp"}}, trusted_identity_header={XFCC!r}, trusted_proxies=["127.0.0.1"])
"""


def test_gunicorn_serving_the_wsgi_middleware(tmp_path):
    pytest.importorskip("gunicorn")
    (tmp_path / "meshapp.py").write_text(GUNICORN_APP)
    sock = listening_socket()
    fd = sock.fileno()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"fd://{fd}", "--workers", "1", "--chdir", str(tmp_path),
         "--log-level", "warning", "meshapp:application"],
        pass_fds=[fd], env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    try:
        port = sock.getsockname()[1]
        # The socket listens already: the first request waits in the backlog until a worker runs.
        check(port)
    finally:
        proc.terminate()
        proc.wait(10)
        sock.close()
