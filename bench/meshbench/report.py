"""The report: same-round ratios against the issue's targets, per-target tables, JSON and Markdown."""

from .stats import differences, fmt, ratios, summary

SECTION = "## Proxy versus Envoy, HAProxy and nginx"
FULL = "mesh-full"


def _per_target(rounds, key):
    names = []
    for r in rounds or []:
        for n in r:
            if n not in names:
                names.append(n)
    return {n: summary([r[n][key] if r.get(n) and key in r[n] else None for r in rounds])
            for n in names}


def _mem(m, key):
    v = m.get(key)
    return None if v is None else v["kib"] / 1024


def _checks(out):
    """(goal, measured summary, comparison, threshold, unit) for each target of the issue."""
    w1, w2, mt = out.get("w1", {}), out.get("w2", {}), out.get("mtls", {})
    c = []

    def add(goal, s, op, limit, unit="", digits=2):
        met = None
        if s is not None:
            met = s["median"] >= limit if op == ">=" else s["median"] <= limit
        c.append({"goal": goal, "op": op, "limit": limit, "unit": unit, "digits": digits,
                  "measured": s, "met": met})

    h1 = w1.get("h1", [])
    add("full stack HTTP/1.1 throughput / HAProxy (1 worker)", summary(ratios(h1, FULL, "haproxy", "rps")), ">=", 1.1, "x")
    add("full stack HTTP/1.1 throughput / Envoy (1 worker)", summary(ratios(h1, FULL, "envoy", "rps")), ">=", 2.2, "x")
    add("full stack HTTP/1.1 throughput / Envoy (2 workers)", summary(ratios(w2.get("h1", []), FULL, "envoy", "rps")), ">=", 1.8, "x")
    add("full stack / own pass-through throughput", summary(ratios(h1, FULL, "mesh-pass", "rps")), ">=", 0.95, "x")
    add("CPU per request, full stack / HAProxy", summary(ratios(h1, FULL, "haproxy", "cpu_us_per_req")), "<=", 0.9, "x")
    op = w1.get("open", [])
    for r in op:
        for n, v in r.items():
            if v and r.get("direct"):
                v["added_p50_ms"] = v["p50_ms"] - r["direct"]["p50_ms"]
                v["added_p99_ms"] = v["p99_ms"] - r["direct"]["p99_ms"]
    add("added p50 at 2,000 req/s, full stack minus nginx's", summary(differences(op, FULL, "nginx", "added_p50_ms")), "<=", 0.0, " ms", 3)
    add("added p99 at 2,000 req/s, full stack minus HAProxy's", summary(differences(op, FULL, "haproxy", "added_p99_ms")), "<=", 0.0, " ms", 3)
    v1k = _per_target(w1.get("vcpu1k"), "vcpu").get(FULL)
    add("vCPU at 1,000 req/s (1 KiB), full stack, plaintext", v1k, "<=", 0.03, "", 4)
    mv = _per_target(mt.get("vcpu1k"), "vcpu").get("mesh mTLS pair")
    if mv:
        mv = summary([x / 2 for x in mv["values"]])
    add("vCPU at 1,000 req/s (1 KiB) per proxy, mTLS pair", mv, "<=", 0.045, "", 4)
    mem = w1.get("memory", {}).get(FULL, {})
    add("memory idle, full stack", _one(_mem(mem, "idle")), "<=", 8, " MiB", 1)
    add("memory with 1,000 keep-alive connections, full stack", _one(_mem(mem, "conns")), "<=", 20, " MiB", 1)
    mm = mt.get("memory", {}).get("mesh mTLS pair", {})
    add("memory with 1,000 mTLS connections (server sidecar)", _one(_mem(mm, "server_mtls_conns")), "<=", 40, " MiB", 1)
    h2 = w1.get("h2", [])
    add("HTTP/2 throughput, full stack / Envoy", summary(ratios(h2, FULL, "envoy", "rps")), ">=", 1.5, "x")
    add("HTTP/2 throughput, full stack / nginx", summary(ratios(h2, FULL, "nginx", "rps")), ">=", 1.0, "x")
    return c


def _one(v):
    return None if v is None else summary([v])


