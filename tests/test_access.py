"""Every route, for every role: allowed or refused exactly as the roles are meant to work.

``EXPECTED`` is written by hand from the roles' descriptions, independently of
``association/auth/permissions.py``; a route missing from it fails the test, so
every new route must say who may use it.
"""

import re
from datetime import date

import pytest

from association.auth.models import Role
from association.core.time import utcnow
from association.extensions import db
from association.ledger.accounts import account
from association.ledger.dues import request_waiver
from association.ledger.expenses import record_expense
from association.ledger.models import PaymentMethod
from association.ledger.payments import record_payment
from association.members.models import ConsentChannel, ConsentPurpose, MemberConsent
from association.members.services import record_consent
from association.worker import beat
from tests.conftest import PASSWORD, Web
from tests.mpesa.daraja_helpers import mpesa_walk_values
from tests.mpesa.desk_helpers import desk_walk_values
from tests.patrols.helpers import patrol_walk_values

ANON = "anonymous"
ROLES = ("chair", "treasurer", "secretary", "coordinator", "auditor", "member")
OFFICIALS = {"chair", "treasurer", "secretary", "coordinator", "auditor"}
EVERYONE = set(ROLES)

#: endpoint -> who may use it ("public" for anyone, even logged out).
EXPECTED = {
    "auth.login": "public",
    "auth.logout": "public",
    "auth.language": "public",
    "auth.password": EVERYONE,
    "sessions.index": EVERYONE,  # one's own sessions only
    "sessions.end": EVERYONE,
    "sessions.end_others": EVERYONE,
    # Issue 21: a visitor gets the public home (no names); a user their own sections, after
    # the same checks as any page (a new password, the second factor).
    "core.home": "public",
    "core.check_receipt": "public",  # the public home's receipt check box
    "auth.users": {"chair"},
    "auth.user_new": {"chair"},
    "auth.user_edit": {"chair"},
    "auth.user_reset_password": {"chair"},
    "auth.user_set_active": {"chair"},
    # The second factor (issue 20): one's own for everyone; the policy and resets the chair's.
    "auth.login_code": "public",
    "auth.second_factor_page": EVERYONE,
    "auth.second_factor_start": EVERYONE,
    "auth.second_factor_confirm": EVERYONE,
    "auth.second_factor_renew": EVERYONE,
    "auth.second_factor_off": EVERYONE,
    "auth.second_factor_policy": {"chair"},
    "auth.user_reset_second_factor": {"chair"},
    "profile.setup": {"chair"},
    "profile.edit": {"chair"},
    "members.index": OFFICIALS,
    "members.new": {"chair", "secretary"},
    "members.detail": OFFICIALS,  # and the member, for their own record only
    "members.me": EVERYONE,
    "members.edit": {"chair", "secretary"},
    "members.status": {"chair", "secretary"},
    "members.consent": {"chair", "secretary"},
    "members.withdraw_consent": {"chair", "secretary"},  # and the member, for their own
    "members.zones": {"chair", "secretary", "coordinator"},
    "members.zone_edit": {"chair", "secretary", "coordinator"},
    "members.import_upload": {"chair", "secretary"},
    "members.import_confirm": {"chair", "secretary"},
    "members.export": {"chair", "secretary", "treasurer", "auditor"},
    "audit.index": {"chair", "auditor"},
    "audit.verify_all": {"chair", "auditor"},
    "ledger.index": {"chair", "treasurer", "secretary", "auditor"},
    "ledger.payment_new": {"chair", "treasurer"},
    "ledger.dues": {"chair", "treasurer", "secretary", "auditor"},
    "ledger.dues_run": {"chair", "treasurer"},
    "ledger.periods": {"chair", "treasurer", "secretary", "auditor"},
    "ledger.period_close": {"chair", "treasurer"},
    "ledger.period_reopen": {"chair"},
    "ledger.rates": {"chair", "treasurer", "secretary", "auditor"},
    "ledger.rates_new": {"chair", "treasurer"},
    "ledger.waivers": {"chair", "treasurer", "secretary", "auditor"},
    "ledger.waiver_new": {"chair", "treasurer", "secretary"},
    "ledger.waiver_decide": {"chair"},
    "ledger.settings": {"chair"},
    "expenses.index": {"chair", "treasurer", "secretary", "auditor"},
    "expenses.new": {"chair", "treasurer", "coordinator"},
    "expenses.detail": {"chair", "treasurer", "secretary", "auditor"},
    "expenses.approve": {"chair", "treasurer", "secretary"},
    "expenses.reject": {"chair", "treasurer", "secretary"},
    "expenses.reverse": {"chair", "treasurer", "secretary"},
    "expenses.document": {"chair", "treasurer", "secretary", "auditor"},
    "expenses.accounts": {"chair", "treasurer", "secretary", "auditor"},
    "expenses.account_new": {"chair"},
    "expenses.account_edit": {"chair"},
    "reports.index": {"chair", "treasurer", "secretary", "auditor"},
    "reports.trial_balance": {"chair", "treasurer", "secretary", "auditor"},
    "reports.income_expenditure": {"chair", "treasurer", "secretary", "auditor"},
    "reports.financial_position": {"chair", "treasurer", "secretary", "auditor"},
    "reports.cash_book": {"chair", "treasurer", "secretary", "auditor"},
    "reports.arrears": {"chair", "treasurer", "secretary", "auditor"},
    "reports.receipts_register": {"chair", "treasurer", "secretary", "auditor"},
    "reports.collections": {"chair", "treasurer", "secretary", "auditor"},
    "reports.statement_lookup": {"chair", "treasurer", "secretary", "auditor"},
    # and the member, for their own statement only (404 for another's)
    "reports.statement": {"chair", "treasurer", "secretary", "auditor", "member"},
    "reports.auditor_pack": {"chair", "treasurer", "auditor"},
    "reports.month_close_pdf": {"chair", "treasurer", "secretary", "auditor"},
    # Any login may ask; officials who read the books see every receipt, a member only
    # their own, anyone else gets 404 as if it did not exist.
    "receipts.detail": EVERYONE,
    "receipts.pdf": EVERYONE,
    "receipts.sms": EVERYONE,
    "receipts.void": {"chair", "treasurer"},
    "receipts.verify": "public",
    "health.healthz": "public",  # a monitor's check: states only, nothing personal
    # M-Pesa (issue 4): Daraja's callbacks are public (a secret token in the path); the desk
    # is for those who keep or audit the books; any login may pay (for their own member).
    "mpesa.stk_callback": "public",
    "mpesa.c2b_validation": "public",
    "mpesa.c2b_confirmation": "public",
    "mpesa.status_result": "public",
    "mpesa.status_timeout": "public",
    # Issue 22: the host's addresses for a shared paybill (its token; the host's site only).
    "mpesa.shared_c2b_confirmation": "public",
    "mpesa.shared_c2b_validation": "public",
    "mpesa.index": {"chair", "treasurer", "auditor"},
    "mpesa.settings": {"chair", "treasurer"},
    "mpesa.register_urls": {"chair", "treasurer"},
    "mpesa.confirm": {"chair", "treasurer"},
    "mpesa.reject": {"chair", "treasurer"},
    "mpesa.pay": EVERYONE,
    "mpesa.pay_status": {"chair", "treasurer", "auditor", "member"},  # a member: own only
    # Issue 20: the numbers a member may send payment prompts to, on the member's page.
    "mpesa.allow_phone": {"chair", "treasurer", "secretary"},
    "mpesa.revoke_phone": {"chair", "treasurer", "secretary"},
    "mpesa_imports.sms": {"chair", "treasurer"},
    "mpesa_imports.statement": {"chair", "treasurer"},
    "mpesa_imports.preview": {"chair", "treasurer"},
    "mpesa_imports.confirm": {"chair", "treasurer"},
    "mpesa_imports.suspense": {"chair", "treasurer", "auditor"},
    "mpesa_imports.assign": {"chair", "treasurer"},
    "mpesa_imports.refund": {"chair", "treasurer"},
    "mpesa_imports.refund_sent": {"chair", "treasurer"},
    "mpesa_imports.undo": {"chair", "treasurer"},
    # Meetings and governance (issue 6): officials read meetings; the chair and secretary run
    # them; any login reads published minutes (a member gets 404 for unpublished ones).
    "meetings.index": OFFICIALS,
    "meetings.new": {"chair", "secretary"},
    "meetings.detail": OFFICIALS,
    "meetings.edit": {"chair", "secretary"},
    "meetings.delete": {"chair", "secretary"},
    "meetings.agenda_add": {"chair", "secretary"},
    "meetings.agenda_remove": {"chair", "secretary"},
    "meetings.agenda_move": {"chair", "secretary"},
    "meetings.attendance": {"chair", "secretary"},
    "meetings.attendance_mark": {"chair", "secretary"},
    "meetings.attendance_remove": {"chair", "secretary"},
    "meetings.guest_add": {"chair", "secretary"},
    "meetings.guest_remove": {"chair", "secretary"},
    "meetings.headcount": {"chair", "secretary"},
    "meetings.signin_sheet": OFFICIALS,
    "meetings.minutes_edit": {"chair", "secretary"},
    "meetings.minutes_circulate": {"chair", "secretary"},
    "meetings.minutes_redraft": {"chair", "secretary"},
    "meetings.minutes_publish": {"chair", "secretary"},
    "meetings.comment": {"chair", "treasurer", "secretary", "coordinator"},
    "meetings.addendum": {"chair", "secretary"},
    "meetings.minutes_pdf": EVERYONE,
    "meetings.minutes_list": EVERYONE,
    "meetings.minutes_read": EVERYONE,
    "meetings.resolution_new": {"chair", "secretary"},
    "meetings.resolution_for_rate": OFFICIALS,
    "meetings.action_add": {"chair", "secretary"},
    "meetings.action_status": {"chair", "secretary"},
    "meetings.election_new": {"chair", "secretary"},
    "meetings.quorum": {"chair", "secretary"},
    "meetings.officials": OFFICIALS,
    "meetings.official_new": {"chair", "secretary"},
    "meetings.official_end": {"chair", "secretary"},
    "meetings.officials_pdf": OFFICIALS,
    "meetings.notice_pdf": {"chair", "secretary"},
    "meetings.notice_filed": {"chair", "secretary"},
    "meetings.compliance": {"chair", "secretary", "auditor"},
    "meetings.record": {"chair", "secretary"},
    "meetings.constitution_new": {"chair", "secretary"},
    "meetings.constitution_file": {"chair", "secretary", "auditor"},
    "meetings.certificate_file": {"chair", "secretary", "auditor"},
    "meetings.registration_pack": {"chair", "secretary", "auditor"},
    "meetings.transparency": "public",
    "meetings.transparency_pdf": "public",
    "meetings.transparency_png": "public",
    "meetings.transparency_poster": "public",
    # Patrols (issue 5): officials read the roster; chair and coordinator run it.
    "patrols.index": OFFICIALS,
    "patrols.generate": {"chair", "coordinator"},
    "patrols.shift": OFFICIALS,
    "patrols.assign": {"chair", "coordinator"},
    "patrols.unassign": {"chair", "coordinator"},
    "patrols.roster_print": OFFICIALS,
    "patrols.roster_csv": OFFICIALS,
    "patrols.settings": {"chair", "coordinator"},
    "patrols.zone": {"chair", "coordinator"},
    "patrols.template_add": {"chair", "coordinator"},
    "patrols.template_retire": {"chair", "coordinator"},
    "patrols.patrollers": OFFICIALS,
    "patrols.enrol": {"chair", "coordinator"},
    "patrols.patroller": OFFICIALS,
    "patrols.patroller_edit": {"chair", "coordinator"},
    "patrols.swaps": {"chair", "coordinator"},
    "patrols.swap_decide": {"chair", "coordinator"},
    "patrols.attendance": {"chair", "coordinator"},
    # A patroller's own page and actions: any login; their own objects only (404 otherwise).
    "patrols.me": EVERYONE,
    "patrols.me_availability": EVERYONE,
    "patrols.me_away": EVERYONE,
    "patrols.me_away_remove": EVERYONE,
    "patrols.me_offer": EVERYONE,
    "patrols.me_take": EVERYONE,
    "patrols.me_cancel": EVERYONE,
    "patrols.me_calendar_new": EVERYONE,
    "patrols.calendar": "public",  # the secret in the address is the key
    "patrols.stipend_runs": {"chair", "treasurer", "coordinator"},
    "patrols.stipend_new": {"chair", "treasurer", "coordinator"},
    "patrols.stipend_run": {"chair", "treasurer", "coordinator"},
    "patrols.stipend_pdf": {"chair", "treasurer", "coordinator"},
    "patrols.stipend_approve": {"chair", "treasurer", "secretary"},
    "patrols.stipend_reject": {"chair", "treasurer", "secretary"},
    "patrols.incidents": {"chair", "coordinator", "secretary"},
    "patrols.incident": {"chair", "coordinator", "secretary"},
    "patrols.incidents_csv": {"chair", "coordinator", "secretary"},
    "patrols.incident_new": {"chair", "coordinator"},
    "patrols.incident_edit": {"chair", "coordinator"},
    "patrols.incident_counts": EVERYONE,  # counts only
    # Issue 22: the chair grants the host time-limited access; the host's signed token is
    # the way in (tests/hosting/test_access_grants.py).
    "access.index": {"chair"},
    "access.revoke": {"chair"},
    "access.enter": "public",
    # The host's own pages: not found on an association's address, whoever asks; on the
    # host's, for its administrators (tests/hosting).
    **{f"hosting.{name}": "public" for name in (
        "login", "logout", "dashboard", "new", "status", "open_association", "inbox",
        "inbox_reviewed", "reports")},
}

