"""The month's transparency summary to share: one PNG picture sized for a WhatsApp group
and an A4 poster (PDF) for the noticeboard, in English or Kiswahili.

Both show only what the transparency page shows (:mod:`association.meetings.transparency`):
totals, money by category (small categories already folded), patrol nights covered and the
incident total as published (counts of one or two never exact). No name, phone or ID.
"""

import io
import textwrap
from datetime import date
from pathlib import Path

import reportlab
from flask import url_for
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from association.core.charts import FONT, WIDTH, draw_on_canvas, draw_on_image
from association.core.money import format_kes
from association.core.pdf import document_fonts, draw_qr, fold_for_latin1, qr_modules
from association.meetings.transparency import month_summary

#: The picture's width: what WhatsApp shows full width without shrinking it much.
PNG_WIDTH = 1080
#: At least this tall (4:5 portrait); taller when the month has many categories.
PNG_MIN_HEIGHT = 1350
#: Bitstream Vera, shipped inside reportlab: the same on every machine.
_VERA = Path(reportlab.__file__).parent / "fonts"
_GREEN = "#1f6f4a"


def _association_name() -> str:
    from association.profile.services import get_profile

    profile = get_profile()
    return profile.name if profile is not None else ""


def headline(summary) -> list[tuple[str, str]]:
    """(label, figure) of the month's key figures, as the page shows them."""
    lines = [(_("Money collected"), format_kes(summary.income_cents)),
             (_("Money spent"), format_kes(summary.expense_cents)),
             (_("Paying members"), str(summary.paying_members))]
    patrols = summary.patrols or {}
    if patrols.get("nights"):
        lines.append((_("Patrol nights covered"),
                      _("%(covered)d of %(nights)d", covered=patrols["nights_covered"],
                        nights=patrols["nights"])))
    incidents = summary.incidents()
    if incidents:
        lines.append((_("Incidents"), str(incidents.total)))
    return lines


def _title(summary) -> str:
    return _("Our money and our patrols: %(month)s",
             month=format_date(summary.month, "MMMM yyyy"))


def _page_url() -> str:
    return url_for("meetings.transparency", _external=True)


# --- The picture ------------------------------------------------------------------------


def _font(size: int, bold: bool = False):
    return ImageFont.truetype(str(_VERA / ("VeraBd.ttf" if bold else "Vera.ttf")), size)


def summary_png(month: date, language: str) -> bytes:
    """The month's summary as a portrait PNG, :data:`PNG_WIDTH` pixels wide."""
    with force_locale(language):
        summary = month_summary(month)  # in the language asked for: category names too
        margin, width = 60, PNG_WIDTH - 120
        image = Image.new("RGB", (PNG_WIDTH, 6000), "white")
        draw = ImageDraw.Draw(image)
        y = margin
        name = _association_name()
        if name:
            for line in textwrap.wrap(name, 34):
                draw.text((margin, y), line, fill=_GREEN, font=_font(44, True))
                y += 54
            y += 10
        for line in textwrap.wrap(_title(summary), 30):
            draw.text((margin, y), line, fill="#111111", font=_font(52, True))
            y += 64
        y += 24
        for label, figure in headline(summary):
            draw.text((margin, y), label, fill="#333333", font=_font(34))
            draw.text((margin + width, y), figure, fill="#111111", font=_font(40, True),
                      anchor="ra")
            y += 60
        y += 20
        scale = width / WIDTH
        fonts = (_font(round(FONT * scale)), _font(round(FONT * scale), True))
        for chart in summary.charts():
            draw.text((margin, y), chart.title, fill="#111111", font=_font(36, True))
            y += 56
            if chart.empty:
                draw.text((margin, y), _("Nothing to draw yet: there are no figures for this."),
                          fill="#555555", font=_font(30))
                y += 50
            else:
                y += draw_on_image(chart, draw, margin, y, width, fonts) + 10
            y += 20
        for line in textwrap.wrap(_("Figures from the association's books and patrol "
                                    "rosters. No names are shown."), 52):
            draw.text((margin, y), line, fill="#555555", font=_font(28))
            y += 38
        draw.text((margin, y + 8), _page_url(), fill=_GREEN, font=_font(28))
        y += 60 + margin
        image = image.crop((0, 0, PNG_WIDTH, max(PNG_MIN_HEIGHT, y)))
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        return out.getvalue()


# --- The poster ---------------------------------------------------------------------------


def poster_pdf(month: date, language: str) -> bytes:
    """The month's summary on one A4 page, large type, with a QR code to the page."""
    with force_locale(language):
        summary = month_summary(month)
        regular, bold = document_fonts()
        fold = fold_for_latin1 if regular == "Helvetica" else str
        out = io.BytesIO()
        page_width, page_height = A4
        margin = 40
        width = page_width - 2 * margin
        canvas = Canvas(out, pagesize=A4)
        canvas.setTitle(fold(_title(summary)))
        y = page_height - margin
        name = _association_name()
        if name:
            canvas.setFont(bold, 18)
            canvas.setFillColor(_GREEN)
            y -= 18
            canvas.drawString(margin, y, fold(name))
            y -= 12
        canvas.setFillColor("#111111")
        canvas.setFont(bold, 26)
        for line in textwrap.wrap(_title(summary), 34):
            y -= 30
            canvas.drawString(margin, y, fold(line))
        y -= 14
        for label, figure in headline(summary):
            y -= 24
            canvas.setFont(regular, 16)
            canvas.drawString(margin, y, fold(label))
            canvas.setFont(bold, 18)
            canvas.drawRightString(margin + width, y, fold(figure))
        y -= 16
        qr_size, footer = 110, 40
        charts = summary.charts()
        drawable = [c for c in charts if not c.empty]
        room = y - margin - qr_size - footer - 28 * len(charts)
        natural = sum(c.height for c in drawable) * (width / WIDTH)
        chart_width = width * min(1.0, room / natural) if natural else width
        for chart in charts:
            y -= 22
            canvas.setFillColor("#111111")
            canvas.setFont(bold, 15)
            canvas.drawString(margin, y, fold(chart.title))
            y -= 8
            if chart.empty:
                y -= 14
                canvas.setFont(regular, 12)
                canvas.drawString(margin, y, fold(_("Nothing to draw yet: there are no "
                                                    "figures for this.")))
            else:
                y -= draw_on_canvas(chart, canvas, margin, y, chart_width, (regular, bold),
                                    fold)
        url = _page_url()
        draw_qr(canvas, page_width - margin - qr_size, margin + qr_size, qr_size,
                qr_modules(url))
        canvas.setFillColor("#111111")
        beside = width - qr_size - 16
        y = margin + qr_size - 14
        for text, font, size in (
                (_("Scan the code or open the page for every month:"), bold, 12),
                (url, regular, 11), ("", regular, 6),
                (_("Figures from the association's books and patrol rosters. No names are "
                   "shown."), regular, 10)):
            canvas.setFont(font, size)
            for line in simpleSplit(fold(text), font, size, beside) or [""]:
                canvas.drawString(margin, y, line)
                y -= size + 4
        canvas.showPage()
        canvas.save()
        return out.getvalue()
