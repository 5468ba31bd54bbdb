"""M-Pesa per association (issue 22): each association's own paybill, credentials and
callback token; a paybill two associations share, routed by account prefix at the host's
address; what no association can take parked in the host's inbox; receipts' links in the
association's own address."""

import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as
from association.extensions import db
from association.hosting.addresses import public_base_url
from association.hosting.models import HostedAssociation, HostInboxItem
from association.hosting.mpesa_cli import MpesaCredentials, set_mpesa
from association.hosting.secrets import SecretsUnreadable, unseal
from association.hosting.services import (
    HostingError,
    NewAssociation,
    catalogue_session,
    create_association,
)
from association.hosting.tenancy import catalogue_engine, use
from association.ledger.models import Payment, Receipt
from association.ledger.receipt_pdf import render_receipts_pdf
from association.ledger.receipts import verify_url
from association.members.models import Member
from association.members.services import register_member, save_zone
from association.mpesa import inbox
from association.mpesa.models import CallbackInbox, CallbackKind, MpesaTransaction
from association.mpesa.provider import ProviderError, get_provider
from association.mpesa.settings import mpesa_settings
from association.worker import run_steps
from devtools.daraja_sandbox import DarajaSandbox
from tests.conftest import count, make_profile, member_data
from tests.ledger.test_receipts import qr_codes
from tests.mpesa.daraja_helpers import TOKEN, c2b_confirmation

HOST = "http://host.example"  # the host's own address: no association's host name
SHARED_CONFIRM = f"/hooks/shared/c2b/confirmation/{TOKEN}"
SHARED_VALIDATE = f"/hooks/shared/c2b/validation/{TOKEN}"
COMMITTED = pytest.mark.committed(reason="makes associations: their own databases and "
                                         "catalogue rows, which a rollback does not undo")


def _credentials(shortcode, prefix=None, key="mlk-key", secret="mlk-secret",
                 passkey="mlk-passkey"):
    return MpesaCredentials(shortcode=shortcode, consumer_key=key, consumer_secret=secret,
                            passkey=passkey, account_prefix=prefix)


def _make(app, short, name, phone, **mpesa):
    tenant, _ = create_association(app, NewAssociation(
        short=short, name=name, admin_phone=phone, **mpesa))
    with use(tenant, app), acting_as("test"):
        make_profile(short_code=short, name=name)
        zone = save_zone("Mabatini", None)
        member = register_member(member_data(zone.id, first_name=f"{short} member"))
        db.session.commit()
        assert member.member_no == f"{short}-0001"
    return tenant


@pytest.fixture
def host_inbox(app):
    """The host's inbox, emptied after the test (the catalogue is not rolled back)."""
    yield
    with catalogue_session(app) as session:
        session.execute(sa.delete(HostInboxItem))
        session.commit()


@pytest.fixture
def own_paybills(app, host_inbox):
    """MLK and KBF, each with its own paybill and credentials."""
    mlk = _make(app, "MLK", "Mlango Kubwa", "0722000001")
    kbf = _make(app, "KBF", "Kiambiu Forum", "0722000002")
    tokens = {"MLK": set_mpesa(app, "MLK", _credentials("600100")),
              "KBF": set_mpesa(app, "KBF", _credentials("600200", key="kbf-key"))}
    return SimpleNamespace(mlk=mlk, kbf=kbf, tokens=tokens)


@pytest.fixture
def shared_paybill(app, host_inbox):
    """MLK and KBF on one paybill, told apart by their account prefixes."""
    mlk = _make(app, "MLK", "Mlango Kubwa", "0722000001", mpesa_shortcode="600300",
                account_prefix="MLK")
    kbf = _make(app, "KBF", "Kiambiu Forum", "0722000002", mpesa_shortcode="600300",
                account_prefix="KBF")
    return SimpleNamespace(mlk=mlk, kbf=kbf)


def post(client, url, payload=None, raw=None, **kwargs):
    data = raw if raw is not None else json.dumps(payload)
    response = client.post(url, data=data, content_type="application/json", **kwargs)
    body = response.get_json(silent=True)
    response.close()
    return response.status_code, body


def in_each(app, tenants, fn):
    """``fn()`` in each association, as {short: result}."""
    found = {}
    for tenant in tenants:
        with use(tenant, app):
            found[tenant.short] = fn()
    return found


