"""Printable patrol documents: the month's roster (by zone and by night) and the stipend
payout list to sign. Written in the reader's language, with DejaVu Sans for any name."""

import io
from collections import defaultdict
from datetime import date
from xml.sax.saxutils import escape

from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from association.core.money import format_kes
from association.core.pdf import BUILTIN_FONTS, document_fonts, fold_for_latin1, grid_style
from association.patrols.models import Attendance


def _styles():
    regular, bold = document_fonts()
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=15, leading=19, spaceAfter=4),
        "h2": ParagraphStyle("h2", fontName=bold, fontSize=12, leading=15, spaceBefore=8,
                             spaceAfter=4),
        "body": ParagraphStyle("body", fontName=regular, fontSize=9, leading=11.5),
        "small": ParagraphStyle("small", fontName=regular, fontSize=8, leading=10,
                                textColor=colors.HexColor("#444444")),
        "cell": ParagraphStyle("cell", fontName=regular, fontSize=8.5, leading=10.5),
        "bold": ParagraphStyle("boldcell", fontName=bold, fontSize=8.5, leading=10.5),
    }


def _p(text, style) -> Paragraph:
    text = str(text)
    if document_fonts() == BUILTIN_FONTS:
        text = fold_for_latin1(text)
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _table(rows, widths, header=True) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    table.setStyle(grid_style(header))
    return table


def _build(story, title: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm,
                            topMargin=14 * mm, bottomMargin=14 * mm, title=title)
    doc.build(story)
    return buffer.getvalue()


def _who(a) -> str:
    member = a.patroller.member
    text = f"{member.full_name} ({member.member_no})"
    if a.attendance == Attendance.REPLACED and a.replaced_by is not None:
        text += " → " + _("replaced by %(name)s", name=a.replaced_by.member.full_name)
    elif a.attendance is not None and a.attendance != Attendance.PRESENT:
        from association.i18n import enum_label

        text += f" [{enum_label(a.attendance)}]"
    return text


def roster_pdf(month: date, assignments: list, slots: list, zones: dict, association: str,
               language: str) -> bytes:
    """The month's roster: one section by zone, one by night; short shifts marked.

    Args:
        assignments: the month's Assignment rows (patroller and member loaded).
        slots: the month's planned shifts (``roster.Slot``).
        zones: zone id -> name.
    """
    with force_locale(language):
        s = _styles()
        by_slot = defaultdict(list)
        for a in assignments:
            by_slot[(a.night, a.template_id)].append(a)
        keys = {slot.key: slot for slot in slots}
        for a in assignments:  # shifts of retired templates still show
            if (a.night, a.template_id) not in keys:
                keys[(a.night, a.template_id)] = None
        month_name = format_date(month, "MMMM y")
        title = _("Patrol roster, %(month)s", month=month_name)

        def rows_for(entries, first_col):
            rows = [[_p(first_col, s["bold"]), _p(_("Shift"), s["bold"]),
                     _p(_("Patrollers"), s["bold"])]]
            for key, slot, label in entries:
                held = by_slot.get(key, [])
                start_end = (f"{slot.starts_at:%H:%M}-{slot.ends_at:%H:%M}" if slot else
                             f"{held[0].starts_at:%H:%M}-{held[0].ends_at:%H:%M}")
                names = "\n".join(_who(a) for a in held) or "—"
                if slot is not None and len(held) < slot.minimum:
                    names += "\n" + _("SHORT: %(have)d of %(need)d", have=len(held),
                                      need=slot.minimum)
                rows.append([_p(label, s["cell"]), _p(start_end, s["cell"]),
                             _p(names, s["cell"])])
            return rows

        story = [_p(title, s["title"]), _p(association, s["body"]),
                 _p(_("A night is the date of its evening: the 01:00 shift of the night of "
                      "the 3rd starts on the morning of the 4th. Nairobi time."), s["small"]),
                 Spacer(0, 4 * mm), _p(_("By zone"), s["h2"])]
        ordered = sorted(keys.items(), key=lambda kv: (
            kv[0][0], kv[1].starts_at if kv[1] else by_slot[kv[0]][0].starts_at))
        zone_of = {key: (slot.zone_id if slot else by_slot[key][0].zone_id)
                   for key, slot in keys.items()}
        for zone_id, name in sorted(zones.items(), key=lambda z: z[1]):
            entries = [(key, slot, format_date(key[0], "EEE d MMM"))
                       for key, slot in ordered if zone_of[key] == zone_id]
            if not entries:
                continue
            story.append(_p(name, s["h2"]))
            story.append(_table(rows_for(entries, _("Night")), [32 * mm, 26 * mm, 124 * mm]))
        story.append(PageBreak())
        story.append(_p(_("By night"), s["h2"]))
        nights = sorted({key[0] for key in keys})
        for night in nights:
            entries = [(key, slot, zones.get(zone_of[key], "")) for key, slot in ordered
                       if key[0] == night]
            entries.sort(key=lambda e: (e[2], e[1].starts_at if e[1] else by_slot[e[0]][0]
                                        .starts_at))
            block = [_p(format_date(night, "EEEE d MMMM y"), s["h2"]),
                     _table(rows_for(entries, _("Zone")), [40 * mm, 26 * mm, 116 * mm])]
            story.append(KeepTogether(block))
        if not keys:
            story.append(_p(_("No shifts are planned this month."), s["body"]))
        return _build(story, title)


def payout_pdf(run, association: str, language: str) -> bytes:
    """The stipend payout list: one line per patroller, with a column to sign."""
    from association.i18n import enum_label
    from association.patrols.stipends import run_status

    with force_locale(language):
        s = _styles()
        month_name = format_date(run.month, "MMMM y")
        title = _("Patrol stipends, %(month)s", month=month_name)
        story = [
            _p(title, s["title"]), _p(association, s["body"]),
            _p(_("Run STP-%(id)d · %(rate)s a shift · paid by %(method)s · status: %(status)s",
                 id=run.id, rate=format_kes(run.rate_cents),
                 method=enum_label(run.expense.method), status=run_status(run).label),
               s["body"]),
            Spacer(0, 4 * mm),
        ]
        rows = [[_p(h, s["bold"]) for h in (_("No."), _("Member"), _("Name"), _("Shifts"),
                                             _("Amount"), _("Signature"))]]
        for n, line in enumerate(run.lines, 1):
            member = line.patroller.member
            rows.append([_p(str(n), s["cell"]), _p(member.member_no, s["cell"]),
                         _p(member.full_name, s["cell"]), _p(str(line.shifts), s["cell"]),
                         _p(format_kes(line.amount_cents), s["cell"]), ""])
        rows.append(["", "", _p(_("Total"), s["bold"]),
                     _p(str(sum(line.shifts for line in run.lines)), s["bold"]),
                     _p(format_kes(run.total_cents), s["bold"]), ""])
        table = _table(rows, [10 * mm, 24 * mm, 58 * mm, 16 * mm, 30 * mm, 44 * mm])
        table.setStyle(TableStyle([("ROWBACKGROUNDS", (0, 1), (-1, -1),
                                    [colors.white, colors.HexColor("#f6f6f6")]),
                                   ("TOPPADDING", (0, 1), (-1, -1), 7),
                                   ("BOTTOMPADDING", (0, 1), (-1, -1), 7)]))
        story += [table, Spacer(0, 10 * mm),
                  _p(_("Paid by (name, signature, date): ____________________________"),
                     s["body"]), Spacer(0, 6 * mm),
                  _p(_("Checked by (name, signature, date): ________________________"),
                     s["body"])]
        return _build(story, title)
