"""Hosting: many associations on one PostgreSQL server, under gunicorn, driven by wrk.

    python bench/hosting.py --database-url URL [--associations 200] [--members 300]
                            [--duration 60] [--clients 20] [--workers 2] [--threads 4]
                            [--parallel 2] [--keep]

The database named by --database-url (or BENCH_DATABASE_URL) is DROPPED and created again
on its server (and dropped at the end unless ``--keep``): use a throwaway name. Then:

1. Generation: the catalogue (``flask db upgrade``), ONE association made as the demo is
   (``create_association`` + ``devtools.demo.seed.seed(members=...)``: members, a year of
   dues runs, payments, expenses, patrols, meetings, logins), then cloned N-1 times:
   ``pg_dump -n <its schema>`` once, the schema's name replaced, ``psql`` per clone
   (``--parallel`` at a time), and one catalogue row each (``schema_name`` set). Each
   step's time is printed, and the server's catalogue size afterwards (schemas, pg_class
   rows, the database's size).
2. Load: the mix of ``bench/load.py`` (four logged-in page views for each M-Pesa paybill
   confirmation) against ``gunicorn wsgi:app`` with the production settings and the
   worker process (``flask worker``), twice in the same run, each on a freshly started
   gunicorn and worker:
   - one association: every request under ``/a/<one slug>/``, as the chair;
   - spread: every request goes to an association picked at random among the N, with that
     association's chair's session cookie (each logged in under its own ``/a/<slug>/``).
   For each: requests/s, p50/p95/p99, errors, CPU a request (the app's workers,
   PostgreSQL, wrk), the worker process's CPU, the most connections PostgreSQL held for
   the database and its backends' private memory after the run (each backend caches the
   tables it has touched, in every schema its connection served), the confirmations
   booked, lost and doubled (summed over every association), and each gunicorn worker's
   resident memory after the run.
3. ``flask --app wsgi db upgrade`` across all N: timed when every association is already
   at head, then after downgrading every association one migration (the downgrade timed
   too), from one revision back to head.

Figures are printed for people to read; it exits 0 whatever they are, and 1 only when it
could not measure. bench/README.md ("Hosting") has a full run and what it says about how
far one server goes.
"""

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.gunicorn_ready import cpu_seconds, wait_until_ready, workers_of  # noqa: E402
from bench.load import (  # noqa: E402
    FLASK,
    PAGE_SHARE,
    free_port,
    report,
    rss_mib,
    run_wrk,
    stop,
    wait_for_port,
)
from bench.load import gunicorn as start_gunicorn  # noqa: E402

DEMO_PASSWORD = "mtaani-demo"
#: The receipt codes of each run's confirmations start with its own two letters.
PREFIX_ONE, PREFIX_SPREAD = "HO", "HS"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="PostgreSQL URL of a throwaway database (DROPPED and created)")
    parser.add_argument("--associations", type=int, default=200,
                        help="associations on the server (one generated, the others cloned)")
    parser.add_argument("--members", type=int, default=300, help="members of each association")
    parser.add_argument("--duration", type=int, default=60, help="seconds of each load run")
    parser.add_argument("--clients", type=int, default=20, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one a core)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--parallel", type=int, default=2,
                        help="clones restored at a time (psql processes)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the database afterwards (and print its URL)")
    args = parser.parse_args(argv)
    if args.associations < 1 or args.members < 10 or args.parallel < 1:
        parser.error("--associations 1 or more, --members 10 or more, --parallel 1 or more")
    return args


def short_of(number: int) -> str:
    """The short name of the ``number``-th association (0-based): HAAA, HAAB, ... (a short
    name is capital letters only)."""
    letters = ""
    for _ in range(3):
        number, rest = divmod(number, 26)
        letters = chr(ord("A") + rest) + letters
    return "H" + letters


# --- The database ------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """The URL as psql and pg_dump take it (no SQLAlchemy driver)."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def recreate_database(url: str) -> None:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    engine = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    engine.dispose()


def drop_database(url: str) -> None:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    engine = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    engine.dispose()


def scalar(url: str, sql: str, **params):
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def schemas(url: str) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(
                "SELECT coalesce(schema_name, 'association_' || replace(slug, '-', '_')) "
                "FROM hosting.hosted_association ORDER BY id")).scalars())
    finally:
        engine.dispose()