def credited(app, tenant) -> list[str]:
    """The receipts credited in ``tenant``, after its worker's turn."""
    with use(tenant, app):
        run_steps()
        return db.session.scalars(
            sa.select(Member.member_no).join(Payment, Payment.member_id == Member.id)).all()


def host_items(app) -> list[HostInboxItem]:
    with catalogue_session(app) as session:
        return session.scalars(sa.select(HostInboxItem).order_by(HostInboxItem.id)).all()


# --- Each association its own paybill -------------------------------------------------


@COMMITTED
def test_a_confirmation_to_an_associations_address_credits_its_member_only(
        app, client, own_paybills, tmp_path):
    mlk, kbf, tokens = own_paybills.mlk, own_paybills.kbf, own_paybills.tokens
    body = c2b_confirmation(account="MLK-0001", shortcode="600100", receipt="TC57MLK001")
    status, answer = post(client, f"/a/mlk/hooks/c2b/confirmation/{tokens['MLK']}", body)
    assert (status, answer) == (200, {"ResultCode": 0, "ResultDesc": "Success"})
    assert credited(app, mlk) == ["MLK-0001"]
    assert credited(app, kbf) == []
    assert in_each(app, [kbf], lambda: count(CallbackInbox)) == {"KBF": 0}
    # The same body sent to KBF's address (its own token) is KBF's: not KBF's paybill,
    # so it is refused there, never credited to KBF's member 0001.
    post(client, f"/a/kbf/hooks/c2b/confirmation/{tokens['KBF']}",
         c2b_confirmation(account="KBF-0001", shortcode="600100", receipt="TC57KBF001"))
    assert credited(app, kbf) == []
    # The receipt's QR code and check link name MLK's address.
    with use(mlk, app):
        receipt = db.session.scalar(sa.select(Receipt))
        expected = f"http://127.0.0.1:5000/a/mlk/verify/{receipt.number}?c={receipt.check_code}"
        assert verify_url(receipt) == expected
        assert qr_codes(render_receipts_pdf([receipt.id]), tmp_path) == [expected]


@COMMITTED
def test_a_wrong_token_is_refused_and_nothing_is_stored(app, client, own_paybills):
    mlk, tokens = own_paybills.mlk, own_paybills.tokens
    body = c2b_confirmation(account="MLK-0001", shortcode="600100")
    for token in (tokens["KBF"], TOKEN, tokens["MLK"][:-1], "x"):
        assert post(client, f"/a/mlk/hooks/c2b/confirmation/{token}", body)[0] == 404
        assert post(client, f"/a/mlk/mpesa/c2b/validation/{token}", body)[0] == 404
    assert in_each(app, [mlk], lambda: (count(CallbackInbox), count(MpesaTransaction))) \
        == {"MLK": (0, 0)}
    # The association's own token is not the host's: its shared address refuses it.
    assert post(client, f"/hooks/shared/c2b/confirmation/{tokens['MLK']}", body,
                base_url=HOST)[0] == 404
    assert host_items(app) == []


# --- A paybill shared by account prefix ------------------------------------------------


