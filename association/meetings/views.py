"""The meetings screens: meetings, attendance, minutes, resolutions, officials, compliance
and the public transparency page."""

import io
from datetime import date, time

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from association import transaction
from association.auth.permissions import login_only, permission_required, public
from association.core.time import MonthError, parse_month, today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.i18n import choices, current_language, enum_label
from association.meetings import files, governance, models, pack, pdf
from association.meetings import transparency as figures
from association.meetings.actions import add_action, open_actions, set_action_status
from association.meetings.attendance import (
    add_guest,
    mark_attendance,
    remove_attendance,
    remove_guest,
    set_headcount,
)
from association.meetings.common import governance_record, minutes_locked
from association.meetings.forms import (
    ActionForm,
    ActionStatusForm,
    AgendaItemForm,
    ConstitutionForm,
    ElectionForm,
    EmptyForm,
    EndTermForm,
    GuestForm,
    HeadcountForm,
    MarkForm,
    MeetingForm,
    MinutesForm,
    MoveForm,
    NoticeFiledForm,
    OfficialForm,
    PublishForm,
    QuorumForm,
    RatesError,
    RecordForm,
    ResolutionForm,
    TextForm,
    parse_rates,
)
from association.meetings.meetings import (
    MeetingData,
    add_agenda_item,
    create_meeting,
    delete_meeting,
    meeting_query,
    move_agenda_item,
    remove_agenda_item,
    update_meeting,
)
from association.meetings.minutes import (
    add_addendum,
    add_comment,
    can_read_minutes,
    circulate_minutes,
    confirmable_meetings,
    minutes_awaiting_comment,
    publish_minutes,
    published_for_members,
    reopen_draft,
    save_minutes,
)
from association.meetings.models import (
    ActionItem,
    AttendanceStatus,
    Meeting,
    MeetingType,
    MinutesStatus,
    Official,
    OfficialsNotice,
    Resolution,
)
from association.meetings.quorum import (
    active_members_on,
    attendance_counts,
    quorum_for,
    quorum_rules,
    set_quorum_rule,
)
from association.meetings.resolutions import (
    ResolutionInput,
    record_resolution,
    resolution_for_rate_ref,
)
from association.members.models import Member
from association.members.services import MemberFilters, get_member_by_number, member_query
from association.web import flash_form_errors

bp = Blueprint("meetings", __name__)


# --- Helpers ------------------------------------------------------------------


#: Ids beyond a 32-bit integer cannot exist (PostgreSQL would refuse the query itself).
MAX_ID = 2**31 - 1


def _get_or_404(model, object_id: int):
    if not 0 < object_id <= MAX_ID:
        abort(404)
    return db.get_or_404(model, object_id)


def _meeting(meeting_id: int) -> Meeting:
    return _get_or_404(Meeting, meeting_id)


def _detail(meeting: Meeting):
    return redirect(url_for("meetings.detail", meeting_id=meeting.id))


def _run(action, success: str, target):
    """Call one service; commit and flash success, or roll back and flash its error."""
    try:
        action()
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(success, "success")
    return redirect(target)


def _read_upload(upload) -> files.Document | None:
    if upload is None or not getattr(upload, "filename", None):
        return None
    from association.ledger.expenses import document_limit

    return files.Document(upload.filename, upload.stream.read(document_limit() + 1))


