"""Load and soak: the app under gunicorn on PostgreSQL, driven by wrk on the same machine.

    python bench/load.py --database-url URL [--duration 60] [--soak 600] [--clients 20]
                         [--workers 2] [--threads 4] [--think 1000,100] [--access-log FILE]

Builds the demo association in the PostgreSQL database named by --database-url
(or BENCH_DATABASE_URL; its public schema is DROPPED and recreated), starts the
local Daraja sandbox, the app under gunicorn with the production settings and
the worker process (``flask worker``, which credits the confirmations),
logs in as the chair, and runs wrk (Debian package ``wrk``) with ``--clients``
connections:

1. the baseline: a one-line Flask endpoint served the same way (gunicorn, the
   same workers and threads) for ``--duration`` seconds;
2. the load: a mix of logged-in page views (members list, a member's statement,
   the arrears list, the patrol roster) and, one request in five, an M-Pesa
   paybill confirmation for each active demo member in turn, each with its own receipt
   code, for ``--duration`` seconds;
3. paced: the same mix for ``--duration`` seconds, each client pausing between its
   requests as a person would (``--think`` ms on average, 0 to twice that), once for
   each pause in ``--think`` (0 skips these runs): the latency of a request when the
   server is not saturated, and, the pauses shorter, how close to saturation it stays;
4. the soak: the same mix as 2, without pauses, for ``--soak`` seconds (0 skips it),
   sampling the resident memory of every gunicorn worker every few seconds.

For each run it prints requests per second, p50/p95/p99 latency, errors (socket errors,
timeouts and HTTP statuses other than 2xx/3xx), the CPU a request took in the app's
workers and the worker process, in PostgreSQL (when it runs on this machine) and in wrk,
and for the runs with confirmations: how many were sent and acknowledged, and, once the
app has processed them all, how many are in the books, lost (acknowledged but not in the
books) or doubled. Figures are printed for people to read; it exits 0 whatever they are,
and 1 only when it could not measure.
"""

import argparse
import json
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.gunicorn_ready import cpu_seconds, wait_until_ready, workers_of  # noqa: E402

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
PAGE_SHARE = 4  # page views for each confirmation
WRK_THREADS = 2  # wrk gives each thread clients // WRK_THREADS connections
#: The receipt codes of each paced run start with its own two letters (LA: load, LS: soak).
PACED_PREFIXES = ["LP", "LQ", "LR", "LT", "LU"]
SAMPLE_EVERY = 5.0  # seconds between memory samples during the soak


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="PostgreSQL URL (its public schema is DROPPED and recreated)")
    parser.add_argument("--duration", type=int, default=60, help="seconds of each load run")
    parser.add_argument("--soak", type=int, default=600, help="seconds of the soak (0: none)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one a core)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--think", type=pauses, default=[1000, 100], metavar="MS[,MS...]",
                        help="mean pause of each client between requests, one paced run "
                             "for each (0: no paced run)")
    parser.add_argument("--access-log", metavar="FILE",
                        help="the app's access log, with each request's time in microseconds "
                             "as the server saw it (not counting its wait for a thread)")
    return parser.parse_args(argv)


