"""The user's own sessions: where they are logged in, and ending those they do not want."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from association.auth import sessions
from association.auth.permissions import login_only

bp = Blueprint("sessions", __name__)


@bp.route("/account/sessions")
@login_only
def index():
    """The user's active sessions, this one marked."""
    return render_template("auth/sessions.html", sessions=sessions.active_sessions(current_user),
                           current_id=sessions.current_session_id())


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@login_only
def end(session_id: int):
    """End one of the user's sessions (a lost phone, a shared computer)."""
    try:
        sessions.end_session(current_user, session_id)
    except sessions.SessionNotFoundError:
        abort(404)
    flash(_("The session has been ended."), "success")
    return redirect(url_for("sessions.index"))


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_only
def end_others():
    """End every session of the user's but this one."""
    sessions.end_sessions(current_user, keep=sessions.current_session_id())
    flash(_("Your other sessions have been ended."), "success")
    return redirect(url_for("sessions.index"))