def _send_stored(name: str | None, content_type: str | None, download_name: str):
    path = files.path_of(name)
    if path is None or content_type not in files.DOCUMENT_EXTENSIONS:
        abort(404)
    response = send_file(io.BytesIO(path.read_bytes()), mimetype=content_type,
                         as_attachment=True,
                         download_name=download_name + files.DOCUMENT_EXTENSIONS[content_type],
                         max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _pdf(content: bytes, name: str, attachment: bool = False) -> Response:
    response = Response(content, mimetype="application/pdf")
    disposition = "attachment" if attachment else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _lang() -> str:
    lang = request.args.get("lang", "")
    return lang if lang in ("en", "sw") else current_language()


def _meeting_choices(meetings, blank: str):
    return choices(((m.id, f"{m.held_on.isoformat()} · {enum_label(m.type)} · {m.title}")
                    for m in meetings), blank)


def _recent_meetings(limit: int = 60):
    return list(db.session.scalars(meeting_query().limit(limit)))


def _form_data(form: MeetingForm) -> MeetingData:
    return MeetingData(
        type=MeetingType(form.type.data), title=form.title.data, held_on=form.held_on.data,
        venue=form.venue.data, convener=form.convener.data, starts_at=form.starts_at.data,
        notice_on=form.notice_on.data,
        agenda=(form.agenda.data or "").splitlines() if "agenda" in form else [])


# --- Meetings -------------------------------------------------------------------


@bp.route("/meetings")
@permission_required("meetings.view")
def index():
    """Every meeting, newest first, with open action items and notices due."""
    wanted = request.args.get("type", "")
    meeting_type = MeetingType(wanted) if wanted in {t.value for t in MeetingType} else None
    page = db.paginate(meeting_query(meeting_type), per_page=30, max_per_page=100,
                       error_out=False)
    return render_template(
        "meetings/index.html", page=page, types=list(MeetingType), wanted=wanted,
        actions=open_actions()[:30], notices=governance.pending_notices(),
        today=today_in_nairobi(), to_comment=_to_comment(),
    )


def _to_comment():
    """Circulated minutes waiting for the signed-in committee member's comments."""
    if not current_user.can("meetings.comment"):
        return []
    return minutes_awaiting_comment(current_user.id)


@bp.route("/meetings/new", methods=["GET", "POST"])
@permission_required("meetings.manage")
def new():
    """Call a meeting: type, date, venue, convener, notice and agenda."""
    form = MeetingForm()
    if form.validate_on_submit():
        try:
            meeting = create_meeting(_form_data(form), current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The meeting is recorded."), "success")
            return _detail(meeting)
    return render_template("meetings/form.html", form=form, meeting=None)


@bp.route("/meetings/<int:meeting_id>")
@permission_required("meetings.view")
def detail(meeting_id: int):
    """One meeting: agenda, attendance and quorum, minutes, resolutions, action items."""
    meeting = _meeting(meeting_id)
    elections = db.session.scalars(sa.select(models.Election)
                                   .where(models.Election.meeting_id == meeting.id))
    confirmed_by = next(iter(pdf.confirming_resolutions(meeting)), None)
    return render_template(
        "meetings/detail.html", meeting=meeting, quorum=quorum_for(meeting),
        counts=attendance_counts(meeting), locked=minutes_locked(meeting),
        elections=list(elections), confirmed_by=confirmed_by,
        agenda_form=AgendaItemForm(), empty=EmptyForm(), text_form=TextForm(),
        action_form=ActionForm(), status_form=ActionStatusForm(), publish_form=PublishForm(),
        GENERAL=models.GENERAL_TYPES, MinutesStatus=MinutesStatus, today=today_in_nairobi(),
    )


@bp.route("/meetings/<int:meeting_id>/edit", methods=["GET", "POST"])
@permission_required("meetings.manage")
def edit(meeting_id: int):
    """Change the meeting's details (until its minutes are confirmed)."""
    meeting = _meeting(meeting_id)
    form = MeetingForm(obj=meeting)
    del form.agenda
    if not form.is_submitted():
        form.type.data = meeting.type.value
        form.starts_at.data = time.fromisoformat(meeting.starts_at) if meeting.starts_at \
            else None
    if form.validate_on_submit():
        try:
            update_meeting(meeting, _form_data(form))
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The meeting is saved."), "success")
            return _detail(meeting)
    return render_template("meetings/form.html", form=form, meeting=meeting)


@bp.route("/meetings/<int:meeting_id>/delete", methods=["POST"])
@permission_required("meetings.manage")
def delete(meeting_id: int):
    """Delete a meeting recorded by mistake (nothing decided at it yet)."""
    meeting = _meeting(meeting_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _detail(meeting)
    try:
        delete_meeting(meeting)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return _detail(meeting)
    flash(_("The meeting is deleted."), "success")
    return redirect(url_for("meetings.index"))


@bp.route("/meetings/<int:meeting_id>/agenda", methods=["POST"])
@permission_required("meetings.manage")
def agenda_add(meeting_id: int):
    """Add an item at the end of the agenda."""
    meeting = _meeting(meeting_id)
    form = AgendaItemForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _detail(meeting)
    return _run(lambda: add_agenda_item(meeting, form.title.data),
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
    meeting = _meeting(meeting_id)
    item = _item(meeting, item_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _detail(meeting)
    return _run(lambda: remove_agenda_item(item), _("Agenda item removed."),
                url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/move", methods=["POST"])
@permission_required("meetings.manage")
def agenda_move(meeting_id: int, item_id: int):
    """Move an agenda item up or down."""
    meeting = _meeting(meeting_id)
    item = _item(meeting, item_id)
    form = MoveForm()
    if not form.validate_on_submit() or form.direction.data not in ("up", "down"):
        flash_form_errors(form)
        return _detail(meeting)
    return _run(lambda: move_agenda_item(item, form.direction.data == "up"),
                _("Agenda reordered."), url_for("meetings.detail", meeting_id=meeting.id))


# --- Attendance -------------------------------------------------------------------


@bp.route("/meetings/<int:meeting_id>/attendance")
@permission_required("meetings.manage")
def attendance(meeting_id: int):
    """Register who came: search members by name, number or phone; guests; headcount."""
    meeting = _meeting(meeting_id)
    q = " ".join(request.args.get("q", "").split())[:100]
    found = []
    if q:
        found = list(db.session.scalars(member_query(MemberFilters(q=q)).limit(30)))
    marked = {a.member_id: a.status for a in meeting.attendance}
    return render_template(
        "meetings/attendance.html", meeting=meeting, q=q, found=found, marked=marked,
        mark_form=MarkForm(), guest_form=GuestForm(), empty=EmptyForm(),
        headcount_form=HeadcountForm(headcount=meeting.headcount),
        counts=attendance_counts(meeting), quorum=quorum_for(meeting),
        locked=minutes_locked(meeting), AttendanceStatus=AttendanceStatus,
    )


@bp.route("/meetings/<int:meeting_id>/attendance", methods=["POST"])
@permission_required("meetings.manage")
def attendance_mark(meeting_id: int):
    """Mark a member present, or record their apology."""
    meeting = _meeting(meeting_id)
    form = MarkForm()
    back = url_for("meetings.attendance", meeting_id=meeting.id, q=request.args.get("q", ""))
    if not form.validate_on_submit() or not (form.member_id.data or "").isdigit() \
            or not 0 < int(form.member_id.data) <= MAX_ID:
        flash_form_errors(form)
        return redirect(back)
    member = db.session.get(Member, int(form.member_id.data))
    return _run(lambda: mark_attendance(meeting, member, AttendanceStatus(form.status.data)),
                _("Attendance saved."), back)


@bp.route("/meetings/<int:meeting_id>/attendance/<int:member_id>/remove", methods=["POST"])
@permission_required("meetings.manage")
def attendance_remove(meeting_id: int, member_id: int):
    """Take a member off the attendance list."""
    meeting = _meeting(meeting_id)
    if not 0 < member_id <= MAX_ID:
        abort(404)
    form = EmptyForm()
    back = url_for("meetings.attendance", meeting_id=meeting.id)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    return _run(lambda: remove_attendance(meeting, member_id), _("Removed from the list."),
                back)


@bp.route("/meetings/<int:meeting_id>/guests", methods=["POST"])
@permission_required("meetings.manage")
def guest_add(meeting_id: int):
    """Add a guest with their role."""
    meeting = _meeting(meeting_id)
    form = GuestForm()
    back = url_for("meetings.attendance", meeting_id=meeting.id)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    return _run(lambda: add_guest(meeting, form.name.data, form.role.data,
                                      form.organisation.data), _("Guest added."), back)


@bp.route("/meetings/<int:meeting_id>/guests/<int:guest_id>/remove", methods=["POST"])
@permission_required("meetings.manage")
def guest_remove(meeting_id: int, guest_id: int):
    """Take a guest off the list."""
    meeting = _meeting(meeting_id)
    form = EmptyForm()
    back = url_for("meetings.attendance", meeting_id=meeting.id)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    return _run(lambda: remove_guest(meeting, guest_id), _("Guest removed."), back)


@bp.route("/meetings/<int:meeting_id>/headcount", methods=["POST"])
@permission_required("meetings.manage")
def headcount(meeting_id: int):
    """The headcount when names were not captured, with the sign-in sheet's photo."""
    meeting = _meeting(meeting_id)
    form = HeadcountForm()
    back = url_for("meetings.attendance", meeting_id=meeting.id)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    return _run(lambda: set_headcount(meeting, form.headcount.data,
                                          _read_upload(form.sheet.data)),
                _("Headcount saved."), back)


@bp.route("/meetings/<int:meeting_id>/signin-sheet")
@permission_required("meetings.view")
def signin_sheet(meeting_id: int):
    """Download the photo of the paper sign-in sheet."""
    meeting = _meeting(meeting_id)
    return _send_stored(meeting.signin_file, meeting.signin_type,
                        f"sign-in-{meeting.held_on.isoformat()}")


# --- Minutes ----------------------------------------------------------------------


@bp.route("/meetings/<int:meeting_id>/minutes/edit", methods=["GET", "POST"])
@permission_required("meetings.manage")
def minutes_edit(meeting_id: int):
    """Write the discussion and decisions of each agenda item."""
    meeting = _meeting(meeting_id)
    form = MinutesForm()
    if not form.is_submitted():
        form.language.data = meeting.minutes_language
    if form.validate_on_submit():
        items = {item.id: (request.form.get(f"discussion-{item.id}"),
                           request.form.get(f"decisions-{item.id}")) for item in meeting.agenda}
        try:
            save_minutes(meeting, items, form.language.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The minutes are saved."), "success")
            return _detail(meeting)
    return render_template("meetings/minutes_edit.html", meeting=meeting, form=form,
                           locked=minutes_locked(meeting))


def _lifecycle(meeting_id: int, action, success: str):
    meeting = _meeting(meeting_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _detail(meeting)
    return _run(lambda: action(meeting), success,
                url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>/minutes/circulate", methods=["POST"])
@permission_required("meetings.manage")
def minutes_circulate(meeting_id: int):
    """Circulate the draft minutes to the committee for comments."""
    return _lifecycle(meeting_id, circulate_minutes,
                      _("The minutes are circulated to the committee."))


@bp.route("/meetings/<int:meeting_id>/minutes/redraft", methods=["POST"])
@permission_required("meetings.manage")
def minutes_redraft(meeting_id: int):
    """Take circulated minutes back to draft."""
    return _lifecycle(meeting_id, reopen_draft, _("The minutes are a draft again."))


@bp.route("/meetings/<int:meeting_id>/minutes/publish", methods=["POST"])
@permission_required("meetings.manage")
def minutes_publish(meeting_id: int):
    """Publish confirmed minutes to members."""
    meeting = _meeting(meeting_id)
    form = PublishForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _detail(meeting)
    return _run(lambda: publish_minutes(meeting, form.members_may_read.data),
                _("The minutes are published."),
                url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>/comments", methods=["POST"])
@permission_required("meetings.comment")
def comment(meeting_id: int):
    """A committee member comments on circulated minutes."""
    meeting = _meeting(meeting_id)
    form = TextForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _detail(meeting)
    return _run(lambda: add_comment(meeting, form.text.data, current_user.id),
                _("Your comment is recorded."),
                url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>/addenda", methods=["POST"])
@permission_required("meetings.manage")
def addendum(meeting_id: int):
    """Correct published minutes with an addendum."""
    meeting = _meeting(meeting_id)
    form = TextForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _detail(meeting)
    return _run(lambda: add_addendum(meeting, form.text.data, current_user.id),
                _("The addendum is added to the minutes."),
                url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>/minutes.pdf")
@login_only
def minutes_pdf(meeting_id: int):
    """The signed-off minutes as a PDF, in English or Swahili (?lang=sw)."""
    meeting = db.session.get(Meeting, meeting_id) if 0 < meeting_id <= MAX_ID else None
    if meeting is None or not can_read_minutes(current_user, meeting):
        abort(404)
    lang = _lang()
    return _pdf(pdf.minutes_pdf(meeting, lang),
                f"minutes-{meeting.held_on.isoformat()}-{lang}.pdf")


@bp.route("/minutes")
@login_only
def minutes_list():
    """Published minutes that members may read."""
    page = db.paginate(published_for_members(), per_page=30, max_per_page=100,
                       error_out=False)
    return render_template("meetings/minutes_list.html", page=page)


@bp.route("/minutes/<int:meeting_id>")
@login_only
def minutes_read(meeting_id: int):
    """Read published minutes."""
    meeting = db.session.get(Meeting, meeting_id) if 0 < meeting_id <= MAX_ID else None
    if meeting is None or meeting.minutes_status != MinutesStatus.PUBLISHED \
            or not can_read_minutes(current_user, meeting):
        abort(404)
    return render_template("meetings/minutes_read.html", meeting=meeting,
                           quorum=quorum_for(meeting), counts=attendance_counts(meeting))


# --- Resolutions, actions, elections ---------------------------------------------


@bp.route("/meetings/<int:meeting_id>/resolutions/new", methods=["GET", "POST"])
@permission_required("meetings.manage")
def resolution_new(meeting_id: int):
    """Record a resolution and its votes (it may confirm minutes or set the dues)."""
    meeting = _meeting(meeting_id)
    form = ResolutionForm()
    form.confirms_meeting_id.choices = _meeting_choices(confirmable_meetings(meeting),
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
                return _detail(meeting)
    elif form.is_submitted():
        flash_form_errors(form)
    return render_template("meetings/resolution_form.html", meeting=meeting, form=form,
                           quorum=quorum_for(meeting))


@bp.route("/meetings/<int:meeting_id>/actions", methods=["POST"])
@permission_required("meetings.manage")
def action_add(meeting_id: int):
    """Add an action item: what, who, by when."""
    meeting = _meeting(meeting_id)
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _detail(meeting)
    return _run(lambda: add_action(meeting, form.description.data, form.owner.data,
                                       form.due_on.data),
                _("Action item added."), url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/actions/<int:action_id>/status", methods=["POST"])
@permission_required("meetings.manage")
def action_status(action_id: int):
    """Mark an action item done, dropped or open again."""
    action = _get_or_404(ActionItem, action_id)
    form = ActionStatusForm()
    target = request.form.get("back_meeting_id", "")
    back = url_for("meetings.detail", meeting_id=int(target)) if target.isdigit() else \
        url_for("meetings.detail", meeting_id=action.meeting_id)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    return _run(lambda: set_action_status(action, form.status.data),
                _("The action item is updated."), back)


@bp.route("/meetings/<int:meeting_id>/elections/new", methods=["GET", "POST"])
@permission_required("meetings.manage")
def election_new(meeting_id: int):
    """Record an election: candidates and votes; the winners take office."""
    meeting = _meeting(meeting_id)
    form = ElectionForm()
    electing = governance.electing_resolutions(meeting)
    form.resolution_id.choices = choices(
        ((r.id, _("Resolution %(number)d: %(text)s", number=r.number, text=_short(r.text)))
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
            return _detail(meeting)
    return render_template("meetings/election_form.html", meeting=meeting, form=form,
                           quorum=quorum_for(meeting), electing=electing)


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


@bp.route("/resolutions/for-rate")
@permission_required("meetings.view")
def resolution_for_rate():
    """The meeting whose resolution a dues rate cites (?ref=...), for the ledger's rates."""
    found = resolution_for_rate_ref(request.args.get("ref", "")[:120])
    if found is None:
        abort(404)
    return redirect(url_for("meetings.detail", meeting_id=found.meeting_id,
                            _anchor=f"resolution-{found.number}"))


# --- Constitution settings: quorum --------------------------------------------------


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


# --- Officials ------------------------------------------------------------------------


@bp.route("/officials")
@permission_required("meetings.view")
def officials():
    """The register of office bearers, past and present, and notices due."""
    today = today_in_nairobi()
    return render_template(
        "meetings/officials.html", current=governance.current_officials(today),
        history=governance.all_officials(), notices=governance.pending_notices(),
        filed_form=NoticeFiledForm(formdata=None, filed_on=today),
        end_form=EndTermForm(formdata=None, ended_on=today), today=today,
    )


@bp.route("/officials/new", methods=["GET", "POST"])
@permission_required("governance.manage")
def official_new():
    """Put a member in office (co-option, or an election recorded elsewhere)."""
    form = OfficialForm()
    recent = _recent_meetings()
    form.elected_at_id.choices = _meeting_choices(recent, _("None"))
    form.resolution_id.choices = choices(
        ((r.id, f"{r.meeting.held_on.isoformat()} · {enum_label(r.meeting.type)} · "
                f"{_('Resolution %(number)d: %(text)s', number=r.number, text=_short(r.text))}")
         for r in governance.official_resolutions(recent)), _("None"))
    if form.validate_on_submit():
        try:
            member = get_member_by_number(form.member_no.data)
            elected_at = db.session.get(Meeting, form.elected_at_id.data) \
                if form.elected_at_id.data else None
            resolution = db.session.get(Resolution, form.resolution_id.data) \
                if form.resolution_id.data else None
            governance.appoint(form.office.data, member, form.term_start.data,
                               form.term_end.data, elected_at=elected_at,
                               resolution=resolution,
                               phone=form.phone.data, email=form.email.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The officials register is updated. The change-of-officials notice is due "
                    "within 14 days."), "success")
            return redirect(url_for("meetings.officials"))
    return render_template("meetings/official_form.html", form=form)


@bp.route("/officials/<int:official_id>/end", methods=["POST"])
@permission_required("governance.manage")
def official_end(official_id: int):
    """An official leaves office."""
    official = _get_or_404(Official, official_id)
    form = EndTermForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("meetings.officials"))
    return _run(lambda: governance.end_term(official, form.ended_on.data, form.reason.data),
                _("The term is ended. The change-of-officials notice is due within 14 days."),
                url_for("meetings.officials"))


@bp.route("/officials.pdf")
@permission_required("meetings.view")
def officials_pdf():
    """The officials in office today, as a PDF."""
    today = today_in_nairobi()
    content = pdf.officials_pdf(governance.current_officials(today), _lang(), today)
    return _pdf(content, f"officials-{today.isoformat()}.pdf")


def _notice(notice_id: int) -> OfficialsNotice:
    return _get_or_404(OfficialsNotice, notice_id)


@bp.route("/officials/notices/<int:notice_id>.pdf")
@permission_required("governance.manage")
def notice_pdf(notice_id: int):
    """The change-of-officials notice for the registrar, to sign by three officers."""
    notice = _notice(notice_id)
    content = pdf.notice_pdf(notice, governance.current_officials(notice.changed_on), _lang())
    return _pdf(content, f"change-of-officials-{notice.changed_on.isoformat()}.pdf",
                attachment=True)


@bp.route("/officials/notices/<int:notice_id>/filed", methods=["POST"])
@permission_required("governance.manage")
def notice_filed(notice_id: int):
    """Record that the notice reached the registrar."""
    notice = _notice(notice_id)
    form = NoticeFiledForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("meetings.officials"))
    return _run(lambda: governance.mark_notice_filed(notice, form.filed_on.data),
                _("The notice is marked as filed."), url_for("meetings.officials"))


# --- Compliance, the constitution, the registration pack -----------------------------


@bp.route("/compliance")
@permission_required("governance.pack")
def compliance():
    """What the registrar will find in order, and what is missing or due."""
    return render_template(
        "meetings/compliance.html", checks=governance.compliance(),
        record=governance_record(), versions=governance.constitutions(),
    )


@bp.route("/compliance/record", methods=["GET", "POST"])
@permission_required("governance.manage")
def record():
    """The founding date, registration certificate, KRA PIN and last return."""
    existing = governance_record()
    form = RecordForm(obj=existing)
    if form.validate_on_submit():
        data = governance.RecordData(
            founded_on=form.founded_on.data, certificate_number=form.certificate_number.data,
            certificate_issued_on=form.certificate_issued_on.data,
            certificate_renewal_on=form.certificate_renewal_on.data, kra_pin=form.kra_pin.data,
            last_return_on=form.last_return_on.data)
        try:
            governance.save_record(data, _read_upload(form.certificate.data))
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The registration record is saved."), "success")
            return redirect(url_for("meetings.compliance"))
    return render_template("meetings/record_form.html", form=form)


@bp.route("/compliance/constitution", methods=["GET", "POST"])
@permission_required("governance.manage")
def constitution_new():
    """Store a version of the constitution (PDF) with the meeting that adopted it."""
    form = ConstitutionForm()
    form.adopted_at_id.choices = _meeting_choices(_recent_meetings(), _("None"))
    if form.validate_on_submit():
        adopted_at = db.session.get(Meeting, form.adopted_at_id.data) \
            if form.adopted_at_id.data else None
        try:
            governance.add_constitution(form.label.data, form.adopted_on.data, adopted_at,
                                        _read_upload(form.document.data), form.notes.data,
                                        current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The constitution is stored."), "success")
            return redirect(url_for("meetings.compliance"))
    return render_template("meetings/constitution_form.html", form=form)


@bp.route("/compliance/constitution/<int:version_id>")
@permission_required("governance.pack")
def constitution_file(version_id: int):
    """Download a version of the constitution."""
    version = _get_or_404(models.ConstitutionVersion, version_id)
    return _send_stored(version.file, "application/pdf", f"constitution-{version.adopted_on}")


@bp.route("/compliance/certificate")
@permission_required("governance.pack")
def certificate_file():
    """Download the copy of the registration certificate."""
    record_row = governance_record()
    if record_row is None:
        abort(404)
    return _send_stored(record_row.certificate_file, record_row.certificate_type,
                        "registration-certificate")


@bp.route("/compliance/pack.zip")
@permission_required("governance.pack")
def registration_pack():
    """The registration pack: one ZIP of everything the registrar asks for."""
    content = pack.registration_pack(current_user, _lang())
    response = Response(content, mimetype="application/zip")
    today = today_in_nairobi().isoformat()
    response.headers["Content-Disposition"] = \
        f'attachment; filename="registration-pack-{today}.zip"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- The public transparency page -----------------------------------------------------


@bp.route("/transparency")
@public
def transparency():
    """Public: the association's money, patrols and decisions, in aggregate only."""
    return render_template("meetings/transparency.html",
                           summaries=figures.summaries())


@bp.route("/transparency/<month>.pdf")
@public
def transparency_pdf(month: str):
    """Public: one page of the month's summary, for WhatsApp or the noticeboard."""
    try:
        start = parse_month(month)
    except MonthError:
        abort(404)
    if start > today_in_nairobi() or start < date(2000, 1, 1):
        abort(404)
    summary = figures.month_summary(start)
    return _pdf(pdf.transparency_pdf(summary, _lang()),
                f"transparency-{start.strftime('%Y-%m')}.pdf")