#: Object routes a member may use for their own objects only: another's gives 404.
OWN_ONLY = {"members.detail", "members.withdraw_consent", "receipts.detail", "receipts.pdf",
            "receipts.sms", "reports.statement"}
OWN_ONLY |= {"mpesa.pay_status"}  # M-Pesa (issue 4)

#: Endpoints that end or replace the session: log in again after calling them.
SESSION_CHANGING = {"auth.logout", "auth.login", "auth.password"}


@pytest.fixture
def walk(app, people, make_user, setup_association):
    """The demo-like people, a spare user to act on, and a consent on another member."""
    app.config["WTF_CSRF_ENABLED"] = False
    return app, walk_values(app, people, make_user, setup_association)


def walk_values(app, people, make_user, setup_association) -> dict:
    """Another member's objects (consent, receipt, waiver, STK request, patrol duty, meeting
    records), an expense and a spare user: a value for every argument of every route."""
    victim_id = make_user("spare", Role.TREASURER)
    with app.app_context():
        from association.members.models import Member

        other = db.session.get(Member, people.other_member_id)
        consent = record_consent(other, ConsentPurpose.SMS, ConsentChannel.PAPER,
                                 other.joined_on, "en", None)
        receipt = record_payment(other, 5_000, PaymentMethod.CASH, other.joined_on, None).receipt
        waiver = request_waiver(other, date(2025, 1, 1), None, 0, "Fire in the plot", None)
        expense = record_expense(account("patrol_equipment"), "Juja Road hardware", 120_000,
                                 PaymentMethod.CASH, date(2025, 2, 1), "Six torches", None, None)
        db.session.commit()
        beat("worker", utcnow().replace(microsecond=0), 0, worked=False)  # /healthz: 200
        values = {
            "member_id": people.other_member_id,
            "user_id": victim_id,
            "zone_id": setup_association.zone_id,
            "consent_id": consent.id,
            "number": receipt.number,
            "waiver_id": waiver.id,
            "expense_id": expense.id,
            "account_id": account("cash").id,
            "allowed_id": 999999,  # no such allowed phone: refused with a message
            "session_id": 999999,  # nobody's: ending it is "not found" for everyone
            "close_id": 999999,  # no such month close: 404 for those who may read the books
            "grant_id": 999999,  # no such access grant: refused with a message
            "short": "TEST",
            **_meeting_walk_ids(people),
            **desk_walk_values(),
            **patrol_walk_values(people.other_member_id, setup_association.zone_id),
        }
        # Both the callbacks and the calendar feed take a "token": each gets its own.
        mpesa = mpesa_walk_values(app, people.other_member_id)
        values["request_id"] = mpesa["request_id"]
        values["callback_token"] = mpesa["token"]
    return values


