"""Inbound authorization as ASGI and WSGI middleware.

The middleware only translates: it maps the server's request (method, URL, headers, peer
address, peer identity) to a request dict, asks ``Mesh.authorize`` (the Rust engine) for the
receiving workload's verdict, and answers 403 ``RBAC: access denied`` (400 when the engine
cannot normalize the path or evaluate the request) or hands the request to the app.

The peer identity comes from the TLS connection when the server exposes a client certificate
(the ASGI ``tls`` extension), or from a trusted header (for example Envoy's
``x-forwarded-client-cert``) that is honoured only when the connection comes from one of
``trusted_proxies``. That header is always removed before the app sees the request.
"""

import ipaddress
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote

from ._native import Mesh, MeshRequestError

__all__ = ["MeshASGIMiddleware", "MeshWSGIMiddleware"]

_Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

DENIED_BODY = b"RBAC: access denied"
BAD_REQUEST_BODY = b"Bad Request"
_SAFE = "/:@!$&'()*+,;=-._~"  # RFC 3986 pchar and "/": kept as is when re-quoting a path


class _Gate:
    """What both middlewares share: the settings and the request-dict mapping."""

    def __init__(
        self,
        mesh: Mesh,
        workload: str,
        labels: Optional[Mapping[str, str]],
        trusted_identity_header: Optional[str],
        trusted_proxies: Iterable[str],
    ) -> None:
        if not isinstance(mesh, Mesh):
            raise TypeError(f"mesh: expected mesh_core.Mesh, got {type(mesh).__name__}")
        if workload.count("/") != 1 or "" in workload.split("/"):
            raise ValueError(f"workload: expected NS/NAME, got {workload!r}")
        self.mesh = mesh
        self.workload = workload
        self.labels = dict(labels or {})
        self.header = trusted_identity_header.lower() if trusted_identity_header else None
        self.proxies: List[_Network] = []
        for p in trusted_proxies:
            try:
                self.proxies.append(ipaddress.ip_network(p, strict=False))
            except ValueError as e:
                raise ValueError(f"trusted_proxies: {p!r} is not an address or CIDR: {e}") from None

    def from_trusted_proxy(self, ip: Optional[str]) -> bool:
        if ip is None:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in n for n in self.proxies)

    def verdict(
        self,
        method: str,
        url: str,
        headers: List[Tuple[str, str]],
        source_ip: Optional[str],
        tls_principal: Optional[str],
        forwarded_identity: Optional[str],
    ) -> Optional[int]:
        """None to call the app, else the status to answer with (403 or 400)."""
        request: Dict[str, Any] = {
            "method": method,
            "url": url,
            "headers": headers,
            "destination_workload": self.workload,
            "destination_labels": self.labels,
            "mtls": False,
        }
        if source_ip is not None:
            request["source_ip"] = source_ip
        principal = tls_principal
        # The header counts only from a trusted proxy, and never over a TLS identity.
        if principal is None and forwarded_identity and self.from_trusted_proxy(source_ip):
            principal = _forwarded_principal(forwarded_identity)
        if principal:
            request["source_principal"] = principal
            request["mtls"] = True
        try:
            v = self.mesh.authorize(request)
        except MeshRequestError:
            return 400
        status = v.get("status")
        if v.get("decision") == "ALLOW" and status is None:
            return None
        return int(status) if status is not None else 403


def _forwarded_principal(value: str) -> Optional[str]:
    """The peer principal of a forwarded identity header: the ``URI`` of the last (nearest)
    element of an ``x-forwarded-client-cert`` value, or the whole value; without ``spiffe://``."""
    last = value.split(",")[-1].strip()
    uri = last
    if "=" in last:
        uri = ""
        for part in last.split(";"):
            key, _, val = part.partition("=")
            if key.strip().lower() == "uri":
                uri = val.strip().strip('"')
    if uri.startswith("spiffe://"):
        uri = uri[len("spiffe://") :]
    return uri or None


