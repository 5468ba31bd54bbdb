"""A second factor at login: a time-based code from an authenticator app (TOTP, RFC 6238),
with single-use recovery codes; the chair chooses the roles that must use one.

SMS codes are not offered: the app cannot send SMS yet (issue 23).

The TOTP secret is kept encrypted (Fernet, with SECOND_FACTOR_KEY from the environment),
recovery codes only as their SHA-256: they are 80 random bits, so a slow hash adds
nothing, and a code is found by its hash in one query. Neither is ever in the audit
trail (``__audit_redact__``) or a log.

A code is taken by a conditional update (the recovery code still unused, the step later than
the last taken), so two requests at once cannot both take it. Wrong codes in a row are
counted on the factor in a transaction of their own, each in the audit trail: at
:data:`LOCK_AFTER` the app's code is refused until a recovery code is used or the chair
resets the factor. Setting one up takes the password, and only the session that started the
set-up sees its secret and may confirm it.
"""

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app, g
from flask_babel import lazy_gettext as _l

from association import transaction
from association.audit.services import current_actor, log_event, write_events
from association.auth import sessions
from association.auth.models import RecoveryCode, Role, SecondFactor, SecondFactorRole, User
from association.core.pdf import qr_modules
from association.core.time import utcnow
from association.errors import DomainError
from association.extensions import db

RECOVERY_CODES = 10
#: No 0/o, 1/l/i: read off paper and typed on a phone without doubt. 16 of 31 = 79 bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 16
#: A code from the step before or after now is accepted too (pyotp's valid_window=1):
#: phones' clocks drift, and typing takes time.
VALID_WINDOW = 1
#: Roles the chair may require a second factor for: officials (a member holds neither
#: money nor others' personal data).
POLICY_ROLES = (Role.CHAIR, Role.TREASURER, Role.SECRETARY, Role.COORDINATOR, Role.AUDITOR)
#: Where a user whose enrolment is due may still go.
ENROLMENT_EXEMPT = frozenset({
    "static", "auth.logout", "auth.language", "auth.password", "auth.second_factor_page",
    "auth.second_factor_start", "auth.second_factor_confirm",
})
PENDING_KEY = "second_factor_pending"
#: The session's key naming the set-up it started (only that session sees and confirms it).
ENROLLING_KEY = "second_factor_enrolling"
#: Wrong codes in a row after which the app's code is refused (a recovery code still works).
LOCK_AFTER = 10

WRONG_CODE = _l("That code is not right. Check that your phone's clock is right and type the "
                "code your app shows now, or use a recovery code.")
USED_CODE = _l("That code was already used. Wait for your app to show the next one.")
#: Changing one's own second factor takes the app's code: a recovery code does not do.
WRONG_APP_CODE = _l("That code is not right. Type the 6-digit code your authenticator app "
                    "shows now (a recovery code does not do here).")
LOCKED = _l("Codes from your authenticator app are refused after %(n)d wrong codes in a row. "
            "Log in with one of your recovery codes, or ask the chair to reset your second "
            "factor.", n=LOCK_AFTER)
USED_RECOVERY_CODE = _l("That recovery code was already used. Each one works once: use "
                        "another.")


class SecondFactorError(DomainError):
    """A wrong, reused or expired code, or a second factor rule broken."""


# --- The secret at rest ---------------------------------------------------------------


def _fernet_key(text: str) -> bytes:
    """A Fernet key as given, or one derived from any other text (a passphrase)."""
    try:
        if len(base64.urlsafe_b64decode(text.encode())) == 32:
            return text.encode()
    except ValueError:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest())


def _cipher() -> MultiFernet:
    config = current_app.config
    keys = [k.strip() for k in (config.get("SECOND_FACTOR_KEY") or "").split(",") if k.strip()]
    if not keys:  # derived, so that the key differs from SECRET_KEY itself
        keys = ["second-factor:" + config["SECRET_KEY"]]
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def _encrypt(secret: str) -> str:
    return _cipher().encrypt(secret.encode()).decode()


def _decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecondFactorError(_l(
            "This authenticator can no longer be read (the key changed). Ask the chair to "
            "reset your second factor.")) from None


# --- The chair's policy ---------------------------------------------------------------


def required_roles() -> set[Role]:
    """The roles whose holders must use a second factor (read once a request)."""
    if "second_factor_roles" not in g:
        g.second_factor_roles = set(db.session.scalars(sa.select(SecondFactorRole.role)))
    return g.second_factor_roles


