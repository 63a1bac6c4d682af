"""Istio, Linkerd and SMI service-mesh policy, evaluated in process.

The engines are Rust (``mesh_core._native``); ``mesh_core.middleware`` holds the ASGI and WSGI
middleware that ask them whether to let a request through; ``mesh_core.httpx`` the ``httpx``
transport that applies the outbound side (import it explicitly: it needs ``httpx``).
"""

from ._native import (
    Call,
    Mesh,
    MeshConfigError,
    MeshRequestError,
    OutboundClient,
    OutlierDetector,
    RetryBudget,
)
from .middleware import MeshASGIMiddleware, MeshWSGIMiddleware

__all__ = [
    "Call",
    "Mesh",
    "MeshConfigError",
    "MeshRequestError",
    "MeshASGIMiddleware",
    "MeshWSGIMiddleware",
    "OutboundClient",
    "OutlierDetector",
    "RetryBudget",
]
