"""Proof of isolation between the associations of one install (issue 22, item 6).

Two associations, A and B, each with its own demo data. Every route of the app is
requested as each of A's logins under A's prefix with the objects of B (ids that exist
only in B, in the address and in the form): nothing of B's shows, nothing of B's
changes. Sessions and device cookies do not carry from one association to the other;
numbers and audit chains are each association's own; a query run with no association
chosen fails instead of reaching one; what a process keeps in memory is kept per
association; a callback is processed in the association it was sent to.
"""

import re
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from flask_login.utils import _create_identifier
from itsdangerous import BadSignature

from association.audit.services import acting_as
from association.auth import limits
from association.auth.models import Role, User
from association.auth.services import create_user
from association.auth.sessions import TOKEN_KEY, open_session
from association.extensions import db
from association.hosting.routing import PREFIX_SLUG
from association.hosting.services import NewAssociation, create_association
from association.hosting.tenancy import NoAssociationChosen, tenancy, use
from association.ledger.models import PaymentMethod
from association.ledger.payments import record_payment
from association.meetings.models import Meeting
from association.members.models import Member
from association.members.services import register_member, save_zone
from devtools.demo import seed as demo
from tests.audit.tamper import tamper
from tests.conftest import CSRF_RE, PASSWORD, make_profile, member_data, no_association
from tests.meetings.conftest import pdf_text
from tests.security.conftest import build_url, counts, rules
from tests.test_access import walk_values

#: B's member whom nothing of A's may show: a name, phone and ID number no demo has.
B_FIRST, B_LAST, B_PHONE, B_ID = "Isoline", "Bakarimwenye", "0799000777", "31415926"
ROLES = ("chair", "treasurer", "secretary", "coordinator", "auditor", "member")
#: Left out of the walk: logging out would leave the rest of it to an anonymous visitor.
KEPT_OUT = {"auth.logout"}


@dataclass
class Pair:
    a: object
    b: object
    values: dict  # B's objects, a value for every argument of every route
    secrets: tuple  # texts of B's that no page of A's may show


def _demo(app, spec, members: int):
    """An association made as `flask seed-demo` makes it, filled with ``spec``'s demo."""
    tenant, _ = create_association(app, NewAssociation(
        short=spec.short, name=spec.name, admin_phone=None, slug=spec.slug,
        account_prefix=spec.short), books=False, actor="test")
    with use(tenant, app), acting_as("test"):
        demo.seed(members=members, spec=spec)
        db.session.commit()
    return tenant


def _objects_of(app, tenant) -> tuple[dict, tuple]:
    """In ``tenant``: a member of its own with a receipt, a waiver, an STK request, patrol
    duty and meeting records, an expense and a spare login (the access walk's objects)."""

    class Setup:
        pass

    setup, people = Setup(), Setup()
    with use(tenant, app), acting_as("test"):
        zone = save_zone("Isolation Lane", None)
        member = register_member(member_data(zone.id, first_name=B_FIRST, other_names=B_LAST,
                                             phone=B_PHONE, national_id=B_ID))
        db.session.commit()
        setup.zone_id, people.other_member_id = zone.id, member.id
        member_no = member.member_no

    def make_user(username, *roles):
        with use(tenant, app), acting_as("test"):
            user = create_user(username, username.title(), PASSWORD, set(roles),
                               must_change_password=False)
            db.session.commit()
            return user.id

    # The access walk's helpers open app contexts of their own: they choose B meanwhile.
    chosen = app.extensions["test_association"]
    app.extensions["test_association"] = tenant
    try:
        values = walk_values(app, people, make_user, setup)
    finally:
        app.extensions["test_association"] = chosen
    values["ical_token"] = values.pop("token")
    return values, (B_FIRST, B_LAST, B_PHONE[1:], B_ID, member_no, values["number"])


@pytest.fixture
def pair(app, monkeypatch):
    app.config.update(LOGIN_RATE_LIMIT="1000 per minute",
                      LOGIN_RATE_LIMIT_PER_ACCOUNT="1000 per minute")
    # No demo stipend run (last month's, as if closed): the access walk makes B's own.
    monkeypatch.setattr("devtools.demo.patrols.is_closed", lambda day: True)
    a = _demo(app, demo.DEMO_ASSOCIATIONS[0], 20)
    b = _demo(app, demo.DEMO_ASSOCIATIONS[1], 40)  # bigger: its ids go past A's
    monkeypatch.undo()
    values, secrets = _objects_of(app, b)
    return Pair(a, b, values, secrets)


