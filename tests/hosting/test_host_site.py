"""The host's own site: its public list, its administrators' login, the dashboard, creating,
suspending and archiving associations, and the inbox (issue 22 items 3 and 4)."""

import pytest
import sqlalchemy as sa

from association.audit.models import AuditEvent
from association.auth.limits import RateLimitCounter
from association.extensions import db
from association.hosting.models import (
    AssociationStatus,
    HostAdmin,
    HostedAssociation,
    HostInboxItem,
    HostRateLimitCounter,
)
from association.hosting.services import NewAssociation, catalogue_session, create_association
from association.hosting.tenancy import Tenant, use
from tests.hosting.conftest import ADMIN_PASSWORD, HOST

WITH_ASSOCIATIONS = pytest.mark.committed(reason="creates an association: its own database "
                                                 "file or schema, and a catalogue row")


def _catalogue(app, model, *where):
    with catalogue_session(app) as session:
        return list(session.scalars(sa.select(model).where(*where)))


# --- The public list ------------------------------------------------------------------------


def test_host_home_lists_the_associations_and_the_administrators_login(host):
    response = host.get("/")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Test Association" in text and "(TEST)" in text
    assert 'href="/hosting/login"' in text


@pytest.mark.parametrize("path", ["/a/nosuch/", "/a/NOPE/members", "/members"])
def test_unknown_prefix_or_association_page_on_the_host_is_a_plain_404(host, path):
    response = host.get(path)
    assert response.status_code == 404
    assert "Test Association" not in response.get_data(as_text=True)


# --- Host administrators --------------------------------------------------------------------


def test_admin_create_command_makes_an_administrator_who_can_log_in(app, runner, host):
    result = runner.invoke(args=["hosting", "admin", "create", "Wangari",
                                 "--password", ADMIN_PASSWORD])
    assert result.exit_code == 0, result.output
    assert "wangari" in result.output
    listed = runner.invoke(args=["hosting", "admin", "list"])
    assert "wangari" in listed.output and "never" in listed.output
    assert host.login("wangari").status_code == 302
    assert host.get("/hosting/").status_code == 200


@pytest.mark.parametrize("args, message", [
    (["ab", "--password", ADMIN_PASSWORD], "3 to 35 small letters"),
    (["bad name", "--password", ADMIN_PASSWORD], "3 to 35 small letters"),
    (["wangari", "--password", "short"], "at least 12"),
])
def test_admin_create_refuses_bad_input_and_makes_nothing(app, runner, args, message):
    result = runner.invoke(args=["hosting", "admin", "create", *args])
    assert result.exit_code != 0 and message in result.output
    assert _catalogue(app, HostAdmin) == []


def test_admin_create_refuses_a_taken_username(app, runner, host_admin):
    result = runner.invoke(args=["hosting", "admin", "create", host_admin,
                                 "--password", "another-password-2"])
    assert result.exit_code != 0 and "already a host administrator" in result.output
    assert len(_catalogue(app, HostAdmin)) == 1


@pytest.mark.parametrize("username, password", [("hostadmin", "wrong-password-1"),
                                                ("nobody", ADMIN_PASSWORD), ("", "")])
def test_wrong_login_is_refused_and_signs_nobody_in(host, host_admin, username, password):
    response = host.login(username, password)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Wrong username or password." in text or "Enter your username." in text
    dashboard = host.get("/hosting/")
    assert dashboard.status_code == 302 and "/hosting/login" in dashboard.location


