"""The outbound mesh as an ``httpx`` transport.

``MeshTransport`` routes every request at the sidecar of ``workload`` through the Rust engine
(``Mesh.client(...).begin``): VirtualService routing and weighted splits, rewrites and header
operations, fault injection, the route and per-try timeouts, retries (``retryOn``, attempts,
backoff, ``maxRetries`` or the retry budget) and outlier ejection over the endpoints the
resources declare (ServiceEntry, WorkloadEntry). It then sends each attempt to the picked
endpoint with a real transport (``httpx.HTTPTransport`` / ``httpx.AsyncHTTPTransport`` unless
given) and reports the outcome back. Only the sending is Python's; every decision is Rust's.

Answers the mesh gives itself are ``httpx.Response`` objects with the Envoy response flag in
``response.extensions["mesh_flag"]``: 404 ``NR`` (no route), 503 ``NC``/``UH``/``UO``/``UF``/
``UR``, a fault abort (``FI``) and, when the route timeout fires, a synthesized **504**
``upstream request timeout`` (``UT``) — as Envoy answers, no exception is raised.

Timeouts are enforced per attempt through httpx's connect/read/write/pool timeouts, each set to
what remains of the attempt's deadline.
"""

import asyncio
import time
from typing import Any, Generator, Mapping, Optional, Tuple

import httpx

from ._native import Mesh

__all__ = ["MeshTransport"]

_Action = Tuple[str, Any]


def _local(response: Mapping[str, Any], request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        response["status"],
        headers=response["headers"],
        content=response["body"],
        request=request,
        extensions={"mesh_flag": response["flag"]},
    )


def _error_kind(e: Exception) -> str:
    if isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout)):
        return "connect-failure"
    if isinstance(e, httpx.TimeoutException):
        return "timeout"
    return "reset"


def _steps(client: Any, request: httpx.Request) -> Generator[_Action, Any, httpx.Response]:
    """The host's side of one call, without IO: yields ``("sleep", seconds)``,
    ``("close", response)`` (a response not returned) and ``("send", attempt)`` (answered with
    an ``httpx.Response`` or the transport's exception); returns the final response."""
    try:
        body: Optional[bytes] = request.content
    except httpx.RequestNotRead:
        body = None  # a stream: sent once, never retried
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
    call = client.begin(request.method, str(request.url), headers, None if body is None else len(body))
    if call.delay:
        yield ("sleep", call.delay)
    if call.response is not None:
        return _local(call.response, request)
    while True:
        deadline = call.attempt_timeout()
        attempt = httpx.Request(
            call.method,
            call.url,
            headers=call.headers,
            content=body if body is not None else request.stream,
            extensions=dict(request.extensions),
        )
        if deadline is not None:
            left = max(deadline[0], 0.001)
            attempt.extensions["timeout"] = {"connect": left, "read": left, "write": left, "pool": left}
        result = yield ("send", attempt)
        if isinstance(result, httpx.Response):
            grpc = result.headers.get("grpc-status")
            what, arg = call.finish(status=result.status_code,
                                    grpc_status=int(grpc) if grpc and grpc.isdigit() else None)
            if what == "done":
                edited = call.edit_response([(k.decode("latin-1"), v.decode("latin-1"))
                                             for k, v in result.headers.raw])
                return httpx.Response(result.status_code, headers=edited, stream=result.stream,
                                      request=request, extensions=result.extensions)
            yield ("close", result)
        else:
            if isinstance(result, httpx.TimeoutException) and deadline is not None and deadline[1]:
                return _local(call.timed_out(), request)
            what, arg = call.finish(error=_error_kind(result))
        if what == "respond":
            return _local(arg, request)
        if arg:
            yield ("sleep", arg)


class MeshTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An ``httpx`` transport (sync and async) that applies the outbound mesh of ``workload``
    (``NS/NAME``, with ``labels``) and sends with ``transport`` / ``async_transport``.

    >>> client = httpx.Client(transport=MeshTransport(mesh, workload="production/frontend"))
    >>> client.get("http://myapp.production.svc.cluster.local/api/users")
    """

    def __init__(
        self,
        mesh: Mesh,
        workload: str,
        labels: Optional[Mapping[str, str]] = None,
        transport: Optional[httpx.BaseTransport] = None,
        async_transport: Optional[httpx.AsyncBaseTransport] = None,
    ) -> None:
        if not isinstance(mesh, Mesh):
            raise TypeError(f"mesh: expected mesh_core.Mesh, got {type(mesh).__name__}")
        self._client = mesh.client(workload, dict(labels or {}))
        self._transport = transport
        self._async_transport = async_transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            self._transport = httpx.HTTPTransport()
        steps = _steps(self._client, request)
        reply: Any = None
        try:
            while True:
                kind, arg = steps.send(reply)
                reply = None
                if kind == "sleep":
                    time.sleep(arg)
                    continue
                if kind == "close":
                    arg.close()
                    continue
                try:
                    reply = self._transport.handle_request(arg)
                except httpx.TransportError as e:
                    reply = e
        except StopIteration as done:
            return done.value

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._async_transport is None:
            self._async_transport = httpx.AsyncHTTPTransport()
        steps = _steps(self._client, request)
        reply: Any = None
        try:
            while True:
                kind, arg = steps.send(reply)
                reply = None
                if kind == "sleep":
                    await asyncio.sleep(arg)
                    continue
                if kind == "close":
                    await arg.aclose()
                    continue
                try:
                    reply = await self._async_transport.handle_async_request(arg)
                except httpx.TransportError as e:
                    reply = e
        except StopIteration as done:
            return done.value

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def aclose(self) -> None:
        if self._async_transport is not None:
            await self._async_transport.aclose()
