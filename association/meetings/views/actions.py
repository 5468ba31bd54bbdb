"""The action items screens: adding one to a meeting and marking it done, dropped or
open again."""

from flask import redirect, request, url_for
from flask_babel import gettext as _

from association.auth.permissions import permission_required
from association.meetings.actions import add_action, set_action_status
from association.meetings.forms import ActionForm, ActionStatusForm
from association.meetings.models import ActionItem
from association.meetings.views.base import bp, get_or_404, meeting_or_404, run_service, to_detail
from association.web import flash_form_errors


@bp.route("/meetings/<int:meeting_id>/actions", methods=["POST"])
@permission_required("meetings.manage")
def action_add(meeting_id: int):
    """Add an action item: what, who, by when."""
    meeting = meeting_or_404(meeting_id)
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return to_detail(meeting)
    return run_service(lambda: add_action(meeting, form.description.data, form.owner.data,
                                          form.due_on.data),
                       _("Action item added."), url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/actions/<int:action_id>/status", methods=["POST"])
@permission_required("meetings.manage")
def action_status(action_id: int):
    """Mark an action item done, dropped or open again."""
    action = get_or_404(ActionItem, action_id)
    form = ActionStatusForm()
    target = request.form.get("back_meeting_id", "")
    back = url_for("meetings.detail", meeting_id=int(target)) if target.isdigit() else \
        url_for("meetings.detail", meeting_id=action.meeting_id)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    return run_service(lambda: set_action_status(action, form.status.data),
                       _("The action item is updated."), back)
