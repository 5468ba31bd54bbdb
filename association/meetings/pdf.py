"""PDFs of governance: signed-off minutes, the officials list, the change-of-officials
notice, the registration pack's cover page and the month's transparency summary.

Each is built in the language asked for (labels translated; what the secretary wrote is
printed as written), with DejaVu Sans so Swahili and any name print correctly.
"""

import io
from datetime import date
from xml.sax.saxutils import escape

from flask_babel import force_locale, format_date, pgettext
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

from association.core import dates
from association.core.money import format_kes
from association.core.pdf import document_fonts, ruled_style
from association.i18n import enum_label
from association.meetings.common import agenda_title, notice_summary
from association.meetings.models import AttendanceStatus, Meeting, Office


class Document:
    """A flowing A4 document with a few paragraph styles."""

    def __init__(self, title: str, pagesize=A4, margin=16 * mm):
        regular, bold = document_fonts()
        self.out = io.BytesIO()
        self.doc = SimpleDocTemplate(self.out, pagesize=pagesize, title=title,
                                     leftMargin=margin, rightMargin=margin,
                                     topMargin=margin, bottomMargin=margin)
        self.flow = []
        self.styles = {
            "title": ParagraphStyle("t", fontName=bold, fontSize=15, leading=19, spaceAfter=4),
            "h": ParagraphStyle("h", fontName=bold, fontSize=11.5, leading=15, spaceBefore=8,
                                spaceAfter=3),
            "p": ParagraphStyle("p", fontName=regular, fontSize=9.5, leading=13, spaceAfter=3),
            "small": ParagraphStyle("s", fontName=regular, fontSize=8, leading=10,
                                    textColor=colors.HexColor("#444444")),
            "big": ParagraphStyle("b", fontName=bold, fontSize=13, leading=17),
        }
        self.regular, self.bold = regular, bold

    def text(self, value, style: str = "p") -> None:
        body = "<br/>".join(escape(line) for line in str(value).splitlines())
        self.flow.append(Paragraph(body, self.styles[style]))

    def space(self, height=4) -> None:
        self.flow.append(Spacer(1, height * mm))

    def table(self, rows: list[list], widths=None, header: bool = True) -> None:
        if not rows:
            return
        cells = [[Paragraph(escape(str(c)), self.styles["p"]) for c in row] for row in rows]
        table = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
        table.setStyle(ruled_style(header))
        self.flow.append(table)

    def finish(self) -> bytes:
        self.doc.build(self.flow)
        return self.out.getvalue()


def _profile():
    from association.profile.services import get_profile

    return get_profile()


def _header(doc: Document) -> None:
    profile = _profile()
    if profile is not None:
        doc.text(profile.name, "big")
        where = ", ".join(x for x in (profile.estate, profile.ward, profile.sub_county,
                                      profile.county) if x)
        doc.text(where, "small")
        if profile.registration_number:
            doc.text(_("Registration number: %(no)s", no=profile.registration_number), "small")
    doc.space(3)


# --- Minutes ----------------------------------------------------------------


def _signatories(meeting: Meeting) -> dict:
    from association.meetings.governance import current_officials

    names = {}
    for official in current_officials(meeting.held_on):
        if official.office in (Office.CHAIR, Office.SECRETARY):
            names.setdefault(official.office, official.member.full_name)
    return names