@COMMITTED
def test_the_hosts_address_routes_a_shared_paybill_by_account_prefix(app, client,
                                                                     shared_paybill):
    mlk, kbf = shared_paybill.mlk, shared_paybill.kbf
    for receipt, account in (("TC57SHR001", "mlk0001"), ("TC57SHR002", "KBF-0001"),
                             ("TC57SHR003", "Kbf 1")):
        status, answer = post(client, SHARED_CONFIRM, c2b_confirmation(
            receipt=receipt, account=account, shortcode="600300"), base_url=HOST)
        assert (status, answer) == (200, {"ResultCode": 0, "ResultDesc": "Success"})
    assert credited(app, mlk) == ["MLK-0001"]
    assert credited(app, kbf) == ["KBF-0001", "KBF-0001"]
    assert in_each(app, [mlk, kbf], lambda: count(CallbackInbox)) == {"MLK": 1, "KBF": 2}
    # A validation is answered by the association the prefix names.
    status, answer = post(client, SHARED_VALIDATE, c2b_confirmation(
        account="KBF-0001", shortcode="600300", receipt="TC57SHR004"), base_url=HOST)
    assert status == 200 and answer["ResultCode"] == "0"
    assert in_each(app, [kbf], lambda: count(CallbackInbox)) == {"KBF": 3}
    # An account with neither prefix: parked at the host, never credited.
    status, answer = post(client, SHARED_CONFIRM, c2b_confirmation(
        account="HSE-12", shortcode="600300", receipt="TC57SHR005", amount="700.00"),
        base_url=HOST)
    assert (status, answer) == (200, {"ResultCode": 0, "ResultDesc": "Success"})
    status, answer = post(client, SHARED_VALIDATE, c2b_confirmation(
        account="HSE-12", shortcode="600300", receipt="TC57SHR006"), base_url=HOST)
    assert (status, answer) == (200, {"ResultCode": "C2B00012", "ResultDesc": "Rejected"})
    items = host_items(app)
    assert [(i.kind, i.shortcode, i.account, i.amount_cents) for i in items] == [
        ("c2b_confirmation", "600300", "HSE-12", 70_000),
        ("c2b_validation", "600300", "HSE-12", 50_000)]
    assert "prefix" in items[0].reason and "TC57SHR005" in items[0].body
    assert credited(app, mlk) == ["MLK-0001"] and len(credited(app, kbf)) == 2
    # Registering a shared paybill's addresses registers the host's, not an association's.
    with use(mlk, app):
        confirmation, validation = inbox.c2b_urls()
    assert confirmation == f"http://127.0.0.1:5000{SHARED_CONFIRM}"
    assert validation == f"http://127.0.0.1:5000{SHARED_VALIDATE}"


@COMMITTED
def test_the_shared_address_is_the_hosts_only_and_needs_its_token(app, client,
                                                                  shared_paybill):
    body = c2b_confirmation(account="MLK-0001", shortcode="600300")
    assert post(client, "/a/mlk" + SHARED_CONFIRM, body)[0] == 404
    assert post(client, SHARED_CONFIRM[:-1], body, base_url=HOST)[0] == 404
    status, answer = post(client, SHARED_CONFIRM, raw=b"{not json", base_url=HOST)
    assert (status, answer) == (200, {"ResultCode": 0, "ResultDesc": "Success"})
    assert [i.reason for i in host_items(app)] == ["the body is not a JSON object"]
    assert in_each(app, [shared_paybill.mlk], lambda: count(CallbackInbox)) == {"MLK": 0}


@COMMITTED
def test_an_unknown_shortcode_goes_to_the_hosts_inbox_and_is_credited_nowhere(
        app, client, own_paybills):
    status, answer = post(client, SHARED_CONFIRM, c2b_confirmation(
        account="MLK-0001", shortcode="999999", receipt="TC57UNK001"), base_url=HOST)
    assert (status, answer) == (200, {"ResultCode": 0, "ResultDesc": "Success"})
    status, answer = post(client, SHARED_VALIDATE, c2b_confirmation(
        account="MLK-0001", shortcode="999999"), base_url=HOST)
    assert answer == {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}
    assert [(i.shortcode, i.reason) for i in host_items(app)] == [
        ("999999", "no association has this shortcode")] * 2
    tenants = [own_paybills.mlk, own_paybills.kbf]
    assert credited(app, tenants[0]) == [] and credited(app, tenants[1]) == []
    assert in_each(app, tenants, lambda: count(CallbackInbox)) == {"MLK": 0, "KBF": 0}
    # The test association (the install's own paybill settings) got nothing either.
    with app.app_context():
        assert count(CallbackInbox) == 0 and count(Payment) == 0


# --- Credentials ------------------------------------------------------------------------


@COMMITTED
def test_an_stk_push_uses_the_associations_own_credentials_and_address(app, own_paybills):
    sandbox = DarajaSandbox("127.0.0.1", 0, delay=60, consumer_key="mlk-key",
                            consumer_secret="mlk-secret", passkey="mlk-passkey")
    sandbox.start_in_thread()
    try:
        app.config.update(MPESA_BASE_URL=sandbox.url)
        mlk = own_paybills.mlk
        with use(mlk, app):
            accepted = get_provider().stk_push(
                phone="254712345678", amount=50, account_reference="MLK-0001",
                description="Dues", callback_url=inbox.callback_url(CallbackKind.STK))
        prompt = sandbox.state.prompts[accepted.checkout_request_id]
        assert prompt["shortcode"] == "600100"
        token = own_paybills.tokens["MLK"]
        assert prompt["callback"] == f"http://127.0.0.1:5000/a/mlk/hooks/stk/callback/{token}"
        # KBF's key, and the install's, are not MLK's: the sandbox refuses them.
        for tenant in (own_paybills.kbf, None):
            with (use(tenant, app) if tenant else app.app_context()):
                with pytest.raises(ProviderError):
                    get_provider().stk_push(
                        phone="254712345678", amount=50, account_reference="X",
                        description="Dues", callback_url="http://127.0.0.1:5000/x")
    finally:
        sandbox.stop()


