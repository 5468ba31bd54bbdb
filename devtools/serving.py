"""Wait until a server answers, for ``make run``: it prints "Serving on ..." only once the
app does, not while it is still starting (or when it never started: a port in use).

``python -m devtools.serving URL [--pid PID] [--timeout SECONDS]`` exits 0 as soon as
``URL`` gives any HTTP answer (an error status is an answer too: /healthz says 503 until
the worker's first heartbeat), 1 when ``PID`` (the server's process) has ended or the time
is up.
"""

import argparse
import os
import sys
import time
import urllib.error
import urllib.request


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def answers(url: str, timeout: float = 2.0) -> bool:
    """Whether ``url`` gives an HTTP answer, whatever its status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310 - our own address
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def wait_until_served(url: str, pid: int | None = None, timeout: float = 120.0,
                      every: float = 0.2) -> bool:
    """Poll ``url`` until it answers (True), or ``pid`` has ended or ``timeout`` seconds
    have passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(url):
            return True
        if not _alive(pid):
            return False
        time.sleep(every)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.serving", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--pid", type=int, help="the server's process: give up if it ends")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    try:
        if wait_until_served(args.url, args.pid, args.timeout):
            return 0
    except KeyboardInterrupt:  # Ctrl-C while the app starts: make run stops everything
        return 130
    print(f"{args.url} did not answer: see the server's messages above.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