def _session(client, tenant):
    """The test client's session under ``tenant``'s prefix (its own cookie)."""
    return client.session_transaction(
        "/", base_url=f"http://localhost/a/{tenant.slug}",
        environ_overrides={PREFIX_SLUG: tenant.slug})


def login(app, client, tenant, username: str) -> None:
    """Log in to ``tenant`` as ``username``, as its login view leaves the session."""
    with use(tenant, app), acting_as("test"):
        user = db.session.scalar(sa.select(User).where(User.username == username))
        session_id, language = user.get_id(), user.language
        token = open_session(user, address="127.0.0.1")
        db.session.commit()
    with app.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()
    with _session(client, tenant) as session:
        session.clear()
        session.update(_user_id=session_id, _fresh=True, _id=identifier, **{TOKEN_KEY: token})
        if language:
            session["lang"] = language


def csrf_token(client, prefix: str) -> str:
    body = client.get(prefix + "/login", follow_redirects=True).get_data(as_text=True)
    match = CSRF_RE.search(body)
    assert match, "no CSRF token on the logged-in page"
    return match.group(1) or match.group(2)


def in_each(app, tenant, work):
    with use(tenant, app):
        result = work()
        db.session.remove()
        return result


def _exists_in(app, tenant, model, object_id) -> bool:
    return in_each(app, tenant, lambda: db.session.get(model, object_id) is not None)


# --- Every route, as each of A's logins, with B's objects ---------------------------------


def _text(response, tmp_path) -> str:
    """What a response shows: a PDF's text read back, any other body as text."""
    data = response.get_data()
    if response.status_code == 200 and response.mimetype == "application/pdf":
        return pdf_text(data, tmp_path)
    return data.decode("utf-8", errors="replace")


@pytest.mark.committed(reason="two associations, each its own database (file or schema) "
                              "and a catalogue row, which a test transaction cannot hold")
def test_every_route_of_a_with_the_objects_of_b_shows_and_changes_nothing_of_b(pair, app,
                                                                              tmp_path):
    """Each of A's logins requests every route under A's prefix, B's ids and numbers in
    the address and in the form: no 500, nothing of B's in any page, PDF or text, and B's
    tables as they were."""
    a, b, values = pair.a, pair.b, pair.values
    prefix = f"/a/{a.slug}"
    # B's objects are B's only: A has no member, login or meeting of those ids.
    assert not _exists_in(app, a, Member, values["member_id"])
    assert not _exists_in(app, a, Meeting, values["meeting_id"])
    assert not _exists_in(app, a, User, values["user_id"])
    before_b = in_each(app, b, counts)
    form = {name: str(value) for name, value in values.items() if name.endswith("_id")}
    failures, tried, shown = [], set(), dict.fromkeys(ROLES, 0)
    for role in ROLES:
        client = app.test_client()
        login(app, client, a, role)
        token = csrf_token(client, prefix)
        for rule, method in rules(app):
            if rule.endpoint.startswith("hosting.") or rule.endpoint in KEPT_OUT:
                continue
            url = prefix + build_url(rule, values)
            if method == "GET":
                response = client.get(url)
            else:  # B's ids in the form too (a payment for B's member_id, ...)
                response = client.open(url, method=method, data={**form, "csrf_token": token})
            tried.add(rule.endpoint)
            body = _text(response, tmp_path)
            flat = re.sub(r"[\s-]", "", body)
            status = response.status_code
            shown[role] += status == 200
            if status >= 500 and not (rule.endpoint == "health.healthz" and status == 503):
                failures.append(f"{role} {method} {url}: {status}")  # 503: A's no worker
            for secret in pair.secrets:
                if status == 404 and secret in url:
                    continue  # "not found", naming what was asked: the asker's own words
                if secret in body or re.sub(r"[\s-]", "", secret) in flat:
                    failures.append(f"{role} {method} {url}: shows B's {secret!r}")
    assert failures == [], "\n".join(failures)
    assert in_each(app, b, counts) == before_b
    # Each stayed logged in to A: its own pages answered (the walk was not a visitor's).
    assert shown["chair"] > 60 and min(shown.values()) > 10, shown
    # The walk went everywhere: every route but the host's own and static files.
    every = {r.endpoint for r, _ in rules(app)
             if not r.endpoint.startswith("hosting.") and r.endpoint not in KEPT_OUT}
    assert every <= tried
    assert {"members.detail", "receipts.pdf", "meetings.minutes_read", "patrols.me_offer",
            "mpesa.pay_status"} <= tried
    # The check can fail: B's own chair, under B's prefix, sees what it looks for.
    client = app.test_client()
    login(app, client, b, "chair")
    body = client.get(f"/a/{b.slug}/members/{values['member_id']}").get_data(as_text=True)
    assert B_FIRST in body and B_LAST in body


