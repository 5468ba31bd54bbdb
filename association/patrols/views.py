"""The patrols screens: the coordinator's roster and settings, each patroller's own page,
attendance, stipends and the incident register."""

from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.exc import IntegrityError

from association import transaction
from association.audit.services import log_event
from association.auth.permissions import login_only, permission_required, public
from association.core.money import format_kes, to_cents
from association.core.time import (
    month_end,
    month_start,
    now_in_nairobi,
    parse_month,
    today_in_nairobi,
)
from association.errors import DomainError
from association.extensions import db
from association.i18n import choices, current_language, enum_choices, enum_label
from association.ledger.models import PaymentMethod
from association.meetings.minutes import minutes_awaiting_comment
from association.members.models import Zone
from association.members.services import MemberNotFoundError, get_member_by_number, list_zones
from association.patrols import (
    forms,
    models,  # noqa: F401  (the app and migrations see the tables)
    services,
    stipends,
)
from association.patrols import incidents as inc
from association.patrols.ical import feed, shifts_for
from association.patrols.models import (
    Assignment,
    Attendance,
    Incident,
    IncidentAction,
    IncidentCategory,
    Patroller,
    ShiftTemplate,
    Swap,
    SwapStatus,
)
from association.patrols.pdf import payout_pdf, roster_pdf
from association.patrols.public import safe_count
from association.profile.services import get_profile
from association.web import flash_form_errors

bp = Blueprint("patrols", __name__, url_prefix="/patrols")


def _month_arg(value: str | None) -> date:
    """The month in ``value`` (YYYY-MM), the current month when absent or malformed."""
    if value:
        try:
            return parse_month(value)
        except DomainError as error:
            flash(str(error), "error")
    return month_start(today_in_nairobi())


def _night_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        abort(404)


def _association() -> str:
    profile = get_profile()
    return profile.name if profile else ""


# --- The coordinator's roster --------------------------------------------------------


@bp.route("/")
@permission_required("patrols.view")
def index():
    """The month's roster by night, its shortages, and what waits for the coordinator."""
    month = _month_arg(request.args.get("month"))
    zones = services.zone_names()
    page = services.month_roster(month, zones)
    today = today_in_nairobi()
    manage = current_user.can("patrols.manage")
    return render_template(
        "patrols/index.html", month=month, rows=_roster_rows(page.nights, today, manage),
        shortages=[services.shortage_text(s, zones) for s in page.shortages],
        generated_at=services.roster_generated_at(month),
        pending=services.pending_swap_count() if manage else 0,
        generate_form=forms.GenerateForm(month=month.strftime("%Y-%m")),
        prev=month_start(date.fromordinal(month.toordinal() - 1)),
        next=month_start(date.fromordinal(month_end(month).toordinal() + 1)),
        to_comment=minutes_awaiting_comment(current_user.id)
        if current_user.can("meetings.comment") else [],
    )


def _roster_rows(nights, today: date, manage: bool) -> list[Markup]:
    """The roster's rows as HTML, built here: a month has hundreds of shifts, and the
    template took over half the page's time on them. Every value is escaped here."""
    shift_base = escape(url_for("patrols.shift", template_id=0, night="-").rsplit("/", 2)[0])
    attendance_base = escape(url_for("patrols.attendance", night="-").rsplit("/", 1)[0])
    by_hand = f' <small class="muted">({escape(_("by hand"))})</small>'
    badges = {a: f' <span class="badge {a.value}">{escape(enum_label(a))}</span>'
              for a in Attendance}
    rows = []
    for night, shifts in nights:
        iso = night.isoformat()
        past = " past" if night < today else ""
        first = escape(format_date(night, "EEE d MMM"))
        if manage and night <= today:
            first += Markup(f'<br><a href="{attendance_base}/{iso}">'  # noqa: S704 - escaped
                            f'{escape(_("Attendance"))}</a>')
        for shift in shifts:
            held = ", ".join(
                f"{escape(a.full_name)}{by_hand if a.manual else ''}"
                f"{badges[a.attendance] if a.attendance else ''}" for a in shift.held)
            if len(shift.held) < shift.slot.minimum:
                short = _("Short: %(have)d of %(need)d", have=len(shift.held),
                          need=shift.slot.minimum)
                held += f' <strong class="error">{escape(short)}</strong>'
            rows.append(Markup(  # noqa: S704 - each value escaped above
                f'<tr class="{"short" if shift.short else ""}{past}">'
                f'<td class="nowrap">{first}</td><td>{escape(shift.zone)}</td>'
                f'<td class="nowrap"><a href="{shift_base}/{shift.slot.template_id}/{iso}">'
                f"{escape(shift.times)}</a></td><td>{held}</td></tr>"))
            first = ""
    return rows