def across(url: str, sql: str, params: dict | None = None) -> list[tuple]:
    """``sql`` (naming its table as ``{s}.table``) run in every association's schema, one
    UNION ALL statement; its rows."""
    import sqlalchemy as sa

    names = schemas(url)
    union = " UNION ALL ".join(sql.replace("{s}", f'"{name}"') for name in names)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(union), params or {}).all()
    finally:
        engine.dispose()


# --- Generation --------------------------------------------------------------------------


def generate_first(env: dict, members: int) -> tuple[str, str]:
    """The catalogue and the first association, made as the demo is; (its slug, its
    schema). Runs in a child process with the bench's settings (the app reads them when it
    is imported)."""
    code = (
        "import json, sys, dataclasses\n"
        "from association import create_app\n"
        "from association.audit.services import acting_as\n"
        "from association.extensions import db\n"
        "from association.hosting.services import NewAssociation, create_association\n"
        "from association.hosting.tenancy import tenancy, use\n"
        "from devtools.demo import seed as demo\n"
        "app = create_app()\n"
        "spec = dataclasses.replace(demo.DEMO_ASSOCIATIONS[0], short=sys.argv[1],\n"
        "                           slug=sys.argv[1].lower())\n"
        "with app.app_context():\n"
        "    tenant, _ = create_association(app, NewAssociation(\n"
        "        short=spec.short, name=spec.name, admin_phone=None, slug=spec.slug),\n"
        "        books=False, actor='bench:hosting')\n"
        "    with use(tenant, app), acting_as('bench:hosting'):\n"
        "        demo.seed(members=int(sys.argv[2]), spec=spec)\n"
        "        db.session.commit()\n"
        "    # The clones are catalogue rows without a token of their own: every association\n"
        "    # here takes the install's MPESA_CALLBACK_TOKEN, so wrk's one script posts to all.\n"
        "    import sqlalchemy as sa\n"
        "    from association.hosting.models import HostedAssociation\n"
        "    from association.hosting.services import catalogue_session\n"
        "    with catalogue_session(app) as session:\n"
        "        session.execute(sa.update(HostedAssociation).where(\n"
        "            HostedAssociation.id == tenant.id).values(\n"
        "            mpesa_credentials=None, callback_token_hash=None))\n"
        "        session.commit()\n"
        "    print('FIRST', json.dumps([tenant.slug, tenancy(app).location(tenant)[1]]))\n"
    )
    subprocess.run([*FLASK, "db", "upgrade"], cwd=ROOT, env=env, check=True,  # noqa: S603
                   capture_output=True)
    done = subprocess.run([sys.executable, "-c", code, short_of(0), str(members)],  # noqa: S603
                          cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    found = re.search(r"^FIRST (.*)$", done.stdout, re.MULTILINE)
    if not found:
        raise RuntimeError(f"the first association was not made:\n{done.stdout}{done.stderr}")
    slug, schema = json.loads(found.group(1))
    return slug, schema


def clone(url: str, schema: str, count: int, parallel: int, name: str) -> tuple[float, float]:
    """``count`` copies of ``schema`` (each with a catalogue row); (seconds dumping,
    seconds restoring)."""
    import sqlalchemy as sa

    started = time.monotonic()
    dump = subprocess.run(  # noqa: S603
        ["pg_dump", "--no-owner", "--no-privileges", "-n", schema, libpq_url(url)],  # noqa: S607
        check=True, capture_output=True, text=True).stdout
    dumped = time.monotonic() - started
    pattern = re.compile(rf"\b{re.escape(schema)}\b")
    shorts = [short_of(number) for number in range(1, count + 1)]

    def restore(short: str) -> None:
        text = pattern.sub(f"association_{short.lower()}", dump)
        subprocess.run(["psql", "-q", "-X", "-1", "-v", "ON_ERROR_STOP=1",  # noqa: S607
                        "-d", libpq_url(url)], input=text, text=True, check=True,  # noqa: S603
                       capture_output=True)

    started = time.monotonic()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(restore, shorts))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if shorts:
            conn.execute(sa.text(
                "INSERT INTO hosting.hosted_association (short, slug, name, status, "
                "schema_name, created_at) VALUES (:short, :slug, :name, 'active', :schema, "
                "now())"),
                [{"short": short, "slug": short.lower(), "name": f"{name} ({short})",
                  "schema": f"association_{short.lower()}"} for short in shorts])
    engine.dispose()
    return dumped, time.monotonic() - started


