"""Attendance: who turned up on each shift of a night, recorded by the coordinator."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from association import transaction
from association.auth.permissions import permission_required
from association.core.time import now_in_nairobi
from association.errors import DomainError
from association.i18n import enum_choices
from association.patrols import forms, patrollers, roster
from association.patrols.attendance import AttendanceInput, record_attendance
from association.patrols.models import Attendance
from association.patrols.views import bp
from association.patrols.views.helpers import night_arg
from association.web import flash_form_errors


@bp.route("/attendance/<night>", methods=["GET", "POST"])
@permission_required("patrols.manage")
def attendance(night: str):
    """Who turned up on each shift of a night."""
    night_date = night_arg(night)
    rows = [a for a in roster.month_assignments(night_date) if a.night == night_date]
    form = forms.ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash_form_errors(form)
            return redirect(url_for("patrols.attendance", night=night_date.isoformat()))
        entries = []
        try:
            for a in rows:
                status = request.form.get(f"status-{a.id}", "")
                replaced = request.form.get(f"replaced-{a.id}", "")
                entries.append(AttendanceInput(
                    a.id, Attendance(status) if status else None,
                    int(replaced) if replaced.isdigit() else None,
                    request.form.get(f"note-{a.id}", "")[:200]))
            changed = record_attendance(night_date, entries, current_user.id)
        except ValueError:
            transaction.discard()
            flash(_("Not a valid choice."), "error")
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(ngettext("%(num)d record saved.", "%(num)d records saved.", changed),
                  "success")
            return redirect(url_for("patrols.attendance", night=night_date.isoformat()))
    return render_template(
        "patrols/attendance.html", night=night_date, rows=rows, form=form,
        statuses=enum_choices(Attendance), now=now_in_nairobi(),
        replacements=patrollers.patrollers(active_only=True),
    )