@bp.route("/generate", methods=["POST"])
@permission_required("patrols.manage")
def generate():
    """Generate or regenerate a month's roster."""
    form = forms.GenerateForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.index"))
    try:
        month = parse_month(form.month.data)
        result = services.generate_roster(month, current_user.id,
                                          keep_manual=not form.replace_manual.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("patrols.index", month=form.month.data[:7]))
    try:
        db.session.flush()  # a clash shows here, before the request's commit
    except IntegrityError:  # someone else generated the same month at the same moment
        transaction.discard()
        flash(_("The roster was being changed by someone else at the same time. Look at it "
                "again, then regenerate if needed."), "error")
        return redirect(url_for("patrols.index", month=month.strftime("%Y-%m")))
    flash(_("Roster for %(month)s: %(added)d places filled, %(kept)d kept, %(short)d shifts "
            "short.", month=month.strftime("%Y-%m"), added=result.added, kept=result.kept,
            short=len(result.shortages)), "success" if not result.shortages else "warning")
    return redirect(url_for("patrols.index", month=month.strftime("%Y-%m")))


def _template_or_404(template_id: int) -> ShiftTemplate:
    return db.get_or_404(ShiftTemplate, template_id)


@bp.route("/shifts/<int:template_id>/<night>")
@permission_required("patrols.view")
def shift(template_id: int, night: str):
    """One shift of one night: who is on it; the coordinator adds or removes people."""
    template = _template_or_404(template_id)
    night_date = _night_arg(night)
    if template.weekday != night_date.weekday() and not services.shift_assignments(
            night_date, template.id):
        abort(404)
    form = forms.AssignForm()
    form.patroller_id.choices = choices(
        ((p.id, f"{p.member.member_no} {p.member.full_name}")
         for p in services.patrollers(active_only=True)), _("Choose a patroller"))
    pz = db.session.get(models.PatrolZone, template.zone_id)
    return render_template(
        "patrols/shift.html", template=template, night=night_date,
        assignments=services.shift_assignments(night_date, template.id), form=form,
        remove_form=forms.ConfirmForm(), minimum=pz.min_per_shift if pz else 2,
        maximum=pz.max_per_shift if pz else None,
    )


@bp.route("/shifts/<int:template_id>/<night>/assign", methods=["POST"])
@permission_required("patrols.manage")
def assign(template_id: int, night: str):
    """The coordinator puts a patroller on a shift."""
    template = _template_or_404(template_id)
    night_date = _night_arg(night)
    form = forms.AssignForm()
    form.patroller_id.choices = choices(((p.id, str(p.id)) for p in services.patrollers()),
                                        "")
    back = url_for("patrols.shift", template_id=template.id, night=night_date.isoformat())
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    try:
        _assignment, warnings = services.assign(
            night_date, template, db.session.get(Patroller, form.patroller_id.data))
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(back)
    flash(_("Added to the shift."), "success")
    for warning in warnings:
        flash(_("Note: %(problem)s", problem=warning), "warning")
    return redirect(back)


@bp.route("/assignments/<int:assignment_id>/remove", methods=["POST"])
@permission_required("patrols.manage")
def unassign(assignment_id: int):
    """The coordinator takes someone off a shift that has not started."""
    assignment = db.get_or_404(Assignment, assignment_id)
    back = url_for("patrols.shift", template_id=assignment.template_id,
                   night=assignment.night.isoformat())
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    try:
        services.unassign(assignment)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(back)
    flash(_("Removed from the shift."), "success")
    return redirect(back)


@bp.route("/roster.pdf")
@permission_required("patrols.view")
def roster_print():
    """The month's roster as a PDF to print: by zone, then by night."""
    month = _month_arg(request.args.get("month"))
    zones = {z.id: z.name for z in list_zones()}
    data = roster_pdf(month, services.month_assignments(month), services.month_slots(month),
                      zones, _association(), current_language())
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="roster-{month:%Y-%m}.pdf"'})


