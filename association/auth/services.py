"""Logins, passwords and user administration."""

from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from association.auth import sessions
from association.auth.models import Role, User, UserRole
from association.auth.passwords import PasswordPolicyError, check_password_rules
from association.core.phones import InvalidPhoneError, looks_like_phone, normalise_phone
from association.errors import DomainError
from association.extensions import db
from association.hosting.tenancy import current_or_none
from association.profile.services import remember_profile, with_profile


@cache
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                          parallelism=parallelism, type=Type.ID)


def _hasher() -> PasswordHasher:
    """The argon2id hasher at the cost the app's settings name (PASSWORD_HASH_*)."""
    config = current_app.config
    return _hasher_for(config["PASSWORD_HASH_TIME_COST"], config["PASSWORD_HASH_MEMORY_COST"],
                       config["PASSWORD_HASH_PARALLELISM"])


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the login names nobody, so both cases take the same time;
    made at the first such login (nothing hashes at import), at the hasher's cost."""
    return hasher.hash("no-such-user-dummy-password")


WRONG_LOGIN = _l("That phone number or username and password do not match. Try again.")


class LoginError(DomainError):
    """Wrong login or password (deliberately not saying which)."""


class AccountDisabledError(DomainError):
    """The account exists but was deactivated."""


class UserError(DomainError):
    """A user administration rule was broken."""


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _official(roles: set[Role]) -> bool:
    """Any role but member: the longer password minimum applies."""
    return bool(set(roles) - {Role.MEMBER})


def find_user(login: str) -> User | None:
    """The user whose username, or phone number, is ``login``."""
    login = (login or "").strip()
    if not login:
        return None
    if looks_like_phone(login):
        try:
            phone = normalise_phone(login)
        except InvalidPhoneError:
            return None
        return db.session.scalar(sa.select(User).where(User.phone == phone))
    return db.session.scalar(sa.select(User).where(User.username == login.lower()))


def authenticate(login: str, password: str) -> User:
    """The user for this login and password.

    Raises:
        LoginError: unknown login or wrong password.
        AccountDisabledError: the account was deactivated.
    """
    user = find_user(login)
    hasher = _hasher()
    try:
        hasher.verify(user.password_hash if user else _dummy_hash(hasher), password or "")
    except (VerificationError, InvalidHashError):
        raise LoginError(WRONG_LOGIN) from None
    if user is None:
        raise LoginError(WRONG_LOGIN)
    if not user.active:
        raise AccountDisabledError(
            _l("This account has been deactivated. Ask the chair to reactivate it.")
        )
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)  # flushed by the caller, who names
        # the actor first
    return user  # not logged in yet: sessions.log_in stamps the login's time once complete


@cache
def _user_with_roles() -> sa.Select:
    """Every request's first query, built once (when the models are all mapped); the
    roles come with the user (every page checks them), and so does the association's
    profile (every page shows it)."""
    return with_profile(
        sa.select(User).options(joinedload(User.role_rows)).where(User.id == sa.bindparam("id"))
    )


def user_by_session_id(session_id: str) -> User | None:
    """The active user a session id (``id:version``) names while its version is current:
    a password change or deactivation since makes it name nobody."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    row = db.session.execute(_user_with_roles(), {"id": int(user_id)}).unique().first()
    if row is None:
        return None
    user, profile = row
    remember_profile(profile)
    if not user.active or user.session_version != int(version):
        return None
    return user


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader: a session survives only while its version is current and its
    row on the server is live (not logged out, ended, idle or too old). On the host's own
    pages no association is chosen: nobody of an association's is logged in there."""
    if current_or_none() is None:
        return None
    user = user_by_session_id(session_id)
    if user is None or not sessions.holds(user):
        return None
    return user


def _check_unique(username: str, phone: str | None, member_id: int | None, user_id=None):
    def taken(column, value):
        stmt = sa.select(User.id).where(column == value)
        if user_id is not None:
            stmt = stmt.where(User.id != user_id)
        return db.session.scalar(stmt) is not None

    if taken(User.username, username):
        raise UserError(_l("The username %(name)s is taken.", name=username))
    if phone and taken(User.phone, phone):
        raise UserError(_l("Another user already has the phone number %(phone)s.", phone=phone))
    if member_id and taken(User.member_id, member_id):
        raise UserError(_l("That member already has a login."))


