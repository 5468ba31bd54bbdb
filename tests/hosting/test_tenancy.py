"""One install, many associations (issue 22): each association found by its address, its
data and its logins its own, and nothing reached where no association is chosen."""

import re

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as
from association.auth.models import Role, User
from association.auth.services import create_user
from association.extensions import db
from association.hosting import catalogue
from association.hosting.models import AssociationStatus, HostedAssociation
from association.hosting.services import (
    HostingError,
    NewAssociation,
    catalogue_session,
    create_association,
)
from association.hosting.tenancy import NoAssociationChosen, current, use
from association.members.models import Member
from tests.conftest import CSRF_RE, PASSWORD, make_profile, no_association


def _association(app, short, name, **extra):
    """A new association, set up (its profile) as its chair would."""
    tenant, password = create_association(app, NewAssociation(
        short=short, name=name, admin_phone=extra.pop("admin_phone", None), **extra))
    with use(tenant, app), acting_as("test"):
        make_profile(name=name, short_code=short)
        db.session.commit()
    return tenant, password


def _set_status(app, tenant, status):
    with catalogue_session(app) as session:
        session.execute(sa.update(HostedAssociation).where(HostedAssociation.id == tenant.id)
                        .values(status=status))
        session.commit()
    catalogue.forget(app)


def _login(client, prefix: str, login: str, password: str = PASSWORD):
    page = client.get(f"{prefix}/login")
    token = CSRF_RE.search(page.get_data(as_text=True))
    return client.post(f"{prefix}/login", data={
        "csrf_token": token.group(1) or token.group(2), "login": login, "password": password})


def _user(app, tenant, username, roles=frozenset({Role.TREASURER})):
    with use(tenant, app):
        create_user(username, username.title(), PASSWORD, set(roles), must_change_password=False)
        db.session.commit()


def test_each_association_is_found_by_its_prefix_and_keeps_its_own_logins(app):
    north, _ = _association(app, "NTH", "Northside Tenants")
    south, _ = _association(app, "STH", "Southside Landlords")
    _user(app, north, "wanjiku")
    _user(app, south, "otieno")
    client = app.test_client()
    # Each address reaches its own association, named on its pages.
    assert "Northside" not in client.get("/a/sth/login").get_data(as_text=True)
    # A login of one association is no login in the other.
    assert _login(client, "/a/sth", "wanjiku").status_code == 200  # refused: the form again
    assert _login(client, "/a/nth", "wanjiku").status_code in (302, 303)
    assert client.get("/a/nth/ledger").status_code == 200
    moved = client.get("/a/sth/ledger")
    assert moved.status_code == 302 and "/a/sth/login" in moved.headers["Location"]
    # Unknown prefixes and the host's own address name no association.
    for path in ("/a/nowhere/login", "/a/NTH/login", "/a/x/", "/login", "/members/"):
        response = client.get(path, base_url="http://host.example")
        assert response.status_code == 404, path
        body = response.get_data(as_text=True)
        assert "Northside" not in body and "Southside" not in body and "Test Association" \
            not in body, path


def test_a_session_cookie_copied_to_another_association_is_no_session(app):
    north, _ = _association(app, "NTH", "Northside Tenants")
    south, _ = _association(app, "STH", "Southside Landlords")
    _user(app, north, "wanjiku")
    _user(app, south, "wanjiku", roles={Role.SECRETARY})  # the same login name, another person
    client = app.test_client()
    assert _login(client, "/a/nth", "wanjiku").status_code in (302, 303)
    cookie = client.get_cookie("session_nth", path="/a/nth/")
    assert cookie is not None
    other = app.test_client()
    other.set_cookie("session_sth", cookie.value, path="/a/sth/")
    response = other.get("/a/sth/")
    assert "Wanjiku" not in response.get_data(as_text=True)
    assert other.get("/a/sth/ledger").status_code == 302


