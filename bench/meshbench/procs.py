"""Ports, processes started by PID, and what /proc says about them."""

import os
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    """A port the kernel just handed out for 127.0.0.1:0 (closed again, then checked by `claim`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def claim(port):
    """Refuse to go on when `port` is already taken on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            raise SystemExit(f"bench: port {port} is taken ({e}); refusing to start") from e
    return port


def ports(n):
    """`n` distinct free ports, each checked."""
    out = []
    while len(out) < n:
        p = free_port()
        if p not in out:
            out.append(claim(p))
    return out


def wait_port(port, proc, timeout=20.0):
    """Wait until something accepts on 127.0.0.1:`port`; fail if `proc` died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see {proc.log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{proc.name}: nothing listens on {port} after {timeout}s; see {proc.log}")


class Proc:
    """One process we exec'd; its PID is the one `Popen` got from the exec itself."""

    def __init__(self, name, argv, log, env=None):
        self.name = name
        self.log = log
        self._logf = open(log, "wb")
        self.popen = subprocess.Popen(
            argv, stdout=self._logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )
        self.pid = self.popen.pid

    def tree(self):
        """This PID and its descendants (nginx's master and workers)."""
        children = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        out, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def cpu_seconds(self):
        """utime + stime of the whole tree, in seconds."""
        total = 0
        for pid in self.tree():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
        return total / CLK_TCK

    def memory(self):
        """RSS and PSS of the tree in KiB, and how many processes it has."""
        rss = pss = anon = 0
        tree = self.tree()
        for pid in tree:
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1])
                        elif line.startswith("Pss:"):
                            pss += int(line.split()[1])
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            anon += int(line.split()[1])
            except OSError:
                continue
        return {"rss_kib": rss, "pss_kib": pss, "anon_kib": anon, "processes": len(tree)}

    def signal_stop(self):
        """Sends SIGTERM without waiting (see `Procs.stop_many`)."""
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self):
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=12)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait()
        self._logf.close()


class Procs:
    """Every process of the run, stopped by PID at the end (also on an exception or Ctrl-C)."""

    def __init__(self):
        self.all = []

    def start(self, name, argv, log, env=None):
        p = Proc(name, argv, log, env)
        self.all.append(p)
        return p

    def stop(self, proc):
        proc.stop()
        self.all.remove(proc)

    def stop_many(self, procs):
        """Stops several at once: every SIGTERM first, then each wait, so their drains overlap."""
        for p in procs:
            p.signal_stop()
        for p in procs:
            self.stop(p)

    def stop_all(self):
        for p in reversed(self.all):
            p.stop()
        self.all.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()
        return False