def set_required_roles(roles: set[Role]) -> None:
    """Choose the roles that must use a second factor.

    Raises:
        SecondFactorError: a role that is not an official's.
    """
    if not roles <= set(POLICY_ROLES):
        raise SecondFactorError(_l("A second factor can be required only of officials."))
    rows = db.session.scalars(sa.select(SecondFactorRole)).all()
    for row in rows:
        if row.role not in roles:
            db.session.delete(row)
    for role in sorted(roles - {row.role for row in rows}):
        db.session.add(SecondFactorRole(role=role))
    db.session.flush()
    g.pop("second_factor_roles", None)


def _factor(user: User) -> SecondFactor | None:
    return db.session.scalar(sa.select(SecondFactor).where(SecondFactor.user_id == user.id))


def is_on(user: User) -> bool:
    """Whether the user has a confirmed authenticator: their login asks for a code."""
    factor = _factor(user)
    return factor is not None and factor.confirmed_at is not None


def required_for(user: User) -> bool:
    return bool(user.roles & required_roles())


def states(users: list[User]) -> dict[int, tuple[bool, bool]]:
    """For the users list, each user's (second factor on, required for a role of theirs), in
    one query whatever the number of users."""
    on = set(db.session.scalars(sa.select(SecondFactor.user_id).where(
        SecondFactor.confirmed_at.is_not(None))))
    required = required_roles()
    return {user.id: (user.id in on, bool(user.roles & required)) for user in users}


def enrolment_due(user: User) -> bool:
    """Whether the user must set up an authenticator before anything else (asked at every
    request: a member, never required, costs no query)."""
    if not user.roles - {Role.MEMBER}:
        return False
    return required_for(user) and not is_on(user)


# --- Enrolment ---------------------------------------------------------------------------


def start_enrolment(session, user: User, password: str) -> None:
    """Make a new secret for the user to add to their app (replacing an unconfirmed one),
    once they typed their password: a session left open, or stolen, does not enrol another
    phone. Only this session (``session``, the Flask session) sees the secret and confirms it.

    Raises:
        LoginError: a wrong password.
        SecondFactorError: the user already has one on (the chair resets it first).
    """
    from association.auth.services import check_password

    factor = _factor(user)
    if factor is not None and factor.confirmed_at is not None:
        raise SecondFactorError(_l("Your second factor is already on."))
    check_password(user, password)
    secret = _encrypt(pyotp.random_base32())
    if factor is None:
        factor = SecondFactor(user_id=user.id, secret=secret)
        db.session.add(factor)
    else:
        factor.secret = secret
    db.session.flush()
    session[ENROLLING_KEY] = _enrolment_mark(factor)


def _enrolment_mark(factor: SecondFactor) -> str:
    """Names one set-up (its encrypted secret, hashed: the cookie never holds the secret)."""
    return hashlib.sha256(f"{factor.id}:{factor.secret}".encode()).hexdigest()


def _enrolling(session, user: User) -> SecondFactor | None:
    """The user's unconfirmed factor, when this session started its set-up."""
    factor = _factor(user)
    if factor is None or factor.confirmed_at is not None:
        return None
    mark = session.get(ENROLLING_KEY)
    if not isinstance(mark, str) or not hmac.compare_digest(mark, _enrolment_mark(factor)):
        return None
    return factor


def enrolment(session, user: User) -> dict | None:
    """What the enrolment page shows: the secret as text, its address and QR code; None
    when this session started no set-up (or it is already confirmed)."""
    from association.profile.services import get_profile

    factor = _enrolling(session, user)
    if factor is None:
        return None
    try:
        secret = _decrypt(factor.secret)
    except SecondFactorError:
        return None  # made under an older key: the user starts the set-up again
    profile = get_profile()
    issuer = profile.short_code if profile and profile.short_code else "Association"
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return {"secret": grouped, "uri": uri, "qr": qr_svg(uri)}


def qr_svg(text: str, module: int = 6) -> str:
    """``text`` as a QR code drawn by the app's own encoder (core.pdf), as an SVG ``data:``
    address for an ``<img>`` (the pages' CSP allows images from ``data:``, no inline SVG)."""
    rows = qr_modules(text)
    size = (len(rows) + 8) * module  # a quiet zone of four modules
    path = "".join(f"M{(x + 4) * module} {(y + 4) * module}h{module}v{module}h-{module}z"
                   for y, row in enumerate(rows) for x, dark in enumerate(row) if dark)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
           f'viewBox="0 0 {size} {size}"><rect width="{size}" height="{size}" fill="#fff"/>'
           f'<path d="{path}" fill="#000"/></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def confirm_enrolment(session, user: User, code: str) -> list[str]:
    """Turn the second factor on with the first code the app shows; ends the user's other
    sessions, which were opened without it.

    Returns:
        The 10 recovery codes, in clear this once.

    Raises:
        SecondFactorError: this session started no set-up, or a wrong code.
    """
    factor = _enrolling(session, user)
    if factor is None:
        raise SecondFactorError(_l("Start the set-up first."))
    _accept_app_code(factor, code, WRONG_CODE)
    session.pop(ENROLLING_KEY, None)
    factor.confirmed_at = utcnow()
    codes = _new_recovery_codes(user)
    sessions.end_every_session(user)
    db.session.flush()
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    _delete_recovery_codes(user)
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
             for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_code(c)) for c in codes)
    return ["-".join(c[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4)) for c in codes]


