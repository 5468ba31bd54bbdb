"""An association's side of host access: the chair's page granting and revoking it, the
address where the host's token becomes a session, and the check at every request of a host
login (:func:`.access.enforce`)."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from association import transaction
from association.audit.services import set_request_actor
from association.auth import sessions
from association.auth.permissions import permission_required, public
from association.errors import DomainError
from association.hosting import access
from association.hosting.forms import ConfirmForm, GrantForm
from association.hosting.tenancy import current, current_or_none

bp = Blueprint("access", __name__)


def _app():
    return current_app._get_current_object()


@bp.before_app_request
def host_login_still_granted():
    """A host login goes on only while its grant lasts (checked at every request)."""
    # Only a browser with a login: loading the user of any other request would write its
    # session cookie (a static file's answer, say).
    if current_or_none() is None or "_user_id" not in session \
            or not current_user.is_authenticated:
        return None
    if access.enforce(_app(), current_user._get_current_object()):
        return None
    logout_user()
    flash(_("The host's access to this association has ended."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/access-grants", methods=["GET", "POST"])
@permission_required("profile.manage")
def index():
    """The chair lets a host administrator in, read-only, for a time."""
    form = GrantForm()
    if form.validate_on_submit():
        try:
            access.grant(_app(), form.host_admin.data, form.hours.data, form.reason.data,
                         current_user)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("%(name)s may look at this association's records until the access ends.",
                    name=form.host_admin.data.strip().lower()), "success")
            return redirect(url_for("access.index"))
    return render_template("hosting/access.html", form=form, tenant=current(),
                           grants=access.grants_of(_app(), current()),
                           revoke_form=ConfirmForm(), max_hours=access.MAX_HOURS)


@bp.route("/access-grants/<int:grant_id>/revoke", methods=["POST"])
@permission_required("profile.manage")
def revoke(grant_id):
    if ConfirmForm().validate_on_submit():
        try:
            access.revoke(_app(), grant_id, current_user)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The access is ended."), "success")
    return redirect(url_for("access.index"))


@bp.route("/hosting-access/<token>")
@public
def enter(token):
    """The host's "Open": a signed token, good for this association only and for minutes,
    becomes a session of its read-only host login."""
    try:
        user = access.redeem(_app(), token)
    except DomainError:
        transaction.discard()
        abort(404)  # a secret address with a wrong or spent secret: not found
    set_request_actor(user.id, user.username)
    sessions.log_in(user)
    current_app.logger.info("host login %s opened %s", user.username, current().short)
    return redirect(url_for("core.home"))


