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
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import sqlalchemy as sa
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from association.auth.models import User
from association.extensions import db
from tests.conftest import Web
from tests.i18n_scan import bad_dates_in, english_in
from tests.test_demo import ROLES

#: Text the app (or M-Pesa) writes and stores in English, to be shown in the reader's
#: language at display: never taken out.
APP_WRITTEN = {("journal_entry", "memo"), ("audit_event", "action"), ("account", "name"),
               ("member_consent", "wording"), ("mpesa_stk_request", "result_desc"),
               ("mpesa_transaction", "note"), ("mpesa_callback_inbox", "outcome"),
               ("mpesa_callback_inbox", "error"), ("mpesa_settings", "c2b_register_result"),
               ("patrol_swap", "problems"), ("officials_notice", "summary"),
               ("dues_rate", "resolution_ref")}
#: Typed values of one word that are taken out too: logins, and who does an action item.
ONE_WORD = {("user", "username"), ("action_item", "owner")}
#: Column names a member list may carry, quoted on the import page as files spell them.
FILE_HEADERS = ("First name", "Other names")
#: Each endpoint opened at most this many times (with different arguments).
PER_ENDPOINT = 2
#: Downloads that are data for programs, not pages for people.
MACHINE_READABLE = ("text/csv", "application/vnd.openxmlformats", "text/calendar",
                    "application/zip")
#: Paths not to follow: leaving, files people uploaded (the constitution), and a document
#: asked for in English on purpose (the minutes' "?lang=en").
SKIP = re.compile(r"^/(static/|logout|healthz|compliance/constitution/)|[?&]lang=en\b")


class _Text(HTMLParser):
    """The text a person reads on a page (and its links), plus the titles, placeholders and
    labels of inputs and buttons; not scripts or styles, nor what the page marks as not to
    be translated: code (the wire formats of M-Pesa messages, the audit trail's record
    names and stored values) and elements with ``translate="no"``."""

    HIDDEN = {"script", "style", "code", "samp", "kbd"}

    def __init__(self):
        super().__init__()
        self.parts, self.links, self._hidden = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.HIDDEN or attrs.get("translate") == "no":
            self._hidden.append(tag)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        for name in ("title", "placeholder", "aria-label", "alt"):
            # A month or date field's placeholder is the format browsers without a picker
            # send (2026-03), not text to read.
            if name == "placeholder" and attrs.get("type") in ("month", "date"):
                continue
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if self._hidden and self._hidden[-1] == tag:
            self._hidden.pop()

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def _typed_text() -> list[str]:
    """Every free text people typed (values with a space in the string columns, enums
    aside), longest first, so that it can be taken out of a page before the scan."""
    values = set()
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if (table.name, column.name) in APP_WRITTEN or isinstance(column.type, sa.Enum):
                continue
            if not isinstance(column.type, sa.String | sa.Text):
                continue
            query = sa.select(column).where(column.is_not(None)).distinct()
            if table.name == "agenda_item":  # matters arising are written by the app
                query = query.where(table.c.carried_action_id.is_(None))
            for value in db.session.scalars(query):
                if isinstance(value, str) and (" " in value.strip()
                                               or (table.name, column.name) in ONE_WORD):
                    values.add(" ".join(value.split()))
    return sorted(values, key=len, reverse=True)


def _without(text: str, typed: list[str]) -> str:
    """``text`` without what people typed, whole or cut short with "…" (select options)."""
    text = " ".join(text.split())
    for header in FILE_HEADERS:
        text = text.replace(header, " ")
    for value in typed:
        text = text.replace(value, " ")
        if len(value) > 30:
            text = re.sub(re.escape(value[:30]) + r"[^…]*…", " ", text)
    return text


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
            parser = _Text()
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
        text = _without(text, typed)
        found = english_in(text) + bad_dates_in(text)
        if found:
            problems[f"{role} {url}"] = sorted(set(found))
    return len(seen)


def test_every_page_and_pdf_in_kiswahili_has_no_english_and_no_iso_or_us_dates(app, runner):
    _seed_and_speak_swahili(app, runner)
    with app.app_context():
        typed = _typed_text()
    problems: dict[str, list[str]] = {}
    pages = defaultdict(int)
    for role in ROLES:
        pages[role] = _crawl(app, role, typed, problems)
    assert all(count > 20 for count in pages.values()), dict(pages)
    assert not problems, "\n".join(f"{page}: {', '.join(words)}"
                                   for page, words in sorted(problems.items()))
