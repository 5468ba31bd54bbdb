"""Onboarding an association: its catalogue row, its own database, its chart of accounts,
its dues rates and its first chair. All of it or nothing: a failure removes what was made.
"""

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from association.core.phones import InvalidPhoneError, normalise_phone
from association.core.time import today_in_nairobi, utcnow
from association.errors import DomainError
from association.hosting import catalogue
from association.hosting.models import AssociationStatus, HostedAssociation
from association.hosting.tenancy import SLUG_RE, Tenant, catalogue_engine, tenancy, use

SHORT_RE = re.compile(r"^[A-Z]{2,6}$")
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
HOST_RE = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)*{_LABEL}$")
#: The first chair's login name in a new association.
FIRST_CHAIR = "chair"


class HostingError(DomainError):
    """What the host asked cannot be done; the message says why."""


@dataclass
class NewAssociation:
    short: str
    name: str
    #: The first chair's phone (they log in with it and set their password). None only
    #: for the demo, which makes its own logins.
    admin_phone: str | None
    admin_name: str = ""
    slug: str | None = None
    host: str | None = None
    #: Another server (PostgreSQL URL) to place it on; None for the host's own.
    database_url: str | None = None
    mpesa_shortcode: str | None = None
    account_prefix: str | None = None


def catalogue_session(app: Flask) -> Session:
    """A session of its own on the catalogue (committed by the caller)."""
    return Session(bind=catalogue_engine(app), expire_on_commit=False)


def _check(data: NewAssociation, session: Session) -> dict:
    short = (data.short or "").strip().upper()
    name = " ".join((data.name or "").split())
    slug = (data.slug or short.lower()).strip().lower()
    host = _hosts(data.host, session)
    if not SHORT_RE.fullmatch(short):
        raise HostingError(_l("The short name must be 2 to 6 capital letters, like MLK."))
    if not name or len(name) > 200:
        raise HostingError(_l("Give the association's name (at most 200 characters)."))
    if not SLUG_RE.fullmatch(slug):
        raise HostingError(_l("The address name must be 2 to 40 small letters, digits or "
                              "hyphens, starting with a letter."))
    table = HostedAssociation
    taken = lambda column, value: value is not None and session.scalar(  # noqa: E731
        sa.select(table.id).where(column == value)) is not None
    if taken(table.short, short):
        raise HostingError(_l("Another association already has the short name %(value)s.",
                              value=short))
    if taken(table.slug, slug):
        raise HostingError(_l("Another association already has the address %(value)s.",
                              value=slug))
    phone = None
    if data.admin_phone is not None:
        try:
            phone = normalise_phone(data.admin_phone)
        except InvalidPhoneError:
            raise HostingError(_l("%(phone)s is not a Kenyan phone number.",
                                  phone=data.admin_phone)) from None
    shortcode = (data.mpesa_shortcode or "").strip() or None
    if shortcode is not None and not re.fullmatch(r"\d{5,7}", shortcode):
        raise HostingError(_l("An M-Pesa paybill or till number is 5 to 7 digits."))
    prefix = (data.account_prefix or "").strip().upper() or None
    if prefix is not None and not re.fullmatch(r"[A-Z0-9]{1,10}", prefix):
        raise HostingError(_l("An account prefix is 1 to 10 letters or digits."))
    return {"short": short, "name": name, "slug": slug, "host": host, "phone": phone,
            "shortcode": shortcode, "prefix": prefix}


def _hosts(text: str | None, session: Session, *, but: int | None = None) -> str | None:
    """Host names, checked and free (``but`` an association's own)."""
    names = (text or "").lower().replace(",", " ").split()
    for bad in (name for name in names if not HOST_RE.fullmatch(name)):
        raise HostingError(_l("%(host)s is not a host name.", host=bad))
    query = sa.select(HostedAssociation.host).where(HostedAssociation.host.is_not(None))
    if but is not None:
        query = query.where(HostedAssociation.id != but)
    used = {name for hosts in session.scalars(query) for name in hosts.split()}
    for clash in (name for name in names if name in used):
        raise HostingError(_l("Another association already has the host name %(value)s.",
                              value=clash))
    return " ".join(names) or None


def set_hosts(app: Flask, tenant: Tenant, hosts: str) -> None:
    """Serve ``tenant`` on ``hosts`` (space-separated), or only under the path prefix."""
    with catalogue_session(app) as session:
        value = _hosts(hosts, session, but=tenant.id)
        session.execute(sa.update(HostedAssociation).where(HostedAssociation.id == tenant.id)
                        .values(host=value))
        session.commit()
    catalogue.forget(app)


