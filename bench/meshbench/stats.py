"""Medians, ranges and same-round ratios."""

import statistics


def summary(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals),
            "values": vals}


def ratios(rounds, num, den, key):
    """Per round `num[key] / den[key]`, both measured in that round."""
    out = []
    for r in rounds:
        a, b = r.get(num), r.get(den)
        if a and b and a.get(key) is not None and b.get(key):
            out.append(a[key] / b[key])
    return out


def differences(rounds, a_name, b_name, key):
    out = []
    for r in rounds:
        a, b = r.get(a_name), r.get(b_name)
        if a and b and a.get(key) is not None and b.get(key) is not None:
            out.append(a[key] - b[key])
    return out


def fmt(s, digits=2, unit=""):
    if s is None:
        return "–"
    if s["n"] == 1:
        return f"{s['median']:.{digits}f}{unit}"
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"
