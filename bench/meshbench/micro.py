"""The engine microbenchmarks: criterion medians from target/criterion, allocations per request."""

import glob
import json
import os
import re
import subprocess

LOG = os.path.join("bench", "results", "micro-output.txt")


def _bench_names(root, package):
    names = []
    with open(os.path.join(root, package, "Cargo.toml")) as f:
        text = f.read()
    for block in text.split("[[bench]]")[1:]:
        m = re.search(r'^name\s*=\s*"([^"]+)"', block, re.M)
        if m:
            names.append(m.group(1))
    return names


# The engines' benches (mesh-core). mesh-proxy's `inbound` bench (the inbound stack in process)
# is left to `cargo bench -p mesh-proxy`: compiling it here rebuilds hyper, h2, rustls and
# everything on tokio a second time in the bench profile (docs/benchmarks.md: the time budget), and
# the load phases measure the proxy itself.
PACKAGES = ("mesh-core",)


def _argv(root):
    """One `cargo bench` over the packages' criterion benches (one feature resolution).
    `--profile micro`: see the root Cargo.toml."""
    argv = ["cargo", "bench", "--profile", "micro"]
    for package in PACKAGES:
        argv += ["-p", package]
    for package in PACKAGES:
        argv += [a for n in _bench_names(root, package) for a in ("--bench", n)]
    return argv


def build_argv(root):
    """Compiles the benches without running them (run.py does it before the load phases, beside
    the release build: the `micro` profile is the bench profile in its own directory)."""
    return _argv(root) + ["--no-run"]


def run(root, warm="0.2", measure="0.4", samples="10", resamples="1000"):
    """Runs the (already compiled) criterion benches with short warm-up and measure times; the
    output is kept for the allocation count. Medians are point estimates of the samples, so
    fewer bootstrap resamples only narrow what criterion spends on confidence intervals."""
    os.makedirs(os.path.join(root, "bench", "results"), exist_ok=True)
    argv = _argv(root) + ["--", "--warm-up-time", warm, "--measurement-time", measure,
                          "--sample-size", samples, "--nresamples", resamples, "--noplot"]
    print(f"bench: {' '.join(argv[:6])} ... (short criterion times)", flush=True)
    r = subprocess.run(argv, cwd=root, capture_output=True, text=True)
    with open(os.path.join(root, LOG), "w") as f:
        f.write(r.stdout)
    if r.returncode != 0:
        raise RuntimeError(f"cargo bench failed: {r.stderr[-1500:]}")


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
    allocs = {}
    try:
        with open(os.path.join(root, LOG)) as f:
            for m in re.finditer(r"^(\S+): ([\d.]+) heap allocations and (\d+) bytes", f.read(),
                                 re.M):
                allocs[m.group(1)] = {"allocations": float(m.group(2)), "bytes": int(m.group(3))}
    except OSError:
        pass
    return {"benches": benches, "stack_allocations_per_request": allocs}