# --- Sessions and device cookies stay with their association ------------------------------


def _small(app, short: str, slug: str):
    tenant, _ = create_association(app, NewAssociation(
        short=short, name=f"{short} Association", admin_phone=None, slug=slug), actor="test")
    with use(tenant, app), acting_as("test"):
        make_profile(name=f"{short} Association", short_code=short)
        create_user("chair", f"Chair of {short}", PASSWORD, {Role.CHAIR},
                    must_change_password=False)
        create_user("secretary", f"Secretary of {short}", PASSWORD, {Role.SECRETARY},
                    must_change_password=False)
        db.session.commit()
    return tenant


@pytest.fixture
def two(app):
    return _small(app, "AAA", "aaa"), _small(app, "BBB", "bbb")


@pytest.mark.committed(reason="two associations, each its own database")
def test_a_session_of_a_is_no_session_in_b(two, app):
    a, b = two
    client = app.test_client()
    login(app, client, a, "chair")
    assert client.get("/a/aaa/members").status_code == 200
    # The browser does not send A's cookie to B; B's pages ask for a login.
    response = client.get("/a/bbb/members")
    assert response.status_code in (302, 303)
    assert "/a/bbb/login" in response.headers["Location"]
    cookie = client.get_cookie("session_aaa", path="/a/aaa/")
    assert cookie is not None
    # A's cookie copied under B's name and path (the same user id, 1, exists in B) is not
    # B's session: its signature names A.
    client.set_cookie("session_bbb", cookie.value, path="/a/bbb/")
    response = client.get("/a/bbb/members")
    assert response.status_code in (302, 303)
    assert "/a/bbb/login" in response.headers["Location"]
    for slug, readable in (("aaa", True), ("bbb", False)):
        with app.test_request_context(base_url=f"http://localhost/a/{slug}",
                                      environ_overrides={PREFIX_SLUG: slug}):
            serializer = app.session_interface.get_signing_serializer(app)
            if readable:
                assert serializer.loads(cookie.value)["_user_id"]
            else:
                with pytest.raises(BadSignature):
                    serializer.loads(cookie.value)


def _device_cookie(client):
    return client.get_cookie(limits.DEVICE_COOKIE, path="/a/aaa/")


@pytest.mark.committed(reason="two associations, each its own database")
def test_the_device_cookie_is_the_associations_own(two, app):
    """A login's device cookie is scoped to its association's prefix and signed for it: the
    same login name in B (user 2 in both) is not a device B trusts."""
    a, b = two
    client = app.test_client()
    page = client.get("/a/aaa/login").get_data(as_text=True)
    match = CSRF_RE.search(page)
    response = client.post("/a/aaa/login", data={
        "csrf_token": match.group(1) or match.group(2), "login": "secretary",
        "password": PASSWORD})
    assert response.status_code in (302, 303)
    header = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith(limits.DEVICE_COOKIE + "="))
    assert "Path=/a/aaa/" in header
    value = _device_cookie(client).value
    user_id, version = in_each(app, a, lambda: db.session.execute(
        sa.select(User.id, User.session_version).where(User.username == "secretary")).one())
    assert in_each(app, b, lambda: db.session.execute(
        sa.select(User.id, User.session_version).where(User.username == "secretary")
    ).one()) == (user_id, version)
    found = {}
    for slug in ("aaa", "bbb"):
        with app.test_request_context(base_url=f"http://localhost/a/{slug}",
                                      environ_overrides={PREFIX_SLUG: slug},
                                      headers={"Cookie": f"{limits.DEVICE_COOKIE}={value}"}):
            found[slug] = limits._device_for(user_id, version)
    assert found["aaa"]
    assert found["bbb"] is None


# --- Numbers and audit chains are each association's own ---------------------------------