def catalogue_size(url: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        relations = conn.execute(sa.text("SELECT count(*) FROM pg_class")).scalar()
        tables = conn.execute(sa.text(
            "SELECT count(*) FROM pg_tables WHERE schemaname LIKE 'association_%'")).scalar()
        size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
        attrs = conn.execute(sa.text("SELECT count(*) FROM pg_attribute")).scalar()
        count = conn.execute(sa.text("SELECT count(*) FROM hosting.hosted_association")).scalar()
    engine.dispose()
    return (f"{count} associations, {tables:,} tables in their schemas "
            f"({tables // max(count, 1)} each); pg_class {relations:,} rows, pg_attribute "
            f"{attrs:,} rows; the database {size / 2**20:,.0f} MiB")


# --- Logging in and the load -------------------------------------------------------------


def login(base: str, slug: str) -> str:
    """Log in as the chair of ``slug`` through its form; its session cookie (name=value)."""
    site = f"{base}/a/{slug}"
    name = f"session_{slug}="

    def cookie_of(response) -> str | None:
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith(name):
                return header.split(";", 1)[0]
        return None

    with urllib.request.urlopen(f"{site}/login", timeout=60) as response:  # noqa: S310
        page = response.read().decode()
        cookie = cookie_of(response)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "login": "chair",
                                   "password": DEMO_PASSWORD})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(f"{site}/login", data=body.encode(),  # noqa: S310
                                     headers={"Cookie": cookie or ""}, method="POST")
    try:
        response = urllib.request.build_opener(NoRedirect).open(request, timeout=60)
    except urllib.error.HTTPError as answer:  # the redirect after a good login
        response = answer
    with response:
        cookie = cookie_of(response) or cookie
        if response.status not in (302, 303) or not cookie:
            raise RuntimeError(f"login as the chair of {slug} was refused ({response.status})")
    return cookie


LUA = r"""
local slugs = {SLUGS}
local cookies = {COOKIES}
local pages = {PAGES}
local accounts = {ACCOUNTS}
local token = "TOKEN"
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
  math.randomseed(id * 7919)
end

function request()
  counter = counter + 1
  local pick = math.random(#slugs)
  local site = "/a/" .. slugs[pick]
  if counter % (page_share + 1) == 0 then
    sent = sent + 1
    local code = string.format("%s%02d%06d", prefix, id, sent)
    local body = string.format(
      '{"TransactionType":"Pay Bill","TransID":"%s","TransTime":"20260301183012",' ..
      '"TransAmount":"50.00","BusinessShortCode":"SHORTCODE","BillRefNumber":"%s",' ..
      '"InvoiceNumber":"","OrgAccountBalance":"12500.00","ThirdPartyTransID":"",' ..
      '"MSISDN":"254708374149","FirstName":"JANE","MiddleName":"","LastName":""}',
      code, accounts[(sent % #accounts) + 1])
    return wrk.format("POST", site .. "/hooks/c2b/confirmation/" .. token,
                      {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", site .. pages[(counter % #pages) + 1],
                    {["Cookie"] = cookies[pick]})
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


def lua_script(folder: Path, name: str, cookies: dict[str, str], pages: list[str],
               accounts: list[str], token: str, prefix: str, shortcode: str) -> Path:
    def table(values):
        return "{" + ", ".join(json.dumps(v) for v in values) + "}"

    text = (LUA.replace("{SLUGS}", table(list(cookies)))
            .replace("{COOKIES}", table(list(cookies.values())))
            .replace("{PAGES}", table(pages)).replace("{ACCOUNTS}", table(accounts))
            .replace("TOKEN", token).replace("PREFIX", prefix)
            .replace("PAGE_SHARE", str(PAGE_SHARE)).replace("SHORTCODE", shortcode))
    path = folder / f"{name}.lua"
    path.write_text(text)
    return path


class ConnectionMeter(threading.Thread):
    """The most connections PostgreSQL held for the database while it ran."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        import sqlalchemy as sa

        self.engine = sa.create_engine(url, pool_size=1)
        self.most = 0
        self.halt = threading.Event()

    def run(self):
        import sqlalchemy as sa

        query = sa.text("SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database()")
        with self.engine.connect() as conn:
            while not self.halt.is_set():
                self.most = max(self.most, conn.execute(query).scalar() - 1)
                conn.rollback()
                self.halt.wait(0.5)

    def finish(self) -> int:
        self.halt.set()
        self.join(5)
        self.engine.dispose()
        return self.most