def _meeting_walk_ids(people) -> dict:
    """A held meeting with an agenda item, a guest, an action item, an official and a notice."""
    from association.meetings import governance
    from association.meetings.actions import add_action
    from association.meetings.attendance import add_guest
    from association.meetings.meetings import MeetingData, create_meeting
    from association.meetings.models import MeetingType
    from association.members.models import Member

    other = db.session.get(Member, people.other_member_id)
    meeting = create_meeting(MeetingData(
        type=MeetingType.GENERAL, title="Baraza", held_on=other.joined_on, venue="Camp",
        convener="Chair", agenda=["Security"]), None)
    guest = add_guest(meeting, "Insp. Wafula", "OCS", None)
    action = add_action(meeting, "Buy torches", "Treasurer", None)
    official = governance.appoint("chair", other, other.joined_on, None, elected_at=meeting)
    notice = governance.pending_notices()[0]
    db.session.commit()
    return {"meeting_id": meeting.id, "item_id": meeting.agenda[0].id, "guest_id": guest.id,
            "action_id": action.id, "official_id": official.id, "notice_id": notice.id,
            "version_id": 999999, "month": "2025-01"}


def _urls(app, values):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = rule.rule
        for name in rule.arguments:
            callback = name == "token" and rule.endpoint.startswith("mpesa.")
            value = str(values["callback_token" if callback else name])
            url = url.replace(f"<int:{name}>", value).replace(f"<{name}>", value)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def test_every_endpoint_is_in_the_expected_table(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()} - {"static"}
    assert endpoints == set(EXPECTED), "add new routes to EXPECTED with who may use them"


