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