@bp.route("/roster.csv")
@permission_required("patrols.view")
def roster_csv():
    """The month's assignments as CSV: date, shift start, shift end, zone, member number."""
    month = _month_arg(request.args.get("month"))
    headers = [_("Date"), _("Shift start"), _("Shift end"), _("Zone"), _("Member number")]
    text = services.export_csv(month, headers)
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="roster-{month:%Y-%m}.csv"'})


# --- Settings, zones and shift templates --------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("patrols.manage")
def settings():
    """The stipend rate and every zone's patrol settings."""
    row = services.settings()
    form = forms.StipendRateForm()
    if form.validate_on_submit():
        try:
            services.set_stipend_rate(to_cents(form.stipend.data, allow_zero=True))
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The stipend is now %(amount)s a shift.", amount=format_kes(
                row.stipend_cents)), "success")
            return redirect(url_for("patrols.settings"))
    elif request.method == "GET":
        form.stipend.data = f"{row.stipend_cents / 100:.2f}"
    return render_template("patrols/settings.html", form=form,
                           zones=services.zone_settings(), templates=services.templates(),
                           weekday_name=services.weekday_name)


@bp.route("/zones/<int:zone_id>", methods=["GET", "POST"])
@permission_required("patrols.manage")
def zone(zone_id: int):
    """A zone's minimum and maximum per shift, and its shift times."""
    zone_row = db.get_or_404(Zone, zone_id)
    pz = db.session.get(models.PatrolZone, zone_id)
    form = forms.ZoneSettingsForm(obj=pz) if request.method == "GET" else \
        forms.ZoneSettingsForm()
    if request.method == "GET" and pz is None:
        form.min_per_shift.data = 2
    if form.validate_on_submit():
        try:
            services.save_zone_settings(zone_row, form.min_per_shift.data,
                                        form.max_per_shift.data, form.active.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("%(zone)s is saved.", zone=zone_row.name), "success")
            return redirect(url_for("patrols.zone", zone_id=zone_id))
    return render_template("patrols/zone.html", zone=zone_row, form=form,
                           template_form=forms.TemplateForm(formdata=None),
                           retire_form=forms.ConfirmForm(),
                           templates=services.templates(zone_id),
                           volunteers=services.zone_volunteers(zone_id),
                           weekday_name=services.weekday_name)


@bp.route("/zones/<int:zone_id>/shifts", methods=["POST"])
@permission_required("patrols.manage")
def template_add(zone_id: int):
    """Add a shift time to a zone on the chosen nights."""
    zone_row = db.get_or_404(Zone, zone_id)
    form = forms.TemplateForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.zone", zone_id=zone_id))
    try:
        made = services.add_templates(zone_row, [int(d) for d in form.weekdays.data],
                                      form.start_time.data, form.end_time.data)
    except (DomainError, ValueError) as error:
        transaction.discard()
        flash(str(error) if isinstance(error, DomainError) else _("Not a valid choice."),
              "error")
        return redirect(url_for("patrols.zone", zone_id=zone_id))
    flash(ngettext("%(num)d shift added.", "%(num)d shifts added.", len(made)), "success")
    return redirect(url_for("patrols.zone", zone_id=zone_id))


@bp.route("/templates/<int:template_id>/retire", methods=["POST"])
@permission_required("patrols.manage")
def template_retire(template_id: int):
    """Stop using a shift time; shifts already on the roster stay."""
    template = _template_or_404(template_id)
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        services.retire_template(template)
        flash(_("The shift is no longer used. Regenerate the roster to take it off."),
              "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.zone", zone_id=template.zone_id))


# --- Patrollers -----------------------------------------------------------------------


@bp.route("/patrollers")
@permission_required("patrols.view")
def patrollers():
    """Every patrol volunteer, with their availability and this month's shifts."""
    month = month_start(today_in_nairobi())
    counts: dict = {}
    for a in services.month_assignments(month):
        counts[a.patroller_id] = counts.get(a.patroller_id, 0) + 1
    return render_template("patrols/patrollers.html", patrollers=services.patrollers(),
                           counts=counts, form=forms.EnrolForm(formdata=None),
                           zones={z.id: z.name for z in list_zones()},
                           weekday_name=services.weekday_name)


