"""Browser journeys: Debian's Chromium, driven by Playwright, against the real app.

Each journey gets its own copy of a demo database (seeded once per run with the
same commands as ``make run``), its own server process on 127.0.0.1 and its own
worker (``flask worker``, which processes the M-Pesa callbacks), so the
journeys cannot disturb each other. Each journey saves screenshots of its key pages
under ``test-output/e2e/``.

Sizes and languages: across a CI run (SQLite, then PostgreSQL) every journey runs at
a phone size and a laptop size, in English and in Swahili, without running each
journey four times on each database: on a database a journey runs once, in the
(size, language) ``COMBOS[(i + offset) % 4]`` (i: its place in the file; offset 0 on
SQLite, 2 on PostgreSQL), and the two combinations two apart differ in both size and
language. ``pytest e2e --e2e-full`` (``make e2e-full``) runs every journey in all four
on each database.

PostgreSQL: set ``E2E_DATABASE_URL`` (a database this run may wipe); each
journey then gets a copy made with ``CREATE DATABASE ... TEMPLATE``.

M-Pesa: one local Daraja sandbox (``flask mpesa sandbox``) runs beside the apps for
the whole run, and every app talks to it with ``MPESA_BASE_URL`` and gives it its own
``PUBLIC_BASE_URL`` for the callbacks, as ``make run`` does.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "mtaani-demo"
CALLBACK_TOKEN = "e2e-only-callback-token-" + "y" * 24
#: Seconds the sandbox's "phone" takes to answer a prompt: long enough to see the
#: pending page, short enough to keep the journeys quick.
SANDBOX_DELAY = "4"

VIEWPORTS = {"phone": {"width": 360, "height": 740}, "laptop": {"width": 1280, "height": 800}}
LANGUAGES = ("en", "sw")
#: (size, language); each and the one two places on differ in both.
COMBOS = (("phone", "en"), ("phone", "sw"), ("laptop", "sw"), ("laptop", "en"))
#: Where in COMBOS each database's run starts.
COMBO_OFFSET = {"sqlite": 0, "postgresql": 2}


def _flask(env: dict, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=1800, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _base_env(database_url: str, instance: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "E2E_"))}
    env.update(APP_ENV="development", DATABASE_URL=database_url, FLASK_DEBUG="0",
               INSTANCE_PATH=str(instance),
               SECRET_KEY="e2e-only-secret-key-" + "x" * 40, PYTHONUNBUFFERED="1",
               MPESA_CALLBACK_TOKEN=CALLBACK_TOKEN)
    return env


def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


#: The demo association the journeys use (the other, KBF at /a/kiambiu/, shows isolation).
DEMO_PREFIX = "/a/mlk"


class Template(str):
    """The template install's database URL, and its instance folder (the SQLite files of
    the catalogue and of each association, the uploads)."""

    instance: Path

    def __new__(cls, url: str, instance: Path):
        made = super().__new__(cls, url)
        made.instance = instance
        return made


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """A migrated install holding the two demo associations, as ``make run`` leaves it."""
    instance = tmp_path_factory.mktemp("e2e") / "instance"
    url = os.environ.get("E2E_DATABASE_URL")
    if url:
        name = urlsplit(url).path.lstrip("/")
        _pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_admin(url, f'CREATE DATABASE "{name}"')
    else:
        url = f"sqlite:///{instance / 'hosting.sqlite3'}"
    env = _base_env(url, instance)
    _flask(env, "db", "upgrade")
    _flask(env, "seed-demo")
    return Template(url, instance)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def sandbox(template_db, tmp_path_factory):
    """The local Daraja sandbox, started the way ``make run`` starts it; yields its URL."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "mpesa", "sandbox", "--port", str(port),
         "--delay", SANDBOX_DELAY], cwd=ROOT, env=_base_env(template_db, template_db.instance),
        stdout=log,
        stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the sandbox exited:\n{log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the sandbox did not start:\n{log_path.read_text()}") \
                        from error
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture
def server(template_db, sandbox, tmp_path):
    """The app on 127.0.0.1 with a fresh copy of the demo database, talking to the local
    Daraja sandbox; yields its base URL."""
    copy_name = None
    instance = tmp_path / "instance"
    shutil.copytree(template_db.instance, instance)
    if template_db.startswith("sqlite:///"):
        url = f"sqlite:///{instance / 'hosting.sqlite3'}"
    else:
        template = urlsplit(template_db).path.lstrip("/")
        copy_name = f"{template}_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
        _pg_admin(template_db, f'CREATE DATABASE "{copy_name}" TEMPLATE "{template}"')
        url = urlunsplit(urlsplit(template_db)._replace(path=f"/{copy_name}"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = _base_env(url, instance)
    env.update(MPESA_BASE_URL=sandbox, PUBLIC_BASE_URL=base)
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1",
         "--port", str(port), "--no-reload"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    # The worker beside it, as `make run` starts it: it processes the M-Pesa callbacks.
    worker_log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
        cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(base + DEMO_PREFIX, process, tmp_path / "server.log")
        yield Server(base + DEMO_PREFIX, env)
    finally:
        for each in (worker, process):
            each.terminate()
        for each in (worker, process):
            each.wait(timeout=20)
        log.close()
        worker_log.close()
        if copy_name:
            _pg_admin(template_db, f'DROP DATABASE IF EXISTS "{copy_name}" WITH (FORCE)')


class Server(str):
    """The app's base URL, knowing the environment it runs with (its database)."""

    env: dict

    def __new__(cls, base: str, env: dict):
        made = super().__new__(cls, base)
        made.env = env
        return made

    def python(self, code: str) -> str:
        """Run ``code`` inside the app (an app context, audited as ``cli:e2e``) against
        this server's database, for what the people of a journey cannot do in a browser
        (e.g. a patroller with no login); returns what it prints."""
        script = ("from wsgi import app\nfrom association.audit.services import acting_as\n"
                  "from association.extensions import db\n"
                  "from association.hosting import catalogue\n"
                  "from association.hosting.tenancy import use\n"
                  "with app.app_context():\n"
                  "    tenant = catalogue.by_short('MLK')\n"
                  "with use(tenant, app), acting_as('cli:e2e'):\n"
                  + "".join(f"    {line}\n" for line in code.strip().splitlines())
                  + "    db.session.commit()\n")
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"in the app:\n{code}\n{result.stdout}\n{result.stderr}")
        return result.stdout


def _wait_until_up(base: str, process, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app did not start:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def pytest_addoption(parser):
    parser.addoption("--e2e-full", action="store_true",
                     help="run every journey at both sizes in both languages (make e2e-full)")


def journey_combos(index: int, database: str, full: bool) -> list[tuple[str, str]]:
    """The (size, language) pairs the journey at ``index`` runs in on ``database``."""
    if full:
        return list(COMBOS)
    return [COMBOS[(index + COMBO_OFFSET[database]) % len(COMBOS)]]


def pytest_generate_tests(metafunc):
    """Parametrise ``visit`` with the journey's (size, language) pairs on this database."""
    if "visit" not in metafunc.fixturenames:
        return
    # A journey's place among the module's tests, as written: the same under -k.
    journeys = [name for name in vars(metafunc.module) if name.startswith("test_")]
    database = "postgresql" if os.environ.get("E2E_DATABASE_URL") else "sqlite"
    combos = journey_combos(journeys.index(metafunc.function.__name__), database,
                            metafunc.config.getoption("--e2e-full"))
    metafunc.parametrize("visit", combos, indirect=True, ids=[f"{v}-{lang}" for v, lang in combos])


@pytest.fixture
def visit(request, browser, server):
    """A fresh browser context at one viewport, in one language, against a fresh server."""
    viewport, language = request.param
    context = browser.new_context(viewport=VIEWPORTS[viewport], accept_downloads=True,
                                  locale="sw-KE" if language == "sw" else "en-KE")
    page = context.new_page()
    shots = OUTPUT / request.node.originalname / f"{viewport}-{language}"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    yield Visit(page, server, language, viewport, shots)
    context.close()


class Visit:
    """One person's browser: open pages, log in, take screenshots."""

    def __init__(self, page, base: str, language: str, viewport: str, shots: Path):
        self.page, self.base, self.language, self.viewport = page, base, language, viewport
        self.shots, self.count = shots, 0
        self.downloads = Path(tempfile.mkdtemp(prefix="e2e-downloads-"))

    def open(self, path: str):
        response = self.page.goto(self.base + path)
        assert response is not None and response.status < 400, (path, response and response.status)
        return response

    def choose_language(self) -> None:
        """Use the language form in the header, as a person would."""
        self.page.select_option("#language", self.language)
        self.follow(self.page.locator("form[action$='/language'] button[type=submit]"))
        assert self.page.locator("html").get_attribute("lang") == self.language
        # Kept by the session, not only by the browser's Accept-Language: fetch() sends none.
        page = self.page.request.get(self.base + "/login").text()
        assert f'<html lang="{self.language}"' in page, page[:300]

    def follow(self, locator) -> None:
        """Click what leads to another page (a link, a form's button) and wait for that page.

        Not a click, then ``wait_for_load_state()``: that can return while the old page
        is still showing, and the test's next click then cuts the navigation off (the
        server has answered, but the browser drops the answer and the cookie it sets).
        """
        with self.page.expect_navigation():
            locator.click()

    def login(self, username: str) -> None:
        self.open("/login")
        self.choose_language()
        self.page.fill("#login", username)
        self.page.fill("#password", PASSWORD)
        self.follow(self.page.locator("main form button[type=submit]"))
        assert "/login" not in self.page.url, self.page.content()[:2000]

    def switch_user(self, username: str) -> None:
        """Log out (forget the session) and log in as someone else."""
        self.page.context.clear_cookies()
        self.login(username)

    def shot(self, name: str) -> Path:
        self.count += 1
        path = self.shots / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def download(self, click) -> Path:
        """Click something that downloads a file; return the saved file."""
        with self.page.expect_download() as info:
            click()
        download = info.value
        target = self.downloads / download.suggested_filename
        download.save_as(str(target))
        return target

    def fetch(self, href: str, name: str) -> Path:
        """Get a file the way the browser would (same session), e.g. a PDF it shows inline."""
        # The page's links are absolute paths (with the association's prefix): on its origin.
        response = self.page.request.get(urljoin(self.base + "/", href))
        assert response.ok, (href, response.status)
        target = self.downloads / name
        target.write_bytes(response.body())
        return target

    def text(self) -> str:
        return self.page.locator("main").inner_text()
