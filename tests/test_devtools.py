"""devtools/ is for development only: a production image leaves it out and the app still
starts, with every command but the demo and the sandbox."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def image_sources() -> list[str]:
    """What deploy/Dockerfile copies from the repository, in its order."""
    sources = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY "):
            sources += line.split()[1:-1]
    return sources


def flask(cwd: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=120)


def test_the_image_leaves_devtools_out():
    sources = image_sources()
    assert "association" in sources and "wsgi.py" in sources
    assert not any(source.startswith("devtools") for source in sources)


def test_the_app_starts_without_devtools(tmp_path):
    """The files the image holds, copied alone: the app starts in production, `flask mpesa`
    keeps its commands, and the development ones are simply not there."""
    app_dir = tmp_path / "image"
    app_dir.mkdir()
    for source in image_sources():
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, app_dir / source,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / source, app_dir / source)
    assert not (app_dir / "devtools").exists()
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "TEST_DATABASE_URL")}
    env.update(APP_ENV="production", SECRET_KEY="k" * 64,
               DATABASE_URL=f"sqlite:///{tmp_path}/app.sqlite3",
               INSTANCE_PATH=str(tmp_path / "instance"))

    top = flask(app_dir, env, "--help")
    assert top.returncode == 0, top.stderr
    for command in ("create-admin", "worker", "mpesa", "ledger", "patrols", "meetings"):
        assert f"  {command} " in top.stdout
    assert "seed-demo" not in top.stdout
    assert "devtools" not in top.stderr  # no import error swallowed on the way

    mpesa = flask(app_dir, env, "mpesa", "--help")
    assert mpesa.returncode == 0, mpesa.stderr
    for command in ("stk-push", "reconcile", "register-urls", "simulate-c2b"):
        assert f"  {command} " in mpesa.stdout
    assert "  sandbox " not in mpesa.stdout
    refused = flask(app_dir, env, "seed-demo")
    assert refused.returncode != 0 and "No such command 'seed-demo'" in refused.stderr


def test_the_development_commands_are_there_with_devtools(runner):
    assert "seed-demo" in runner.invoke(args=["--help"]).output
    mpesa = runner.invoke(args=["mpesa", "--help"]).output
    for command in ("sandbox", "stk-push", "reconcile", "register-urls", "simulate-c2b"):
        assert f"  {command} " in mpesa


# --- make run: progress while it seeds, "Serving" once the app answers (issue 21, item 6) ---


def test_seed_demo_says_each_step_as_it_goes(runner):
    """The demo takes a while to load: each step is printed as it starts, in order, and
    the summary last."""
    result = runner.invoke(args=["seed-demo", "--members", "20"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Loading the demo association")
    steps = [line.strip() for line in lines[1:-1]]
    expected = ["the association and its zones...", "20 members, their consents",
                "one login per role...", "books: dues and payments for", "books: a year of",
                "M-Pesa transactions...", "patrols:", "meetings:", "saving..."]
    at = [next(i for i, step in enumerate(steps) if step.startswith(part))
          for part in expected]
    assert at == sorted(at), steps
    assert sum(step.startswith("books: dues and payments for") for step in steps) == 12
    assert lines[-1].startswith("demo association loaded: 20 members")


def test_seed_demo_prints_its_first_step_before_it_ends(tmp_path):
    """Flushed as it goes (not only at the end): the first lines can be read while the
    command still runs."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "TEST_DATABASE_URL", "PYTHONUNBUFFERED")}
    env.update(APP_ENV="development", DATABASE_URL=f"sqlite:///{tmp_path}/demo.sqlite3",
               INSTANCE_PATH=str(tmp_path / "instance"))
    assert flask(ROOT, env, "db", "upgrade").returncode == 0
    process = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "flask", "--app", "wsgi", "seed-demo", "--members", "40"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        second = process.stdout.readline()
        still_running = process.poll() is None
        rest, errors = process.communicate(timeout=300)
    finally:
        process.kill()
    assert first.startswith("Loading the demo association"), errors
    assert second.strip() == "the association and its zones..."
    assert still_running
    assert process.returncode == 0, errors
    assert "demo association loaded: 40 members" in rest


def test_serving_waits_until_the_server_answers():
    """devtools.serving: True once the address gives any HTTP answer (503 too), not
    before; False at once when the server's process has ended, or when the time is up."""
    import http.server
    import threading

    from devtools.serving import answers, main, wait_until_served

    class Unhealthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unhealthy)
    url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
    server.server_close()  # the port is free again: nobody answers yet
    assert not answers(url)
    assert not wait_until_served(url, timeout=0.5)
    ended = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    ended.wait()
    started = time.monotonic()
    assert main([url, "--pid", str(ended.pid), "--timeout", "30"]) == 1
    assert time.monotonic() - started < 5

    def serve_later():
        time.sleep(0.5)
        nonlocal server
        server = http.server.ThreadingHTTPServer(("127.0.0.1", int(url.split(":")[2][:-8])),
                                                 Unhealthy)
        server.serve_forever()

    thread = threading.Thread(target=serve_later, daemon=True)
    thread.start()
    try:
        assert main([url, "--pid", str(os.getpid()), "--timeout", "30"]) == 0
    finally:
        server.shutdown()
        server.server_close()