def pauses(text: str) -> list[int]:
    """``--think``: mean pauses in milliseconds, comma-separated; "0" is none."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not whole milliseconds: {text!r}") from None
    if any(value < 0 for value in values) or len(values) > len(PACED_PREFIXES):
        raise argparse.ArgumentTypeError(
            f"up to {len(PACED_PREFIXES)} pauses of 0 ms or more: {text!r}")
    return [value for value in values if value]


def hello_app():
    """The one-line endpoint the app is compared with (``gunicorn 'bench.load:hello_app()'``)."""
    from flask import Flask

    app = Flask("hello")
    app.add_url_rule("/", "hello", lambda: "ok")
    return app


# --- Processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start listening on port {port}")


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gunicorn(app_spec: str, port: int, args, env: dict, ready: Path,
             access_log: str | None = None) -> subprocess.Popen:
    """gunicorn serving ``app_spec``; each worker touches a file in ``ready`` once loaded.
    ``access_log``: a file for one line a request, ending with the worker's pid, the
    client's port (which worker holds which connection) and the time in microseconds.
    Idle connections are kept longer than a paced client's longest pause: one closed
    meanwhile, wrk connects again and pauses before its first request (see THINK_LUA)."""
    ready.mkdir()
    access_log = ["--access-logfile", access_log, "--access-logformat",
                  "%(t)s %(r)s %(s)s %(p)s %({REMOTE_PORT}e)s %(D)s"] if access_log else []
    return subprocess.Popen(  # noqa: S603 - our own app under gunicorn
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "bench" / "gunicorn_ready.py"),
         "-w", str(args.workers), "--threads", str(args.threads), "-b", f"127.0.0.1:{port}",
         "--keep-alive", str(keep_alive_seconds(args.think)), "--log-level", "warning",
         *access_log, app_spec],
        cwd=ROOT, env={**env, "BENCH_READY_DIR": str(ready)})


def keep_alive_seconds(pauses_ms: list[int]) -> int:
    """gunicorn's keep-alive (its default: 2 s), longer than the longest pause."""
    return max(2, 2 * max(pauses_ms, default=0) // 1000 + 1)


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def postgres_pids() -> list[int]:
    """PostgreSQL's processes on this machine (none when the server is elsewhere)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class CpuMeter:
    """CPU seconds used during a run by the app's workers and by PostgreSQL's processes
    (PostgreSQL's backends come and go: each is counted from its first sample on)."""

    def __init__(self, master: int, also: tuple[int, ...] = ()):
        self.master = master
        self.also = also  # counted with the app's workers: the worker process
        self.start = {pid: cpu_seconds(pid) for pid in self._pids()}
        self.last = dict(self.start)

    def _pids(self) -> list[int]:
        return [*workers_of(self.master), *self.also, *postgres_pids()]

    def sample(self) -> None:
        for pid in self._pids():
            self.start.setdefault(pid, cpu_seconds(pid))
            self.last[pid] = cpu_seconds(pid)

    def used(self) -> tuple[float, float]:
        """(app workers, PostgreSQL) CPU seconds since the meter started."""
        self.sample()
        workers = {*workers_of(self.master), *self.also}
        app = sum(self.last[p] - self.start[p] for p in self.last if p in workers)
        database = sum(self.last[p] - self.start[p] for p in self.last if p not in workers)
        return app, database


# --- The app's database and login ----------------------------------------------------------


def prepare_database(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": url}
    for command in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run([*FLASK, *command], cwd=ROOT, env=env, check=True,  # noqa: S603
                       capture_output=True)


def demo_facts(url: str) -> tuple[list[int], list[str]]:
    """Ids of members with a statement to show, and member numbers to pay for."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(sa.text(
            "SELECT DISTINCT member_id FROM payment ORDER BY member_id LIMIT 50"))]
        numbers = [row[0] for row in conn.execute(sa.text(
            "SELECT member_no FROM member WHERE status = 'active' ORDER BY id"))]
    engine.dispose()
    return ids, numbers


def booked(url: str, prefix: str) -> tuple[int, int]:
    """Payments whose M-Pesa code starts with ``prefix``: (rows, distinct codes)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows, distinct = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT mpesa_code) FROM payment "
            "WHERE mpesa_code LIKE :prefix"), {"prefix": f"{prefix}%"}).one()
    engine.dispose()
    return rows, distinct


