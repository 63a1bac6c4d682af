"""The engine microbenchmarks: criterion medians from target/criterion, allocations per request."""

import glob
import json
import os
import re
import subprocess

LOG = os.path.join("bench", "results", "micro-output.txt")


def run(root):
    """`cargo bench` for mesh-core and mesh-proxy once, with short warm-up and measure times."""
    print("bench: cargo bench -p mesh-core -p mesh-proxy (short criterion times)", flush=True)
    r = subprocess.run(
        ["cargo", "bench", "-p", "mesh-core", "-p", "mesh-proxy", "--benches", "--",
         "--warm-up-time", "0.5", "--measurement-time", "1.5", "--noplot"],
        cwd=root, capture_output=True, text=True,
    )
    os.makedirs(os.path.join(root, "bench", "results"), exist_ok=True)
    with open(os.path.join(root, LOG), "w") as f:
        f.write(r.stdout)
    if r.returncode != 0:
        print(r.stderr[-2000:])
        raise RuntimeError("cargo bench failed")


def collect(root):
    benches = []
    for est in sorted(glob.glob(os.path.join(root, "target", "criterion", "**", "new",
                                             "estimates.json"), recursive=True)):
        d = os.path.dirname(est)
        try:
            with open(est) as f:
                median = json.load(f)["median"]["point_estimate"]
            with open(os.path.join(d, "benchmark.json")) as f:
                name = json.load(f)["full_id"]
        except (OSError, KeyError, ValueError):
            continue
        benches.append({"name": name, "median_ns": median})
    allocs = None
    try:
        with open(os.path.join(root, LOG)) as f:
            m = re.search(r"stack/request: ([\d.]+) heap allocations and (\d+) bytes", f.read())
        if m:
            allocs = {"allocations": float(m.group(1)), "bytes": int(m.group(2))}
    except OSError:
        pass
    return {"benches": benches, "stack_allocations_per_request": allocs}