def _ratio_table(rounds, key, base_names, digits=2):
    """Rows: each target; columns: the target's own figure and its same-round ratio to bases."""
    per = _per_target(rounds, key)
    head = "| target | " + key + " | " + " | ".join(f"/ {b}" for b in base_names) + " |"
    lines = [head, "|" + "---|" * (2 + len(base_names))]
    for n, s in per.items():
        cells = [fmt(summary(ratios(rounds, n, b, key))) if b != n else "1" for b in base_names]
        lines.append(f"| {n} | {fmt(s, digits)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build(out):
    checks = _checks(out)
    w1, w2, mt = out.get("w1", {}), out.get("w2", {}), out.get("mtls", {})
    s = out["settings"]
    m = out["machine"]
    L = [SECTION, ""]
    L.append(
        f"Run {out['date']} with `python3 bench/run.py{' --quick' if out['quick'] else ''}` on "
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}. "
        f"Load average before the run {out['load_before'][0]:.2f}, after {out.get('load_after', ['?'])[0]}"
        f" (the machine is shared with other builds, so absolute figures are noisy; every comparison "
        f"below is a ratio or a difference measured within the same round, reported as the median "
        f"and the range over rounds). Whole run {out['elapsed_s']} s.")
    L.append("")
    v = out["versions"]
    L.append(f"Peers: Envoy {v['envoy']}; {v['haproxy']}; {v['nginx']}. Load: {v['wrk']}; "
             f"{v['h2load']}; {v.get('loadgen') or v.get('oha')}.")
    L.append("")
    ws = s.get("warm_short", s["warm"])
    L.append(
        f"Each target gets {s['warm']} s of warm-up, then {s['measure']} s of closed-loop HTTP/1.1 "
        f"(`wrk -t2 -c50`) in {s['rounds']} rounds; the shorter runs get {ws} s of warm-up "
        f"({s.get('warm_open', ws)} s for the open loop): "
        f"{s['short']} s of HTTP/2 (`h2load -c50 -m10`, h2c), {s['latency_rounds']} rounds of "
        f"{s.get('open', s['short'])} s open loop at 2,000 req/s over 50 keep-alive connections (`mesh-loadgen`, "
        f"bench/loadgen: request i is due at i/rate and timed from then, so a stall is charged to "
        f"every request it delayed, as with wrk2 or `oha --latency-correction`; exact percentiles "
        f"of the 2xx answers), {s.get('vcpu', s['short'])} s at 1,000 req/s with a 1 KiB body; the order of "
        f"targets rotates every round. The upstream is nginx (1 worker, keep-alive, 2-byte body "
        f"`/2b`, 1 KiB `/1k`). Every proxy runs 1 worker (mesh-proxy `--workers 1`, Envoy "
        f"`--concurrency 1`, HAProxy `nbthread 1`, nginx `worker_processes 1`); the load generator "
        f"and the upstream share the same 2 cores. CPU is utime + stime of the proxy's process tree "
        f"(`/proc/<pid>/stat`) over the measured window divided by the requests served.")
    L.append("")
    if out.get("phases"):
        L.append("Time per phase (s): " + "; ".join(f"{n} {t:.0f}" for n, t in out["phases"])
                 + f"; whole run {out['elapsed_s']}.")
        L.append("")
    notes = w1.get("notes", {})
    if notes:
        L.append("Targets: " + "; ".join(f"**{n}**: {t}" for n, t in notes.items()) + ".")
        L.append("")
    L += ["### Against the targets of issue 6", "",
          "| goal | target | measured: median (range) | met |", "|---|---|---|---|"]
    for ch in checks:
        meas = fmt(ch["measured"], ch["digits"], ch["unit"])
        met = {True: "yes", False: "**no**", None: "not measured"}[ch["met"]]
        L.append(f"| {ch['goal']} | {ch['op']} {ch['limit']}{ch['unit']} | {meas} | {met} |")
    L.append("")
    if w1.get("h1"):
        L += ["### HTTP/1.1 closed loop, 1 worker (`wrk -t2 -c50`, 2-byte body)", "",
              "Requests per second, and the same-round ratio to each peer:", "",
              _ratio_table(w1["h1"], "rps", [FULL, "envoy", "haproxy", "nginx"], 0), "",
              "Proxy CPU microseconds per request (whole process tree):", "",
              _ratio_table([{n: v for n, v in r.items() if n != "direct"} for r in w1["h1"]],
                           "cpu_us_per_req", [FULL, "envoy", "haproxy", "nginx"], 1), ""]
    if w1.get("h2"):
        L += ["### HTTP/2 closed loop, 1 worker (`h2load -c50 -m10`, h2c prior knowledge)", "",
              _ratio_table(w1["h2"], "rps", [FULL, "envoy", "haproxy", "nginx"], 0), "",
              _ratio_table(w1["h2"], "cpu_us_per_req", [FULL, "envoy", "haproxy", "nginx"], 1), ""]
    if w1.get("open"):
        L += ["### Open loop at 2,000 req/s (mesh-loadgen, coordinated-omission corrected), 1 worker", "",
              "| target | p50 ms | p90 ms | p99 ms | added p50 ms | added p99 ms |",
              "|---|---|---|---|---|---|"]
        per = {k: _per_target(w1["open"], k) for k in
               ("p50_ms", "p90_ms", "p99_ms", "added_p50_ms", "added_p99_ms")}
        for n in per["p50_ms"]:
            L.append(f"| {n} | " + " | ".join(fmt(per[k].get(n), 3) for k in per) + " |")
        L += ["", "Added latency is the target's percentile minus direct's in the same round.", ""]
    if w1.get("vcpu1k"):
        L += ["### CPU at a fixed 1,000 req/s, 1 KiB body, 1 worker", "",
              "vCPU = CPU seconds per second of the proxy tree, normalised to exactly 1,000 req/s.",
              "", _ratio_table(w1["vcpu1k"], "vcpu", [FULL, "envoy", "haproxy", "nginx"], 4), ""]
    if w1.get("memory"):
        L += ["### Memory, 1 worker (MiB; PSS summed over the tree for multi-process nginx, RSS otherwise)", "",
              f"| target | idle | after the load | with {s['connections_held']:,} keep-alive connections |",
              "|---|---|---|---|"]
        for n, mm in w1["memory"].items():
            L.append(f"| {n} | " + " | ".join(
                "–" if _mem(mm, k) is None else f"{_mem(mm, k):.1f}" for k in ("idle", "after_load", "conns")) + " |")
        L.append("")
    if w2.get("h1"):
        L += ["### HTTP/1.1 closed loop, 2 workers", "",
              f"{s['short']} s measured per round.", "",
              _ratio_table(w2["h1"], "rps", [FULL, "envoy", "haproxy", "nginx"], 0), "",
              _ratio_table(w2["h1"], "cpu_us_per_req", [FULL, "envoy", "haproxy", "nginx"], 1), ""]
    if mt.get("h1"):
        L += ["### mTLS pair: client sidecar → server sidecar → upstream (1 worker each)", "",
              "Both pairs use the certificates from `mesh-proxy certs` (SPIFFE IDs shop/frontend and "
              "shop/reviews, TLS 1.3, client certificate required); the server side authorizes the "
              "caller's principal (AuthorizationPolicy / RBAC filter). CPU is both proxies together.", "",
              _ratio_table(mt["h1"], "rps", ["mesh mTLS pair", "envoy mTLS pair"], 0), "",
              _ratio_table(mt["h1"], "cpu_us_per_req", ["mesh mTLS pair", "envoy mTLS pair"], 1), "",
              "At 1,000 req/s with a 1 KiB body (vCPU of both proxies together; per proxy is half):", "",
              _ratio_table(mt.get("vcpu1k", []), "vcpu", ["mesh mTLS pair", "envoy mTLS pair"], 4), "",
              f"| pair | idle (both) | after the load (both) | server idle | server with {s['connections_held']:,} mTLS connections |",
              "|---|---|---|---|---|"]
        for n, mm in mt["memory"].items():
            L.append(f"| {n} | " + " | ".join(
                "–" if _mem(mm, k) is None else f"{_mem(mm, k):.1f}"
                for k in ("idle", "after_load", "server_idle", "server_mtls_conns")) + " |")
        L.append("")
    mic = out.get("micro", {})
    if mic.get("benches"):
        L += ["### Engine microbenchmarks (criterion medians, short warm-up and measure times)", ""]
        for name, a in (mic.get("stack_allocations_per_request") or {}).items():
            L += [f"Full layer stack (`mesh-core/benches/stack.rs`, `{name}`): "
                  f"{a['allocations']:.2f} heap allocations and {a['bytes']} bytes per request.", ""]
        L += ["| benchmark | median |", "|---|---|"]
        for b in mic["benches"]:
            ns = b["median_ns"]
            txt = f"{ns:.1f} ns" if ns < 1e4 else (f"{ns / 1e3:.1f} µs" if ns < 1e7 else f"{ns / 1e6:.1f} ms")
            L.append(f"| {b['name']} | {txt} |")
        L.append("")
    md = "\n".join(L) + "\n"
    js = dict(out, checks=checks)
    return {"md": md, "json": js}


def into_docs(path, md):
    """Replace (or append) the section in docs/benchmarks.md."""
    with open(path) as f:
        text = f.read()
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + md
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + md + ("" if end < 0 else "\n" + text[end:].lstrip("\n"))
    with open(path, "w") as f:
        f.write(text)