def wait_until_processed(url: str, prefix: str, timeout: float = 300) -> tuple[float, dict]:
    """Seconds until every stored callback was tried and no ``prefix`` payment waits for
    Daraja's confirmation (Transaction Status answers later, at the result URL); and how
    many of those transactions ended in each status."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    started = time.monotonic()
    untried = sa.text("SELECT count(*) FROM mpesa_callback_inbox "
                      "WHERE processed_at IS NULL AND attempts = 0")
    statuses = sa.text("SELECT status, count(*) FROM mpesa_transaction "
                       "WHERE receipt_code LIKE :prefix GROUP BY status")
    try:
        while True:
            with engine.connect() as conn:
                waiting = conn.execute(untried).scalar()
                counts = dict(conn.execute(statuses, {"prefix": f"{prefix}%"}).all())
            if (not waiting and not counts.get("unconfirmed")) \
                    or time.monotonic() - started > timeout:
                return time.monotonic() - started, counts
            time.sleep(0.2)
    finally:
        engine.dispose()


def session_cookie(base: str, login: str, password: str) -> str:
    """Log in through the form as a browser would; the session cookie to send."""
    def cookie_of(response) -> str | None:
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("session="):
                return header.split(";", 1)[0]
        return None

    with urllib.request.urlopen(f"{base}/login", timeout=30) as response:  # noqa: S310
        page = response.read().decode()
        cookie = cookie_of(response)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "login": login, "password": password})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(f"{base}/login", data=body.encode(),  # noqa: S310
                                     headers={"Cookie": cookie or ""}, method="POST")
    try:
        response = opener.open(request, timeout=30)
    except urllib.error.HTTPError as answer:  # the redirect after a good login
        response = answer
    with response:
        cookie = cookie_of(response) or cookie
        if response.status not in (302, 303):
            raise RuntimeError(f"login as {login} was refused ({response.status})")
    return cookie


# --- wrk -----------------------------------------------------------------------------------

LUA = r"""
local paths = {PATHS}
local accounts = {ACCOUNTS}
local cookie = "COOKIE"
local confirm_path = "CONFIRM_PATH"
local prefix = "PREFIX"
local page_share = PAGE_SHARE
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  sent = 0
  acked = 0
  math.randomseed(id)
end

