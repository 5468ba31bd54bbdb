"""Login limits that hold: counters in the app's database, one limit per account, and
device cookies that keep an account's owner out of a lock-out aimed at them.

- The counters are a ``limits`` storage (``database://``, the default of
  RATELIMIT_STORAGE_URI) over the table ``rate_limit_counter``: every gunicorn worker and
  every server on the database shares them, without Redis (``redis://...`` still works
  when configured). Fixed windows, as Flask-Limiter's default strategy counts them.
- The per-account limit is keyed on the account the login names (``find_user``: a phone
  number however it is spelled, or the username); a login that names nobody is keyed on
  its normalised text (a phone number normalised), so respelling it makes no fresh key.
- OWASP's device cookies: a successful login gives the browser a signed cookie naming the
  account. A later login to that account carrying it is limited per device, and spared the
  per-address limit (carriers put many phones behind one address); everyone else shares the
  account's limit. An attacker guessing passwords locks themself out, not the owner. The
  cookie names the account's session version too: a password change or reset (which ends
  every session) makes every device cookie of the account worthless.
- Only failures count (:func:`failed`): a login that passes, or a password step that passes
  on to its code, adds nothing to any login limit. A hall full of members logging in behind
  one mobile network address (carrier-grade NAT) is never locked out by its own logins; the
  per-address limit (LOGIN_RATE_LIMIT, sized for a hall) stops a flood of wrong guesses,
  the per-account limit and the device cookies keep protecting each account.
- A login with a second factor is complete at the code step: the password step's
  per-account keys travel in the pending login and are cleared once the code passes.
"""

import contextlib
import hashlib
import secrets
import time
from collections.abc import Iterator

import sqlalchemy as sa
from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits.storage import Storage
from sqlalchemy.orm import Mapped, mapped_column

from association import transaction
from association.core.db import upsert
from association.core.phones import InvalidPhoneError, looks_like_phone, normalise_phone
from association.database import reading, writing
from association.extensions import db, limiter

#: The device cookie's name.
DEVICE_COOKIE = "device"
#: Keys longer than this (a login of 500 characters) are stored as their SHA-256.
KEY_MAX = 200
#: Expired counters are deleted by each process at most this often (seconds).
CLEANUP_EVERY = 300


class RateLimitCounter(db.Model):
    """One fixed window's count of hits on one rate-limit key."""

    __tablename__ = "rate_limit_counter"
    # Written at every login attempt and nobody's record: not audited.
    __audited__ = False

    key: Mapped[str] = mapped_column(sa.String(KEY_MAX), primary_key=True)
    count: Mapped[int]
    #: When the window ends, in seconds since the epoch (as ``limits`` counts time).
    expires_at: Mapped[float] = mapped_column(sa.Float, index=True)


def _stored_key(key: str) -> str:
    if len(key) <= KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _on_host() -> bool:
    """Whether no association is chosen (the host's own login page): its counters are then
    the catalogue's (issue 22), as an association's are in its own database."""
    from association.hosting.tenancy import current_or_none

    return current_or_none() is None


def _table() -> sa.Table:
    from association.hosting.models import HostRateLimitCounter

    return (HostRateLimitCounter if _on_host() else RateLimitCounter).__table__


def _cleanup_key() -> str:
    """Which database a clean-up is for: the catalogue's, or the association's."""
    from association.hosting.tenancy import cache_key

    return "catalogue" if _on_host() else cache_key()


def _engine() -> sa.Engine:
    from association.hosting.tenancy import catalogue_engine

    return catalogue_engine() if _on_host() else db.engine


@contextlib.contextmanager
def _read() -> Iterator[sa.Connection]:
    with reading(), _engine().connect() as conn:
        yield conn


@contextlib.contextmanager
def _own_transaction() -> Iterator[sa.Connection]:
    if not _on_host():
        with transaction.own_transaction() as conn:
            yield conn
        return
    with writing(), _engine().begin() as conn:
        yield conn


class DatabaseStorage(Storage):
    """``limits``' storage in the app's database (``database://``); used inside the app
    context of a request or command, whose engine it takes."""

    STORAGE_SCHEME = ["database"]
    #: When each database (an association's, or the catalogue's) was last cleaned, per process.
    _cleaned_at: dict = {}  # noqa: RUF012 - per process on purpose

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sa.exc.SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Count ``amount`` hits in the key's window, opening a new window when it ended:
        one upsert, atomic on SQLite (the write lock) and PostgreSQL (the row's)."""
        now = time.time()
        table = _table()
        with _own_transaction() as conn:
            insert = upsert(conn, table).values(key=_stored_key(key), count=amount,
                                                expires_at=now + expiry)
            ended = table.c.expires_at <= now
            statement = insert.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": sa.case((ended, insert.excluded.count),
                                     else_=table.c.count + insert.excluded.count),
                    "expires_at": sa.case((ended, insert.excluded.expires_at),
                                          else_=table.c.expires_at),
                },
            ).returning(table.c.count)
            count = conn.execute(statement).scalar_one()
            self._clean_up(conn, now)
        return count

    def give_back(self, key: str) -> None:
        """Take one hit back from the key's window while it lasts (a login that passed):
        never below zero, never into a new window."""
        table = _table()
        with _own_transaction() as conn:
            conn.execute(sa.update(table).where(
                table.c.key == _stored_key(key), table.c.count > 0,
                table.c.expires_at > time.time()).values(count=table.c.count - 1))

    def _clean_up(self, conn: sa.Connection, now: float) -> None:
        where = _cleanup_key()
        if now - DatabaseStorage._cleaned_at.get(where, 0.0) < CLEANUP_EVERY:
            return
        DatabaseStorage._cleaned_at[where] = now
        table = _table()
        conn.execute(table.delete().where(table.c.expires_at <= now))

    def _row(self, key: str):
        table = _table()
        with _read() as conn:
            return conn.execute(
                sa.select(table.c.count, table.c.expires_at)
                .where(table.c.key == _stored_key(key), table.c.expires_at > time.time())
            ).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.count if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row.expires_at if row else time.time()

    def check(self) -> bool:
        with _read() as conn:
            return conn.execute(sa.select(sa.literal(1))).scalar() == 1

    def reset(self) -> int | None:
        with _own_transaction() as conn:
            return conn.execute(_table().delete()).rowcount

    def clear(self, key: str) -> None:
        table = _table()
        with _own_transaction() as conn:
            conn.execute(table.delete().where(table.c.key == _stored_key(key)))