@COMMITTED
def test_register_urls_for_a_shared_paybill_registers_the_hosts_address(app, runner,
                                                                        shared_paybill):
    sandbox = DarajaSandbox("127.0.0.1", 0, delay=60, consumer_key="mlk-key",
                            consumer_secret="mlk-secret", passkey="mlk-passkey")
    sandbox.start_in_thread()
    try:
        app.config.update(MPESA_BASE_URL=sandbox.url)
        set_mpesa(app, "MLK", _credentials("600300", prefix="MLK"))
        result = runner.invoke(args=["mpesa", "register-urls", "--association", "MLK"])
        assert result.exit_code == 0, result.output
        assert sandbox.state.c2b_urls["600300"]["confirmation"] == \
            f"http://127.0.0.1:5000{SHARED_CONFIRM}"
        assert sandbox.state.c2b_urls["600300"]["validation"] == \
            f"http://127.0.0.1:5000{SHARED_VALIDATE}"
        assert TOKEN not in result.output  # the token is not printed
        # KBF has no credentials of its own: the install's, which the sandbox refuses.
        result = runner.invoke(args=["mpesa", "register-urls", "--association", "KBF"])
        assert result.exit_code != 0
    finally:
        sandbox.stop()


@COMMITTED
def test_credentials_are_not_readable_in_the_catalogue(app, own_paybills):
    token = own_paybills.tokens["MLK"]
    table = HostedAssociation.__table__
    with catalogue_engine(app).connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.short == "MLK")).one()
    for clear in ("mlk-key", "mlk-secret", "mlk-passkey", token):
        assert clear not in row.mpesa_credentials
    assert row.callback_token_hash == hashlib.sha256(token.encode()).hexdigest()
    with app.app_context():
        assert unseal(row.mpesa_credentials)["passkey"] == "mlk-passkey"
        # Key rotation: a new first key, the old one still decrypts.
        old = app.config["SECRET_KEY"]
        app.config["HOSTING_SECRETS_KEY"] = "a new key, " + "hosting-secrets:" + old
        assert unseal(row.mpesa_credentials)["consumer_secret"] == "mlk-secret"
        app.config["HOSTING_SECRETS_KEY"] = "another key altogether"
        with pytest.raises(SecretsUnreadable):
            unseal(row.mpesa_credentials)
    app.config["HOSTING_SECRETS_KEY"] = None
    with use(own_paybills.mlk, app):
        settings = mpesa_settings()
        assert (settings["MPESA_SHORTCODE"], settings["MPESA_PASSKEY"]) == ("600100",
                                                                           "mlk-passkey")
        # What it does not set is the install's (the sandbox's environment here).
        assert settings["MPESA_ENV"] == app.config["MPESA_ENV"]


