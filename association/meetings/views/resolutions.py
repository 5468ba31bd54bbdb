"""The resolutions screens: recording a resolution and its votes, and the link from a
dues rate in the ledger to the resolution that set it."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from association import transaction
from association.auth.permissions import permission_required
from association.core.time import MonthError, parse_month
from association.errors import DomainError
from association.meetings.forms import RatesError, ResolutionForm, parse_rates
from association.meetings.minutes import confirmable_meetings
from association.meetings.quorum import quorum_for
from association.meetings.resolutions import (
    ResolutionInput,
    record_resolution,
    resolution_for_rate_ref,
)
from association.meetings.views.base import bp, meeting_choices, meeting_or_404, to_detail
from association.web import flash_form_errors


@bp.route("/meetings/<int:meeting_id>/resolutions/new", methods=["GET", "POST"])
@permission_required("meetings.manage")
def resolution_new(meeting_id: int):
    """Record a resolution and its votes (it may confirm minutes or set the dues)."""
    meeting = meeting_or_404(meeting_id)
    form = ResolutionForm()
    form.confirms_meeting_id.choices = meeting_choices(confirmable_meetings(meeting),
                                                       _("None"))
    if form.validate_on_submit():
        try:
            rates = parse_rates(form.rates.data)
            effective = parse_month(form.effective_from.data) if form.effective_from.data \
                else None
        except (RatesError, MonthError) as error:
            flash(str(error.args[0] if isinstance(error, RatesError) else error), "error")
        else:
            data = ResolutionInput(
                text=form.text.data, proposer=form.proposer.data, seconder=form.seconder.data,
                votes_for=form.votes_for.data, votes_against=form.votes_against.data,
                votes_abstain=form.votes_abstain.data, majority=form.majority.data,
                kind=form.kind.data, confirms_meeting_id=form.confirms_meeting_id.data,
                effective_from=effective, rates=rates)
            try:
                resolution = record_resolution(meeting, data, current_user.id)
            except DomainError as error:
                transaction.discard()
                flash(str(error), "error")
            else:
                if resolution.passed:
                    flash(_("Resolution %(n)d is recorded: passed.", n=resolution.number),
                          "success")
                else:
                    flash(_("Resolution %(n)d is recorded: not passed.", n=resolution.number),
                          "success")
                return to_detail(meeting)
    elif form.is_submitted():
        flash_form_errors(form)
    return render_template("meetings/resolution_form.html", meeting=meeting, form=form,
                           quorum=quorum_for(meeting))


@bp.route("/resolutions/for-rate")
@permission_required("meetings.view")
def resolution_for_rate():
    """The meeting whose resolution a dues rate cites (?ref=...), for the ledger's rates."""
    found = resolution_for_rate_ref(request.args.get("ref", "")[:120])
    if found is None:
        abort(404)
    return redirect(url_for("meetings.detail", meeting_id=found.meeting_id,
                            _anchor=f"resolution-{found.number}"))