def test_the_menu_offers_the_other_associations_this_browser_logged_in_to(app):
    north, _ = _association(app, "NTH", "Northside Tenants")
    south, _ = _association(app, "STH", "Southside Landlords")
    _user(app, north, "akinyi")
    _user(app, south, "akinyi")
    client = app.test_client()
    assert _login(client, "/a/nth", "akinyi").status_code in (302, 303)
    page = client.get("/a/nth/").get_data(as_text=True)
    assert "Your other associations" not in page  # none yet
    assert _login(client, "/a/sth", "akinyi").status_code in (302, 303)
    page = client.get("/a/sth/").get_data(as_text=True)
    assert re.search(r'<a href="/a/nth/">Northside Tenants</a>', page)
    page = client.get("/a/nth/").get_data(as_text=True)
    assert re.search(r'<a href="/a/sth/">Southside Landlords</a>', page)
    # A forged list offers nothing.
    client.set_cookie("associations", "WyJ0ZXN0Il0.forged", path="/")
    assert "Your other associations" not in client.get("/a/nth/").get_data(as_text=True)


def test_a_suspended_association_says_so_and_still_checks_receipts(app):
    north, _ = _association(app, "NTH", "Northside Tenants")
    _set_status(app, north, AssociationStatus.SUSPENDED)
    client = app.test_client()
    page = client.get("/a/nth/login")
    assert page.status_code == 503 and "Northside Tenants is suspended" in page.get_data(
        as_text=True)
    assert client.get("/a/nth/verify").status_code == 200
    _set_status(app, north, AssociationStatus.ARCHIVED)
    assert client.get("/a/nth/verify").status_code == 404


def test_nothing_of_an_association_is_reached_where_none_is_chosen(app):
    with no_association(), app.app_context():
        with pytest.raises(NoAssociationChosen):
            db.session.scalar(sa.select(sa.func.count(Member.id)))
        with pytest.raises(NoAssociationChosen):
            db.session.execute(sa.text("SELECT count(*) FROM member"))
        with pytest.raises(NoAssociationChosen):
            db.engine.connect()
        with pytest.raises(NoAssociationChosen):
            current()
        # The catalogue is the host's: it answers.
        assert catalogue.by_short("TEST") is not None


def test_each_association_numbers_its_own_members_and_keeps_its_own_trail(app, runner):
    from devtools.demo.seed import DEMO_ASSOCIATIONS, seed

    north, _ = create_association(app, NewAssociation("NTH", "Northside Tenants", None))
    south, _ = create_association(app, NewAssociation("STH", "Southside Landlords", None))
    for tenant in (north, south):
        with use(tenant, app), acting_as("test"):
            seed(members=40, spec=DEMO_ASSOCIATIONS[1])
            db.session.commit()
    for tenant in (north, south):
        with use(tenant, app):
            numbers = sorted(db.session.scalars(sa.select(Member.member_no)))
            assert numbers[0].endswith("0001") and len(numbers) == 40
    # Commands: several associations, so each names one; `audit verify` per association.
    refused = runner.invoke(args=["audit", "verify"])
    assert refused.exit_code != 0 and "--association" in refused.output
    for short in ("NTH", "STH"):
        result = runner.invoke(args=["audit", "verify", "--association", short])
        assert result.exit_code == 0 and "events checked" in result.output, result.output
    unknown = runner.invoke(args=["audit", "verify", "--association", "ZZZ"])
    assert unknown.exit_code != 0 and "No association is called ZZZ" in unknown.output


def test_hosting_create_makes_a_ready_association_and_refuses_bad_input(app, runner):
    result = runner.invoke(args=["hosting", "create", "--short", "MTH", "--name",
                                 "Mathare North Tenants", "--admin-phone", "0722 555 010"])
    assert result.exit_code == 0, result.output
    password = re.search(r"one-time password (\S+);", result.output).group(1)
    with app.app_context():
        tenant = catalogue.by_short("MTH")
    assert tenant.slug == "mth" and tenant.status == AssociationStatus.ACTIVE
    with use(tenant, app):
        chair = db.session.scalar(sa.select(User).where(User.username == "chair"))
        assert chair.phone == "+254722555010" and chair.must_change_password
        assert Role.CHAIR in chair.roles
    client = app.test_client()
    response = _login(client, "/a/mth", "0722555010", password)
    assert response.status_code in (302, 303)
    assert client.get("/a/mth/").headers["Location"].endswith("/a/mth/account/password")
    for args, message in (
            (["--short", "MTH", "--name", "Again", "--admin-phone", "0722555011"],
             "already has the short name MTH"),
            (["--short", "m1", "--name", "Bad", "--admin-phone", "0722555011"],
             "2 to 6 capital letters"),
            (["--short", "QQ", "--name", "Bad phone", "--admin-phone", "12"],
             "not a Kenyan phone number"),
            (["--short", "QQ", "--name", "Bad host", "--admin-phone", "0722555011",
              "--host", "not a host!"], "is not a host name")):
        refused = runner.invoke(args=["hosting", "create", *args])
        assert refused.exit_code != 0 and message in refused.output, refused.output
    with app.app_context():
        assert catalogue.by_short("QQ") is None
    with pytest.raises(HostingError):
        create_association(app, NewAssociation(short="QQ", name="Shared", admin_phone=None,
                                               mpesa_shortcode="174379"))  # fine alone...
        create_association(app, NewAssociation(short="QR", name="Shares it", admin_phone=None,
                                               mpesa_shortcode="174379"))  # ...not without prefixes