def backend_memory(url: str) -> list[float]:
    """The private memory (RssAnon, MiB) of each PostgreSQL backend connected to the
    database (when the server runs on this machine): its caches of the tables it has
    touched grow with the associations its connection served."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        pids = list(conn.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")).scalars())
    engine.dispose()
    found = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    found.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return found


def wait_until_processed(url: str, prefix: str, timeout: float = 600) -> float:
    """Seconds until no association has a stored callback not tried yet, nor a ``prefix``
    payment waiting for Daraja's confirmation."""
    started = time.monotonic()
    while True:
        waiting = sum(row[0] for row in across(
            url, "SELECT count(*) FROM {s}.mpesa_callback_inbox "
                 "WHERE processed_at IS NULL AND attempts = 0"))
        unconfirmed = sum(row[0] for row in across(
            url, "SELECT count(*) FROM {s}.mpesa_transaction WHERE receipt_code LIKE :p "
                 "AND status = 'unconfirmed'", {"p": f"{prefix}%"}))
        if (not waiting and not unconfirmed) or time.monotonic() - started > timeout:
            return time.monotonic() - started
        time.sleep(0.5)


def report_payments(url: str, prefix: str, figures: dict) -> None:
    waited = wait_until_processed(url, prefix)
    rows = across(url, "SELECT count(*), count(DISTINCT mpesa_code) FROM {s}.payment "
                       "WHERE mpesa_code LIKE :p", {"p": f"{prefix}%"})
    booked = sum(r[0] for r in rows)
    distinct = sum(r[1] for r in rows)
    reached = sum(1 for r in rows if r[0])
    acked = figures["confirmations_acked"]
    print(f"  M-Pesa confirmations: {figures['confirmations_sent']:,} sent, {acked:,} "
          f"acknowledged; {waited:.1f} s after the run, {booked:,} payments in the books of "
          f"{reached} association(s): lost {max(acked - distinct, 0)}, doubled "
          f"{booked - distinct}")