def test_every_view_declares_its_access(app):
    undeclared = [name for name, view in app.view_functions.items()
                  if name != "static" and not hasattr(view, "access")]
    assert undeclared == []


def _login(web: Web, role: str):
    if role != ANON:
        web.login(role)  # asserts that the role's user exists and is active


@pytest.mark.parametrize("role", (ANON, *ROLES))
def test_walk_every_route(walk, client, role):
    app, values = walk
    web = Web(client)
    _login(web, role)
    failures = []
    for endpoint, method, url in _urls(app, values):
        response = client.open(url, method=method, data={})
        status = response.status_code
        expected = EXPECTED[endpoint]
        location = response.headers.get("Location", "")
        if status >= 500:
            failures.append(f"{method} {url}: {status}")
        elif expected == "public":
            if status == 403:
                failures.append(f"{method} {url}: public route refused")
        elif role == ANON:
            if status not in (302, 303) or "/login" not in location:
                failures.append(f"{method} {url}: anonymous got {status} {location}")
        elif endpoint in OWN_ONLY and role == "member":
            if status != 404:  # another member's object: as if it did not exist
                failures.append(f"{method} {url}: member got {status} for another member")
        elif role in expected:
            if status == 403:
                failures.append(f"{method} {url}: {role} refused")
        elif endpoint in OWN_ONLY:
            if status not in (403, 404):
                failures.append(f"{method} {url}: {role} allowed ({status})")
        elif status != 403:
            failures.append(f"{method} {url}: {role} allowed ({status})")
        if endpoint in SESSION_CHANGING:
            _login(web, role)
    assert failures == []