def test_db_upgrade_upgrades_the_catalogue_and_every_association(app, runner):
    _association(app, "NTH", "Northside Tenants")
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "catalogue: at head" in result.output
    assert re.search(r"\[\d/2\] NTH: already at head", result.output)
    assert "2 association(s) at head" in result.output


def test_db_upgrade_adopts_the_single_association_of_an_older_install(tmp_path):
    """An install from before issue 22 kept its one association in instance/association.sqlite3:
    `db upgrade` registers it (named from its profile), its data staying where it is."""
    from association import create_app
    from association.hosting.migrating import upgrade_all
    from config import TestingConfig

    old = tmp_path / "association.sqlite3"
    before = create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}", "INSTANCE_DIR": tmp_path})
    upgrade_all(before, report=lambda line: None)  # an empty catalogue: nothing to adopt
    with catalogue_session(before) as session:
        session.add(HostedAssociation(short="OLD", slug="old", name="Old", uploads_dir=".",
                                      status=AssociationStatus.ACTIVE,
                                      database_url=f"sqlite:///{old}"))
        session.commit()
    catalogue.forget(before)
    upgrade_all(before, report=lambda line: None)  # the old database, migrated
    with app_context_of(before, "OLD"), acting_as("test"):
        make_profile(name="Kosovo Residents Association", short_code="KRA")
        db.session.commit()
    # The new install: its catalogue elsewhere, the old database beside it.
    after = create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'hosting.sqlite3'}",
        "INSTANCE_DIR": tmp_path})
    lines = []
    assert upgrade_all(after, report=lines.append) == 1
    assert any("adopted this install's association KRA" in line for line in lines)
    with after.app_context():
        adopted = catalogue.by_short("KRA")
    assert adopted.database_url == f"sqlite:///{old}" and adopted.uploads_dir == "."
    with use(adopted, after):
        assert db.session.scalar(sa.text("SELECT name FROM association_profile")) \
            == "Kosovo Residents Association"


def app_context_of(app, short):
    with app.app_context():
        tenant = catalogue.by_short(short)
    return use(tenant, app)


def test_each_new_association_has_its_own_callback_token(app):
    """Another association's token (or the install's) never opens an association's
    callback addresses: each is made with a token of its own."""
    from association.mpesa.settings import mpesa_settings, token_ok

    north, _ = _association(app, "NTH", "Northside Tenants")
    south, _ = _association(app, "STH", "Southside Landlords")
    with use(north, app):
        north_token = mpesa_settings()["MPESA_CALLBACK_TOKEN"]
    with use(south, app):
        south_token = mpesa_settings()["MPESA_CALLBACK_TOKEN"]
    assert north_token and south_token and north_token != south_token
    assert north_token != app.config["MPESA_CALLBACK_TOKEN"]
    with app.app_context():
        assert token_ok(north_token, north) and not token_ok(south_token, north)
        assert not token_ok(app.config["MPESA_CALLBACK_TOKEN"], north)


def test_a_suspended_association_still_takes_its_mpesa_callbacks(app):
    north, _ = _association(app, "NTH", "Northside Tenants")
    _set_status(app, north, AssociationStatus.SUSPENDED)
    from association.mpesa.settings import mpesa_settings

    with use(north, app):
        token = mpesa_settings()["MPESA_CALLBACK_TOKEN"]
    client = app.test_client()
    response = client.post(f"/a/nth/hooks/c2b/confirmation/{token}", json={
        "TransactionType": "Pay Bill", "TransID": "SUS0000001", "TransTime": "20261207101010",
        "TransAmount": "50.00", "BusinessShortCode": "174379", "BillRefNumber": "NTH-0001",
        "MSISDN": "254712345678", "FirstName": "Test"})
    assert response.status_code == 200 and response.get_json()["ResultCode"] == 0
