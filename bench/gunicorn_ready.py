"""gunicorn settings for the benchmarks: every worker says when it can serve.

gunicorn opens its port before its workers have imported the app, so a benchmark
that starts its clock when the port answers also times the workers' start (about
2 s of CPU each here). With ``-c bench/gunicorn_ready.py`` and ``BENCH_READY_DIR``
set, each worker touches a file named by its pid once the app is loaded, and
``wait_until_ready`` waits for all of them. ``workers_of`` and ``cpu_seconds`` read
gunicorn's processes from Linux's /proc, for the CPU a benchmark's server used.
"""

import os
import time
from pathlib import Path

#: No control socket (gunicorn 27's ``gunicornc``): the benchmarks do not use it, and the
#: second of two gunicorns (the app and the one-line baseline) logged an error, finding
#: the first one's socket at the same path.
control_socket_disable = True


def post_worker_init(worker):
    """gunicorn's hook, in each worker after the app is loaded."""
    folder = os.environ.get("BENCH_READY_DIR")
    if folder:
        Path(folder, str(worker.pid)).touch()


def wait_until_ready(folder: Path, workers: int, process, timeout: float = 120) -> float:
    """Wait until ``workers`` workers have loaded the app; return the seconds waited."""
    started = time.monotonic()
    while len(list(folder.iterdir())) < workers:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} while starting")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"gunicorn's workers were not ready after {timeout:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - started


def workers_of(master: int) -> list[int]:
    """The pids of gunicorn's workers (the master's children)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    return [int(pid) for pid in children]


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
