"""Sessions held on the server: a row per login, named by a random token in the session
cookie (only its SHA-256 is stored). Logging out ends the row, so a copied cookie replayed
afterwards is refused; a session also ends when idle too long (30 minutes for officials by
default) and at its absolute lifetime; its owner sees and ends their sessions on
/account/sessions. Every change to a row is audited (the token and address redacted), but
"last seen", which is no one's change and would fill the trail. The worker deletes the rows
of sessions over for :data:`KEEP_ENDED`, one audit event naming how many."""

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request, session
from flask_babel import lazy_gettext as _l
from flask_login import login_user
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from association import transaction
from association.audit.services import acting_as, log_event, write_events
from association.auth.models import Role, User
from association.core.db import intpk
from association.core.time import utcnow
from association.errors import DomainError
from association.extensions import db

#: The Flask session's key holding the session's token.
TOKEN_KEY = "_sid"  # noqa: S105 - a key name, not a secret
#: "Last seen" is written at most this often.
TOUCH_EVERY = timedelta(minutes=1)
#: How long the row of a session that is over is kept (its owner's and an auditor's
#: question "who was logged in, from where, last month?"), then the worker deletes it.
KEEP_ENDED = timedelta(days=90)
#: The worker looks for such rows at most this often (per process).
SWEEP_EVERY = timedelta(hours=1)
#: The actor of an expired session's end: no one asked for it (the loader found it so).
SYSTEM_ACTOR = (None, "system:sessions")

#: Coarse device descriptions from the User-Agent: the first system and browser found.
SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
           ("Windows", "Windows"), ("Mac OS X", "Mac"), ("CrOS", "ChromeOS"),
           ("Linux", "Linux"))
BROWSERS = (("Opera Mini", "Opera Mini"), ("OPR/", "Opera"), ("Edg/", "Edge"),
            ("SamsungBrowser", "Samsung Internet"), ("Firefox/", "Firefox"),
            ("Chrome/", "Chrome"), ("Safari/", "Safari"))


class SessionNotFoundError(DomainError):
    """No active session of the user's has that id."""


class UserSession(db.Model):
    """One login's session, until logout, timeout, or its owner or a password change ends it."""

    __tablename__ = "user_session"
    __audit_redact__ = ("token_hash", "address")

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    #: e.g. "Android, Chrome" (empty when the browser did not say).
    device: Mapped[str] = mapped_column(String(40), default="")
    #: The address it logged in from: shown to its owner only.
    address: Mapped[str | None] = mapped_column(String(45))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def describe_device(user_agent: str | None) -> str:
    """A coarse description of the browser, e.g. "Android, Chrome"."""
    user_agent = user_agent or ""
    found = [next((name for mark, name in table if mark in user_agent), None)
             for table in (SYSTEMS, BROWSERS)]
    return ", ".join(name for name in found if name)


