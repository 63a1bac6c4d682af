"""The builds, in the background while the peers install: the release binaries, then the
microbenchmarks' compile (never while a load phase measures)."""

import os
import signal
import subprocess
import threading
import time

from . import micro


class Build:
    """Runs its cargo steps one after the other in a thread; `wait` returns the step times.

    Step 1: `cargo build --release -p mesh-proxy -p mesh-loadgen` (one call, so the shared
    dependencies compile once). Step 2 (unless `micro` is false): `cargo bench --no-run` of the
    criterion benches, which reuses the release artifacts of every crate whose features do not
    change under the dev-dependencies (see docs/benchmarks.md). Output goes to a log under
    target/, shown when a step fails.
    """

    def __init__(self, root, micro_too):
        self.root = root
        self.log = os.path.join(root, "target", "bench-build.log")
        self.steps = [("build release", ["cargo", "build", "--release", "-p", "mesh-proxy",
                                         "-p", "mesh-loadgen"])]
        if micro_too:
            self.steps.append(("compile microbenchmarks", micro.build_argv(root)))
        self.times = []
        self.error = None
        self.popen = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        os.makedirs(os.path.dirname(self.log), exist_ok=True)
        print(f"bench: building in the background ({' then '.join(n for n, _ in self.steps)}); "
              f"log {self.log}", flush=True)
        self._thread.start()
        return self

    def _run(self):
        with open(self.log, "w") as log:
            for name, argv in self.steps:
                if self._stop:
                    return
                t0 = time.monotonic()
                log.write(f"$ {' '.join(argv)}\n")
                log.flush()
                self.popen = subprocess.Popen(argv, cwd=self.root, stdout=log,
                                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              start_new_session=True)
                rc = self.popen.wait()
                self.times.append((name, round(time.monotonic() - t0, 1)))
                if rc != 0:
                    self.error = f"{name} failed ({argv[0]} exited {rc}); see {self.log}"
                    return

    def wait(self):
        """Blocks until every step ran; the (name, seconds) of each; raises when one failed."""
        self._thread.join()
        if self.error:
            with open(self.log) as f:
                tail = f.read()[-3000:]
            raise RuntimeError(f"{self.error}\n{tail}")
        return self.times

    def stop(self):
        """Stops the running cargo (the session it was started in, by its PID)."""
        self._stop = True
        p = self.popen
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            p.wait()
        self._thread.join(timeout=5)