function request()
  counter = counter + 1
  if confirm_path ~= "" and counter % (page_share + 1) == 0 then
    sent = sent + 1
    local code = string.format("%s%02d%06d", prefix, id, sent)
    local body = string.format(
      '{"TransactionType":"Pay Bill","TransID":"%s","TransTime":"20260301183012",' ..
      '"TransAmount":"50.00","BusinessShortCode":"SHORTCODE","BillRefNumber":"%s",' ..
      '"InvoiceNumber":"","OrgAccountBalance":"12500.00","ThirdPartyTransID":"",' ..
      '"MSISDN":"254708374149","FirstName":"JANE","MiddleName":"","LastName":""}',
      code, accounts[(sent % #accounts) + 1])
    return wrk.format("POST", confirm_path, {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", paths[(counter % #paths) + 1], {["Cookie"] = cookie})
end

function response(status, headers, body)
  if string.find(body, '"ResultCode"', 1, true) then
    acked = acked + 1
  end
end

function done(summary, latency, requests)
  local sent_total, acked_total = 0, 0
  for _, thread in ipairs(threads) do
    sent_total = sent_total + thread:get("sent")
    acked_total = acked_total + thread:get("acked")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.3f,"p50":%d,"p95":%d,"p99":%d,"max":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"confirmations_sent":%d,"confirmations_acked":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout,
    sent_total, acked_total))
end
"""


#: A client that pauses between requests, as a person does: 0 to twice the mean, at random
#: (wrk does not count the pause in a request's latency). wrk asks for a pause before a
#: connection's first request too, so each of this thread's connections would sit idle
#: after connecting; gunicorn's thread waits for that first request (gthread holds a
#: thread for up to 5 s), and the requests behind it waited up to 1.5 s. A reverse proxy
#: sends its request as soon as it connects: so does each client here.
THINK_LUA = r"""
local connected = 0
function delay()
  if connected < CONNECTIONS then
    connected = connected + 1
    return 0
  end
  return math.random(0, 2 * THINK)
end
"""


def lua_script(folder: Path, name: str, paths: list[str], accounts: list[str], cookie: str,
               confirm_path: str, prefix: str, shortcode: str, think_ms: int = 0,
               clients: int = 0) -> Path:
    def table(values):
        return "{" + ", ".join(json.dumps(v) for v in values) + "}"

    text = (LUA.replace("{PATHS}", table(paths)).replace("{ACCOUNTS}", table(accounts or ["-"]))
            .replace("COOKIE", cookie).replace("CONFIRM_PATH", confirm_path)
            .replace("PREFIX", prefix).replace("PAGE_SHARE", str(PAGE_SHARE))
            .replace("SHORTCODE", shortcode))
    if think_ms:
        text += (THINK_LUA.replace("THINK", str(think_ms))
                 .replace("CONNECTIONS", str(clients // WRK_THREADS)))
    path = folder / f"{name}.lua"
    path.write_text(text)
    return path


def run_wrk(base: str, script: Path, seconds: int, clients: int,
            master: int, also: tuple[int, ...] = ()) -> tuple[dict, list[list[float]]]:
    """wrk's figures, with the CPU seconds used meanwhile (``cpu``: the app's workers and
    the processes ``also`` names, PostgreSQL, wrk), and the memory samples of ``master``'s
    workers."""
    meter = CpuMeter(master, also)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(  # noqa: S603 - wrk from Debian
        ["wrk", "-t", str(WRK_THREADS), "-c", str(clients), "-d", f"{seconds}s",
         "--timeout", "10s", "-s", str(script), base],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples = []
    while process.poll() is None:
        samples.append([rss_mib(pid) or 0.0 for pid in workers_of(master)])
        meter.sample()
        try:
            process.wait(SAMPLE_EVERY)
        except subprocess.TimeoutExpired:
            pass
    output = process.stdout.read()
    found = re.search(r"^RESULT (\{.*\})$", output, re.MULTILINE)
    if process.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed:\n{output}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk: the only child waited for
    figures = json.loads(found.group(1))
    figures["cpu"] = (*meter.used(), after.ru_utime + after.ru_stime
                      - before.ru_utime - before.ru_stime)
    return figures, samples


def report(title: str, figures: dict) -> None:
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    rate = figures["requests"] / figures["seconds"]
    print(f"{title}: {rate:,.0f} requests/s ({figures['requests']:,} in "
          f"{figures['seconds']:.0f} s); latency p50 {figures['p50'] / 1000:.1f} ms, "
          f"p95 {figures['p95'] / 1000:.1f} ms, p99 {figures['p99'] / 1000:.1f} ms, "
          f"max {figures['max'] / 1000:.0f} ms; errors {errors} (connect {figures['connect']}, "
          f"read {figures['read']}, write {figures['write']}, timeout {figures['timeout']}, "
          f"HTTP status {figures['status']})")
    app, database, wrk = figures["cpu"]
    per = 1000 / max(figures["requests"], 1)
    print(f"  CPU a request: app workers {app * per:.1f} ms, PostgreSQL {database * per:.1f} ms, "
          f"wrk {wrk * per:.2f} ms ({app:.0f} + {database:.0f} + {wrk:.0f} s of CPU in "
          f"{figures['seconds']:.0f} s on {os.cpu_count()} CPUs)")


def report_payments(url: str, prefix: str, figures: dict) -> None:
    waited, statuses = wait_until_processed(url, prefix)
    rows, distinct = booked(url, prefix)
    acked = figures["confirmations_acked"]
    print(f"  M-Pesa confirmations: {figures['confirmations_sent']:,} sent, {acked:,} "
          f"acknowledged; {waited:.1f} s after the run, {rows:,} payments in the books: "
          f"lost {max(acked - distinct, 0)}, doubled {rows - distinct} (transactions by "
          f"status: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items())) or 'none'})")


def report_memory(samples: list[list[float]]) -> None:
    samples = [s for s in samples if s]
    if not samples:
        print("  worker memory: no samples")
        return
    width = max(len(s) for s in samples)
    for worker in range(width):
        values = [s[worker] for s in samples if len(s) > worker]
        print(f"  worker {worker + 1} resident memory: first {values[0]:.0f} MiB, "
              f"after the first minute {values[min(len(values) - 1, 12)]:.0f} MiB, "
              f"last {values[-1]:.0f} MiB, max {max(values):.0f} MiB "
              f"({len(values)} samples every {SAMPLE_EVERY:.0f} s)")


def main(args) -> int:
    if not args.database_url or not args.database_url.startswith("postgresql"):
        print("Give a PostgreSQL database: --database-url postgresql+psycopg://... "
              "(or BENCH_DATABASE_URL)", file=sys.stderr)
        return 1
    if not subprocess.run(["which", "wrk"], capture_output=True).returncode == 0:  # noqa: S607
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 1
    from config import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, _database_url

    url = _database_url(args.database_url)
    print(f"preparing the demo association in {url.rsplit('@', 1)[-1]} ...", flush=True)
    prepare_database(url)
    member_ids, accounts = demo_facts(url)
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    sandbox_port, app_port, hello_port = free_port(), free_port(), free_port()
    token = secrets.token_hex(24)
    base = f"http://127.0.0.1:{app_port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "APP_ENV": "production",
           "SECRET_KEY": secrets.token_hex(32), "DATABASE_URL": url,
           "PUBLIC_BASE_URL": base, "MPESA_ENV": "sandbox",
           "MPESA_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
           "MPESA_CONSUMER_KEY": "load-key", "MPESA_CONSUMER_SECRET": "load-secret",
           "MPESA_SHORTCODE": SANDBOX_SHORTCODE, "MPESA_PASSKEY": SANDBOX_PASSKEY,
           "MPESA_SHORTCODE_TYPE": "paybill", "MPESA_CALLBACK_TOKEN": token,
           "MPESA_ALLOWED_IPS": "127.0.0.1"}
    # No Transaction Status credentials: wrk's confirmations never went through the sandbox,
    # which would rightly answer that it does not know their receipts (a forged callback).
    sandbox = app = hello = worker = None
    try:
        sandbox = subprocess.Popen(  # noqa: S603
            [*FLASK, "mpesa", "sandbox", "--port", str(sandbox_port), "--quiet"],
            cwd=ROOT, env={**env, "APP_ENV": "development"})
        app = gunicorn("wsgi:app", app_port, args, env, tmp / "app-ready", args.access_log)
        # The worker process credits the confirmations the app stores, as in production.
        worker = subprocess.Popen([*FLASK, "worker"], cwd=ROOT,  # noqa: S603
                                  env={**env, "LOG_LEVEL": "WARNING"})  # not a line a batch
        hello = gunicorn("bench.load:hello_app()", hello_port, args, env, tmp / "hello-ready")
        for port, process, what in ((sandbox_port, sandbox, "the sandbox"),
                                    (app_port, app, "the app"), (hello_port, hello, "hello")):
            wait_for_port(port, process, what)
        # Measured once every worker has loaded its app: not while the others still start.
        wait_until_ready(tmp / "app-ready", args.workers, app)
        wait_until_ready(tmp / "hello-ready", args.workers, hello)
        cookie = session_cookie(base, "chair", "mtaani-demo")
        paths = ["/members", "/reports/arrears", "/patrols/"]
        paths += [f"/members/{member_id}/statement" for member_id in member_ids[:10]]
        confirm = f"/hooks/c2b/confirmation/{token}"
        print(f"gunicorn: {args.workers} workers x {args.threads} threads, keep-alive "
              f"{keep_alive_seconds(args.think)} s; wrk: {WRK_THREADS} threads, "
              f"{args.clients} connections; {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f} before the runs")
        print(f"mix: {PAGE_SHARE} page views ({', '.join(paths[:3])}, "
              f"/members/<id>/statement of {len(paths) - 3} members) for each M-Pesa "
              f"confirmation; logged in as the chair")

        baseline, _ = run_wrk(f"http://127.0.0.1:{hello_port}",
                              lua_script(tmp, "hello", ["/"], [], "", "", "", ""),
                              args.duration, args.clients, hello.pid)
        report("one-line Flask endpoint (baseline)", baseline)
        load, _ = run_wrk(base, lua_script(tmp, "load", paths, accounts, cookie, confirm,
                                           "LA", SANDBOX_SHORTCODE),
                          args.duration, args.clients, app.pid, (worker.pid,))
        report("the app, page views and confirmations", load)
        report_payments(url, "LA", load)
        print(f"  the app served {load['requests'] / baseline['requests']:.1%} of the "
              f"baseline's rate")
        for think, prefix in zip(args.think, PACED_PREFIXES, strict=False):
            paced, _ = run_wrk(base, lua_script(tmp, f"paced-{think}", paths, accounts, cookie,
                                                confirm, prefix, SANDBOX_SHORTCODE, think,
                                                args.clients),
                               args.duration, args.clients, app.pid, (worker.pid,))
            report(f"the same mix, each client pausing 0-{2 * think} ms between requests",
                   paced)
            report_payments(url, prefix, paced)
        if args.soak:
            soak, samples = run_wrk(base, lua_script(tmp, "soak", paths, accounts, cookie,
                                                     confirm, "LS", SANDBOX_SHORTCODE),
                                    args.soak, args.clients, app.pid, (worker.pid,))
            report(f"soak, {args.soak} s", soak)
            report_payments(url, "LS", soak)
            report_memory(samples)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"could not measure: {error}", file=sys.stderr)
        return 1
    finally:
        for process in (hello, worker, app, sandbox):
            stop(process)
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
