"""The builds, in the background while the peers install: the release binaries and, beside them,
the microbenchmarks' compile; both end before the first load phase (never compile while one
measures)."""

import os
import signal
import subprocess
import threading
import time

from . import micro


class Build:
    """Runs its cargo steps side by side, each in a thread; `wait` returns the step times.

    `cargo build --release -p mesh-proxy -p mesh-loadgen` (one call, so the shared dependencies
    compile once) and, unless `micro_too` is false, `cargo bench --profile micro --no-run` of the
    criterion benches. The release profile is fat LTO over one codegen unit and the bench profile
    is not, so the two share no artifact; the `micro` profile (the bench settings under their own
    target/micro directory and lock) lets them compile at the same time, and each fills the core
    the other leaves idle in its single-threaded stretches (the proxy's LTO). Output goes to one
    log per step under target/, shown when a step fails.
    """

    def __init__(self, root, micro_too):
        self.root = root
        steps = [("build release", ["cargo", "build", "--release", "-p", "mesh-proxy",
                                    "-p", "mesh-loadgen"])]
        if micro_too:
            steps.append(("compile microbenchmarks", micro.build_argv(root)))
        self.steps = steps
        self.times = {}
        self.errors = []
        self.popens = []
        self._lock = threading.Lock()
        self._stopped = False
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(len(steps))]

    def _log(self, i):
        return os.path.join(self.root, "target", f"bench-build-{i}.log")

    def start(self):
        os.makedirs(os.path.join(self.root, "target"), exist_ok=True)
        print(f"bench: building in the background ({' and '.join(n for n, _ in self.steps)}); "
              f"logs target/bench-build-*.log", flush=True)
        for t in self._threads:
            t.start()
        return self

    def _run(self, i):
        name, argv = self.steps[i]
        with open(self._log(i), "w") as log:
            log.write(f"$ {' '.join(argv)}\n")
            log.flush()
            t0 = time.monotonic()
            with self._lock:
                if self._stopped:
                    return
                p = subprocess.Popen(argv, cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
                self.popens.append(p)
            rc = p.wait()
            self.times[name] = round(time.monotonic() - t0, 1)
            if rc != 0:
                self.errors.append(f"{name} failed ({argv[0]} exited {rc}); see {self._log(i)}")

    def wait(self):
        """Blocks until every step ran; the (name, seconds) of each; raises when one failed."""
        for t in self._threads:
            t.join()
        if self.errors:
            tails = []
            for i in range(len(self.steps)):
                with open(self._log(i)) as f:
                    tails.append(f.read()[-2000:])
            raise RuntimeError("\n".join(self.errors + tails))
        return [(name, self.times[name]) for name, _ in self.steps]

    def stop(self):
        """Stops any cargo still running (each in the session it was started in, by its PID)."""
        with self._lock:
            self._stopped = True
            running = [p for p in self.popens if p.poll() is None]
        for p in running:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            p.wait()
