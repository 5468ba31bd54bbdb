"""Host administrators: who may use the host's own pages (issue 22 item 3).

A host administrator is a catalogue row (:class:`~association.hosting.models.HostAdmin`),
not an association's user: their login lives in the host site's own session cookie under
:data:`SESSION_KEY` (the id and the session version), so it is no session at all in any
association, and an association's user is nobody on the host's pages. Their views are
declared with :func:`host_admin_required`, checked on the server at every request.
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l

from association.auth.permissions import PUBLIC
from association.auth.services import _dummy_hash, _hasher
from association.core.time import utcnow
from association.errors import DomainError
from association.hosting.models import HostAdmin
from association.hosting.services import catalogue_session

#: The host session's key: {"id": ..., "v": session version}.
SESSION_KEY = "host_admin"
USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{2,34}$")  # host-<it> is a login of 40
PASSWORD_MIN = 12


class HostAdminError(DomainError):
    """A host administrator cannot be made or changed as asked; the message says why."""


@dataclass(frozen=True)
class SignedIn:
    """The host administrator of this request (plain values, no session-bound row)."""

    id: int
    username: str


def _check_username(username: str) -> str:
    username = (username or "").strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise HostAdminError(_l("A host administrator's username is 3 to 35 small letters, "
                                "digits, dots, hyphens or underscores, starting with a "
                                "letter."))
    return username


def create_admin(app, username: str, password: str) -> HostAdmin:
    """Add a host administrator (committed)."""
    username = _check_username(username)
    if len(password or "") < PASSWORD_MIN:
        raise HostAdminError(_l("A host administrator's password has at least %(count)d "
                                "characters.", count=PASSWORD_MIN))
    with catalogue_session(app) as db_session:
        if db_session.scalar(sa.select(HostAdmin.id).where(HostAdmin.username == username)):
            raise HostAdminError(_l("There is already a host administrator called "
                                    "%(name)s.", name=username))
        with app.app_context():  # the hasher's cost is the app's setting
            password_hash = _hasher().hash(password)
        admin = HostAdmin(username=username, password_hash=password_hash,
                          active=True, session_version=1, created_at=utcnow())
        db_session.add(admin)
        db_session.commit()
        return admin


def authenticate(username: str, password: str) -> SignedIn | None:
    """The host administrator these credentials name, or None (the same work either way,
    so a wrong username takes as long as a wrong password). Records the login."""
    hasher = _hasher()
    name = (username or "").strip().lower()
    with catalogue_session(current_app._get_current_object()) as db_session:
        admin = db_session.scalar(sa.select(HostAdmin).where(HostAdmin.username == name))
        try:
            hasher.verify(admin.password_hash if admin else _dummy_hash(hasher), password or "")
        except (VerificationError, InvalidHashError):
            return None
        if admin is None or not admin.active:
            return None
        admin.last_login_at = utcnow()
        db_session.commit()
        chosen = session.get("lang")
        session.clear()  # a fresh session: no fixation
        session[SESSION_KEY] = {"id": admin.id, "v": admin.session_version}
        if chosen:
            session["lang"] = chosen
        return SignedIn(admin.id, admin.username)


def sign_out() -> None:
    session.pop(SESSION_KEY, None)


def current_admin() -> SignedIn | None:
    """The host administrator signed in on this request (looked up once per request)."""
    if "host_admin" in g:
        return g.host_admin
    found = None
    value = session.get(SESSION_KEY)
    if isinstance(value, dict) and isinstance(value.get("id"), int):
        with catalogue_session(current_app._get_current_object()) as db_session:
            admin = db_session.get(HostAdmin, value["id"])
            if admin is not None and admin.active and admin.session_version == value.get("v"):
                found = SignedIn(admin.id, admin.username)
    g.host_admin = found
    return found


def host_page(view: Callable) -> Callable:
    """A page of the host's own site anyone may see (its list of associations, the login):
    it names no member and no figure of any association's."""
    view.access = PUBLIC
    view.host_site = True
    return view


def host_admin_required(view: Callable) -> Callable:
    """A page of the host's own site for its administrators only, checked here at every
    request (``enforce_access`` lets it through as the host's own; no association's user
    is anybody here)."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        if current_admin() is None:
            return redirect(url_for("hosting.login", next=request.full_path))
        return view(*args, **kwargs)

    checked.host_admin_only = True
    return host_page(checked)
