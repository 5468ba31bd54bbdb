"""Every page and every PDF in Kiswahili, for every role, on the demo association: no English
interface word, no ISO month or date, no date in numbers only, no 12-hour time.

The crawl starts at each role's home page and follows the same-site GET links it finds,
plus every GET rule of the app's url_map that needs no argument; each endpoint is opened
at most twice (two members, two meetings...) to keep it fast. PDFs are read back with
pdftotext. What people type (names, meeting titles, agenda items, notes: the demo's are in
English) is taken out of the text first; what the app writes is not. Machine-readable
exports (CSV, XLSX, ICS, the auditor pack's ZIP) keep ISO dates, as spreadsheets and
calendars read them, and are not scanned.
"""

import re
import shutil
import subprocess
from collections import Counter, defaultdict
from urllib.parse import urljoin, urlsplit

import sqlalchemy as sa
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from association.auth.models import User
from association.extensions import db
from tests.conftest import Web
from tests.i18n_scan import PageText, bad_dates_in, english_in, typed_text, without_typed
from tests.test_demo import ROLES

#: Each endpoint opened at most this many times (with different arguments).
PER_ENDPOINT = 2
#: Downloads that are data for programs, not pages for people.
MACHINE_READABLE = ("text/csv", "application/vnd.openxmlformats", "text/calendar",
                    "application/zip")
#: Paths not to follow: leaving, files people uploaded (the constitution), and a document
#: asked for in English on purpose (the minutes' "?lang=en").
SKIP = re.compile(r"^/(static/|logout|healthz|compliance/constitution/)|[?&]lang=en\b")


def _pdf_text(data: bytes) -> str:
    """The text of a PDF, read back with poppler's pdftotext."""
    tool = shutil.which("pdftotext")
    assert tool, "install poppler-utils"
    return subprocess.run([tool, "-layout", "-", "-"], input=data, check=True,  # noqa: S603
                          capture_output=True).stdout.decode()


def _seed_and_speak_swahili(app, runner) -> None:
    result = runner.invoke(args=["seed-demo", "--members", "30"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.session.execute(sa.update(User).values(language="sw"))
        db.session.commit()


def _start_urls(app) -> list[str]:
    return ["/"] + sorted(rule.rule for rule in app.url_map.iter_rules()
                          if "GET" in rule.methods and not rule.arguments)


def _crawl(app, role: str, typed: list[str], problems: dict) -> int:
    """Open every page ``role`` reaches; record what the scan finds; return pages seen."""
    web = Web(app.test_client())
    web.login(role)
    adapter = app.url_map.bind("localhost")
    queue, seen, opened = _start_urls(app), set(), Counter()
    while queue:
        url = queue.pop(0)
        path = urlsplit(url).path
        if url in seen or SKIP.search(url):
            continue
        seen.add(url)
        try:
            endpoint, _ = adapter.match(path, method="GET")
        except (HTTPException, RequestRedirect):
            continue
        if opened[endpoint] >= PER_ENDPOINT:
            continue
        opened[endpoint] += 1
        response = web.get(url)
        assert response.status_code < 500, f"{role} {url}: {response.status_code}"
        if response.status_code != 200:
            continue
        kind = response.mimetype or ""
        if kind.startswith(MACHINE_READABLE):
            continue
        if kind.startswith("image/"):
            continue  # the month's picture: its words are the poster's, read as a PDF
        if kind == "application/pdf":
            text = _pdf_text(response.data)
        elif kind == "text/html":
            parser = PageText()
            parser.feed(response.get_data(as_text=True))
            text = " ".join(parser.parts)
            for link in parser.links:
                absolute = urlsplit(urljoin(url, link))
                if absolute.netloc in ("", "localhost") and absolute.scheme in ("", "http"):
                    target = absolute.path + (f"?{absolute.query}" if absolute.query else "")
                    if target not in seen:
                        queue.append(target)
        else:
            text = response.get_data(as_text=True)
        text = without_typed(text, typed)
        found = english_in(text) + bad_dates_in(text)
        if found:
            problems[f"{role} {url}"] = sorted(set(found))
    return len(seen)


def test_every_page_and_pdf_in_kiswahili_has_no_english_and_no_iso_or_us_dates(app, runner):
    _seed_and_speak_swahili(app, runner)
    with app.app_context():
        typed = typed_text()
    problems: dict[str, list[str]] = {}
    pages = defaultdict(int)
    for role in ROLES:
        pages[role] = _crawl(app, role, typed, problems)
    assert all(count > 20 for count in pages.values()), dict(pages)
    assert not problems, "\n".join(f"{page}: {', '.join(words)}"
                                   for page, words in sorted(problems.items()))