def minutes_pdf(meeting: Meeting, language: str = "en") -> bytes:
    """The signed-off minutes: header, attendance and quorum, each item's discussion and
    decisions, resolutions with votes, action items, and the signature block."""
    from association.meetings.quorum import attendance_counts, quorum_for

    with force_locale(language):
        title = _("Minutes: %(title)s", title=meeting.title)
        doc = Document(title)
        _header(doc)
        doc.text(title, "title")
        when = format_date(meeting.held_on, "full")
        if meeting.starts_at:
            when += " " + meeting.starts_at
        doc.text(_("%(type)s · %(when)s · %(venue)s", type=enum_label(meeting.type), when=when,
                   venue=meeting.venue))
        doc.text(_("Convened by %(who)s.", who=meeting.convener))
        if meeting.notice_on:
            doc.text(_("Notice given on %(date)s.", date=format_date(meeting.notice_on, "long")))
        doc.text(_("Minutes status: %(status)s.", status=enum_label(meeting.minutes_status)),
                 "small")

        doc.text(_("Attendance"), "h")
        counts = attendance_counts(meeting)
        quorum = quorum_for(meeting)
        present = quorum.present
        doc.text(_("Present: %(n)d (women %(women)d, men %(men)d, youth 18-35 %(youth)d); "
                   "apologies: %(apologies)d; guests: %(guests)d.", n=present,
                   women=counts.women, men=counts.men, youth=counts.youth,
                   apologies=counts.apologies, guests=counts.guests))
        if meeting.headcount is not None:
            doc.text(_("Headcount from the sign-in sheet: %(n)d.", n=meeting.headcount))
        if quorum.met:
            doc.text(_("Quorum: %(required)d needed, %(present)d present. Quorum was reached.",
                       required=quorum.required, present=present))
        else:
            doc.text(_("Quorum: %(required)d needed, %(present)d present. Quorum was NOT "
                       "reached: decisions are marked inquorate.", required=quorum.required,
                       present=present))
        names = sorted(a.member.full_name for a in meeting.attendance
                        if a.status == AttendanceStatus.PRESENT)
        if names:
            doc.text(_("Members present: %(names)s.", names=", ".join(names)), "small")
        apologies = sorted(a.member.full_name for a in meeting.attendance
                           if a.status == AttendanceStatus.APOLOGY)
        if apologies:
            doc.text(_("Apologies: %(names)s.", names=", ".join(apologies)), "small")
        if meeting.guests:
            doc.text(_("Guests: %(names)s.", names="; ".join(
                f"{g.name} ({g.role}{', ' + g.organisation if g.organisation else ''})"
                for g in meeting.guests)), "small")

        doc.text(_("Agenda and minutes"), "h")
        for item in meeting.agenda:
            doc.text(f"{item.position}. {agenda_title(item)}", "h")
            if item.discussion:
                doc.text(_("Discussion:"), "small")
                doc.text(item.discussion)
            if item.decisions:
                doc.text(_("Decisions:"), "small")
                doc.text(item.decisions)
            if not item.discussion and not item.decisions:
                doc.text(_("No minutes recorded."), "small")

        if meeting.resolutions:
            doc.text(_("Resolutions"), "h")
            for res in meeting.resolutions:
                verdict = _("Passed") if res.passed else _("Not passed")
                if res.inquorate:
                    verdict += " · " + _("Inquorate")
                doc.text(_("Resolution %(n)d (%(verdict)s): %(text)s", n=res.number,
                           verdict=verdict, text=res.text))
                doc.text(_("Proposed by %(p)s, seconded by %(s)s. For %(f)d, against %(a)d, "
                           "abstaining %(ab)d; %(rule)s.", p=res.proposer, s=res.seconder,
                           f=res.votes_for, a=res.votes_against, ab=res.votes_abstain,
                           rule=enum_label(res.majority)), "small")
                for link in res.rates:
                    rate = link.dues_rate
                    doc.text(_("Dues rate: %(category)s %(amount)s a month from %(month)s.",
                               category=enum_label(rate.category),
                               amount=format_kes(rate.amount_cents),
                               month=dates.month(rate.effective_from)), "small")

        elections = list(_elections(meeting))
        if elections:
            doc.text(_("Elections"), "h")
            for election in elections:
                results = "; ".join(
                    f"{c.member.full_name} {c.votes}" + (f" ({_('elected')})" if c.elected else "")
                    for c in election.candidates)
                doc.text(f"{enum_label(election.office)}: {results}")

        if meeting.actions:
            doc.text(_("Action items"), "h")
            rows = [[_("Action"), _("Who"), pgettext("date column", "Due"), _("Status")]]
            for action in meeting.actions:
                rows.append([action.description, action.owner,
                             dates.day(action.due_on) if action.due_on else "",
                             enum_label(action.status)])
            doc.table(rows, widths=[80 * mm, 40 * mm, 28 * mm, 30 * mm])

        if meeting.addenda:
            doc.text(_("Addenda"), "h")
            for addendum in meeting.addenda:
                doc.text(_("Added on %(date)s: %(text)s",
                           date=dates.day(addendum.added_at.date()),
                           text=addendum.text))

        confirmed = next(iter(confirming_resolutions(meeting)), None)
        doc.text(_("Signatures"), "h")
        if confirmed is not None:
            doc.text(_("Confirmed as a true record at the meeting of %(date)s (resolution "
                       "%(n)d).", date=format_date(confirmed.meeting.held_on, "long"),
                       n=confirmed.number))
        signers = _signatories(meeting)
        date_text = dates.day(confirmed.meeting.held_on) if confirmed else \
            "______________"
        rows = [
            [_("Chairperson"), signers.get(Office.CHAIR, "______________"),
             _("Signature") + ": ______________", _("Date") + ": " + date_text],
            [_("Secretary"), signers.get(Office.SECRETARY, "______________"),
             _("Signature") + ": ______________", _("Date") + ": " + date_text],
        ]
        doc.table(rows, widths=[30 * mm, 50 * mm, 55 * mm, 43 * mm], header=False)
        return doc.finish()


