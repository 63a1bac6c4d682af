"""Per-call cost of `Mesh.route` from Python (build with `pip install ./bindings/python`, a
release build). Compare with the native figure of `cargo bench -p mesh-bindings --bench route`
(`bindings/route_native`): the difference is the binding's overhead.

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


def per_call_ns(fn, calls: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn(REQUEST)
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    mesh = Mesh.from_path(EXAMPLES)
    assert mesh.route(REQUEST)["picked"] is not None
    route = per_call_ns(mesh.route, calls)
    explain = per_call_ns(mesh.explain, calls // 5)
    # No resources: the default route, where the engine does almost nothing (compare with
    # `bindings/route_native_default`).
    default = per_call_ns(Mesh.from_yaml("", file="empty.yaml").route, calls)
    print(f"python route:   {route / 1000:.2f} us/call (best of 5 x {calls})")
    print(f"python route, mesh without resources: {default / 1000:.2f} us/call")
    print(f"python explain: {explain / 1000:.2f} us/call (best of 5 x {calls // 5})")


if __name__ == "__main__":
    main()
