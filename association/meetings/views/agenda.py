"""The agenda screens: adding, removing and reordering a meeting's agenda items."""

from flask import abort, url_for
from flask_babel import gettext as _

from association.auth.permissions import permission_required
from association.extensions import db
from association.meetings import models
from association.meetings.forms import AgendaItemForm, EmptyForm, MoveForm
from association.meetings.meetings import add_agenda_item, move_agenda_item, remove_agenda_item
from association.meetings.models import Meeting
from association.meetings.views.base import MAX_ID, bp, meeting_or_404, run_service, to_detail
from association.web import flash_form_errors


@bp.route("/meetings/<int:meeting_id>/agenda", methods=["POST"])
@permission_required("meetings.manage")
def agenda_add(meeting_id: int):
    """Add an item at the end of the agenda."""
    meeting = meeting_or_404(meeting_id)
    form = AgendaItemForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return to_detail(meeting)
    return run_service(lambda: add_agenda_item(meeting, form.title.data),
                       _("Agenda item added."), url_for("meetings.detail", meeting_id=meeting.id))


def _item(meeting: Meeting, item_id: int) -> models.AgendaItem:
    item = db.session.get(models.AgendaItem, item_id) if 0 < item_id <= MAX_ID else None
    if item is None or item.meeting_id != meeting.id:
        abort(404)
    return item


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/remove", methods=["POST"])
@permission_required("meetings.manage")
def agenda_remove(meeting_id: int, item_id: int):
    """Take an item off the agenda."""
    meeting = meeting_or_404(meeting_id)
    item = _item(meeting, item_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return to_detail(meeting)
    return run_service(lambda: remove_agenda_item(item), _("Agenda item removed."),
                       url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/move", methods=["POST"])
@permission_required("meetings.manage")
def agenda_move(meeting_id: int, item_id: int):
    """Move an agenda item up or down."""
    meeting = meeting_or_404(meeting_id)
    item = _item(meeting, item_id)
    form = MoveForm()
    if not form.validate_on_submit() or form.direction.data not in ("up", "down"):
        flash_form_errors(form)
        return to_detail(meeting)
    return run_service(lambda: move_agenda_item(item, form.direction.data == "up"),
                       _("Agenda reordered."), url_for("meetings.detail", meeting_id=meeting.id))