@pytest.mark.committed(reason="two associations, each its own database")
def test_member_and_receipt_numbers_and_audit_chains_are_per_association(two, app, runner):
    a, b = two
    made = {}
    for tenant in (a, b, a):
        with use(tenant, app), acting_as("test"):
            zone = save_zone(f"Zone {len(made)}", None)
            member = register_member(member_data(zone.id))
            receipt = record_payment(member, 5_000, PaymentMethod.CASH, date(2025, 3, 1),
                                     None).receipt
            db.session.commit()
            made.setdefault(tenant.short, []).append((member.seq, member.member_no,
                                                      receipt.number))
    # Each starts at 1, whatever the other did in between.
    (a_first, a_second), (b_first,) = made["AAA"], made["BBB"]
    assert a_first[0] == b_first[0] == 1 and a_second[0] == 2
    assert a_first[1].startswith("AAA") and b_first[1].startswith("BBB")
    assert re.search(r"0*1$", a_first[2]) and re.search(r"0*1$", b_first[2])
    assert re.search(r"0*2$", a_second[2])
    for short in ("AAA", "BBB"):
        result = runner.invoke(args=["audit", "verify", "--association", short])
        assert result.exit_code == 0, result.output
    # A change to A's trail is A's alone: B's chain still verifies, A's does not.
    with use(a, app):
        tamper("UPDATE audit_event SET actor = 'someone else' WHERE seq = 2")
    assert runner.invoke(args=["audit", "verify", "--association", "BBB"]).exit_code == 0
    assert runner.invoke(args=["audit", "verify", "--association", "AAA"]).exit_code != 0


# --- With no association chosen, nothing is reached ----------------------------------------


def test_with_no_association_chosen_every_way_to_the_data_fails(app):
    """No fallback to a default association: the ORM, the engine and literal SQL all
    raise."""
    with no_association(), app.app_context():
        with pytest.raises(NoAssociationChosen):
            db.session.scalar(sa.select(sa.func.count(Member.id)))
        db.session.rollback()
        with pytest.raises(NoAssociationChosen):
            db.engine  # noqa: B018
        with pytest.raises(NoAssociationChosen):
            db.session.execute(sa.text("SELECT count(*) FROM member"))
        db.session.rollback()
        with pytest.raises(NoAssociationChosen):
            db.session.get(User, 1)
        db.session.remove()


@pytest.mark.committed(reason="an association of its own, and connections outside the test's")
def test_a_connection_outside_an_associations_transaction_reaches_no_table(two, app):
    """PostgreSQL: the server's connections carry a search path naming no schema, and an
    association's ``SET LOCAL`` ends with its transaction. SQLite: the host's own database
    (the catalogue's) holds no association's table."""
    a, _b = two
    engine = tenancy(app).engine(a)
    with engine.begin() as conn:  # an association's transaction: its tables
        assert conn.execute(sa.text("SELECT count(*) FROM \"user\"")).scalar() == 2
    if engine.dialect.name == "postgresql":
        # The server's own engine: the pool the associations placed on it share.
        server = tenancy(app)._servers[tenancy(app).location(a)[0]]
        with server.connect() as conn:
            path = conn.exec_driver_sql("SHOW search_path").scalar()
            assert path == "no_association_chosen"
            with pytest.raises(sa.exc.ProgrammingError):
                conn.exec_driver_sql("SELECT count(*) FROM \"user\"")
    from association.hosting.tenancy import catalogue_engine

    with catalogue_engine(app).connect() as conn, pytest.raises(sa.exc.DBAPIError):
        conn.exec_driver_sql("SELECT count(*) FROM \"user\"")


@pytest.mark.committed(reason="two associations, each its own database")
def test_unqualified_names_in_an_associations_work_reach_only_its_tables(two, app):
    """Inside A's work every unqualified name is A's table, inside B's B's (B has one more
    login). (PostgreSQL: a name qualified with another association's schema would reach
    it, the same role owning both; the app writes none: see the README.)"""
    a, b = two
    with use(b, app), acting_as("test"):
        create_user("extra", "Extra", PASSWORD, {Role.AUDITOR}, must_change_password=False)
        db.session.commit()
    for tenant, logins in ((a, 2), (b, 3)):
        with use(tenant, app):
            assert db.session.execute(sa.text("SELECT count(*) FROM \"user\"")).scalar() == logins
            db.session.remove()


# --- What a process keeps in memory is kept per association -------------------------------


@pytest.mark.committed(reason="two associations, each its own database")
def test_the_member_index_of_one_association_is_not_anothers(two, app):
    """M-Pesa matching keeps each association's member index apart (on PostgreSQL the
    associations share an engine URL): A's account prefix is not B's, so a payment to
    "AAA-0001" on a shared paybill is not B's to claim as its own member's number."""
    from association.mpesa import matching

    a, b = two
    keys = {}
    for tenant in (a, b):
        with use(tenant, app), acting_as("test"):
            zone = save_zone("Mabatini", None)
            register_member(member_data(zone.id))
            db.session.commit()
            keys[tenant.short] = matching._cache_key()
    assert keys["AAA"] != keys["BBB"]
    with use(a, app):
        assert matching.current_index().prefixes == {"AAA"}
        assert matching.find_match("AAA-0001").member_id == 1
    with use(b, app):
        assert "AAA" not in matching._live_lookup().prefixes
        match = matching.find_match("AAA-0001")
        assert match is None or (match.member_id is None and not match.problem)
        assert matching.current_index().prefixes == {"BBB"}


