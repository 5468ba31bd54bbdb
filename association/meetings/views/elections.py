"""The election screen: candidates and votes at a meeting; the winners take office in
the officials register."""

from flask import flash, render_template
from flask_babel import gettext as _

from association import transaction
from association.auth.permissions import permission_required
from association.errors import DomainError
from association.extensions import db
from association.i18n import choices
from association.meetings import governance
from association.meetings.forms import ElectionForm
from association.meetings.models import Resolution
from association.meetings.quorum import quorum_for
from association.meetings.views.base import bp, meeting_or_404, short_text, to_detail


@bp.route("/meetings/<int:meeting_id>/elections/new", methods=["GET", "POST"])
@permission_required("meetings.manage")
def election_new(meeting_id: int):
    """Record an election: candidates and votes; the winners take office."""
    meeting = meeting_or_404(meeting_id)
    form = ElectionForm()
    electing = governance.electing_resolutions(meeting)
    form.resolution_id.choices = choices(
        ((r.id, _("Resolution %(number)d: %(text)s", number=r.number, text=short_text(r.text)))
         for r in electing), _("Choose"))
    if form.validate_on_submit():
        try:
            candidates = governance.parse_candidates(form.candidates.data)
            resolution = db.session.get(Resolution, form.resolution_id.data) \
                if form.resolution_id.data else None
            governance.record_election(meeting, form.office.data, form.seats.data, candidates,
                                       form.term_end.data, resolution)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The election is recorded and the officials register updated. The "
                    "change-of-officials notice is due within 14 days."), "success")
            return to_detail(meeting)
    return render_template("meetings/election_form.html", meeting=meeting, form=form,
                           quorum=quorum_for(meeting), electing=electing)