def open_session(user: User, device: str = "", address: str | None = None) -> str:
    """Record a new session of ``user``; returns its token (for the session cookie)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(UserSession(user_id=user.id, token_hash=_hash(token), created_at=now,
                               last_seen_at=now, device=device[:40], address=address))
    db.session.flush()
    return token


def log_in(user: User) -> None:
    """Log ``user`` in with a fresh session (no fixation), keeping the language chosen; the
    login is complete here (after the code step when there is one): its time is stamped."""
    chosen = session.get("lang")
    session.clear()
    user.last_login_at = utcnow()  # flushed with the new row, by the actor the caller named
    login_user(user)
    session[TOKEN_KEY] = open_session(user, describe_device(request.user_agent.string),
                                      request.remote_addr)
    if user.language or chosen:
        session["lang"] = user.language or chosen


def renew(user: User) -> None:
    """Give this session a new row after a password change ended every row, keeping the rest
    of the session (its CSRF token: the user's other tabs still post)."""
    login_user(user)
    session[TOKEN_KEY] = open_session(user, describe_device(request.user_agent.string),
                                      request.remote_addr)


def _idle_limit(user: User) -> timedelta:
    config = current_app.config
    official = bool(user.roles - {Role.MEMBER})
    minutes = config["SESSION_IDLE_MINUTES_OFFICIALS" if official
                     else "SESSION_IDLE_MINUTES_MEMBERS"]
    return timedelta(minutes=minutes)


def _live(user: User, row: UserSession, now: datetime) -> bool:
    return (row.ended_at is None and now - row.last_seen_at <= _idle_limit(user)
            and now - row.created_at <= timedelta(hours=current_app.config["SESSION_MAX_HOURS"]))


def _touch(row_id: int, now: datetime) -> None:
    """Write "last seen" in a transaction of its own, after the request's (a GET writes
    nothing in its own), outside the audit trail (it is no one's change)."""
    table = UserSession.__table__
    with transaction.own_transaction() as conn:
        conn.execute(table.update().where(table.c.id == row_id).values(last_seen_at=now))


def _end_expired(row_id: int, now: datetime) -> None:
    """Mark an idle or too old session ended, as :func:`_touch` writes "last seen" (a GET
    writes nothing in its own transaction), with its audit event: a row that ends is in the
    trail however it ends. Only once, when two requests found it expired together."""
    table = UserSession.__table__
    with transaction.own_transaction() as conn:
        ended = conn.execute(table.update().where(table.c.id == row_id,
                                                  table.c.ended_at.is_(None))
                             .values(ended_at=now)).rowcount
        if ended:
            write_events(conn, [("update", UserSession.__tablename__, str(row_id),
                                 {"ended_at": None}, {"ended_at": now.isoformat()},
                                 *SYSTEM_ACTOR)])


def holds(user: User) -> bool:
    """Whether this request's session cookie names a live session of ``user`` (called by
    the user loader); "last seen" is moved on at most once a minute, and a session found
    idle or too old is marked ended, both once the request's work is committed."""
    token = session.get(TOKEN_KEY)
    if not isinstance(token, str) or not token:
        return False
    row = db.session.scalar(sa.select(UserSession).where(
        UserSession.token_hash == _hash(token), UserSession.user_id == user.id))
    if row is None or row.ended_at is not None:
        return False
    now = utcnow()
    write = None
    if not _live(user, row, now):
        write = _end_expired
    elif now - row.last_seen_at >= TOUCH_EVERY:
        write = _touch
    if write is not None and has_request_context():
        row_id = row.id
        transaction.after_commit(lambda: write(row_id, now))
    if write is _end_expired:
        return False
    g.user_session_id = row.id
    return True


def current_session_id() -> int | None:
    """The id of this request's session row (once the user is loaded)."""
    return g.get("user_session_id")


def active_sessions(user: User) -> list[UserSession]:
    """The user's live sessions, the most recently seen first."""
    rows = db.session.scalars(
        sa.select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    ).all()
    now = utcnow()
    return [row for row in rows if _live(user, row, now)]


def end_current() -> None:
    """End this request's session (at logout)."""
    token = session.get(TOKEN_KEY)
    if not isinstance(token, str) or not token:
        return
    row = db.session.scalar(sa.select(UserSession).where(
        UserSession.token_hash == _hash(token), UserSession.ended_at.is_(None)))
    if row is not None:
        row.ended_at = utcnow()
        db.session.flush()


def end_session(user: User, session_id: int) -> None:
    """End one of ``user``'s active sessions.

    Raises:
        SessionNotFoundError: no active session of theirs has that id.
    """
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != user.id or row.ended_at is not None:
        raise SessionNotFoundError(_l("That session is not one of yours, or it has ended."))
    row.ended_at = utcnow()
    db.session.flush()


def end_sessions(user: User, keep: int | None = None) -> int:
    """End every session of ``user`` (but ``keep``'s): a password change, a deactivation,
    or "log out my other devices". Returns how many were ended."""
    rows = db.session.scalars(sa.select(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None),
        UserSession.id != (keep or 0))).all()
    now = utcnow()
    for row in rows:
        row.ended_at = now
    db.session.flush()
    return len(rows)


def end_every_session(user: User) -> None:
    """End all of ``user``'s sessions, wherever they are: a password change, a deactivation,
    a second factor turned on or reset. The session id in the cookie changes too (the
    version), so even a session opened before the rows existed ends."""
    user.session_version += 1
    end_sessions(user)


def delete_over(before: datetime) -> int:
    """Delete the rows of sessions over before ``before``: ended then, or never marked ended
    (never visited again) and past their absolute lifetime then. One statement, and one
    audit event naming how many (not one per row: the trail already holds each row's
    opening and end).

    Returns:
        How many rows were deleted.
    """
    table = UserSession.__table__
    lifetime = timedelta(hours=current_app.config["SESSION_MAX_HOURS"])
    count = db.session.execute(table.delete().where(sa.or_(
        table.c.ended_at < before,
        sa.and_(table.c.ended_at.is_(None), table.c.created_at < before - lifetime),
    ))).rowcount
    if count:
        log_event("delete", UserSession.__tablename__, None,
                  {"rows": count, "over_before": before.isoformat()})
    db.session.flush()
    return count


_swept_at: datetime | None = None  # per process


def worker_step() -> int:
    """The worker's step: at most once every :data:`SWEEP_EVERY`, delete the rows of sessions
    over for more than :data:`KEEP_ENDED`, and commit; returns how many."""
    global _swept_at
    now = utcnow()
    if _swept_at is not None and now - _swept_at < SWEEP_EVERY:
        return 0
    _swept_at = now
    with acting_as("worker:sessions"):
        count = delete_over(now - KEEP_ENDED)
        db.session.commit()
    return count