def test_login_without_csrf_token_is_refused(host, host_admin):
    response = host.client.post("/hosting/login", base_url=HOST,
                                data={"username": "hostadmin", "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert host.get("/hosting/").status_code == 302


def test_disabled_administrator_cannot_log_in_and_loses_their_session(app, signed_in):
    assert signed_in.get("/hosting/").status_code == 200
    with catalogue_session(app) as session:
        session.execute(sa.update(HostAdmin).values(active=False))
        session.commit()
    assert signed_in.get("/hosting/").status_code == 302
    assert signed_in.login().status_code == 200


def test_login_is_rate_limited_on_the_catalogues_counters(app, host, host_admin):
    app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    for _ in range(3):
        assert host.login(password="wrong-password-1").status_code == 200
    assert host.login().status_code == 429  # even the right password, until the window ends
    assert _catalogue(app, HostRateLimitCounter)  # the host's counters, in the catalogue
    with app.app_context():  # the association's own counters are untouched
        assert db.session.scalar(sa.select(sa.func.count(RateLimitCounter.key))) == 0


def test_logout_ends_the_host_session(signed_in):
    signed_in.token = None
    assert signed_in.post("/hosting/logout").status_code == 302
    assert signed_in.get("/hosting/").status_code == 302


# --- Who reaches what -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/hosting/", "/hosting/new", "/hosting/inbox"])
def test_host_pages_need_a_host_administrator(host, path):
    response = host.get(path)
    assert response.status_code == 302 and "/hosting/login" in response.location


def test_an_associations_user_is_nobody_on_the_host_pages(web, host, setup_association):
    web.login("chair")
    assert web.get("/").status_code == 200
    assert web.get("/hosting/").status_code == 404  # not on an association's address
    assert host.get("/hosting/").status_code == 302  # and nobody on the host's


def test_a_host_administrator_is_nobody_in_an_association(client, signed_in, setup_association):
    response = client.get("/members")  # the test association's address
    assert response.status_code == 302 and "/login" in response.location
    assert "/hosting" not in response.location


def test_posts_without_csrf_are_refused(app, signed_in):
    response = signed_in.client.post("/hosting/associations/TEST/status", base_url=HOST,
                                      data={"action": "suspend"})
    assert response.status_code == 400
    assert _catalogue(app, HostedAssociation)[0].status == AssociationStatus.ACTIVE


# --- The dashboard: aggregates, never personal data -------------------------------------------


def test_dashboard_shows_health_and_no_personal_data(app, signed_in, make_member):
    make_member(first_name="Zuberi", other_names="Mwakilishi", phone="0733999111",
                national_id="98765432")
    make_member(first_name="Nyokabi", other_names="Wairimu", phone="0733999222")
    pages = [signed_in.get(path) for path in ("/", "/hosting/", "/hosting/inbox",
                                              "/hosting/new")]
    assert all(page.status_code == 200 for page in pages)
    dashboard = pages[1].get_data(as_text=True)
    assert "Test Association" in dashboard
    assert "<td>2</td>" in dashboard  # its members, counted
    assert "in order" in dashboard  # its compliance checks, counted
    assert " MB" in dashboard  # its storage
    for page in pages:
        text = page.get_data(as_text=True)
        for secret in ("Zuberi", "Mwakilishi", "Nyokabi", "Wanjiru Kamau", "733999111",
                       "733 999 111", "98765432"):
            assert secret not in text


def test_host_pages_in_swahili_kept_through_the_login(host, host_admin):
    host.post("/language", {"language": "sw", "next": "/hosting/login"})
    assert "Wasimamizi wa mwenyeji" in host.get("/hosting/login").get_data(as_text=True)
    host.login()
    text = host.get("/hosting/").get_data(as_text=True)
    assert "Vyama na hali yake" in text
    assert "Associations and their health" not in text


# --- Creating, suspending, archiving -----------------------------------------------------------


@WITH_ASSOCIATIONS
def test_create_an_association_from_the_page(app, signed_in):
    signed_in.token = None
    response = signed_in.post("/hosting/new", {
        "short": "kbf", "name": "Kiambiu Bridge Forum", "admin_phone": "0722000001",
        "slug": "kiambiu", "mpesa_shortcode": "174379", "account_prefix": "KBF"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text
    assert "Kiambiu Bridge Forum is ready" in text and "/a/kiambiu/" in text
    assert "one-time password" in text
    rows = _catalogue(app, HostedAssociation, HostedAssociation.short == "KBF")
    assert len(rows) == 1 and rows[0].slug == "kiambiu" and rows[0].account_prefix == "KBF"
    with use(Tenant.of(rows[0]), app):
        actors = set(db.session.scalars(sa.select(AuditEvent.actor)))
    assert "host:hostadmin" in actors
    # The chair's page answers at its address.
    assert signed_in.client.get("/a/kiambiu/login").status_code == 200


@pytest.mark.parametrize("values, message", [
    ({"short": "K1", "name": "X", "admin_phone": "0722000001"}, "2 to 6 capital letters"),
    ({"short": "TEST", "name": "Again", "admin_phone": "0722000001"}, "already has the short"),
    ({"short": "KBF", "name": "X", "admin_phone": "12"}, "not a Kenyan phone number"),
    ({"short": "KBF", "name": "X", "admin_phone": "0722000001", "slug": "Bad Slug!"},
     "address name"),
    ({"short": "KBF", "name": "X", "admin_phone": "0722000001", "mpesa_shortcode": "12ab"},
     "5 to 7 digits"),
    ({"short": "", "name": "", "admin_phone": ""}, "Give the short name."),
])
def test_create_refuses_bad_values_and_makes_nothing(app, signed_in, values, message):
    signed_in.token = None
    response = signed_in.post("/hosting/new", values)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert [row.short for row in _catalogue(app, HostedAssociation)] == ["TEST"]


@WITH_ASSOCIATIONS
def test_suspend_reactivate_and_archive(app, signed_in):
    tenant, _password = create_association(app, NewAssociation(
        short="BBB", name="Bondeni Block", admin_phone="0722000002"))
    client = signed_in.client

    def act(action):
        signed_in.token = None
        return signed_in.post("/hosting/associations/BBB/status", {"action": action},
                              follow_redirects=True).get_data(as_text=True)

    def status():
        return _catalogue(app, HostedAssociation, HostedAssociation.short == "BBB")[0].status

    assert "BBB is suspended." in act("suspend")
    assert status() == AssociationStatus.SUSPENDED
    suspended = client.get("/a/bbb/login")
    assert suspended.status_code == 503 and "suspended" in suspended.get_data(as_text=True)
    assert client.get("/a/bbb/verify").status_code == 200  # its receipt check still answers
    assert "cannot be changed so" in act("suspend")  # already so: nothing changes
    assert "BBB is active again." in act("reactivate")
    assert status() == AssociationStatus.ACTIVE
    assert client.get("/a/bbb/login").status_code == 200
    assert "cannot be changed so" in act("reactivate")
    assert "BBB is archived." in act("archive")
    assert status() == AssociationStatus.ARCHIVED
    assert client.get("/a/bbb/login").status_code == 404
    assert "Bondeni Block" not in signed_in.get("/").get_data(as_text=True)
    with use(tenant, app):
        events = db.session.execute(sa.select(AuditEvent.action, AuditEvent.actor)
                                    .where(AuditEvent.action.like("hosting.%"))
                                    .order_by(AuditEvent.seq)).all()
    assert events == [("hosting.suspend", "host:hostadmin"),
                      ("hosting.reactivate", "host:hostadmin"),
                      ("hosting.archive", "host:hostadmin")]


@pytest.mark.parametrize("short, action, message", [
    ("NOPE", "suspend", "No association is called NOPE."),
    ("TEST", "explode", "Choose suspend, reactivate or archive."),
])
def test_status_change_refuses_bad_input(app, signed_in, short, action, message):
    signed_in.token = None
    response = signed_in.post(f"/hosting/associations/{short}/status", {"action": action},
                              follow_redirects=True)
    assert message in response.get_data(as_text=True)
    assert _catalogue(app, HostedAssociation)[0].status == AssociationStatus.ACTIVE


# --- The inbox -------------------------------------------------------------------------------


def _inbox_item(app, **values) -> int:
    with catalogue_session(app) as session:
        item = HostInboxItem(kind="c2b", shortcode="600999", account=values.pop(
            "account", "0712345678"), amount_cents=150_000, reason="unknown shortcode",
            body='{"MSISDN": "254712345678", "FirstName": "Zawadi"}', **values)
        session.add(item)
        session.commit()
        return item.id


def test_inbox_lists_uncredited_callbacks_with_phones_masked(app, signed_in):
    _inbox_item(app)
    text = signed_in.get("/hosting/inbox").get_data(as_text=True)
    assert "600999" in text and "1,500" in text and "unknown shortcode" in text
    assert "0712345678" not in text and "254712345678" not in text and "Zawadi" not in text
    assert "678" in text  # the account's last digits, to match it with a complaint


def test_inbox_masks_an_id_number_typed_as_the_account(app, signed_in):
    """A payer who types their ID number (8 digits) or a phone with spaces as the account:
    neither reaches the host's page whole."""
    _inbox_item(app, account="ID 23456789")
    _inbox_item(app, account="0712 345 679")
    text = signed_in.get("/hosting/inbox").get_data(as_text=True)
    assert "23456789" not in text and "789" in text
    assert "0712 345 679" not in text and "679" in text


def test_mark_reviewed(app, signed_in):
    item_id = _inbox_item(app)
    signed_in.token = None
    page = signed_in.post(f"/hosting/inbox/{item_id}/reviewed", follow_redirects=True)
    assert "Marked as reviewed." in page.get_data(as_text=True)
    item = _catalogue(app, HostInboxItem)[0]
    assert item.reviewed_at is not None and item.reviewed_by == "hostadmin"
    again = signed_in.post(f"/hosting/inbox/{item_id}/reviewed", follow_redirects=True)
    assert "already reviewed" in again.get_data(as_text=True)
    unknown = signed_in.post("/hosting/inbox/999999/reviewed", follow_redirects=True)
    assert "does not exist" in unknown.get_data(as_text=True)


def test_mark_reviewed_needs_csrf(app, signed_in):
    item_id = _inbox_item(app)
    response = signed_in.client.post(f"/hosting/inbox/{item_id}/reviewed", base_url=HOST)
    assert response.status_code == 400
    assert _catalogue(app, HostInboxItem)[0].reviewed_at is None


def test_every_host_post_refuses_a_missing_or_forged_csrf_token(app, signed_in):
    """The host's side of tests/security/test_routes.py's walk (there its pages are not
    found): every POST of the host's site, without its token, is 400 and changes nothing."""
    item_id = _inbox_item(app)
    tried = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("hosting.") or "POST" not in rule.methods:
            continue
        url = rule.rule.replace("<short>", "TEST").replace("<int:item_id>", str(item_id))
        for data in ({}, {"csrf_token": "forged"}):
            response = signed_in.client.post(url, data={**data, "action": "suspend"},
                                              base_url=HOST)
            assert response.status_code == 400, url
        tried.append(rule.endpoint)
    assert len(tried) >= 6
    assert _catalogue(app, HostedAssociation)[0].status == AssociationStatus.ACTIVE
    assert _catalogue(app, HostInboxItem)[0].reviewed_at is None
    assert signed_in.get("/hosting/").status_code == 200  # still signed in
