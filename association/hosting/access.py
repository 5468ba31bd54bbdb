"""Time-limited access for a host administrator, granted by an association's chair (issue 22
item 3).

The chair names a host administrator, a time (at most :data:`MAX_HOURS`) and a reason: an
:class:`~association.hosting.models.AccessGrant` in the catalogue, and in the association a
read-only login ``host-<username>`` with the auditor's role (made, or enabled again, with a
fresh random password nobody knows). The host administrator opens it from the host's
dashboard: a short-lived token signed for that association only
(:func:`open_token`/:func:`redeem`), exchanged on the association's own address for a
session. At every request of that login the grant is checked (:func:`enforce`): once it has
expired or been revoked, its sessions end and it logs in no more. Each step is in the
association's audit trail.
"""

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer

from association.audit.services import log_event
from association.auth.models import Role, User
from association.core.time import utcnow
from association.errors import DomainError
from association.extensions import db
from association.hosting.models import AccessGrant, HostAdmin
from association.hosting.services import catalogue_session
from association.hosting.tenancy import Tenant, current

#: The login of a host administrator in an association: this prefix and their username.
HOST_USER_PREFIX = "host-"
MAX_HOURS = 7 * 24
#: How long the token the dashboard's "Open" makes stays good (seconds).
TOKEN_SECONDS = 120


class GrantError(DomainError):
    """The access cannot be granted, opened or revoked as asked; the message says why."""


def host_username(admin_username: str) -> str:
    return HOST_USER_PREFIX + admin_username


def live_grant(session, association_id: int, admin_id: int) -> AccessGrant | None:
    now = utcnow()
    return session.scalar(sa.select(AccessGrant).where(
        AccessGrant.association_id == association_id, AccessGrant.host_admin_id == admin_id,
        AccessGrant.revoked_at.is_(None), AccessGrant.expires_at > now)
        .order_by(AccessGrant.expires_at.desc()).limit(1))


def grants_of(app: Flask, tenant: Tenant) -> list[tuple[AccessGrant, str]]:
    """The association's grants, newest first, with each host administrator's username."""
    with catalogue_session(app) as session:
        return [tuple(row) for row in session.execute(
            sa.select(AccessGrant, HostAdmin.username)
            .join(HostAdmin, HostAdmin.id == AccessGrant.host_admin_id)
            .where(AccessGrant.association_id == tenant.id)
            .order_by(AccessGrant.granted_at.desc()).limit(50))]


def _host_user(admin_username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == host_username(admin_username)))


def grant(app: Flask, admin_username: str, hours: int, reason: str,
          granted_by: User) -> AccessGrant:
    """Let ``admin_username`` into the chosen association, read-only, for ``hours``."""
    from association.auth.models import UserRole
    from association.auth.services import create_user, hash_password
    from association.auth.sessions import end_every_session

    tenant = current()
    reason = " ".join((reason or "").split())
    name = (admin_username or "").strip().lower()
    if not isinstance(hours, int) or not 1 <= hours <= MAX_HOURS:
        raise GrantError(_l("Access lasts 1 hour to 7 days (168 hours)."))
    if not 3 <= len(reason) <= 300:
        raise GrantError(_l("Give the reason (3 to 300 characters)."))
    with catalogue_session(app) as session:
        admin = session.scalar(sa.select(HostAdmin).where(HostAdmin.username == name,
                                                          HostAdmin.active.is_(True)))
        if admin is None:
            raise GrantError(_l("There is no host administrator called %(name)s.", name=name))
        expires_at = utcnow() + timedelta(hours=hours)
        user = _host_user(name)
        password = secrets.token_urlsafe(32)  # nobody knows it: the token is the way in
        if user is None:
            user = create_user(host_username(name), f"Host administrator {name}", password,
                               {Role.AUDITOR}, must_change_password=False)
        else:  # read-only again, whatever was done to it meanwhile
            for row in list(user.role_rows):
                if row.role != Role.AUDITOR:
                    user.role_rows.remove(row)
            if Role.AUDITOR not in user.roles:
                user.role_rows.append(UserRole(role=Role.AUDITOR))
            user.active, user.password_hash = True, hash_password(password)
            end_every_session(user)
        log_event("hosting.access_granted", "user", user.id,
                  {"host_admin": name, "hours": hours, "reason": reason,
                   "expires_at": expires_at.isoformat(timespec="minutes")})
        db.session.flush()  # the association's part holds: now the catalogue's
        row = AccessGrant(association_id=tenant.id, host_admin_id=admin.id,
                          granted_by=granted_by.username, reason=reason,
                          granted_at=utcnow(), expires_at=expires_at)
        session.add(row)
        session.commit()
        return row


