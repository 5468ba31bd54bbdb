"""The coordinator's roster: the month by night with its shortages, generating it,
one shift of one night (putting people on it and taking them off), and the roster
printed (PDF) and exported (CSV).
"""

from datetime import date, timedelta
from typing import NamedTuple

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.exc import IntegrityError

from association import transaction
from association.auth.permissions import permission_required
from association.core import dates
from association.core.time import month_end, month_start, parse_month, today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.i18n import choices, current_language, enum_label
from association.meetings.minutes import minutes_awaiting_comment
from association.members.services import list_zones
from association.patrols import assignments, forms, patrollers, public, roster, swaps
from association.patrols.models import Assignment, Attendance, Patroller, PatrolZone
from association.patrols.pdf import roster_pdf
from association.patrols.views import bp
from association.patrols.views.helpers import (
    association_name,
    month_arg,
    night_arg,
    template_or_404,
)
from association.patrols.zones import zone_names
from association.web import flash_form_errors


@bp.route("/")
@permission_required("patrols.view")
def index():
    """The roster: this week (the default), tonight or the whole month (?view=), all zones
    or one (?zone=); its shortages, and what waits for the coordinator."""
    zones = zone_names()
    today = today_in_nairobi()
    choice = _roster_choice(zones, today)
    page = roster.period_roster(choice.first, choice.last, zones, choice.zone_id, today)
    manage = current_user.can("patrols.manage")
    month = month_start(choice.first)
    return render_template(
        "patrols/index.html", choice=choice,
        view_links=_view_links(choice, month), zone_links=_zone_links(choice, zones),
        zone_name=zones.get(choice.zone_id), prev_week=choice.first - timedelta(days=7),
        next_week=choice.first + timedelta(days=7),
        month=month, rows=_roster_rows(page.nights, today, manage),
        shortages=[roster.shortage_text(s, zones) for s in page.shortages],
        generated_at=roster.roster_generated_at(month),
        pending=swaps.pending_swap_count() if manage else 0,
        generate_form=forms.GenerateForm(month=month.strftime("%Y-%m")),
        prev=month_start(date.fromordinal(month.toordinal() - 1)),
        next=month_start(date.fromordinal(month_end(month).toordinal() + 1)),
        to_comment=minutes_awaiting_comment(current_user.id)
        if current_user.can("meetings.comment") else [],
        coverage=public.coverage_chart(month, month_end(month)),
    )


class RosterChoice(NamedTuple):
    """What the roster page shows, as its address says: the view, its nights, the zone."""

    view: str
    first: date
    last: date
    zone_id: int | None
    #: The address's arguments that keep this choice (for the links that change one part).
    args: dict


def _roster_choice(zones: dict[int, str], today: date) -> RosterChoice:
    """The roster's view, nights and zone from the address; what cannot be read is said
    in a message and replaced by the default (this week, all zones)."""
    args = request.args
    view = args.get("view") or ("month" if args.get("month") else "week")
    if view not in roster.VIEWS:
        flash(_("The roster has no view called %(value)s. Showing this week.",
                value=view[:20]), "error")
        view = "week"
    zone_id = None
    if args.get("zone"):
        text = args["zone"]
        zone_id = int(text) if text.isdecimal() and len(text) < 10 else None
        if zone_id not in zones:
            flash(_("There is no zone %(value)s. Showing every zone.",
                    value=text[:20]), "error")
            zone_id = None
    keep = {"view": view}
    if view == "month":
        first = month_arg(args.get("month"))
        last = month_end(first)
        keep["month"] = first.strftime("%Y-%m")
    elif view == "week":
        first = roster.week_start(today)
        if args.get("week"):
            try:
                first = roster.parse_week(args["week"])
            except DomainError as error:
                flash(str(error), "error")
        last = first + timedelta(days=6)
        keep["week"] = first.isoformat()
    else:
        first = last = roster.tonight()
    return RosterChoice(view, first, last, zone_id, keep)


def _view_links(choice: RosterChoice, month: date) -> list[tuple[str, str, bool]]:
    """(label, address, current) of each view, keeping the zone; the month's is the month
    of the nights shown."""
    zone = {"zone": choice.zone_id} if choice.zone_id else {}
    return [
        (_("Tonight"), url_for("patrols.index", view="tonight", **zone),
         choice.view == "tonight"),
        (_("This week"), url_for("patrols.index", view="week", **zone), choice.view == "week"),
        (_("Whole month"), url_for("patrols.index", view="month",
                                   month=month.strftime("%Y-%m"), **zone),
         choice.view == "month"),
    ]


def _zone_links(choice: RosterChoice, zones: dict[int, str]) -> list[tuple[str, str, bool]]:
    """(label, address, current): every zone, then each zone alone, keeping the view."""
    links = [(_("All zones"), url_for("patrols.index", **choice.args), choice.zone_id is None)]
    for zone_id, name in sorted(zones.items(), key=lambda item: item[1]):
        links.append((name, url_for("patrols.index", **choice.args, zone=zone_id),
                      zone_id == choice.zone_id))
    return links


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
        result = roster.generate_roster(month, current_user.id,
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
            "short.", month=dates.month(month), added=result.added, kept=result.kept,
            short=len(result.shortages)), "success" if not result.shortages else "warning")
    return redirect(url_for("patrols.index", month=month.strftime("%Y-%m")))


@bp.route("/shifts/<int:template_id>/<night>")
@permission_required("patrols.view")
def shift(template_id: int, night: str):
    """One shift of one night: who is on it; the coordinator adds or removes people."""
    template = template_or_404(template_id)
    night_date = night_arg(night)
    if template.weekday != night_date.weekday() and not assignments.shift_assignments(
            night_date, template.id):
        abort(404)
    form = forms.AssignForm()
    form.patroller_id.choices = choices(
        ((p.id, f"{p.member.member_no} {p.member.full_name}")
         for p in patrollers.patrollers(active_only=True)), _("Choose a patroller"))
    pz = db.session.get(PatrolZone, template.zone_id)
    return render_template(
        "patrols/shift.html", template=template, night=night_date,
        assignments=assignments.shift_assignments(night_date, template.id), form=form,
        remove_form=forms.ConfirmForm(), minimum=pz.min_per_shift if pz else 2,
        maximum=pz.max_per_shift if pz else None,
    )


@bp.route("/shifts/<int:template_id>/<night>/assign", methods=["POST"])
@permission_required("patrols.manage")
def assign(template_id: int, night: str):
    """The coordinator puts a patroller on a shift."""
    template = template_or_404(template_id)
    night_date = night_arg(night)
    form = forms.AssignForm()
    form.patroller_id.choices = choices(((p.id, str(p.id)) for p in patrollers.patrollers()),
                                        "")
    back = url_for("patrols.shift", template_id=template.id, night=night_date.isoformat())
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    try:
        _assignment, warnings = assignments.assign(
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
        assignments.unassign(assignment)
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
    month = month_arg(request.args.get("month"))
    zones = {z.id: z.name for z in list_zones()}
    data = roster_pdf(month, roster.month_assignments(month), roster.month_slots(month),
                      zones, association_name(), current_language())
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="roster-{month:%Y-%m}.pdf"'})


@bp.route("/roster.csv")
@permission_required("patrols.view")
def roster_csv():
    """The month's assignments as CSV: date, shift start, shift end, zone, member number."""
    month = month_arg(request.args.get("month"))
    headers = [_("Date"), _("Shift start"), _("Shift end"), _("Zone"), _("Member number")]
    text = roster.export_csv(month, headers)
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="roster-{month:%Y-%m}.csv"'})