@pytest.mark.committed(reason="two associations, each its own database")
def test_each_association_gets_its_daily_audit_checkpoint(two, app):
    """The worker remembers per association that the day's checkpoint is made: A's does not
    stand for B's (on PostgreSQL both share an engine URL)."""
    from association.audit import worker
    from association.audit.checkpoints import has_daily_checkpoint
    from association.core.time import today_in_nairobi

    worker._made.clear()  # another test's association of the same name and id
    for tenant in two:
        with use(tenant, app):
            worker.checkpoint_step()
            db.session.remove()
    for tenant in two:
        with use(tenant, app):
            assert has_daily_checkpoint(today_in_nairobi()), tenant.short
            db.session.remove()


@pytest.mark.committed(reason="two associations, each its own database")
def test_a_callback_to_bs_address_is_processed_in_b(two, app, client):
    """Daraja's confirmation sent to B's address is kept and credited in B (the test
    client runs the worker's steps in the association the request went to)."""
    from association.ledger.models import Payment
    from association.mpesa.models import MpesaTransaction, TransactionStatus
    from association.mpesa.settings import mpesa_settings
    from tests.mpesa.daraja_helpers import TOKEN, c2b_confirmation

    a, b = two
    with use(b, app), acting_as("test"):
        zone = save_zone("Mabatini", None)
        member = register_member(member_data(zone.id, phone="0712345678"))
        db.session.commit()
        member_id, number = member.id, member.member_no
        token = mpesa_settings()["MPESA_CALLBACK_TOKEN"]  # B's own
    assert number == "BBB-0001" and token != TOKEN
    refused = client.post(f"/a/{b.slug}/mpesa/c2b/confirmation/{TOKEN}",
                          json=c2b_confirmation(account=number))
    assert refused.status_code == 404  # the install's token is not B's
    response = client.post(f"/a/{b.slug}/mpesa/c2b/confirmation/{token}",
                           json=c2b_confirmation(account=number))
    assert response.status_code == 200
    with use(b, app):
        tx = db.session.scalar(sa.select(MpesaTransaction))
        assert tx.status == TransactionStatus.CREDITED and tx.member_id == member_id
        assert db.session.scalar(sa.select(Payment.member_id)) == member_id
        db.session.remove()
    for other in (a, None):
        context = use(other, app) if other is not None else app.app_context()
        with context:
            assert db.session.scalar(sa.select(sa.func.count(MpesaTransaction.id))) == 0
            db.session.remove()


@pytest.mark.committed(reason="callbacks of two associations stored by three threads at once")
def test_callbacks_arriving_together_are_each_kept_in_their_own_association(two, app,
                                                                           monkeypatch):
    """The inbox's group commit: a thread writing a batch of callback bodies writes them in
    its association's transaction, so it takes only its association's. A's first body is
    being written while B's and A's second wait: each lands where it was sent."""
    import threading
    import time

    from association.mpesa import inbox
    from association.mpesa.models import CallbackInbox, CallbackKind

    a, b = two
    release, first = threading.Event(), threading.Event()
    store_many = inbox._store_many

    def slow_first(bodies):
        if not first.is_set():
            first.set()
            assert release.wait(10)
        return store_many(bodies)

    monkeypatch.setattr(inbox, "_store_many", slow_first)
    errors = []

    def send(tenant, raw: bytes):
        try:
            with use(tenant, app), acting_as("test"):
                inbox.keep(CallbackKind.C2B_CONFIRMATION, raw, "127.0.0.1")
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=send, args=(a, b'{"a": 1}'))]
    threads[0].start()
    assert first.wait(10)
    threads += [threading.Thread(target=send, args=(b, b'{"b": 1}')),
                threading.Thread(target=send, args=(a, b'{"a": 2}'))]
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # both queued behind A's first (or B's written)
        waiting = sum(len(writer.waiting) for writer in
                      app.extensions.get("mpesa_inbox_writers", (0, {}))[1].values())
        if waiting + (not threads[1].is_alive()) == 2:
            break
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert errors == []
    for tenant, bodies in ((a, {b'{"a": 1}', b'{"a": 2}'}), (b, {b'{"b": 1}'})):
        with use(tenant, app):
            kept = {bytes(row.raw_body) for row in db.session.scalars(sa.select(CallbackInbox))}
            db.session.remove()
        assert kept == bodies, tenant.short