# --- Keys ---------------------------------------------------------------------------------


def normalised_login(login: str) -> str:
    """The text of a login as it is looked up: a phone number in E.164, else lower case."""
    login = (login or "").strip()
    if looks_like_phone(login):
        try:
            return normalise_phone(login)
        except InvalidPhoneError:
            pass
    return login.lower()


def _account() -> tuple[int, int] | None:
    """The (id, session version) of the account the posted login names (looked up once per
    request)."""
    if "login_account" not in g:
        from association.auth.services import find_user

        user = find_user(request.form.get("login") or "")
        g.login_account = (user.id, user.session_version) if user else None
    return g.login_account


def _serializer() -> URLSafeTimedSerializer:
    """Signed with a salt naming the site (the association's prefix or the host name): a
    device cookie of one association's is no device cookie in another's."""
    from association.hosting.routing import site_key

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"],
                                  salt=f"login-device/{site_key()}")


def _cookie_path() -> str:
    """The device cookie's path: the association's own (``/a/<slug>/``), so a browser
    sends it only there; ``/`` on an association's own host name."""
    return (request.script_root or "") + "/"


def _device_for(user_id: int, version: int) -> str | None:
    """The device id of this request's valid device cookie for ``user_id`` at session
    version ``version`` (a cookie given before a password change names an older one)."""
    value = request.cookies.get(DEVICE_COOKIE)
    if not value:
        return None
    max_age = current_app.config["LOGIN_DEVICE_COOKIE_DAYS"] * 86400
    try:
        payload = _serializer().loads(value, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("u") != user_id \
            or payload.get("v") != version:
        return None
    device = payload.get("d")
    return device if isinstance(device, str) and device else None


def trusted_device() -> str | None:
    """The device id when the login posted names an account this browser logged in to."""
    account = _account()
    return _device_for(*account) if account is not None else None


def from_trusted_device() -> bool:
    """Whether the per-address limit spares this login (see the module's docstring)."""
    return trusted_device() is not None


def passed() -> None:
    """This request's login (or its password step, or its code) passed: once its work is
    committed, give back the hit each of its limits counted. Every attempt is counted when
    it arrives, in one atomic step, so that many attempts at once cannot slip past a limit
    (counting only failures after the answer would let each request in flight through);
    only those that pass are given back, so successful logins do not use up the limits of
    a hall full of members behind one address."""
    counted = [(limit.key, limit.limit.get_expiry()) for limit in limiter.current_limits]

    def give_back() -> None:
        storage = limiter.storage
        for key, expiry in counted:
            if hasattr(storage, "give_back"):
                storage.give_back(key)
            elif storage.get(key) > 0:
                storage.incr(key, expiry, amount=-1)

    transaction.after_commit(give_back)


def account_key() -> str:
    """The per-account limit's key: the trusted device, else the account, else the text."""
    account = _account()
    if account is None:
        return "login:" + normalised_login(request.form.get("login") or "")
    device = _device_for(*account)
    return f"device:{device}" if device else f"account:{account[0]}"


def account_limit_keys() -> list[str]:
    """The storage keys of this request's per-account (or per-device) limits: the password
    step's, kept in a pending second-factor login to be cleared once its code passes."""
    return [limit.limit.key_for(*limit.request_args) for limit in limiter.current_limits
            if any(str(arg).startswith(("account:", "device:")) for arg in limit.request_args)]


def after_login(response, user, password_step_keys: list[str] = ()):
    """After a successful login of ``user``: its device cookie for the browser, and the
    attempts counted on the account (or this device) forgiven, once the login is committed:
    its owner has shown they know the password, and their own earlier typos and logins do
    not count towards an attacker's lock-out of them. A login completed at the code step
    names the password step's keys (``password_step_keys``): its own request's are not
    those."""
    keys = [*account_limit_keys(), *password_step_keys]

    def forgive() -> None:
        for key in keys:
            limiter.storage.clear(key)

    transaction.after_commit(forgive)
    return _remember_device(response, user)


def _remember_device(response, user):
    """Give the browser that just logged in as ``user`` its device cookie (the same device
    id when it had one), bound to the user's session version."""
    config = current_app.config
    version = user.session_version
    device = _device_for(user.id, version) or secrets.token_urlsafe(16)
    response.set_cookie(
        DEVICE_COOKIE, _serializer().dumps({"u": user.id, "d": device, "v": version}),
        max_age=config["LOGIN_DEVICE_COOKIE_DAYS"] * 86400, path=_cookie_path(),
        httponly=True, secure=config["SESSION_COOKIE_SECURE"], samesite="Lax",
    )
    return response
