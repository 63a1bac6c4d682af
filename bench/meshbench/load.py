"""Load generators (wrk, h2load, mesh-loadgen) and their output, plus many idle keep-alive connections."""

import json
import re
import socket
import ssl
import subprocess
from concurrent.futures import ThreadPoolExecutor

from .configs import HOST


class LoadError(RuntimeError):
    pass


def _run(argv, timeout):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise LoadError(f"{argv[0]} exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return r.stdout


def wrk(port, path, seconds, connections=50, threads=2):
    """Closed loop HTTP/1.1. Returns {requests, rps, errors}."""
    out = _run([
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-H", f"Host: {HOST}",
        f"http://127.0.0.1:{port}{path}",
    ], seconds + 30)
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or not rps:
        raise LoadError(f"wrk: cannot parse: {out[-400:]}")
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return {"requests": int(m.group(1)), "rps": float(rps.group(1)), "errors": errors}


def h2load(port, path, seconds, connections=50, streams=10, threads=2):
    """Closed loop HTTP/2 over cleartext (prior knowledge)."""
    out = _run([
        "h2load", f"-c{connections}", f"-m{streams}", f"-t{threads}", "-D", str(seconds),
        "-H", f":authority: {HOST}", f"http://127.0.0.1:{port}{path}",
    ], seconds + 30)
    fin = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                    r"(\d+) failed, (\d+) errored", out)
    codes = re.search(r"status codes: (\d+) 2xx", out)
    if not fin or not req:
        raise LoadError(f"h2load: cannot parse: {out[-400:]}")
    done = int(req.group(3))
    ok = int(codes.group(1)) if codes else int(req.group(4))
    return {"requests": done, "rps": float(fin.group(3)),
            "errors": max(0, done - ok) + int(req.group(5))}


# The open-loop generator: bench/loadgen (`mesh-loadgen`), built with mesh-proxy by run.py.
LOADGEN = {"path": None}


def use_loadgen(path):
    LOADGEN["path"] = path


def loadgen(port, path, seconds, rate, connections=50):
    """Open loop at `rate` req/s over `connections` keep-alive connections, each request timed
    from its scheduled time (coordinated-omission corrected); latencies in ms."""
    if not LOADGEN["path"]:
        raise LoadError("mesh-loadgen is not built")
    out = _run([
        LOADGEN["path"], "--addr", f"127.0.0.1:{port}", "--path", path, "--host", HOST,
        "--rate", str(rate), "-c", str(connections), "--duration", str(seconds),
    ], seconds + 60)
    j = json.loads(out)
    # Requests still in flight when the window ends are reported as pending: not errors.
    return {k: j[k] for k in ("requests", "rps", "errors", "pending", "p50_ms", "p90_ms", "p99_ms")}


def _read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise LoadError("connection closed before the response head")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    want = int(m.group(1)) if m else 0
    while len(body) < want:
        chunk = s.recv(65536)
        if not chunk:
            raise LoadError("connection closed in the body")
        body += chunk
    if not head.startswith(b"HTTP/1.1 2"):
        raise LoadError(f"answer {head[:40]!r}")


class KeepAlive:
    """`n` connections, each after one request/response, held open (plain or mTLS). They are
    opened 8 at a time: 1,000 TLS handshakes one after the other cost half a minute."""

    def __init__(self, port, n, tls=None, parallel=8):
        self.socks = []
        req = f"GET /2b HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()

        def one(_):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            try:
                if tls is not None:
                    s = tls.wrap_socket(s, server_hostname=None)
                s.sendall(req)
                _read_response(s)
            except BaseException:
                s.close()
                raise
            return s

        pool = ThreadPoolExecutor(max_workers=parallel)
        futures = [pool.submit(one, i) for i in range(n)]
        pool.shutdown(wait=True)
        errors = []
        for f in futures:
            if f.exception() is None:
                self.socks.append(f.result())
            else:
                errors.append(f.exception())
        if errors:
            self.close()
            raise LoadError(f"{len(errors)} of {n} keep-alive connections failed: {errors[0]}")

    def close(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []


def client_tls(certs, name):
    """A TLS 1.3 client context presenting `name`'s SVID, trusting the mesh CA (SAN not pinned)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(f"{certs}/ca.pem")
    ctx.load_cert_chain(f"{certs}/{name}.pem", f"{certs}/{name}.key")
    return ctx
