"""Script and SQL injection through every form and every search or filter the app renders.

The forms are read from the rendered pages (every GET route, filled with real objects), so a
form or field added later is attacked too.
"""

import csv
import html
import io
import re
import zipfile

import openpyxl
from markupsafe import escape

from tests.conftest import Web
from tests.security.conftest import fill, forms_on, get_pages, post_forms, snapshot
from tests.security.test_headers import live_markup

LONG_XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
SHORT_XSS = '"><svg/onload=alert(3)>'
TINY_XSS = "<svg onload=4>"
FORMULA = "=HYPERLINK(\"http://evil.example\",\"x\")"
#: What must never appear in a page: the payloads as live markup.
LIVE = re.compile(r"<script>alert|<img src=x onerror|<svg/onload|<svg onload", re.I)


def _xss(f):
    limit = f.maxlength or 10_000
    for payload in (LONG_XSS, SHORT_XSS, TINY_XSS):
        if len(payload) <= limit:
            return payload
    return "<b>"[:limit]


def _formula(f):
    limit = f.maxlength or 10_000
    return FORMULA if len(FORMULA) <= limit else "=1+1"[:limit]


def _submit_everywhere(web, app, values, text, member_no):
    forms = list(post_forms(web, app, values, roles=("chair", "member")))
    stored, current = 0, None
    for role, form in forms:
        if role != current:
            web.login(role)
            current = role
        data = fill(form, text, {"member": member_no, "member_no": member_no})
        before = snapshot(app)
        response = web.post(form.action, data)
        assert response.status_code < 500, f"{form.action}: {response.status_code}"
        body = response.get_data(as_text=True)
        if response.mimetype == "text/html":
            assert not LIVE.search(body), f"reflected by {form.action}: {LIVE.search(body)}"
            assert live_markup(body) == [], form.action
        stored += snapshot(app) != before
    web.logout()
    return forms, stored


def _pages(web, app, values, roles=("chair", "member")):
    for role in roles:
        web.login(role)
        for _endpoint, url in get_pages(app, values):
            response = web.get(url)
            yield role, url, response
        web.logout()


def test_script_in_every_text_field_comes_back_escaped_everywhere(world, client):
    """Every free-text field of every form gets script; then every page, PDF and CSV the
    chair and a member can open is rendered: no live markup, no inline script, no 500."""
    app, values = world.app, world.values
    web = Web(client)
    forms, stored = _submit_everywhere(web, app, values, _xss, world.names["member_no"])
    assert len(forms) > 40 and stored > 15, (len(forms), stored)
    escaped = 0
    for role, url, response in _pages(web, app, values):
        assert response.status_code < 500, url
        if response.mimetype != "text/html":
            continue  # plain text, calendars, PDFs: never run as a page (nosniff)
        body = response.get_data(as_text=True)
        assert not LIVE.search(body), f"{role} {url}: {LIVE.search(body).group()}"
        assert live_markup(body) == [], url
        escaped += "&lt;script&gt;alert(1)" in body or "&lt;svg" in body
    assert escaped > 5  # the payloads were stored, and shown, escaped


def _sheets(response):
    """(name, cells) of every spreadsheet in a response: a CSV, an XLSX, or those in a ZIP."""
    data = response.get_data()
    if response.mimetype == "text/csv":
        yield "csv", _csv_cells(data)
    elif response.mimetype.endswith("spreadsheetml.sheet"):
        yield "xlsx", _xlsx_cells(data)
    elif response.mimetype == "application/zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                if name.endswith(".csv"):
                    yield name, _csv_cells(archive.read(name))
                elif name.endswith(".xlsx"):
                    yield name, _xlsx_cells(archive.read(name))


def _csv_cells(data: bytes):
    text = data.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _xlsx_cells(data: bytes):
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [c.value for sheet in book for row in sheet.iter_rows() for c in row
            if isinstance(c.value, str)]