def _shortcode_clash(session: Session, shortcode: str | None, prefix: str | None,
                     but: int | None = None) -> None:
    """Two associations share a paybill only with distinct account-number prefixes (``but``:
    an association's own row, when it changes its paybill)."""
    if shortcode is None:
        return
    query = (sa.select(HostedAssociation.short, HostedAssociation.account_prefix)
             .where(HostedAssociation.mpesa_shortcode == shortcode))
    if but is not None:
        query = query.where(HostedAssociation.id != but)
    others = session.execute(query).all()
    if not others:
        return
    if prefix is None or any(other_prefix is None for _short, other_prefix in others):
        raise HostingError(_l("The paybill %(number)s is already used by %(short)s: two "
                              "associations may share a paybill only when each has its own "
                              "account-number prefix.", number=shortcode, short=others[0][0]))
    for short, other_prefix in others:
        if other_prefix.startswith(prefix) or prefix.startswith(other_prefix):
            raise HostingError(_l("The account prefix %(prefix)s overlaps %(other)s, which "
                                  "%(short)s uses on the same paybill.", prefix=prefix,
                                  other=other_prefix, short=short))


#: The usual schedule (the Mlango Kubwa example): residents KES 50 a month; landlords by
#: number of rental premises, 300 to 1,500. The chair changes it from the dues page.
DEFAULT_RATES = (("resident", 5_000, 0, None), ("landlord", 30_000, 1, 2),
                 ("landlord", 60_000, 3, 5), ("landlord", 100_000, 6, 10),
                 ("landlord", 150_000, 11, None), ("business", 20_000, 0, None),
                 ("other", 5_000, 0, None))


def _first_books(tenant: Tenant) -> None:
    """A new association's chart of accounts and dues rates."""
    from association.ledger.accounts import ensure_chart
    from association.ledger.dues import RateInput, add_rate_schedule
    from association.members.models import Category

    ensure_chart()
    add_rate_schedule(today_in_nairobi(), [
        RateInput(Category(category), cents, low, high)
        for category, cents, low, high in DEFAULT_RATES],
        f"Default rates set when {tenant.short} was created", None)


def _first_chair(phone: str, name: str) -> str:
    """The first chair's login, with a one-time password they change at their first login."""
    from association.auth.models import Role
    from association.auth.services import create_user

    password = secrets.token_urlsafe(9)
    create_user(FIRST_CHAIR, name or "Chair", password, {Role.CHAIR}, phone=phone,
                must_change_password=True)
    return password


def create_association(app: Flask, data: NewAssociation, *, books: bool = True,
                       actor: str = "host:create") -> tuple[Tenant, str | None]:
    """Make the association ``data`` describes, migrated and ready for its first chair;
    returns it and the chair's one-time password (None without a chair).

    Raises:
        HostingError: a bad or taken short name, address, host, phone or paybill.
    """
    from association.audit.services import acting_as
    from association.extensions import db
    from association.hosting.migrating import upgrade_association
    from association.hosting.secrets import seal, token_hash

    # Its own M-Pesa callback token from the start: another association's (or the
    # install's) never opens its callback addresses.
    token = secrets.token_urlsafe(32)
    with catalogue_session(app) as session:
        values = _check(data, session)
        _shortcode_clash(session, values["shortcode"], values["prefix"])
        row = HostedAssociation(
            short=values["short"], slug=values["slug"], name=values["name"],
            host=values["host"], status=AssociationStatus.ACTIVE,
            database_url=data.database_url, mpesa_shortcode=values["shortcode"],
            account_prefix=values["prefix"], created_at=utcnow(),
            callback_token_hash=token_hash(token))
        with app.app_context():  # the key is the app's setting
            row.mpesa_credentials = seal({"callback_token": token})
        session.add(row)
        session.commit()
        tenant = Tenant.of(row)
    catalogue.forget(app)
    password = None
    try:
        upgrade_association(app, tenant)
        from association.hosting.grants import apply_grants

        apply_grants(app, tenants=[tenant])
        with use(tenant, app), acting_as(actor):
            if books:
                _first_books(tenant)
            if values["phone"] is not None:
                password = _first_chair(values["phone"], data.admin_name)
            db.session.commit()
    except BaseException:
        remove_association(app, tenant)
        raise
    return tenant, password


def drop_storage(url: str, schema: str | None) -> None:
    """Drop a database of an association's: its SQLite file, or its PostgreSQL schema (never
    ``public``, an adopted install's)."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", "-writers"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    elif schema is not None and schema != "public":
        engine = sa.create_engine(url)
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            engine.dispose()


def remove_association(app: Flask, tenant: Tenant) -> None:
    """Delete ``tenant``'s database (its file, or its schema) and its catalogue row."""
    url, schema = tenancy(app).location(tenant)
    tenancy(app).forget(tenant)
    drop_storage(url, schema)
    with catalogue_session(app) as session:
        session.execute(sa.delete(HostedAssociation).where(HostedAssociation.id == tenant.id))
        session.commit()
    catalogue.forget(app)
