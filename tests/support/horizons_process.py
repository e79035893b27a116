"""Running Horizons from Python test scripts: one command, and `horizons up` as a context manager.

    from horizons_process import EmbeddedCluster, run, terminate_on_sigterm
    terminate_on_sigterm()
    with EmbeddedCluster(horizons, brokers=1) as cluster:
        code, stdout, stderr = run([horizons, "consume", "job-lifecycle", "--brokers", cluster.bootstrap,
                                    "--registry", cluster.registry, "--until-end", "--json"])

Children get this environment without KAFKA_* and SCHEMA_REGISTRY_* (a developer's KAFKA_BROKERS or
SCHEMA_REGISTRY_URL must not leak into a test), and die with the script, even when it is killed.
"""

import os
import queue
import signal
import subprocess
import tempfile
import threading
import time

DEADLINE_S = 40  # default bound on one command


def child_environment():
    return {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "SCHEMA_REGISTRY_"))}


def run(command, stdin=b"", timeout=DEADLINE_S):
    """(exit code, stdout bytes, stderr text); a timeout or a missing program counts as exit code None."""
    try:
        result = subprocess.run([str(c) for c in command], input=stdin, capture_output=True,
                                env=child_environment(), timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        return None, expired.stdout or b"", f"timed out after {timeout} s; " + (expired.stderr or b"").decode(errors="replace")
    except OSError as error:
        return None, b"", f"cannot run {command[0]}: {error}"
    return result.returncode, result.stdout, result.stderr.decode(errors="replace")


def die_with_parent():
    """In the child, before exec: SIGTERM when this script dies, even by SIGKILL (a CTest timeout)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class EmbeddedCluster:
    """`horizons up --brokers N` as a context manager. Entering waits until it serves and yields itself:
    `bootstrap` (the broker list) and `registry` (its schema registry's URL). Exiting (also on an
    exception or SIGTERM of this script) sends SIGTERM, then SIGKILL if it has not stopped in time."""

    def __init__(self, horizons, brokers=3, start_timeout=30, stop_timeout=10):
        self.command = [str(horizons), "up", "--brokers", str(brokers)]
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.process = None
        self.bootstrap = None
        self.registry = None
        self.lines = queue.Queue()
        self.stderr = tempfile.TemporaryFile()  # librdkafka logs; a pipe nobody reads could fill and block

    def __enter__(self):
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=self.stderr, env=child_environment(),
                                        preexec_fn=die_with_parent)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        try:
            self._wait_until_serving()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _read_stdout(self):
        for raw in self.process.stdout:
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))
        self.lines.put(None)

    def _wait_until_serving(self):
        deadline = time.monotonic() + self.start_timeout
        seen = []
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise SystemExit(f"`{' '.join(self.command)}` was not serving after {self.start_timeout} s; "
                                 f"stdout: {seen}; stderr: {self.stderr_tail()}")
            if line is None:
                self.process.wait()
                raise SystemExit(f"`{' '.join(self.command)}` exited {self.process.returncode} before serving; "
                                 f"stdout: {seen}; stderr: {self.stderr_tail()}")
            seen.append(line)
            if line.startswith("bootstrap servers: "):
                self.bootstrap = line.split(": ", 1)[1].strip()
                if not all(":" in server for server in self.bootstrap.split(",")):
                    raise SystemExit(f"unexpected bootstrap list: {line!r}")
            elif line.startswith("schema registry: "):
                self.registry = line.split(": ", 1)[1].strip()
            elif line.startswith("serving until"):
                if self.bootstrap is None:
                    raise SystemExit(f"`{' '.join(self.command)}` printed no bootstrap servers; stdout: {seen}")
                return

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            print(f"  `horizons up` ignored SIGTERM for {self.stop_timeout} s; killing it", flush=True)
            self.process.kill()
            self.process.wait()

    def stderr_tail(self, limit=2000):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-limit:]


def terminate_on_sigterm():
    """CTest (or a developer) may SIGTERM the script: unwind so that a cluster is stopped by its `with`."""
    def handler(signum, _frame):
        raise SystemExit(f"signal {signum}")
    signal.signal(signal.SIGTERM, handler)
