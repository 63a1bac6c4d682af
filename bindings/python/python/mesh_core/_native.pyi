"""Istio, Linkerd and SMI service-mesh policy, evaluated in process.

Type stubs of the native ``mesh_core._native`` module (Rust, pyo3), re-exported by ``mesh_core``. Requests are dicts with the fields
of ``mesh-proxy explain``'s flags; decisions are dicts of its JSON decision schema.
"""

import os
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, TypedDict, Union

class _RequestRequired(TypedDict):
    url: str

class Request(_RequestRequired, total=False):
    """A request to evaluate. Unknown keys raise ``MeshRequestError``."""

    method: str
    """HTTP method; ``GET`` when absent."""
    headers: Union[Mapping[str, str], Sequence[Tuple[str, str]]]
    """A mapping, or ``(name, value)`` pairs when a name repeats."""
    workload: str
    """The client workload ``NS/NAME`` whose sidecar routes the request (``default/client``)."""
    labels: Mapping[str, str]
    """The client workload's labels."""
    gateway: str
    """Evaluate at this gateway ``NS/NAME`` instead of a sidecar; needs ``port``."""
    port: int
    """The gateway server port."""
    source_principal: str
    source_namespace: str
    source_ip: str
    mtls: bool
    """The connection is mutual TLS (without it the peer carries no identity)."""
    destination_workload: str
    """The workload ``NS/NAME`` receiving the request, for ``mtls`` and ``authz`` (default: the
    sidecar's own workload)."""
    destination_labels: Mapping[str, str]
    """The receiving workload's labels."""
    seed: int
    """Seed for the weighted picks (0 when absent)."""

class Diagnostic(TypedDict):
    """One finding about the resources."""

    severity: Literal["error", "warning"]
    file: str
    line: int
    column: int
    resource: Optional[str]
    path: str
    message: str

class MeshConfigError(ValueError):
    """The resources failed validation."""

    diagnostics: List[Diagnostic]
    """Every finding, errors and warnings, in file and line order."""

class MeshRequestError(ValueError):
    """The request could not be evaluated (bad field, URL, header, unknown gateway)."""

class LocalResponse(TypedDict):
    """An answer the mesh gives itself (no upstream was reached for it)."""

    status: int
    headers: List[Tuple[str, str]]
    body: bytes
    flag: Optional[str]
    """Envoy's response flag: ``NR``, ``NC``, ``UH``, ``UO``, ``UT``, ``UF``, ``UR``, ``FI``."""

class Endpoint(TypedDict):
    host: str
    subset: Optional[str]
    address: str
    port: int

class Call:
    """One outbound request (``OutboundClient.begin``): answered locally (``response``), or
    attempts to send to ``url`` and report with ``finish``."""

    @property
    def response(self) -> Optional[LocalResponse]: ...
    @property
    def delay(self) -> Optional[float]:
        """Seconds to wait first (a fault delay)."""
    @property
    def url(self) -> str:
        """The attempt's URL: the endpoint address and the rewritten path."""
    @property
    def method(self) -> str: ...
    @property
    def headers(self) -> List[Tuple[str, str]]:
        """Headers to send; ``host`` (the rewritten authority) first."""
    @property
    def endpoint(self) -> Endpoint: ...
    @property
    def timeout(self) -> Optional[float]:
        """The route timeout in seconds."""
    @property
    def retries(self) -> int: ...
    def attempt_timeout(self) -> Optional[Tuple[float, bool]]:
        """``(seconds, is_route_timeout)`` for the attempt starting now."""
    def finish(
        self, status: Optional[int] = None, error: Optional[str] = None, grpc_status: Optional[int] = None
    ) -> Tuple[str, Any]:
        """Reports the attempt (a status, or ``connect-failure``/``reset``/``refused-stream``/
        ``timeout``): ``("done", None)``, ``("retry", seconds)`` or ``("respond", LocalResponse)``."""
    def timed_out(self) -> LocalResponse:
        """The route timeout fired: the 504 ``upstream request timeout`` answer."""
    def edit_response(self, headers: Sequence[Tuple[str, str]]) -> List[Tuple[str, str]]:
        """Response headers after the route's and destination's header operations."""

class OutboundClient:
    """The outbound mesh of one client workload; decisions in Rust, sending by the host."""

    def begin(
        self, method: str, url: str, headers: Sequence[Tuple[str, str]] = ..., body_len: Optional[int] = 0
    ) -> Call:
        """Routes one request (``body_len`` None: a stream, never retried)."""

class Mesh:
    """An immutable, validated mesh snapshot; safe to share between threads."""

    @staticmethod
    def from_yaml(text: str, file: str = "<string>") -> "Mesh":
        """Builds a mesh from YAML text; raises ``MeshConfigError``."""
    @staticmethod
    def from_path(path: Union[str, "os.PathLike[str]"]) -> "Mesh":
        """Builds a mesh from a file or a directory (recursively); raises ``MeshConfigError``."""
    @property
    def warnings(self) -> List[Diagnostic]:
        """Warnings found while building."""
    def explain(self, request: Request) -> Dict[str, Any]:
        """Every decision for one request: the ``mesh-proxy explain`` JSON document."""
    def route(self, request: Request) -> Dict[str, Any]:
        """The routing part of ``explain``, with the destination picked with ``seed``."""
    def client(self, workload: str, labels: Optional[Mapping[str, str]] = None) -> OutboundClient:
        """The outbound client of ``workload`` (``NS/NAME``), built once per (workload, labels)
        and shared: balancers, outlier detectors and budgets see every call."""
    def authorize(self, request: Request) -> Dict[str, Any]:
        """The AuthorizationPolicy verdict for the receiving workload (``explain(..)["authz"]``):
        ``decision`` (``ALLOW``/``DENY``), ``status`` (403 when denied), ``reason``, ``policy``,
        ``rule``, ``action``, ``path``, ``audit``, ``dry_run``. Policies are compiled once, when
        the mesh is built."""

class RetryBudget:
    """A Linkerd retry budget: each request deposits ``retry_ratio`` retries, kept for
    ``ttl_seconds``, on top of ``min_retries_per_second``. Raises ``ValueError`` on bad
    settings."""

    def __init__(
        self, retry_ratio: float = 0.2, min_retries_per_second: int = 10, ttl_seconds: float = 10.0
    ) -> None: ...
    def deposit(self) -> None:
        """One request."""
    def withdraw(self) -> bool:
        """One retry: True (and spent) when the budget allows it."""
    def advance(self, seconds: float) -> None:
        """Moves the budget's clock forward."""

class OutlierDetector:
    """Envoy's consecutive-error outlier detector over named hosts. Settings use Istio's names in
    snake case; durations are Istio strings (``"30s"``)."""

    def __init__(
        self,
        hosts: Sequence[str],
        *,
        consecutive_5xx: int = 5,
        consecutive_gateway_errors: int = 0,
        interval: str = "10s",
        base_ejection_time: str = "30s",
        max_ejection_time: str = "300s",
        max_ejection_percent: int = 10,
        min_health_percent: int = 0,
    ) -> None: ...
    def record(self, host: str, status: int) -> bool:
        """Records a response status from ``host``; True when it ejected the host."""
    def ejected(self) -> List[str]:
        """The hosts ejected now, in list order."""
    def advance(self, seconds: float) -> None:
        """Moves the detector's clock forward, running the un-ejections now due."""