def test_member_opens_own_record_but_not_anothers(web, people):
    web.login("member")
    own = web.get(f"/members/{people.own_member_id}")
    assert own.status_code == 200
    assert people.own_member_no.encode() in own.data
    assert web.get(f"/members/{people.other_member_id}").status_code == 404
    assert web.get("/members/999999").status_code == 404
    assert web.get("/members").status_code == 403
    me = web.get("/me")
    assert me.headers["Location"].endswith(f"/members/{people.own_member_id}")


def test_unknown_ids_are_404_for_officials(web, people):
    web.login("chair")
    for url in ("/members/999999", "/members/999999/edit", "/users/999999", "/zones/999999"):
        assert web.get(url).status_code == 404, url
    assert web.post("/members/999999/status", {"status": "left"}).status_code == 404
    missing_consent = f"/members/{people.other_member_id}/consents/999999/withdraw"
    assert web.post(missing_consent).status_code == 404


def test_member_cannot_withdraw_another_members_consent_via_own_path(app, web, people):
    """A consent id of another member under one's own member id is refused."""
    with app.app_context():
        from association.members.models import Member

        other = db.session.get(Member, people.other_member_id)
        consent = record_consent(other, ConsentPurpose.PATROL, ConsentChannel.PAPER,
                                 other.joined_on, "en", None)
        db.session.commit()
        consent_id = consent.id
    web.login("member")
    response = web.post(f"/members/{people.own_member_id}/consents/{consent_id}/withdraw")
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(MemberConsent, consent_id).withdrawn_on is None