def _tls_principal(scope: Mapping[str, Any]) -> Optional[str]:
    """The SPIFFE identity of the client certificate of the ASGI ``tls`` extension, if any."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    from ._x509 import spiffe_uri_of_pem  # only servers with the tls extension need it

    uri = spiffe_uri_of_pem(chain[0])
    return uri[len("spiffe://") :] if uri else None


def _answer(status: int) -> Tuple[str, List[Tuple[str, str]], bytes]:
    body = DENIED_BODY if status == 403 else BAD_REQUEST_BODY
    reason = {400: "Bad Request", 403: "Forbidden"}.get(status, "Forbidden")
    headers = [("content-type", "text/plain"), ("content-length", str(len(body)))]
    return f"{status} {reason}", headers, body


class MeshASGIMiddleware:
    """ASGI middleware enforcing the AuthorizationPolicies of ``workload`` (``NS/NAME``, with
    ``labels``) on every HTTP and WebSocket request; other scopes (lifespan) pass through."""

    def __init__(
        self,
        app: Any,
        mesh: Mesh,
        workload: str,
        labels: Optional[Mapping[str, str]] = None,
        trusted_identity_header: Optional[str] = None,
        trusted_proxies: Iterable[str] = (),
    ) -> None:
        self.app = app
        self._gate = _Gate(mesh, workload, labels, trusted_identity_header, trusted_proxies)

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        gate = self._gate
        raw = [(bytes(k), bytes(v)) for k, v in scope.get("headers", [])]
        forwarded = None
        kept: List[Tuple[bytes, bytes]] = []
        for k, v in raw:
            if gate.header is not None and k.lower().decode("latin-1") == gate.header:
                forwarded = v.decode("latin-1")
            else:
                kept.append((k, v))
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in kept]
        host = next((v for k, v in headers if k == "host"), None)
        if host is None:
            server = scope.get("server")
            host = f"{server[0]}:{server[1]}" if server else "localhost"
        # The undecoded target when the server gives it, so the engine normalizes what was sent.
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else quote(scope.get("path", "/"), safe=_SAFE)
        query = scope.get("query_string") or b""
        if query and "?" not in path:
            path = f"{path}?{query.decode('latin-1')}"
        scheme = scope.get("scheme", "http")
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        client = scope.get("client")
        status = gate.verdict(
            scope.get("method", "GET") if kind == "http" else "GET",
            f"{scheme}://{host}{path}",
            headers,
            client[0] if client else None,
            _tls_principal(scope),
            forwarded,
        )
        if status is None:
            await self.app({**scope, "headers": kept}, receive, send)
        elif kind == "websocket":
            # Closing before accepting: the server answers the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
        else:
            _, hdrs, body = _answer(status)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in hdrs],
                }
            )
            await send({"type": "http.response.body", "body": body})


class MeshWSGIMiddleware:
    """WSGI middleware enforcing the AuthorizationPolicies of ``workload`` (``NS/NAME``, with
    ``labels``) on every request."""

    def __init__(
        self,
        app: Any,
        mesh: Mesh,
        workload: str,
        labels: Optional[Mapping[str, str]] = None,
        trusted_identity_header: Optional[str] = None,
        trusted_proxies: Iterable[str] = (),
    ) -> None:
        self.app = app
        self._gate = _Gate(mesh, workload, labels, trusted_identity_header, trusted_proxies)

    def __call__(self, environ: Dict[str, Any], start_response: Any) -> Iterable[bytes]:
        gate = self._gate
        environ = dict(environ)
        forwarded = None
        if gate.header is not None:
            forwarded = environ.pop("HTTP_" + gate.header.upper().replace("-", "_"), None)
        headers: List[Tuple[str, str]] = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers.append((key[5:].lower().replace("_", "-"), value))
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                headers.append((key.lower().replace("_", "-"), value))
        host = environ.get("HTTP_HOST") or "{}:{}".format(
            environ.get("SERVER_NAME", "localhost"), environ.get("SERVER_PORT", "80")
        )
        # The undecoded target when the server keeps it (gunicorn, uWSGI), else re-quoted.
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if not target:
            path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            target = quote(path.encode("latin-1"), safe=_SAFE) or "/"
            if environ.get("QUERY_STRING"):
                target += "?" + environ["QUERY_STRING"]
        status = gate.verdict(
            environ.get("REQUEST_METHOD", "GET"),
            f"{environ.get('wsgi.url_scheme', 'http')}://{host}{target}",
            headers,
            environ.get("REMOTE_ADDR") or None,
            None,
            forwarded,
        )
        if status is None:
            return self.app(environ, start_response)
        line, hdrs, body = _answer(status)
        start_response(line, hdrs)
        return [body]