def _elections(meeting: Meeting):
    import sqlalchemy as sa

    from association.extensions import db
    from association.meetings.models import Election

    return db.session.scalars(sa.select(Election).where(Election.meeting_id == meeting.id)
                              .order_by(Election.id))


def confirming_resolutions(meeting: Meeting):
    import sqlalchemy as sa

    from association.extensions import db
    from association.meetings.models import Resolution

    return db.session.scalars(sa.select(Resolution)
                              .where(Resolution.confirms_meeting_id == meeting.id))


# --- Officials, notices, the pack's cover -----------------------------------


def officials_pdf(officials, language: str, as_of: date, show_contacts: bool = True) -> bytes:
    with force_locale(language):
        title = _("Officials of the association at %(date)s",
                  date=format_date(as_of, "long"))
        doc = Document(title)
        _header(doc)
        doc.text(title, "title")
        rows = [[_("Office"), _("Name"), _("Gender"), _("Phone"), _("Term"), _("Elected at")]]
        for o in officials:
            rows.append([
                enum_label(o.office), o.member.full_name, enum_label(o.member.gender),
                (o.phone or "") if show_contacts else "",
                f"{dates.day(o.term_start)} – {dates.day(o.term_end)}",
                _elected_by(o),
            ])
        if len(rows) == 1:
            doc.text(_("No officials are recorded."))
        doc.table(rows, widths=[28 * mm, 34 * mm, 15 * mm, 27 * mm, 36 * mm, 38 * mm])
        return doc.finish()


def _elected_by(official) -> str:
    """"AGM 2026-10-07, resolution 4": the meeting and resolution that elected them."""
    if official.elected_at is None:
        return ""
    meeting = f"{enum_label(official.elected_at.type)} {dates.day(official.elected_at.held_on)}"
    if official.resolution is None:
        return meeting
    return _("%(meeting)s, resolution %(number)d", meeting=meeting,
             number=official.resolution.number)


