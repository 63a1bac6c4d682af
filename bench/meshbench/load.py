"""Load generators (wrk, h2load, oha) and their output, plus many idle keep-alive connections."""

import json
import re
import socket
import ssl
import subprocess

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


def oha(port, path, seconds, rate, connections=50):
    """Open loop at `rate` req/s with coordinated-omission correction; latencies in ms."""
    out = _run([
        "oha", "-z", f"{seconds}s", "-q", str(rate), "--latency-correction", "-c", str(connections),
        "--no-tui", "--output-format", "json", "-H", f"Host: {HOST}",
        f"http://127.0.0.1:{port}{path}",
    ], seconds + 60)
    j = json.loads(out)
    pct = j["latencyPercentiles"]
    codes = j.get("statusCodeDistribution", {})
    total = sum(int(v) for v in codes.values())
    ok = sum(int(v) for k, v in codes.items() if k.startswith("2"))
    # Requests still in flight when the duration ends are aborted by oha itself: not errors.
    errors = total - ok + sum(int(v) for k, v in j.get("errorDistribution", {}).items()
                              if "deadline" not in k)
    return {
        "requests": total,
        "rps": j["summary"]["requestsPerSec"],
        "errors": errors,
        "p50_ms": pct["p50"] * 1e3,
        "p90_ms": pct["p90"] * 1e3,
        "p99_ms": pct["p99"] * 1e3,
    }


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
    """`n` connections, each after one request/response, held open (plain or mTLS)."""

    def __init__(self, port, n, tls=None):
        self.socks = []
        req = f"GET /2b HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
        try:
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                if tls is not None:
                    s = tls.wrap_socket(s, server_hostname=None)
                self.socks.append(s)
                s.sendall(req)
                _read_response(s)
        except BaseException:
            self.close()
            raise

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
