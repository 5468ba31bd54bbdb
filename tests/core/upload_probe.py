"""An upload made by another process, for measuring what it costs that process.

``upload(app, username, url, filename, content)`` starts ``python -m
tests.core.upload_probe``, which builds the app on the test database (the rows the test
committed are there), logs in as ``username`` with the test client (as a browser would:
with the page's CSRF token), posts ``content`` as the form's ``file`` to ``url``, and
answers with the response and the process's peak memory (VmHWM in /proc/self/status):
the request's memory and nothing of the test runner's.
"""

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    #: Peak resident memory of the process, in MiB: its start-up and the request.
    peak_mib: float


def _peak_mib() -> float:
    status = Path("/proc/self/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def upload(app, username: str, url: str, filename: str, content: bytes) -> Answer:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        order = {"database_url": app.config["SQLALCHEMY_DATABASE_URI"],
                 "upload_dir": str(app.config["UPLOAD_DIR"]), "username": username,
                 "url": url, "path": str(path)}
        done = subprocess.run(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "tests.core.upload_probe"], input=json.dumps(order),
            capture_output=True, text=True, cwd=ROOT, timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-4000:]
    return Answer(**json.loads(done.stdout.strip().splitlines()[-1]))


def _main() -> None:
    import io

    from association import create_app
    from config import TestingConfig
    from tests.conftest import Web

    order = json.loads(sys.stdin.read())
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": order["database_url"],
                                     "UPLOAD_DIR": order["upload_dir"]})
    path = Path(order["path"])
    web = Web(app.test_client())
    web.login(order["username"])
    web.get(order["url"])
    response = web.post(order["url"], {"file": (io.BytesIO(path.read_bytes()), path.name)},
                        content_type="multipart/form-data")
    print(json.dumps({"status": response.status_code, "body": response.get_data(as_text=True),
                      "peak_mib": _peak_mib()}))


if __name__ == "__main__":
    _main()