@bp.route("/patrollers/enrol", methods=["POST"])
@permission_required("patrols.manage")
def enrol():
    """Enrol a member as a patrol volunteer."""
    form = forms.EnrolForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.patrollers"))
    try:
        member = get_member_by_number(form.member_no.data)
        patroller = services.enrol(member, form.weekly_limit.data, form.back_to_back.data)
    except (DomainError, MemberNotFoundError) as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("patrols.patrollers"))
    flash(_("%(name)s is enrolled. Now set the nights and zones they can patrol.",
            name=member.full_name), "success")
    return redirect(url_for("patrols.patroller", patroller_id=patroller.id))


def _availability_from_form(zones) -> set:
    places = set()
    for weekday in range(7):
        for z in zones:
            if request.form.get(f"w{weekday}z{z.id}"):
                places.add((weekday, z.id))
    return places


@bp.route("/patrollers/<int:patroller_id>")
@permission_required("patrols.view")
def patroller(patroller_id: int):
    """One volunteer: limits, availability, away dates and shifts."""
    p = db.get_or_404(Patroller, patroller_id)
    return _patroller_page("patrols/patroller.html", p, forms.PatrollerForm(obj=p), own=False)


@bp.route("/patrollers/<int:patroller_id>/edit", methods=["POST"])
@permission_required("patrols.manage")
def patroller_edit(patroller_id: int):
    """Change a volunteer's limits and the nights and zones they patrol."""
    p = db.get_or_404(Patroller, patroller_id)
    form = forms.PatrollerForm()
    if form.validate_on_submit():
        try:
            services.update_patroller(p, form.active.data, form.weekly_limit.data,
                                      form.back_to_back.data)
            services.set_availability(p, _availability_from_form(list_zones()))
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("Saved."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.patroller", patroller_id=p.id))


def _patroller_page(template: str, p: Patroller, form, own: bool):
    today = today_in_nairobi()
    shifts = shifts_for(p, today)
    offers = {s.assignment_id: s for s in db.session.scalars(
        db.select(Swap).where(Swap.offered_by_id == p.id,
                              Swap.status.in_((SwapStatus.OFFERED, SwapStatus.PENDING))))}
    return render_template(
        template, p=p, form=form, zones=list_zones(), weekday_name=services.weekday_name,
        available={(a.weekday, a.zone_id) for a in p.availability},
        upcoming=[a for a in shifts if a.night >= today],
        past=[a for a in shifts if a.night < today][-10:], offers=offers,
        open_offers=services.open_offers(p) if own else [],
        away_form=forms.AwayForm(formdata=None), offer_form=forms.OfferForm(formdata=None),
        confirm_form=forms.ConfirmForm(), own=own, now=now_in_nairobi(),
    )


# --- A patroller's own page ---------------------------------------------------------


def _own_patroller() -> Patroller | None:
    return services.patroller_of(current_user)


@bp.route("/me", methods=["GET"])
@login_only
def me():
    """My shifts, my availability and away dates, shifts offered by others, my calendar."""
    p = _own_patroller()
    if p is None:
        return render_template("patrols/not_patroller.html")
    return _patroller_page("patrols/me.html", p, forms.AvailabilityForm(), own=True)


def _own_or_404() -> Patroller:
    p = _own_patroller()
    if p is None:
        abort(404)
    return p


@bp.route("/me/availability", methods=["POST"])
@login_only
def me_availability():
    """Change the nights and zones I can patrol."""
    p = _own_or_404()
    form = forms.AvailabilityForm()
    if form.validate_on_submit():
        try:
            services.set_availability(p, _availability_from_form(list_zones()))
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("Your availability is saved. It counts from the next roster."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.me"))


@bp.route("/me/away", methods=["POST"])
@login_only
def me_away():
    """Tell the coordinator which nights I am away."""
    p = _own_or_404()
    form = forms.AwayForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.me"))
    try:
        services.add_away(p, form.start_date.data, form.end_date.data, form.reason.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("Saved. If you are on the roster on those nights, offer the shifts to others "
                "or tell the coordinator."), "success")
    return redirect(url_for("patrols.me"))


@bp.route("/me/away/<int:away_id>/remove", methods=["POST"])
@login_only
def me_away_remove(away_id: int):
    """Delete one of my away periods."""
    p = _own_or_404()
    if not any(a.id == away_id for a in p.away):
        abort(404)
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        services.remove_away(p, away_id)
        flash(_("Removed."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.me"))


@bp.route("/me/shifts/<int:assignment_id>/offer", methods=["POST"])
@login_only
def me_offer(assignment_id: int):
    """Offer one of my shifts to the other patrollers."""
    p = _own_or_404()
    assignment = services.assignment_of(p, assignment_id)
    if assignment is None:
        abort(404)
    form = forms.OfferForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.me"))
    try:
        services.offer_shift(p, assignment, form.note.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("Your shift is offered. You stay on it until someone takes it."), "success")
    return redirect(url_for("patrols.me"))


@bp.route("/me/offers/<int:swap_id>/take", methods=["POST"])
@login_only
def me_take(swap_id: int):
    """Take a shift another patroller offered."""
    p = _own_or_404()
    swap = db.session.get(Swap, swap_id)
    if swap is None or swap.status != SwapStatus.OFFERED:
        abort(404)
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.me"))
    try:
        swap = services.take_offer(p, swap)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("patrols.me"))
    if swap.status == SwapStatus.APPROVED:
        flash(_("The shift is yours."), "success")
    else:
        flash(_("The coordinator must approve this swap: %(why)s", why=swap.problems),
              "warning")
    return redirect(url_for("patrols.me"))


@bp.route("/me/offers/<int:swap_id>/cancel", methods=["POST"])
@login_only
def me_cancel(swap_id: int):
    """Withdraw my offer."""
    p = _own_or_404()
    swap = db.session.get(Swap, swap_id)
    if swap is None or swap.offered_by_id != p.id:
        abort(404)
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        try:
            services.cancel_offer(p, swap)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("Your offer is withdrawn."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.me"))


@bp.route("/me/calendar/new", methods=["POST"])
@login_only
def me_calendar_new():
    """A new secret calendar address; the old one stops working."""
    p = _own_or_404()
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        services.regenerate_token(p)
        flash(_("Your calendar has a new address. Subscribe to it again on your phone."),
              "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.me"))


@bp.route("/calendar/<token>.ics")
@public
def calendar(token: str):
    """A patroller's shifts as an iCalendar feed; the secret in the address is the key."""
    p = services.patroller_by_token(token)
    if p is None:
        abort(404)
    language = "sw" if request.args.get("lang") == "sw" else "en"
    data = feed(p, _association(), request.host, language, today_in_nairobi())
    return Response(data, mimetype="text/calendar", headers={
        "Content-Disposition": 'inline; filename="patrol-shifts.ics"',
        "Cache-Control": "private, max-age=900", "Referrer-Policy": "no-referrer"})


# --- Swaps the coordinator decides ---------------------------------------------------


@bp.route("/swaps")
@permission_required("patrols.manage")
def swaps():
    """Swaps waiting for the coordinator, and the shifts on offer."""
    return render_template("patrols/swaps.html", pending=services.pending_swaps(),
                           offers=services.open_offers(), form=forms.DecideForm(formdata=None))


@bp.route("/swaps/<int:swap_id>/decide", methods=["POST"])
@permission_required("patrols.manage")
def swap_decide(swap_id: int):
    """Approve or refuse a swap."""
    swap = db.get_or_404(Swap, swap_id)
    form = forms.DecideForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.swaps"))
    try:
        services.decide_swap(swap, form.decision.data == "approve", current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("The swap is approved.") if swap.status == SwapStatus.APPROVED
              else _("The swap is refused."), "success")
    return redirect(url_for("patrols.swaps"))


# --- Attendance -------------------------------------------------------------------------


@bp.route("/attendance/<night>", methods=["GET", "POST"])
@permission_required("patrols.manage")
def attendance(night: str):
    """Who turned up on each shift of a night."""
    night_date = _night_arg(night)
    rows = [a for a in services.month_assignments(night_date) if a.night == night_date]
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
                entries.append(services.AttendanceInput(
                    a.id, Attendance(status) if status else None,
                    int(replaced) if replaced.isdigit() else None,
                    request.form.get(f"note-{a.id}", "")[:200]))
            changed = services.record_attendance(night_date, entries, current_user.id)
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
        replacements=services.patrollers(active_only=True),
    )


# --- Stipends ---------------------------------------------------------------------------


@bp.route("/stipends")
@permission_required("patrols.stipends")
def stipend_runs():
    """Stipend runs, and what the chosen month's stipends would be."""
    today = today_in_nairobi()
    default = month_start(date.fromordinal(month_start(today).toordinal() - 1))
    month = _month_arg(request.args.get("month")) if request.args.get("month") else default
    rate, lines = stipends.preview(month)
    existing = stipends.standing_run(month)
    all_runs = stipends.runs()
    return render_template(
        "patrols/stipends.html", month=month, rate=rate, lines=lines, runs=all_runs,
        existing=existing, statuses=stipends.run_statuses(all_runs),
        total=sum(line.amount_cents for line in lines),
        unrecorded=services.unrecorded_shifts(month),
        form=forms.StipendRunForm(formdata=None, month=month.strftime("%Y-%m")),
    )


@bp.route("/stipends/new", methods=["POST"])
@permission_required("patrols.stipends")
def stipend_new():
    """Compute a month's stipends and send them for approval."""
    form = forms.StipendRunForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.stipend_runs"))
    try:
        run = stipends.create_run(parse_month(form.month.data), PaymentMethod(form.method.data),
                                  current_user.id)
    except (DomainError, ValueError) as error:
        transaction.discard()
        flash(str(error) if isinstance(error, DomainError) else _("Not a valid choice."),
              "error")
        return redirect(url_for("patrols.stipend_runs", month=form.month.data[:7]))
    flash(_("Stipends STP-%(id)d (%(amount)s) wait for another official's approval.",
            id=run.id, amount=format_kes(run.total_cents)), "success")
    return redirect(url_for("patrols.stipend_run", run_id=run.id))


def _run_or_404(run_id: int):
    run = stipends.get_run(run_id)
    if run is None:
        abort(404)
    return run


@bp.route("/stipends/<int:run_id>")
@permission_required("patrols.stipends")
def stipend_run(run_id: int):
    """One stipend run: its lines, its expense and its state."""
    run = _run_or_404(run_id)
    return render_template("patrols/stipend.html", run=run, status=stipends.run_status(run),
                           approve_form=forms.ConfirmForm(),
                           reject_form=forms.RejectForm(formdata=None))


@bp.route("/stipends/<int:run_id>/payout.pdf")
@permission_required("patrols.stipends")
def stipend_pdf(run_id: int):
    """The payout list to sign, as a PDF."""
    run = _run_or_404(run_id)
    data = payout_pdf(run, _association(), current_language())
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="stipends-{run.month:%Y-%m}.pdf"'})


@bp.route("/stipends/<int:run_id>/approve", methods=["POST"])
@permission_required("ledger.expense_approve")
def stipend_approve(run_id: int):
    """A second official approves the stipends: they are posted to the books."""
    run = _run_or_404(run_id)
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            stipends.approve_run(run, current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The stipends are approved and posted to the books."), "success")
    if current_user.can("patrols.stipends"):
        return redirect(url_for("patrols.stipend_run", run_id=run_id))
    return redirect(url_for("expenses.detail", expense_id=run.expense_id))


@bp.route("/stipends/<int:run_id>/reject", methods=["POST"])
@permission_required("ledger.expense_approve")
def stipend_reject(run_id: int):
    """Reject the stipends with a reason; they can be computed again."""
    run = _run_or_404(run_id)
    form = forms.RejectForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            stipends.reject_run(run, current_user.id, form.reason.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The stipends are rejected."), "success")
    if current_user.can("patrols.stipends"):
        return redirect(url_for("patrols.stipend_run", run_id=run_id))
    return redirect(url_for("expenses.detail", expense_id=run.expense_id))


# --- Incidents --------------------------------------------------------------------------


def _incident_data(form) -> inc.IncidentData:
    return inc.IncidentData(
        occurred_at=form.occurred_at.data, zone_id=form.zone_id.data,
        place=form.place.data, category=form.category.data,
        description=form.description.data, actions=form.actions.data or [],
        action_notes=form.action_notes.data, weapon_involved=form.weapon_involved.data,
        sexual_offence=form.sexual_offence.data, police_station=form.police_station.data,
        ob_number=form.ob_number.data, police_officer=form.police_officer.data,
        reporter_name=form.reporter_name.data, reporter_phone=form.reporter_phone.data,
        person_description=form.person_description.data,
    )


def _zone_choices(form_field, blank):
    form_field.choices = choices(((z.id, z.name) for z in list_zones()), blank)


def _filters(form) -> inc.IncidentFilters:
    filters = inc.IncidentFilters()
    if form.validate():
        month = None
        if form.month.data:
            try:
                month = parse_month(form.month.data)
            except DomainError as error:
                form.month.errors = [str(error)]
        category = None
        if form.category.data:
            try:
                category = IncidentCategory(form.category.data)
            except ValueError:
                category = None
        filters = inc.IncidentFilters(zone_id=form.zone_id.data, category=category,
                                      month=month, major_only=bool(form.major.data))
    return filters


@bp.route("/incidents")
@permission_required("incidents.view")
def incidents():
    """The incident register, newest first; major crimes without a police referral flagged."""
    form = forms.IncidentFilterForm(request.args)
    _zone_choices(form.zone_id, _("All zones"))
    form.category.choices = enum_choices(IncidentCategory, _("All categories"))
    page = db.paginate(inc.incident_query(_filters(form)), per_page=50, max_per_page=100,
                       error_out=False)
    log_event("view", "incident_register", None, {"ids": [i.id for i in page.items]})
    return render_template("patrols/incidents.html", page=page, form=form,
                           needs_police=inc.needs_police)


@bp.route("/incidents/new", methods=["GET", "POST"])
@permission_required("incidents.manage")
def incident_new():
    """Record an incident."""
    form = forms.IncidentForm()
    _zone_choices(form.zone_id, _("Choose a zone"))
    if form.validate_on_submit():
        try:
            incident = inc.record_incident(_incident_data(form), current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("Incident INC-%(id)d is recorded.", id=incident.id), "success")
            if incident.major and IncidentAction.TO_POLICE.value not in incident.actions:
                flash(_("This is a major crime: hand it to the police and record the OB "
                        "number."), "warning")
            return redirect(url_for("patrols.incident", incident_id=incident.id))
    return render_template("patrols/incident_form.html", form=form, incident=None)


@bp.route("/incidents/<int:incident_id>")
@permission_required("incidents.view")
def incident(incident_id: int):
    """One incident, with its corrections; who reported it only for the coordinator and
    chair. The view is logged."""
    shows_reporter = current_user.can("incidents.reporter")
    item = inc.view_incident(incident_id, shows_reporter)
    if item is None:
        abort(404)
    return render_template("patrols/incident.html", incident=item,
                           shows_reporter=shows_reporter, needs_police=inc.needs_police(item),
                           IncidentAction=IncidentAction)


@bp.route("/incidents/<int:incident_id>/edit", methods=["GET", "POST"])
@permission_required("incidents.manage")
def incident_edit(incident_id: int):
    """Correct an incident; the earlier version is kept with the reason."""
    item = db.get_or_404(Incident, incident_id)
    if request.method == "GET":
        log_event("view", "incident", item.id, {"reporter_shown": True, "for": "correction"})
        form = forms.IncidentForm(obj=item)
        form.category.data = item.category.value
        form.actions.data = list(item.actions or [])
    else:
        form = forms.IncidentForm()
    _zone_choices(form.zone_id, _("Choose a zone"))
    if form.validate_on_submit():
        try:
            inc.correct_incident(item, _incident_data(form), form.reason.data,
                                 current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The correction is saved; the earlier version is kept."), "success")
            return redirect(url_for("patrols.incident", incident_id=item.id))
    return render_template("patrols/incident_form.html", form=form, incident=item)


@bp.route("/incidents.csv")
@permission_required("incidents.view")
def incidents_csv():
    """The register (as filtered) as CSV; the export is logged."""
    form = forms.IncidentFilterForm(request.args)
    _zone_choices(form.zone_id, "")
    form.category.choices = enum_choices(IncidentCategory, "")
    with_reporter = current_user.can("incidents.reporter")
    headers = [_("No."), _("Date and time"), _("Zone"), _("Place"), _("Category"),
               _("What happened"), _("What the patrol did"), _("Major crime"),
               _("Police station"), _("OB number"), _("Police officer"),
               _("About a person (unverified allegation)")]
    if with_reporter:
        headers += [_("Reported by"), _("Reporter's phone")]
    text = inc.export_csv(_filters(form), headers, enum_label, with_reporter)
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="incidents.csv"'})


@bp.route("/incidents/summary")
@login_only
def incident_counts():
    """Incidents counted by month, zone and category: all that members see."""
    today = today_in_nairobi()
    start = date(today.year - 1, today.month, 1)
    return render_template("patrols/incident_counts.html", rows=inc.counts(start, today),
                           start=start, safe_count=safe_count)
