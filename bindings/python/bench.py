"""Per-call cost of `Mesh.route` and `Mesh.authorize` from Python (build with
`pip install ./bindings/python`, a release build), in this thread's CPU time (a loaded machine
inflates wall time, not this). Compare with the `*_cpu` figures of
`cargo bench -p mesh-bindings --bench route` (`bindings/route_native_cached_cpu`,
`bindings/authorize_native_cpu`): the difference is the binding's overhead.

    python bindings/python/bench.py [calls]
"""

import sys
import time
from pathlib import Path

from mesh_core import Mesh

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "resources"
# The request of the native bench (bindings/common/benches/route.rs).
REQUEST = {
    "url": "http://myapp.production.svc.cluster.local/api/users",
    "headers": {"x-version": "v2"},
    "workload": "production/frontend",
}


# The inbound request of the native `authorize` bench.
INBOUND = {
    "url": "http://myapp.production/api/x",
    "mtls": True,
    "source_principal": "cluster.local/ns/production/sa/frontend",
    "destination_workload": "production/myapp",
    "destination_labels": {"app": "myapp"},
}


def per_call_ns(fn, calls: int, request=REQUEST) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.thread_time_ns()
        for _ in range(calls):
            fn(request)
        best = min(best, (time.thread_time_ns() - start) / calls)
    return best


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    mesh = Mesh.from_path(EXAMPLES)
    assert mesh.route(REQUEST)["picked"] is not None
    route = per_call_ns(mesh.route, calls)
    explain = per_call_ns(mesh.explain, calls // 5)
    authorize = per_call_ns(mesh.authorize, calls, INBOUND)
    # No resources: the default route, where the engine does almost nothing (compare with
    # `bindings/route_native_default`).
    default = per_call_ns(Mesh.from_yaml("", file="empty.yaml").route, calls)
    print(f"python route:   {route / 1000:.2f} us/call (best of 5 x {calls})")
    print(f"python route, mesh without resources: {default / 1000:.2f} us/call")
    print(f"python explain: {explain / 1000:.2f} us/call (best of 5 x {calls // 5})")
    print(f"python authorize: {authorize / 1000:.2f} us/call (best of 5 x {calls})")


if __name__ == "__main__":
    main()