def test_formulas_typed_into_forms_never_reach_a_spreadsheet_as_formulas(world, client):
    """Text starting with "=" in every free-text field: every CSV or XLSX export (alone or
    in a ZIP pack) writes it so a spreadsheet shows it as text, never runs it."""
    app, values = world.app, world.values
    web = Web(client)
    _submit_everywhere(web, app, values, _formula, world.names["member_no"])
    web.login("chair")
    sheets, seen = set(), 0
    for _, url in get_pages(app, values):
        for query in ({}, {"format": "csv"}, {"format": "xlsx"}):
            response = web.get(url, query_string=query)
            if response.status_code != 200:
                continue
            for name, cells in _sheets(response):
                sheets.add((url, query.get("format"), name))
                for cell in cells:
                    seen += "HYPERLINK" in cell
                    assert not cell.startswith(("=", "@", "\t", "\r")), f"{url} {name}: {cell!r}"
                    if cell.startswith(("+", "-")):
                        # a signed amount the app wrote, never text a user typed
                        assert re.fullmatch(r"[+-](KES )?[\d.,]+", cell), f"{url} {name}: {cell!r}"
    assert len(sheets) >= 5 and seen > 0, sheets


REFLECT = ['<script>alert(1)</script>', '"><img src=x onerror=alert(2)>', "'><svg/onload=1>"]


def test_query_strings_of_every_page_are_not_reflected_as_markup(world, client):
    """Every GET page with script in each of its own filter fields and in common names."""
    app, values = world.app, world.values
    web = Web(client)
    web.login("chair")
    tried = 0
    for _endpoint, url in get_pages(app, values):
        first = web.get(url)
        names = {"q", "next", "page", "month", "lang", "sort"}
        if first.mimetype == "text/html":
            for form in forms_on(url, first.get_data(as_text=True)):
                if form.method == "get":
                    names |= set(form.fields)
        for payload in REFLECT:
            response = web.get(url, query_string={n: payload for n in names})
            tried += 1
            assert response.status_code < 500, url
            if response.mimetype == "text/html":
                body = response.get_data(as_text=True)
                assert not LIVE.search(body), f"{url}: {LIVE.search(body).group()}"
    assert tried > 100


def test_login_does_not_redirect_elsewhere(world):
    """?next= may only send the user on within this site (no open redirect): the address
    sent is a path, with no backslash (browsers read "/\\host" as "//host") and no tab or
    newline (browsers drop them) left unencoded."""
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example",
                   "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)",
                   "https:evil.example", "\\\\evil.example"):
        client = world.app.test_client()
        web = Web(client)
        page = client.get("/login", query_string={"next": target})
        assert page.status_code == 200, target
        response = web.post("/login", {"login": "chair", "password": "mtaani-demo"},
                            query_string={"next": target})
        assert response.status_code in (302, 303)
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith("//"), (target, location)
        assert not re.search(r"[\\\x00-\x20]", location), (target, location)


SQL = ["' OR 1=1 --", "' OR '1'='1", "%", "_", "\\", "\\'", "'; DROP TABLE member; --",
       '" OR ""="', "1) OR (1=1", "%' OR 'x' LIKE '%", "x" * 5000, "Chebet\x00",
       "1 UNION SELECT username, NULL FROM app_user --"]
LEAK = re.compile(r"Traceback|sqlalchemy|psycopg|sqlite3|syntax error|OperationalError|"
                  r"ProgrammingError|DataError|password_hash|\$argon2", re.I)


def test_sql_injection_in_every_search_and_filter(world, client):
    """Every field of every GET form (searches, filters, date pickers) on every page: no 500,
    no database error text, and no more of the members than a search that matches none."""
    app, values = world.app, world.values
    web = Web(client)
    web.login("chair")
    tried = 0
    for _endpoint, url in get_pages(app, values):
        first = web.get(url)
        if first.status_code != 200 or first.mimetype != "text/html":
            continue
        for form in forms_on(url, first.get_data(as_text=True)):
            if form.method != "get" or not form.fields:
                continue
            action = form.action
            base = fill(form, lambda f: "")
            for name in form.fields:
                nothing = web.get(action, query_string={**base, name: "zzqqxx"})
                shown = nothing.get_data(as_text=True).count("Chebet")
                for payload in SQL:
                    response = web.get(action, query_string={**base, name: payload})
                    tried += 1
                    body = response.get_data(as_text=True)
                    for echo in (payload, str(escape(payload)), html.escape(payload)):
                        body = body.replace(echo, "")  # the search box shows what was typed
                    assert response.status_code in (200, 302, 303, 400, 404), (
                        f"{action} {name}={payload[:30]!r}: {response.status_code}")
                    assert not LEAK.search(body), f"{action} {name}={payload[:30]!r}"
                    if "OR" in payload and nothing.status_code == 200:
                        assert body.count("Chebet") <= shown, f"{action} {name}={payload!r}"
    assert tried > 100