def load_run(label: str, args, env: dict, url: str, tmp: Path, slugs: list[str],
             pages: list[str], accounts: list[str], token: str, prefix: str,
             shortcode: str) -> dict:
    """A fresh gunicorn and worker; log in to each of ``slugs``; the mix for
    ``--duration`` seconds; its figures printed; the servers stopped."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run_env = {**env, "PUBLIC_BASE_URL": base}
    app = worker = None
    try:
        app = start_gunicorn("wsgi:app", port, SimpleNamespace(
            workers=args.workers, threads=args.threads, think=[]), run_env,
            tmp / f"{prefix}-ready")
        worker = subprocess.Popen([*FLASK, "worker"], cwd=ROOT,  # noqa: S603
                                  env={**run_env, "LOG_LEVEL": "WARNING"})
        wait_for_port(port, app, "the app")
        wait_until_ready(tmp / f"{prefix}-ready", args.workers, app)
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            cookies = dict(zip(slugs, pool.map(lambda slug: login(base, slug), slugs),
                               strict=True))
        logged_in = time.monotonic() - started
        rss_before = [rss_mib(pid) or 0.0 for pid in workers_of(app.pid)]
        worker_cpu = cpu_seconds(worker.pid)
        meter = ConnectionMeter(url)
        meter.start()
        figures, _samples = run_wrk(base, lua_script(tmp, prefix, cookies, pages, accounts,
                                                     token, prefix, shortcode),
                                    args.duration, args.clients, app.pid)
        connections = meter.finish()
        backends = backend_memory(url)
        worker_cpu = cpu_seconds(worker.pid) - worker_cpu
        rss_after = [rss_mib(pid) or 0.0 for pid in workers_of(app.pid)]
        print(f"{label}: {len(slugs)} chair login(s) in {logged_in:.1f} s")
        report(f"  {label}", figures)
        per = 1000 / max(figures["requests"], 1)
        print(f"  the worker process (flask worker, every association in turn): "
              f"{worker_cpu:.0f} s of CPU in the run, {worker_cpu * per:.1f} ms a request")
        print(f"  PostgreSQL connections to the database: at most {connections} "
              f"(gunicorn {args.workers} x {args.threads}, the worker, this bench's 1)")
        if backends:
            print(f"  PostgreSQL backends of the database after the run: {len(backends)}, "
                  f"private memory (RssAnon) at most {max(backends):.1f} MiB, "
                  f"{sum(backends):.0f} MiB in all")
        print("  gunicorn workers' resident memory: " + ", ".join(
            f"{before:.0f} -> {after:.0f} MiB" for before, after
            in zip(rss_before, rss_after, strict=False)) + " (after login -> after the run)")
        report_payments(url, prefix, figures)
        figures["rss"] = rss_after
        return figures
    finally:
        started = time.monotonic()
        for process in (worker, app):
            stop(process)
        print(f"  (the app and the worker stopped in {time.monotonic() - started:.1f} s)",
              flush=True)


# --- db upgrade --------------------------------------------------------------------------


def timed_upgrade(env: dict) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run([*FLASK, "db", "upgrade"], cwd=ROOT, env=env,  # noqa: S603
                          capture_output=True, text=True)
    took = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"db upgrade failed:\n{done.stdout}{done.stderr}")
    return took, done.stdout.strip().splitlines()[-1]


DOWNGRADE = (
    "import sys, time\n"
    "from alembic import command\n"
    "from association import create_app\n"
    "from association.hosting import catalogue\n"
    "from association.hosting.tenancy import use\n"
    "app = create_app()\n"
    "with app.app_context():\n"
    "    tenants = catalogue.served(app)\n"
    "    config = app.extensions['migrate'].migrate.get_config()\n"
    "started = time.monotonic()\n"
    "for tenant in tenants:\n"
    "    with use(tenant, app):\n"
    "        command.downgrade(config, '-1')\n"
    "print(f'DOWNGRADED {len(tenants)} {time.monotonic() - started:.2f}')\n"
)


def downgrade_all(env: dict) -> tuple[int, float]:
    """Every association one migration back (in one process: ``flask db downgrade`` works
    on one association a command); (how many, seconds, the app's start not counted)."""
    done = subprocess.run([sys.executable, "-c", DOWNGRADE], cwd=ROOT, env=env,  # noqa: S603
                          capture_output=True, text=True)
    found = re.search(r"^DOWNGRADED (\d+) ([\d.]+)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"the downgrade failed:\n{done.stdout}{done.stderr}")
    return int(found.group(1)), float(found.group(2))


# --- The whole run -----------------------------------------------------------------------


def main(args) -> int:
    if not args.database_url or not args.database_url.startswith("postgresql"):
        print("Give a throwaway PostgreSQL database: --database-url "
              "postgresql+psycopg://.../bench22_hosting (or BENCH_DATABASE_URL); it is "
              "DROPPED and created again", file=sys.stderr)
        return 1
    for tool, package in (("wrk", "wrk"), ("pg_dump", "postgresql-client"),
                          ("psql", "postgresql-client")):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:  # noqa: S603,S607
            print(f"{tool} is needed: apt-get install {package}", file=sys.stderr)
            return 1
    from config import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, _database_url

    url = _database_url(args.database_url)
    token = secrets.token_hex(24)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "APP_ENV": "production",
           "SECRET_KEY": secrets.token_hex(32), "DATABASE_URL": url, "MPESA_ENV": "sandbox",
           "MPESA_BASE_URL": "http://127.0.0.1:9", "MPESA_CONSUMER_KEY": "load-key",
           "MPESA_CONSUMER_SECRET": "load-secret", "MPESA_SHORTCODE": SANDBOX_SHORTCODE,
           "MPESA_PASSKEY": SANDBOX_PASSKEY, "MPESA_SHORTCODE_TYPE": "paybill",
           "MPESA_CALLBACK_TOKEN": token, "MPESA_ALLOWED_IPS": "127.0.0.1"}
    # The same settings make the data and serve it (the audit trail's keys come from
    # SECRET_KEY); generation runs in development, where the demo may be loaded.
    dev_env = {**env, "APP_ENV": "development"}
    where = url.rsplit("@", 1)[-1]
    tmp = Path(tempfile.mkdtemp(prefix="bench-hosting-"))
    began = time.monotonic()
    try:
        print(f"{args.associations} associations of {args.members} members on {where} "
              f"(dropped and created); {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        recreate_database(url)
        started = time.monotonic()
        first_slug, first_schema = generate_first(dev_env, args.members)
        made_first = time.monotonic() - started
        print(f"generation: the catalogue and the first association ({first_slug}, the demo "
              f"seed with {args.members} members and a year of books) in {made_first:.1f} s",
              flush=True)
        dumped, restored = clone(url, first_schema, args.associations - 1, args.parallel,
                                 "Bench association")
        total = time.monotonic() - started
        print(f"generation: {args.associations - 1} clones in {dumped + restored:.1f} s "
              f"(pg_dump {dumped:.1f} s, restores {restored:.1f} s, {args.parallel} at a "
              f"time: {restored / max(args.associations - 1, 1):.2f} s a clone); "
              f"{total:.1f} s in all", flush=True)
        print(f"server catalogue: {catalogue_size(url)}", flush=True)
        started = time.monotonic()
        subprocess.run(["psql", "-q", "-X", "-d", libpq_url(url), "-c", "ANALYZE"],  # noqa: S603,S607
                       check=True, capture_output=True)
        print(f"ANALYZE (as autovacuum would soon after): {time.monotonic() - started:.1f} s",
              flush=True)

        import sqlalchemy as sa

        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.exec_driver_sql(f'SET search_path TO "{first_schema}"')
            member_ids = list(conn.execute(sa.text(
                "SELECT DISTINCT member_id FROM payment ORDER BY member_id LIMIT 10")).scalars())
            accounts = list(conn.execute(sa.text(
                "SELECT member_no FROM member WHERE status = 'active' ORDER BY id")).scalars())
        engine.dispose()
        pages = ["/members", "/reports/arrears", "/patrols/"]
        pages += [f"/members/{member_id}/statement" for member_id in member_ids]
        print(f"gunicorn: {args.workers} workers x {args.threads} threads; wrk: 2 threads, "
              f"{args.clients} connections, {args.duration} s a run; mix: {PAGE_SHARE} page "
              f"views ({', '.join(pages[:3])}, /members/<id>/statement of {len(pages) - 3} "
              f"members) for each M-Pesa confirmation, as each association's chair; load "
              f"average {os.getloadavg()[0]:.1f}", flush=True)
        slugs = [row.lower() for row in (short_of(n) for n in range(args.associations))]
        one = load_run("one association", args, env, url, tmp, [first_slug], pages,
                       accounts, token, PREFIX_ONE, SANDBOX_SHORTCODE)
        spread = load_run(f"spread over {args.associations} associations", args, env, url,
                          tmp, slugs, pages, accounts, token, PREFIX_SPREAD,
                          SANDBOX_SHORTCODE)
        rate = lambda f: f["requests"] / f["seconds"]  # noqa: E731
        print(f"spread / one association: {rate(spread):,.0f} / {rate(one):,.0f} requests/s "
              f"({rate(spread) / rate(one):.0%}), p95 {spread['p95'] / 1000:.0f} / "
              f"{one['p95'] / 1000:.0f} ms, worker memory after the run "
              f"{max(spread['rss']):.0f} / {max(one['rss']):.0f} MiB", flush=True)

        started = time.monotonic()
        subprocess.run([*FLASK, "--help"], cwd=ROOT, env=env, check=True,  # noqa: S603
                       capture_output=True)
        start = time.monotonic() - started
        at_head, last = timed_upgrade(env)
        print(f"db upgrade (`flask --app wsgi db upgrade`), every association already at "
              f"head: {at_head:.1f} s ({last}; the command's start alone, `flask --help`: "
              f"{start:.1f} s)", flush=True)
        count, down = downgrade_all(env)
        print(f"downgrade of the last migration on {count} associations: {down:.1f} s "
              f"(in one process, its start not counted)", flush=True)
        took, last = timed_upgrade(env)
        print(f"db upgrade from one revision back: {took:.1f} s ({last}): "
              f"{(took - at_head) / max(count, 1) * 1000:.0f} ms an association more than "
              f"at head", flush=True)
        took, last = timed_upgrade(env)
        print(f"db upgrade at head again: {took:.1f} s", flush=True)
        print(f"the whole bench: {time.monotonic() - began:.0f} s", flush=True)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None) or ""
        print(f"could not measure: {error}\n{detail}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept: {url}")
        else:
            drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
