"""devtools/ is for development only: a production image leaves it out and the app still
starts, with every command but the demo and the sandbox."""

import os
import shutil
import subprocess
import sys
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