def _set_roles(user: User, roles: set[Role]) -> None:
    if not roles:
        raise UserError(_l("Give the user at least one role."))
    keep = [row for row in user.role_rows if row.role in roles]
    held = {row.role for row in keep}
    user.role_rows = keep + [UserRole(role=r) for r in sorted(roles - held)]


def create_user(
    username: str,
    full_name: str,
    password: str,
    roles: set[Role],
    phone: str | None = None,
    member_id: int | None = None,
    must_change_password: bool = True,
) -> User:
    """Create a login; by default its holder must choose a new password at first login.

    Raises:
        UserError: a taken username, phone or member, or no role.
        PasswordPolicyError: a weak password.
    """
    username = username.strip().lower()
    phone = normalise_phone(phone) if phone else None
    _check_unique(username, phone, member_id)
    check_password_rules(password, official=_official(roles), username=username,
                         full_name=full_name, phone=phone)
    if Role.MEMBER in roles and not member_id:
        raise UserError(_l("A member login must be linked to a member on the register."))
    user = User(
        username=username,
        full_name=full_name.strip(),
        phone=phone,
        member_id=member_id,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
    )
    _set_roles(user, set(roles))
    db.session.add(user)
    db.session.flush()
    return user


def _active_chairs() -> int:
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(User.id)))
        .join(UserRole)
        .where(User.active.is_(True), UserRole.role == Role.CHAIR)
    )


def update_user(
    user: User, full_name: str, roles: set[Role], phone: str | None, member_id: int | None
) -> User:
    """Change a user's name, phone, roles and member link.

    Raises:
        UserError: a taken phone or member, no role, or the last chair losing the role.
    """
    phone = normalise_phone(phone) if phone else None
    _check_unique(user.username, phone, member_id, user_id=user.id)
    if Role.MEMBER in roles and not member_id:
        raise UserError(_l("A member login must be linked to a member on the register."))
    if Role.CHAIR in user.roles and Role.CHAIR not in roles and user.active:
        if _active_chairs() <= 1:
            raise UserError(_l("There must always be at least one active chair."))
    user.full_name = full_name.strip()
    user.phone = phone
    user.member_id = member_id
    _set_roles(user, set(roles))
    db.session.flush()
    return user


def reset_password(user: User, new_password: str) -> None:
    """Set a temporary password that its holder must change; ends their sessions."""
    _set_password(user, new_password, must_change=True)


def change_password(user: User, current: str, new: str) -> None:
    """The user's own change: needs the current password.

    Raises:
        LoginError: the current password is wrong.
        PasswordPolicyError: the new one is weak or the same as before.
    """
    check_password(user, current)
    if current == new:
        raise PasswordPolicyError(_l("Choose a password different from the current one."))
    _set_password(user, new, must_change=False)


def check_password(user: User, password: str) -> None:
    """The logged-in user's password, typed again before a change that needs more than a
    session (a new password, setting up a second factor).

    Raises:
        LoginError: it is not right.
    """
    try:
        _hasher().verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        raise LoginError(_l("Your current password is not right.")) from None


def _set_password(user: User, new: str, must_change: bool) -> None:
    check_password_rules(new, official=_official(user.roles), username=user.username,
                         full_name=user.full_name, phone=user.phone)
    user.password_hash = hash_password(new)
    user.must_change_password = must_change
    sessions.end_every_session(user)  # every session opened with the old password
    db.session.flush()


def set_active(user: User, active: bool, acting: User) -> None:
    """Deactivate (ending every session) or reactivate a user; users are never deleted.

    Raises:
        UserError: deactivating oneself or the last active chair.
    """
    if user.active == active:
        return
    if not active:
        if user.id == acting.id:
            raise UserError(_l("You cannot deactivate your own account."))
        if Role.CHAIR in user.roles and _active_chairs() <= 1:
            raise UserError(_l("There must always be at least one active chair."))
        sessions.end_every_session(user)
    user.active = active
    db.session.flush()


def set_language(user: User | None, language: str) -> None:
    """Remember the user's language."""
    if user is not None and user.language != language:
        user.language = language
        db.session.flush()