def _close(user: User | None, action: str, details: dict) -> None:
    from association.auth.sessions import end_every_session

    if user is not None and user.active:
        user.active = False
        end_every_session(user)
    log_event(action, "user", user.id if user else None, details)
    db.session.flush()


def revoke(app: Flask, grant_id: int, by: User) -> None:
    tenant = current()
    with catalogue_session(app) as session:
        row = session.get(AccessGrant, grant_id)
        if row is None or row.association_id != tenant.id:
            raise GrantError(_l("That access grant does not exist."))
        if row.revoked_at is not None or row.expires_at <= utcnow():
            raise GrantError(_l("That access has already ended."))
        admin = session.get(HostAdmin, row.host_admin_id)
        row.revoked_at = utcnow()
        _close(_host_user(admin.username), "hosting.access_revoked",
               {"host_admin": admin.username, "by": by.username})
        session.commit()


def _serializer(tenant: Tenant) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"],
                                  salt=f"hosting-access/{tenant.slug}")


def open_token(app: Flask, tenant: Tenant, admin_id: int) -> str:
    """A token that lets ``admin_id`` into ``tenant`` while their grant lasts."""
    with catalogue_session(app) as session:
        row = live_grant(session, tenant.id, admin_id)
        if row is None:
            raise GrantError(_l("No access to %(short)s has been granted to you, or it has "
                                "ended.", short=tenant.short))
        return _serializer(tenant).dumps({"g": row.id})


def redeem(app: Flask, token: str) -> User:
    """The host login of the chosen association a token opens (its grant still lasting)."""
    tenant = current()
    try:
        payload = _serializer(tenant).loads(token, max_age=TOKEN_SECONDS)
    except BadSignature:
        raise GrantError(_l("That link is not valid here, or it is too old: open the "
                            "association again from the host's dashboard.")) from None
    grant_id = payload.get("g") if isinstance(payload, dict) else None
    with catalogue_session(app) as session:
        row = session.get(AccessGrant, grant_id) if isinstance(grant_id, int) else None
        admin = session.get(HostAdmin, row.host_admin_id) if row else None
        if (row is None or row.association_id != tenant.id or row.revoked_at is not None
                or row.expires_at <= utcnow() or admin is None or not admin.active):
            raise GrantError(_l("This access has ended."))
        user = _host_user(admin.username)
    if user is None or not user.active:
        raise GrantError(_l("This access has ended."))
    log_event("hosting.access_opened", "user", user.id, {"host_admin": admin.username})
    return user


def enforce(app: Flask, user: User) -> bool:
    """Whether a host login may go on: its grant still lasts. When not, its sessions end
    and the login is closed (the caller logs the browser out)."""
    if not user.username.startswith(HOST_USER_PREFIX):
        return True
    name = user.username.removeprefix(HOST_USER_PREFIX)
    with catalogue_session(app) as session:
        admin = session.scalar(sa.select(HostAdmin).where(HostAdmin.username == name,
                                                          HostAdmin.active.is_(True)))
        if admin is not None and live_grant(session, current().id, admin.id) is not None:
            return True
    _close(user, "hosting.access_ended", {"host_admin": name})
    return False
