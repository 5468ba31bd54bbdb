"""Every route with an object in its address, and every state-changing route, attacked.

Routes are read from ``app.url_map`` and their declared access, so a route added later is
attacked too: a member tries other members' objects; officials try objects that do not exist
or ids beyond the database's range; every POST is tried without its CSRF token.
"""

import pytest

from association.auth.permissions import LOGIN, PUBLIC
from tests.conftest import Web
from tests.security.conftest import (
    CALLBACKS,
    OTHER_FIRST,
    OTHER_LAST,
    access_of,
    build_url,
    rules,
    snapshot,
)

#: A value that names nothing, for each kind of address argument.
MISSING = {"number": "MLK-R-999999", "night": "2099-02-30", "month": "1999-13",
           "token": "not-the-token-0123456789abcdef"}
#: Integers the database cannot hold: not found, never a database error.
HUGE = (2**31, 2**63, 10**40)
#: Pages whose object lives in the user's session for a while (an M-Pesa statement import
#: being previewed): once gone, they send the user back to start again, with a message.
GONE_REDIRECTS = {"mpesa_imports.preview"}


def _member_reachable(app, rule) -> bool:
    """A route a logged-in member may call (their own objects only)."""
    return access_of(app, rule.endpoint) == LOGIN


def _send(web, method, url):
    return web.get(url) if method == "GET" else web.post(url, {})


def test_member_gets_nothing_of_another_members_objects(world, client):
    """Every login-only route with an object in its address, filled with another member's
    objects: 404 (or 403), none of their data, and nothing changes."""
    app, values = world.app, world.values
    web = Web(client)
    web.login("member")
    tried, failures = [], []
    before = snapshot(app)
    for rule, method in rules(app):
        if not rule.arguments or not _member_reachable(app, rule):
            continue
        url = build_url(rule, values)
        response = _send(web, method, url)
        tried.append(rule.endpoint)
        body = response.get_data(as_text=True)
        if response.status_code not in (403, 404):
            failures.append(f"{method} {url}: {response.status_code}")
        for secret in (OTHER_FIRST, OTHER_LAST, world.names["member_no"]):
            if secret in body:
                failures.append(f"{method} {url}: shows {secret!r}")
    assert failures == []
    assert snapshot(app) == before
    # The walk reached the routes members use (so it cannot pass by trying nothing).
    assert {"members.detail", "reports.statement", "receipts.pdf", "mpesa.pay_status",
            "patrols.me_offer", "meetings.minutes_read"} <= set(tried)


def test_secret_addresses_with_a_wrong_secret_are_not_found(world, client):
    """Public routes keyed by a secret in the address (Daraja's callbacks, calendar feeds):
    a wrong secret is 404 and stores nothing."""
    app, values = world.app, world.values
    before = snapshot(app)
    tried = []
    for rule, method in rules(app):
        if "token" not in rule.arguments or access_of(app, rule.endpoint) != PUBLIC:
            continue
        for wrong in ("x", values["callback_token"][:-1] + "0", values["ical_token"] + "x",
                      "%00", "../" * 3):
            url = build_url(rule, values, token=wrong)
            if method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, json={"Body": {"stkCallback": {}}})
            # A NUL byte is refused before anything reads it (400); any other wrong secret: 404.
            assert response.status_code == (400 if wrong == "%00" else 404), url
        tried.append(rule.endpoint)
    assert CALLBACKS | {"patrols.calendar"} <= set(tried)
    assert snapshot(app) == before


def _missing_values(rule, values, huge=None):
    """For each argument of ``rule`` in turn, the address naming nothing in that place."""
    for name in rule.arguments:
        if huge is not None:
            if f"<int:{name}>" not in rule.rule:
                continue
            yield build_url(rule, values, **{name: huge})
        elif f"<int:{name}>" in rule.rule:
            yield build_url(rule, values, **{name: 999999})
        else:
            yield build_url(rule, values, **{name: MISSING[name]})


@pytest.mark.parametrize("huge", [None, *HUGE], ids=["missing", "2^31", "2^63", "10^40"])
def test_objects_that_do_not_exist_are_404_for_officials(world, client, huge):
    """The chair (who may use every staff route) names objects that do not exist: a page is
    404; an action is 404 or refused with a message (a redirect that changes nothing); never
    a 500 (PostgreSQL cannot compare 2^63 with an integer column)."""
    app, values = world.app, world.values
    web = Web(client)
    web.login("chair")
    before = snapshot(app)
    failures, tried = [], 0
    for rule, method in rules(app):
        if access_of(app, rule.endpoint) == PUBLIC and rule.endpoint not in CALLBACKS | {
                "patrols.calendar", "receipts.verify", "meetings.transparency_pdf",
                "meetings.transparency_png", "meetings.transparency_poster"}:
            continue
        for url in _missing_values(rule, values, huge):
            response = _send(web, method, url)
            tried += 1
            status = response.status_code
            if huge is not None and status == 405 and method == "POST":
                # Werkzeug matches no rule for an out-of-range id; where a GET rule shares the
                # address it answers "method not allowed": refused all the same.
                continue
            redirect_ok = method == "POST" or rule.endpoint in GONE_REDIRECTS
            if status != 404 and not (redirect_ok and status in (302, 303)):
                failures.append(f"{method} {url}: {status}")
    assert failures == [], "\n".join(failures)
    assert tried > 50
    assert snapshot(app) == before


def test_every_state_changing_route_refuses_a_post_without_its_csrf_token(world, client):
    """Every POST route but Daraja's callbacks: without the token, 400 and nothing changes,
    even for the chair who may use them all."""
    app, values = world.app, world.values
    web = Web(client)
    web.login("chair")
    before = snapshot(app)
    failures, tried = [], []
    for rule, method in rules(app, methods={"POST", "PUT", "PATCH", "DELETE"}):
        if rule.endpoint in CALLBACKS or rule.endpoint.startswith("hosting."):
            continue  # the host's pages are not found here: tests/hosting walks them there
        url = build_url(rule, values)
        for data in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
            response = client.open(url, method=method, data=data)
            if response.status_code != 400:
                failures.append(f"{method} {url} {data}: {response.status_code}")
        tried.append(rule.endpoint)
    assert failures == []
    assert snapshot(app) == before
    assert len(tried) > 60
    # The same session with its token does get through (the refusal was the token's doing).
    assert web.post("/language", {"language": "sw"}).status_code in (302, 303)


def test_a_token_from_another_session_is_refused(world, app):
    """A token taken from one browser does not work in another's session."""
    first, second = Web(app.test_client()), Web(app.test_client())
    first.login("chair")
    second.login("treasurer")
    stolen = first._refresh_token("/members/new")
    before = snapshot(app)
    response = second.client.post("/ledger/dues/run", data={"csrf_token": stolen,
                                                            "month": "2025-01"})
    assert response.status_code == 400
    assert snapshot(app) == before


def test_callbacks_are_exempt_from_csrf_but_not_from_their_token(world, client):
    """Daraja cannot send a CSRF token: its callbacks work without one (and answer in
    Daraja's JSON), while a wrong token in the path is 404."""
    app, values = world.app, world.values
    for rule, _ in rules(app, methods={"POST"}):
        if rule.endpoint not in CALLBACKS:
            continue
        response = client.post(build_url(rule, values), json={})
        assert response.status_code != 400 or response.is_json, rule.rule
        assert response.status_code < 500, rule.rule