def test_national_id_shown_only_to_chair_and_secretary(web, people):
    for role, shown in (("chair", True), ("secretary", True), ("treasurer", False),
                        ("coordinator", False), ("auditor", False)):
        web.login(role)
        page = web.get(f"/members/{people.other_member_id}").get_data(as_text=True)
        assert ("23456789" in page) is shown, role
        if not shown:
            assert "789" in page  # the masked form keeps the last digits
        web.logout()


def test_password_is_checked_on_every_login(web, people):
    response = web.login_with_password("chair", password="not-the-password")
    assert response.status_code == 200
    assert web.get("/members").status_code in (302, 303)
    assert PASSWORD  # the demo password logs in, as every other test shows
    assert re.search(r"do not match", web.login_with_password("nobody").get_data(as_text=True))


@pytest.mark.parametrize("username,shown,hidden", [
    ("treasurer", ["/members", "/ledger", "/mpesa", "/patrols/", "/meetings"],
     ["/users", "/audit", "/zones", "/association", "/me"]),
    ("coordinator", ["/members", "/expenses/new", "/patrols/", "/zones"],
     ["/ledger", "/mpesa", "/users", "/audit"]),
    ("member", ["/me", "/mpesa/pay", "/patrols/me", "/minutes"],
     ["/members", "/ledger", "/patrols/", "/meetings", "/users"]),
])
def test_menu_shows_each_role_what_it_may_open(web, people, username, shown, hidden):
    web.login(username)
    page = web.get("/account/password").get_data(as_text=True)
    menu = page[page.index("<nav"):page.index("</nav>")]
    links = set(re.findall(r'href="([^"]+)"', menu))
    assert set(shown) <= links and not set(hidden) & links
