"""Every page at 360x740, for every role of the demo and a visitor (issue 21 items 2 and 6).

For each role the sweep opens every page that role can reach: the same-site links
crawled from its start pages, plus the app's GET routes filled with ids from the demo
data (detail pages no link reaches from a start page), at most one page of each shape
(``/members/12`` and ``/members/40`` are one shape, and so are a report's periods). It
skips downloads (PDF, CSV, XLSX, ICS) and answers that are not HTML or that refuse the
role (403, 404, the login page: a route filled in for a role that may not open it).
On each page it fails when the document is wider than the screen, when an amount is
off-screen as the page is first shown (also inside a table that scrolls sideways), when
axe-core finds a serious or critical violation (once per page shape and language in a
run: axe takes most of the time), or when the language hook
(``page_checks.language_problems``) finds a slip; and it lists every page and reason, not
only the first. An HTTP 500 fails too.

Languages: on one database each role runs in one language, the other language on the
other database (SQLite, then PostgreSQL in CI), so the two runs together cover both for
every page and role; ``--e2e-full`` runs both on each.
"""

import json
import os
import re
import time
from collections import defaultdict
from urllib.parse import urldefrag, urlsplit

from conftest import LANGUAGES, PASSWORD, VIEWPORTS
from page_checks import TYPED_SCRIPT, axe_script, is_download, page_problems, rules_script

ROLES = ("visitor", "chair", "treasurer", "secretary", "coordinator", "auditor", "member")
START_PAGES = ("/", "/transparency")
#: Pages of one shape opened at most this many times per role (more costs CI minutes
#: and, in the demo, finds nothing new).
PER_SHAPE = 1
#: At most this many pages per role (a guard against a crawl that never ends).
MOST_PAGES = 250


def _languages(index: int, full: bool) -> list[str]:
    if full:
        return list(LANGUAGES)
    offset = 1 if os.environ.get("E2E_DATABASE_URL") else 0
    return [LANGUAGES[(index + offset) % len(LANGUAGES)]]


def pytest_generate_tests(metafunc):
    if "role_language" not in metafunc.fixturenames:
        return
    full = metafunc.config.getoption("--e2e-full")
    pairs = [(role, language) for i, role in enumerate(ROLES)
             for language in _languages(i, full)]
    metafunc.parametrize("role_language", pairs, ids=[f"{r}-{lang}" for r, lang in pairs])


def _shape(url: str) -> str:
    """Pages of one shape: one path but for the ids in it (the query left out: a
    report for another period, the roster of another month)."""
    return re.sub(r"\d+", "#", urlsplit(url).path)


#: (shape, language) pairs axe-core has checked in this run: axe takes most of the
#: sweep's time, and a page of one shape differs between roles mostly in its menu.
AXE_DONE: set = set()
#: The app's GET routes filled with demo ids: one list for the run (every server starts
#: from a copy of the same demo database).
FILLED_ROUTES: list = []
#: What people typed in the demo, taken out of a page's words before the language scan
#: (the same for every copy of the demo database).
TYPED: list = []


def _log_in(page, base: str, role: str, language: str) -> None:
    page.goto(base + "/login")
    with page.expect_navigation():
        page.select_option("#language", language)
        page.locator("form[action$='/language'] button[type=submit]").click()
    if role == "visitor":
        return
    page.fill("#login", role)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/login" not in page.url, f"{role} could not log in"


def test_every_page_fits_a_phone(role_language, browser, server):
    role, language = role_language
    started = time.monotonic()
    context = browser.new_context(viewport=VIEWPORTS["phone"],
                                  locale="sw-KE" if language == "sw" else "en-KE")
    page = context.new_page()
    try:
        _log_in(page, server, role, language)
        queue = [server + path for path in START_PAGES]
        if not FILLED_ROUTES:
            FILLED_ROUTES.extend(json.loads(server.python(rules_script())))
        if not TYPED:
            TYPED.extend(json.loads(server.python(TYPED_SCRIPT).strip().splitlines()[-1]))
        queue += [server + path for path in FILLED_ROUTES]
        seen, shapes, failures, opened = set(), defaultdict(int), [], []
        while queue and len(opened) < MOST_PAGES:
            url = urldefrag(queue.pop(0))[0]
            if url in seen or not url.startswith(server + "/") or is_download(url):
                continue
            seen.add(url)
            if shapes[_shape(url)] >= PER_SHAPE:
                continue
            try:
                response = page.goto(url)
            except Exception as error:  # noqa: BLE001 - a download starting, not a page
                if "Download is starting" in str(error):
                    continue
                raise
            if response is None or "text/html" not in response.headers.get("content-type", ""):
                continue
            if response.status in (401, 403, 404) or "/login" in urlsplit(page.url).path \
                    and "/login" not in url:
                continue
            shapes[_shape(url)] += 1
            path = url.removeprefix(server)
            opened.append(path)
            if response.status >= 500:
                failures.append(f"{path}: HTTP {response.status}")
                continue
            with_axe = (_shape(url), language) not in AXE_DONE
            if with_axe:
                AXE_DONE.add((_shape(url), language))
                page.evaluate(axe_script())
            failures += [f"{path}: {problem}"
                         for problem in page_problems(page, language, TYPED, with_axe=with_axe)]
            queue += page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    finally:
        context.close()
    print(f"\n{role} in {language}: {len(opened)} pages in {time.monotonic() - started:.0f} s")
    assert opened, "no page opened"
    assert not failures, (f"{role} in {language}: {len(failures)} problems on "
                          f"{len(opened)} pages:\n" + "\n".join(failures))
