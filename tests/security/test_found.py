"""Faults the security suite found, each pinned by a direct test (see also the generic walks)."""

import sqlalchemy as sa

from association.audit.services import acting_as
from association.extensions import db
from association.members.models import Member
from association.patrols.models import Assignment
from association.patrols.patrollers import enrol, set_availability
from tests.conftest import Web


def test_coordinator_putting_a_patroller_on_a_shift_succeeds(world, client, people):
    """Found by the stored-script walk: the view unpacked ``_, warnings = assign(...)``, which
    hid gettext's ``_`` from the rest of the view, so every successful assignment was a 500."""
    app, values = world.app, world.values
    with app.app_context(), acting_as("test"):
        own = enrol(db.session.get(Member, people.own_member_id))
        set_availability(own, {(d, values["zone_id"]) for d in range(7)})
        db.session.commit()
        own_id = own.id
    web = Web(client)
    web.login("coordinator")
    url = f"/patrols/shifts/{values['template_id']}/{values['night']}"
    response = web.post(url + "/assign", {"patroller_id": str(own_id)})
    assert response.status_code in (302, 303)
    assert "Added to the shift" in web.get(url).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Assignment).where(
            Assignment.patroller_id == own_id)) == 1


def test_a_nul_byte_in_any_address_argument_is_refused_not_a_500(world, client):
    """Found on PostgreSQL (which refuses NUL in text): /patrols/calendar/%00.ics reached
    the database and was a 500. Every route with a text argument now answers 400."""
    from tests.security.conftest import build_url, rules

    app, values = world.app, world.values
    web = Web(client)
    web.login("chair")
    tried = 0
    for rule, method in rules(app):
        for name in rule.arguments:
            if f"<int:{name}>" in rule.rule:
                continue
            url = build_url(rule, values, **{name: "%00"})
            response = web.get(url) if method == "GET" else web.post(url, {})
            assert response.status_code in (400, 404), f"{method} {url}"
            tried += 1
    assert tried >= 10


def test_a_payment_reference_longer_than_the_books_keep_is_refused(world, client):
    """Found on PostgreSQL: the form took 60 characters, the journal entry keeps 40, so a
    long bank reference was a 500 (SQLite does not enforce lengths). Now a form error."""
    from tests.security.conftest import snapshot

    app = world.app
    web = Web(client)
    web.login("treasurer")
    before = snapshot(app)
    response = web.post("/ledger/payments/new", {
        "member": world.names["member_no"], "amount": "50", "method": "bank",
        "reference": "B" * 41, "paid_on": "2026-11-01"})
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    assert snapshot(app) == before
    response = web.post("/ledger/payments/new", {
        "member": world.names["member_no"], "amount": "50", "method": "bank",
        "reference": "B" * 40, "paid_on": "2026-11-01"})
    assert response.status_code in (302, 303)
    assert snapshot(app)["payment"] == before["payment"] + 1
