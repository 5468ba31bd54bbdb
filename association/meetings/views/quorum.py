"""The constitution settings screen: the quorum for each type of meeting."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from association import transaction
from association.auth.permissions import permission_required
from association.core.time import today_in_nairobi
from association.errors import DomainError
from association.meetings.forms import QuorumForm
from association.meetings.models import MeetingType
from association.meetings.quorum import active_members_on, quorum_rules, set_quorum_rule
from association.meetings.views.base import bp
from association.web import flash_form_errors


@bp.route("/governance/quorum", methods=["GET", "POST"])
@permission_required("governance.manage")
def quorum():
    """The constitution's quorum for each type of meeting."""
    form = QuorumForm()
    if form.validate_on_submit():
        if form.meeting_type.data not in {t.value for t in MeetingType}:
            abort(404)
        try:
            set_quorum_rule(MeetingType(form.meeting_type.data), form.kind.data,
                            form.numerator.data, form.denominator.data,
                            form.fixed_count.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The quorum rule is saved."), "success")
            return redirect(url_for("meetings.quorum"))
    elif form.is_submitted():
        flash_form_errors(form)
    rules = quorum_rules()
    forms = {}
    for meeting_type, (kind, numerator, denominator, fixed) in rules.items():
        forms[meeting_type] = QuorumForm(
            formdata=None, meeting_type=meeting_type.value, kind=kind.value,
            numerator=numerator, denominator=denominator, fixed_count=fixed)
    return render_template("meetings/quorum.html", forms=forms,
                           active=active_members_on(today_in_nairobi()))
