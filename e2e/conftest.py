"""Browser journeys: Debian's Chromium, driven by Playwright, against the real app.

Each journey gets its own copy of a demo database (seeded once per run with the
same commands as ``make run``) and its own server process on 127.0.0.1, so the
journeys cannot disturb each other. Every journey runs at a phone size and a
laptop size, in English and in Swahili, and saves screenshots of its key pages
under ``test-output/e2e/``.

PostgreSQL: set ``E2E_DATABASE_URL`` (a database this run may wipe); each
journey then gets a copy made with ``CREATE DATABASE ... TEMPLATE``.
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
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "mtaani-demo"

VIEWPORTS = {"phone": {"width": 360, "height": 740}, "laptop": {"width": 1280, "height": 800}}
LANGUAGES = ("en", "sw")


def _flask(env: dict, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _base_env(database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "E2E_"))}
    env.update(APP_ENV="development", DATABASE_URL=database_url, FLASK_DEBUG="0",
               SECRET_KEY="e2e-only-secret-key-" + "x" * 40, PYTHONUNBUFFERED="1")
    return env


def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """A migrated database holding the demo association, as ``make run`` leaves it."""
    url = os.environ.get("E2E_DATABASE_URL")
    if url:
        name = urlsplit(url).path.lstrip("/")
        _pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_admin(url, f'CREATE DATABASE "{name}"')
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'template.sqlite3'}"
    env = _base_env(url)
    _flask(env, "db", "upgrade")
    _flask(env, "seed-demo")
    return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(template_db, tmp_path):
    """The app on 127.0.0.1 with a fresh copy of the demo database; yields its base URL."""
    copy_name = None
    if template_db.startswith("sqlite:///"):
        path = tmp_path / "app.sqlite3"
        shutil.copy(template_db.removeprefix("sqlite:///"), path)
        url = f"sqlite:///{path}"
    else:
        template = urlsplit(template_db).path.lstrip("/")
        copy_name = f"{template}_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
        _pg_admin(template_db, f'CREATE DATABASE "{copy_name}" TEMPLATE "{template}"')
        url = urlunsplit(urlsplit(template_db)._replace(path=f"/{copy_name}"))
    port = _free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1",
         "--port", str(port), "--no-reload"],
        cwd=ROOT, env=_base_env(url), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, tmp_path / "server.log")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
        if copy_name:
            _pg_admin(template_db, f'DROP DATABASE IF EXISTS "{copy_name}" WITH (FORCE)')


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


@pytest.fixture(params=[(v, lang) for v in VIEWPORTS for lang in LANGUAGES],
                ids=lambda p: f"{p[0]}-{p[1]}")
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
        self.page.locator("form[action$='/language'] button[type=submit]").click()
        self.page.wait_for_load_state()
        assert self.page.locator("html").get_attribute("lang") == self.language

    def login(self, username: str) -> None:
        self.open("/login")
        self.choose_language()
        self.page.fill("#login", username)
        self.page.fill("#password", PASSWORD)
        self.page.locator("main form button[type=submit]").click()
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url, self.page.content()[:2000]

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
        response = self.page.request.get(href if href.startswith("http") else self.base + href)
        assert response.ok, (href, response.status)
        target = self.downloads / name
        target.write_bytes(response.body())
        return target

    def text(self) -> str:
        return self.page.locator("main").inner_text()
