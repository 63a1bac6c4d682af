"""Istio, Linkerd and SMI service-mesh policy, evaluated in process.

Type stubs of the native ``mesh_core`` module (Rust, pyo3). Requests are dicts with the fields
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