def notice_pdf(notice, officials, language: str) -> bytes:
    """The change-of-officials notice: what changed and when, the officials now, and the
    signatures of three officers that the registrar asks for."""
    with force_locale(language):
        title = _("Notice of change of officials")
        doc = Document(title)
        _header(doc)
        doc.text(title, "title")
        doc.text(_("Date of the change: %(date)s. This notice is due at the registrar by "
                   "%(due)s (within 14 days).", date=format_date(notice.changed_on, "long"),
                   due=format_date(notice.due_on, "long")))
        if notice.meeting is not None:
            doc.text(_("Decided at the meeting of %(date)s.",
                       date=format_date(notice.meeting.held_on, "long")))
        doc.text(_("Changes"), "h")
        doc.text(notice_summary(notice.summary))
        doc.text(_("Officials after the change"), "h")
        rows = [[_("Office"), _("Name"), _("ID number"), _("Phone"), _("Elected at")]]
        for o in officials:
            rows.append([enum_label(o.office), o.member.full_name, o.member.national_id or "",
                         o.phone or "", _elected_by(o)])
        doc.table(rows, widths=[32 * mm, 42 * mm, 26 * mm, 30 * mm, 48 * mm])
        doc.text(_("Signed by three officers"), "h")
        doc.table([[_("Name"), _("Office"), _("Signature"), _("Date")]]
                  + [["", "", "", ""] for _i in range(3)],
                  widths=[55 * mm, 40 * mm, 45 * mm, 30 * mm])
        return doc.finish()


def cover_pdf(title: str, lines: list[tuple[str, str]], language: str,
              generated_by: str, today: date) -> bytes:
    with force_locale(language):
        doc = Document(title)
        _header(doc)
        doc.text(title, "title")
        doc.text(_("Prepared on %(date)s by %(who)s.", date=format_date(today, "long"),
                   who=generated_by))
        doc.text(_("Contents"), "h")
        doc.table([[_("File"), _("What it is")]] + [list(line) for line in lines],
                  widths=[70 * mm, 108 * mm])
        return doc.finish()


# --- Transparency -----------------------------------------------------------


def transparency_pdf(summary, language: str) -> bytes:
    """One page, the month's summary, to share in a WhatsApp group or pin on a board."""
    with force_locale(language):
        title = _("Our money and our patrols: %(month)s",
                  month=format_date(summary.month, "MMMM yyyy"))
        doc = Document(title, margin=12 * mm)
        _header(doc)
        doc.text(title, "title")
        doc.text(_("Money collected: %(amount)s from %(n)d paying members.",
                   amount=format_kes(summary.income_cents), n=summary.paying_members), "big")
        doc.text(_("Money spent: %(amount)s.", amount=format_kes(summary.expense_cents)), "big")
        rows = [[_("Collected, by category"), _("Amount")]] + [
            [name, format_kes(cents)] for name, cents in summary.income]
        doc.table(rows, widths=[120 * mm, 50 * mm])
        doc.space(2)
        rows = [[_("Spent, by category"), _("Amount")]] + [
            [name, format_kes(cents)] for name, cents in summary.expenses]
        doc.table(rows, widths=[120 * mm, 50 * mm])
        doc.space(2)
        if summary.patrols is not None:
            if summary.patrols["nights"]:
                doc.text(_("Patrol nights covered: %(covered)d of %(nights)d.",
                           covered=summary.patrols["nights_covered"],
                           nights=summary.patrols["nights"]), "big")
            table = summary.incidents()
            if table:
                rows = [[_("Zone")] + [summary.category_label(c) for c in table.categories]
                        + [_("Total")]]
                rows += [[zone] + [str(table.cell(zone, c)) for c in table.categories]
                         + [str(table.zone_totals[zone])] for zone in table.zones]
                rows.append([_("Total")] + [str(table.category_totals[c])
                                            for c in table.categories] + [str(table.total)])
                width = (186 - 36 - 20) / len(table.categories)
                doc.text(_("Incidents by zone"), "h")
                doc.table(rows, widths=[36 * mm] + [width * mm] * len(table.categories)
                          + [20 * mm])
                if table.folded:
                    doc.text(_("To protect the families involved, a count of one or two is "
                               "shown as \"fewer than 3\", and totals that include such "
                               "counts as a range."), "small")
        if summary.meetings:
            doc.text(_("Meetings"), "h")
            for meeting_date, label, resolutions in summary.meetings:
                doc.text(f"{dates.day(meeting_date)}: {label}")
                for text in resolutions:
                    doc.text("• " + text, "small")
        doc.text(_("Figures from the association's books and patrol rosters. No names are "
                   "shown."), "small")
        return doc.finish()