def _delete_recovery_codes(user: User) -> None:
    """One by one, so that each deletion is in the audit trail."""
    for row in db.session.scalars(sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        db.session.delete(row)


def reset(user: User, acting: User | None) -> None:
    """The chair takes away another official's second factor (a lost phone): they set one
    up again at their next login if their role requires it; their sessions end.

    Args:
        user: whose second factor.
        acting: the chair doing it; None for the install's administrator at the command line
            (``flask users reset-second-factor``: a sole chair who lost phone and codes).

    Raises:
        SecondFactorError: one's own (another chair resets it), or none to reset.
    """
    if acting is not None and user.id == acting.id:
        raise SecondFactorError(_l("Another chair must reset your own second factor."))
    factor = _factor(user)
    if factor is None:
        raise SecondFactorError(_l("%(name)s has no second factor to reset.",
                                   name=user.username))
    db.session.delete(factor)
    _delete_recovery_codes(user)
    sessions.end_every_session(user)
    db.session.flush()


# --- One's own second factor, once on ------------------------------------------------


def _check_app_code(user: User, code: str) -> SecondFactor:
    """The user's factor, once ``code`` is the one their app shows now (never accepted twice)."""
    factor = _factor(user)
    if factor is None or factor.confirmed_at is None:
        raise SecondFactorError(_l("Your second factor is not on."))
    _accept_app_code(factor, code, WRONG_APP_CODE)
    return factor


def renew_recovery_codes(user: User, code: str) -> list[str]:
    """A new set of recovery codes, once the user typed their app's current code; the old
    ones stop working (each deletion and creation audited).

    Returns:
        The 10 new recovery codes, in clear this once.

    Raises:
        SecondFactorError: the factor is not on, or a wrong or reused code.
    """
    _check_app_code(user, code)
    codes = _new_recovery_codes(user)
    db.session.flush()
    return codes


def switch_off(user: User, code: str) -> None:
    """The user switches their own second factor off, with their app's current code: only
    when no role of theirs requires one. Their recovery codes go with it.

    Raises:
        SecondFactorError: a role of theirs requires it, the factor is not on, or a wrong
            or reused code.
    """
    if required_for(user):
        raise SecondFactorError(_l("The chair requires officials in your role to use a second "
                                   "factor: you cannot switch it off."))
    factor = _check_app_code(user, code)
    db.session.delete(factor)
    _delete_recovery_codes(user)
    db.session.flush()


# --- Codes at login -------------------------------------------------------------------


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _hash_code(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code is ``code``, within VALID_WINDOW steps of now (as pyotp's
    ``verify(code, valid_window=1)``, which does not say which step matched)."""
    code = _normalise(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp, now = pyotp.TOTP(secret), time.time() if now is None else now
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        at = now + offset * totp.interval
        if hmac.compare_digest(totp.at(at), code):
            return totp.timecode(at)
    return None


def _accept_app_code(factor: SecondFactor, code: str, wrong_message) -> None:
    """Take ``code`` when it is the one the factor's app shows now (within VALID_WINDOW
    steps) and no code of that step or a later one was taken before: each works once, even
    when two requests bring it at once (the step is taken by a conditional update: the
    second waits for the first's row lock, then finds the step taken). A right code ends a
    run of wrong ones; a wrong one, on a factor that is on, is counted (:func:`_count_wrong`)
    and, at :data:`LOCK_AFTER` in a row, the app's codes are refused.

    Raises:
        SecondFactorError: ``wrong_message``, the code was already used, or the app's codes
            are locked.
    """
    on = factor.confirmed_at is not None
    if on and factor.wrong_codes >= LOCK_AFTER:
        _count_wrong(factor)
        raise SecondFactorError(LOCKED)
    step = _matching_step(_decrypt(factor.secret), code)
    if step is None:
        if on and _count_wrong(factor) >= LOCK_AFTER:
            raise SecondFactorError(LOCKED)
        raise SecondFactorError(wrong_message)
    free = [SecondFactor.id == factor.id,
            sa.or_(SecondFactor.last_step.is_(None), SecondFactor.last_step < step)]
    if on:  # not locked meanwhile by wrong codes other requests counted
        free.append(SecondFactor.wrong_codes < LOCK_AFTER)
    taken = db.session.execute(
        sa.update(SecondFactor).where(*free).values(last_step=step, wrong_codes=0)
    ).rowcount
    if taken != 1:
        locked = on and db.session.scalar(
            sa.select(SecondFactor.wrong_codes).where(SecondFactor.id == factor.id)
        ) >= LOCK_AFTER
        raise SecondFactorError(LOCKED if locked else USED_CODE)
    log_event("update", SecondFactor.__tablename__, factor.id,
              {"last_step": step, "wrong_codes": 0})


def _count_wrong(factor: SecondFactor) -> int:
    """Count one more wrong code in a row on ``factor``, in a transaction of its own (the
    failed request's work is discarded, the count is not), with its audit event, and the
    lock's when this one reaches :data:`LOCK_AFTER`. Returns the count."""
    factor_id, actor = factor.id, current_actor()
    table = SecondFactor.__table__
    with transaction.own_transaction() as conn:
        count = conn.execute(
            table.update().where(table.c.id == factor_id)
            .values(wrong_codes=table.c.wrong_codes + 1).returning(table.c.wrong_codes)
        ).scalar_one_or_none()
        if count is None:  # reset meanwhile
            return 0
        events = [("update", table.name, str(factor_id), {"wrong_codes": count - 1},
                   {"wrong_codes": count}, *actor)]
        if count == LOCK_AFTER:
            events.append(("second_factor.locked", table.name, str(factor_id), None,
                           {"wrong_codes": count}, *actor))
        write_events(conn, events)
    return count


def locked(user: User) -> bool:
    """Whether the user's app codes are refused (too many wrong codes in a row)."""
    factor = _factor(user)
    return factor is not None and factor.confirmed_at is not None \
        and factor.wrong_codes >= LOCK_AFTER


def verify(user: User, code: str) -> None:
    """Accept the code the app shows now, or an unused recovery code (then used up).

    Raises:
        SecondFactorError: a wrong code, or one already used.
    """
    factor = _factor(user)
    if factor is None or factor.confirmed_at is None:
        raise SecondFactorError(WRONG_CODE)
    normalised = _normalise(code)
    if len(normalised) == RECOVERY_LENGTH:
        _use_recovery_code(user, factor, normalised)
        return
    _accept_app_code(factor, normalised, WRONG_CODE)


def _use_recovery_code(user: User, factor: SecondFactor, code: str) -> None:
    """Use up one of the user's recovery codes: taken by a conditional update, so two
    requests at once cannot both use it. It ends a run of wrong codes (and the lock).

    Raises:
        SecondFactorError: no such code (counted as a wrong one), or already used.
    """
    row = db.session.scalar(sa.select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash_code(code)))
    if row is None:
        if _count_wrong(factor) >= LOCK_AFTER:
            raise SecondFactorError(LOCKED)
        raise SecondFactorError(WRONG_CODE)
    if row.used_at is not None:
        raise SecondFactorError(USED_RECOVERY_CODE)
    now = utcnow()
    used = db.session.execute(
        sa.update(RecoveryCode).where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if used != 1:
        raise SecondFactorError(USED_RECOVERY_CODE)
    log_event("update", RecoveryCode.__tablename__, row.id, {"used_at": now.isoformat()})
    if factor.wrong_codes:
        factor.wrong_codes = 0
    db.session.flush()


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))


# --- The login between password and code ------------------------------------------------


def remember_pending(session, user: User, next_url: str | None,
                     limit_keys: list[str] = ()) -> None:
    """After the right password: the session holds only who is waiting for a code, and the
    password step's per-account limit keys, cleared once the code passes."""
    lang = session.get("lang")
    session.clear()
    session[PENDING_KEY] = {"id": user.get_id(), "at": int(time.time()), "next": next_url,
                            "limits": list(limit_keys)}
    if lang:
        session["lang"] = lang


def pending_user(session) -> User | None:
    """The user waiting for a code, or None (none, expired, or their password changed).

    Raises:
        SecondFactorError: the wait was too long: the login starts again.
    """
    from association.auth.services import user_by_session_id

    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - pending.get("at", 0) > current_app.config["SECOND_FACTOR_PENDING_SECONDS"]:
        session.pop(PENDING_KEY, None)
        raise SecondFactorError(_l("Too much time passed since you typed your password. "
                                   "Log in again."))
    return user_by_session_id(str(pending.get("id", "")))


def pending_next(session) -> str | None:
    pending = session.get(PENDING_KEY)
    return pending.get("next") if isinstance(pending, dict) else None


def pending_limit_keys(session) -> list[str]:
    """The password step's per-account limit keys (see :func:`remember_pending`)."""
    pending = session.get(PENDING_KEY)
    keys = pending.get("limits") if isinstance(pending, dict) else None
    return [key for key in keys if isinstance(key, str)] if isinstance(keys, list) else []
