"""One measurement: warm-up, then the load with the target's CPU read around it."""

import sys
import time

from . import load


def _tool(kind, target, seconds, path, rate):
    if kind == "h1":
        return load.wrk(target.h1, path, seconds)
    if kind == "h2":
        return load.h2load(target.h2, path, seconds)
    if kind == "open":
        return load.loadgen(target.h1, path, seconds, rate)
    raise ValueError(kind)


def once(target, kind, seconds, warm, path="/2b", rate=None):
    """A warm-up run (discarded), then the measured run; None when the target failed it."""
    try:
        if warm > 0:
            _tool(kind, target, warm, path, rate)
        c0 = target.cpu_seconds()
        res = _tool(kind, target, seconds, path, rate)
        c1 = target.cpu_seconds()
    except load.LoadError as e:
        print(f"  {target.name} {kind}: FAILED: {e}", file=sys.stderr, flush=True)
        return None
    cpu = c1 - c0
    if not res["requests"]:
        print(f"  {target.name} {kind}: no answer; sample dropped", file=sys.stderr, flush=True)
        return None
    if res["requests"] and target.procs:
        res["cpu_us_per_req"] = cpu * 1e6 / res["requests"]
        if rate:
            # CPU seconds per second, normalised to exactly `rate` requests per second.
            res["vcpu"] = cpu / res["requests"] * rate
    res["cpu_s"] = cpu
    bad = res["errors"] > 0.01 * max(res["requests"], 1)
    if bad:
        print(f"  {target.name} {kind}: {res['errors']} errors of {res['requests']}; "
              "sample dropped", file=sys.stderr, flush=True)
        return None
    return res


def rounds(targets, kind, n, seconds, warm, path="/2b", rate=None, label=""):
    """`n` rounds; the target order rotates each round so no target always goes first."""
    out = []
    for r in range(n):
        k = r % len(targets)
        order = targets[k:] + targets[:k]
        row = {}
        t0 = time.monotonic()
        for t in order:
            row[t.name] = once(t, kind, seconds, warm, path, rate)
        out.append(row)
        brief = ", ".join(
            f"{name} {v['rps']:.0f}/s" + (f" p99 {v['p99_ms']:.2f}ms" if "p99_ms" in v else "")
            for name, v in row.items() if v
        )
        print(f"  {label} round {r + 1}/{n} ({time.monotonic() - t0:.0f}s): {brief}", flush=True)
    return out