@COMMITTED
def test_mpesa_set_command_prompts_for_secrets_and_refuses_bad_input(app, runner,
                                                                     shared_paybill):
    def row():
        with catalogue_session(app) as session:
            return session.scalar(sa.select(HostedAssociation).where(
                HostedAssociation.short == "MLK"))

    before = row()
    result = runner.invoke(args=["hosting", "mpesa-set", "MLK", "--shortcode", "600300",
                                 "--account-prefix", "MLK", "--consumer-key", "ck"],
                           input="the-secret\nthe-passkey\n")
    assert result.exit_code == 0, result.output
    assert "the-secret" not in result.output and "saved" in result.output
    after = row()
    assert after.mpesa_credentials and after.callback_token_hash
    with app.app_context():
        assert unseal(after.mpesa_credentials)["consumer_secret"] == "the-secret"
    for args, message in (
            (["--shortcode", "12"], "5 to 7 digits"),
            (["--shortcode", "600300", "--account-prefix", "KB"], "overlaps"),
            (["--shortcode", "600300"], "only when each has its own"),
            (["--shortcode", "600300", "--account-prefix", "ML K"], "1 to 10 letters")):
        result = runner.invoke(args=["hosting", "mpesa-set", "MLK", "--consumer-key", "ck",
                                     *args], input="s\np\n")
        assert result.exit_code != 0 and message in result.output, result.output
    assert row().mpesa_credentials == after.mpesa_credentials
    assert (row().mpesa_shortcode, row().account_prefix) == ("600300", "MLK")
    with pytest.raises(HostingError):
        set_mpesa(app, "NOPE", _credentials("600100"))
    assert before.mpesa_credentials != after.mpesa_credentials  # its own token, then credentials


# --- Addresses --------------------------------------------------------------------------


@COMMITTED
def test_an_associations_public_address_is_its_host_or_its_prefix(app, host_inbox):
    tenant, _ = create_association(app, NewAssociation(
        short="MTR", name="Mathare", admin_phone="0722000003", host="mathare.example.org"))
    plain, _ = create_association(app, NewAssociation(
        short="KRG", name="Korogocho", admin_phone="0722000004"))
    receipt = SimpleNamespace(number="MTR-2026-000001", check_code="1234abcd")
    with use(tenant, app):
        assert verify_url(receipt) == "http://mathare.example.org/verify/MTR-2026-000001?c=1234abcd"
    with use(plain, app):
        assert public_base_url() == "http://127.0.0.1:5000/a/krg"
        assert inbox.callback_url(CallbackKind.STK).startswith(
            "http://127.0.0.1:5000/a/krg/hooks/stk/callback/")


#: What the host's own pages (health, aggregates) read of the catalogue: no secrets.
HOST_PAGE_COLUMNS = ("id", "short", "slug", "name", "host", "status", "mpesa_shortcode",
                     "account_prefix", "created_at", "status_changed_at")


@COMMITTED
def test_a_role_given_what_the_host_pages_need_cannot_read_the_secrets(app, own_paybills):
    """PostgreSQL: column privileges keep a role off the encrypted column; SQLite has no
    roles: the catalogue's file itself holds no secret in clear text."""
    engine = catalogue_engine(app)
    if engine.dialect.name != "postgresql":
        path = engine.url.database
        stored = b"".join(Path(name).read_bytes() for name in (path, path + "-wal")
                          if os.path.exists(name))
        assert b"600100" in stored  # the file is read: the shortcode is there in clear
        for clear in ("mlk-secret", "mlk-passkey", own_paybills.tokens["MLK"]):
            assert clear.encode() not in stored
        return
    role = f"catalogue_reader_{os.getpid()}"
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")

    def as_role(sql: str):
        with engine.begin() as conn:
            conn.exec_driver_sql(f'SET LOCAL ROLE "{role}"')
            return conn.exec_driver_sql(sql).scalars().all()

    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}"')
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA hosting TO "{role}"')
        conn.exec_driver_sql(f'GRANT SELECT ({", ".join(HOST_PAGE_COLUMNS)}) ON '
                             f'hosting.hosted_association TO "{role}"')
    try:
        assert {"MLK", "KBF"} <= set(as_role("SELECT short FROM hosting.hosted_association"))
        for column in ("mpesa_credentials", "callback_token_hash", "*"):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                as_role(f"SELECT {column} FROM hosting.hosted_association")  # noqa: S608
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')


@COMMITTED
def test_credentials_the_key_cannot_read_turn_mpesa_off_not_a_500(app, shared_paybill):
    """HOSTING_SECRETS_KEY changed since the credentials were set: that association's M-Pesa
    is off (its pay page says it is not set up), never the install's credentials or token."""
    from association.mpesa.settings import mpesa_settings

    tenant = shared_paybill.mlk
    app.config["HOSTING_SECRETS_KEY"] = "another-key-altogether-0123456789abcdef"
    app.extensions.pop("mpesa_own_settings", None)
    with use(tenant, app):
        values = mpesa_settings()
    assert values["MPESA_CONSUMER_KEY"] is None and values["MPESA_CALLBACK_TOKEN"] is None
