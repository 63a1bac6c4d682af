"""Istio, Linkerd and SMI service-mesh policy, evaluated in process.

The engines are Rust (``mesh_core._native``); ``mesh_core.middleware`` holds the ASGI and WSGI
middleware that ask them whether to let a request through.
"""

from ._native import Mesh, MeshConfigError, MeshRequestError, OutlierDetector, RetryBudget
from .middleware import MeshASGIMiddleware, MeshWSGIMiddleware

__all__ = [
    "Mesh",
    "MeshConfigError",
    "MeshRequestError",
    "MeshASGIMiddleware",
    "MeshWSGIMiddleware",
    "OutlierDetector",
    "RetryBudget",
]
