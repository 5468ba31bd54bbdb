"""Receipts as PDF: an A5 page, or an 80 mm roll for thermal printers, one page per
receipt, with the association's header, what the receipt says (from
:class:`~association.ledger.receipts.ReceiptFacts`), a QR code to the check page
and, on a void receipt, a VOID stamp.
"""

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from babel.dates import format_date
from flask_babel import force_locale
from flask_babel import gettext as _
from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from association.core.money import format_kes
from association.core.pdf import BUILTIN_FONTS, draw_qr, fold_for_latin1, qr_modules, unicode_fonts
from association.core.phones import display_phone
from association.i18n import enum_label
from association.ledger.models import Receipt
from association.ledger.receipts import (
    ReceiptFacts,
    add_standing,
    amount_in_words,
    facts_for,
    lang,
    method_label,
    months_text,
    verify_url,
)
from association.profile.models import RegistrationBody

#: The page layouts a receipt can be printed in.
LAYOUTS = ("a5", "roll")
ROLL_WIDTH = 80 * mm


@dataclass
class _Op:
    kind: str  # "text", "rule", "qr"
    x: float
    y: float  # from the top of the page, to the baseline (text) or the top (qr)
    text: str = ""
    font: str = ""
    size: float = 0
    align: str = "left"
    width: float = 0
    modules: list | None = None
    color: Color = black


class _Page:
    """Lays out one receipt from the top down; the roll layout's height is where it ends."""

    def __init__(self, width: float, margin: float, fonts: tuple[str, str]):
        self.width, self.margin = width, margin
        self.y = margin
        self.ops: list[_Op] = []
        self.regular, self.bold = fonts
        self.fold = fonts == BUILTIN_FONTS
        #: Some text had letters the built-in fonts lack (they were folded: ũ -> u).
        self.folded = False

    @property
    def inner(self) -> float:
        return self.width - 2 * self.margin

    def clean(self, text: str) -> str:
        if not self.fold:
            return text
        folded = fold_for_latin1(text)
        self.folded = self.folded or folded != text
        return folded

    def lines(self, text, size, bold=False, align="left", x=None, width=None, gap=1.25,
              color=black):
        """Wrapped text; moves down by its height."""
        font = self.bold if bold else self.regular
        x = self.margin if x is None else x
        width = self.inner if width is None else width
        for line in simpleSplit(self.clean(str(text)), font, size, width) or [""]:
            self.y += size
            self.ops.append(_Op("text", x, self.y, line, font, size, align, width,
                                color=color))
            self.y += size * (gap - 1)
        return self

    def row(self, label, value, size=10, bold=False, stacked=False, label_width=34 * mm,
            color=black):
        """A label and its value: side by side on A5, one above the other on the roll."""
        if stacked:
            self.lines(label, size * 0.8, color=_GREY)
            self.lines(value, size, bold=bold, color=color)
        else:
            top = self.y
            self.lines(label, size * 0.85, x=self.margin, width=label_width - 2 * mm,
                       color=_GREY)
            label_end, self.y = self.y, top
            self.lines(value, size, bold=bold, x=self.margin + label_width,
                       width=self.inner - label_width, color=color)
            self.y = max(self.y, label_end)
        self.y += size * 0.35
        return self

    def rule(self, space=4):
        self.y += space
        self.ops.append(_Op("rule", self.margin, self.y, width=self.inner))
        self.y += space + 2
        return self

    def qr(self, x, modules, size):
        self.ops.append(_Op("qr", x, self.y, width=size, modules=modules))


_VOID_RED = Color(0.75, 0.1, 0.1)
_VOID_STAMP = Color(0.8, 0.1, 0.1, alpha=0.28)
_GREY = Color(0.3, 0.3, 0.3)


@dataclass
class _Header:
    """The association's lines at the top of every receipt, prepared once per document."""

    name: str
    registration: str
    address: str


def _header(language: str) -> _Header:
    from association.profile.services import get_profile

    profile = get_profile()
    if profile is None:
        return _Header("", "", "")
    with force_locale(language):
        if profile.registration_body == RegistrationBody.UNREGISTERED:
            registration = enum_label(profile.registration_body)
        elif profile.registration_number:
            registration = _("Registered with: %(body)s, no. %(number)s",
                             body=enum_label(profile.registration_body),
                             number=profile.registration_number)
        else:
            registration = _("Registered with: %(body)s",
                             body=enum_label(profile.registration_body))
        place = ", ".join(p for p in (profile.estate, profile.ward, profile.sub_county) if p)
        address = _("%(place)s · Tel. %(phone)s", place=place,
                    phone=display_phone(profile.contact_phone))
    return _Header(profile.name, registration, address)


def _layout(facts: ReceiptFacts, layout: str, language: str, header: _Header,
            url: str) -> _Page:
    """Every line of one receipt, in the document's language (call under force_locale):
    in the built-in fonts, or in DejaVu Sans when a name needs letters they lack."""
    page = _layout_in(BUILTIN_FONTS, facts, layout, language, header, url)
    if page.folded and (fonts := unicode_fonts()):
        page = _layout_in(fonts, facts, layout, language, header, url)
    return page


def _layout_in(fonts: tuple[str, str], facts: ReceiptFacts, layout: str, language: str,
               header: _Header, url: str) -> _Page:
    roll = layout == "roll"
    page = _Page(ROLL_WIDTH if roll else A5[0], 4 * mm if roll else 14 * mm, fonts)
    scale = 0.85 if roll else 1.0
    page.lines(header.name, 13 * scale, bold=True, align="center")
    page.lines(header.registration, 8 * scale, align="center")
    page.lines(header.address, 8 * scale, align="center")
    page.rule()
    title_size = 18 * scale
    if roll:
        page.lines(_("RECEIPT"), title_size, bold=True, align="center")
        page.lines(facts.number, 11, bold=True, align="center")
    else:
        top = page.y
        page.lines(_("RECEIPT"), title_size, bold=True)
        page.y = top + title_size - 11
        page.lines(_("No. %(number)s", number=facts.number), 11, bold=True, align="right")
        page.y = max(page.y, top + title_size * 1.25)
    page.rule()
    size = 9 if roll else 10
    page.row(_("Date"), format_date(facts.issued_on, "d MMMM yyyy", locale=language), size,
             stacked=roll)
    if facts.paid_on != facts.issued_on:
        page.row(_("Paid on"), format_date(facts.paid_on, "d MMMM yyyy", locale=language),
                 size, stacked=roll)
    page.row(_("Received from"), f"{facts.member_no} · {facts.member_name}", size, bold=True,
             stacked=roll)
    if facts.months:
        page.row(_("Months paid"), months_text(facts, language), size, stacked=roll)
    if facts.credit_cents:
        page.row(_("Kept as credit"), _("%(amount)s for the coming months",
                                        amount=format_kes(facts.credit_cents)), size,
                 stacked=roll)
    page.row(_("Amount"), format_kes(facts.amount_cents), size * 1.4, bold=True, stacked=roll)
    page.row(_("In words"), amount_in_words(facts.amount_cents, language), size, stacked=roll)
    page.row(_("Method"), method_label(facts.method), size, stacked=roll)
    if facts.standing is not None:
        page.row(_("After this payment"), facts.standing.summary(), size, stacked=roll)
    if facts.mpesa_code:
        page.row(_("M-Pesa code"), facts.mpesa_code, size, bold=True, stacked=roll)
    elif facts.reference:
        page.row(_("Reference"), facts.reference, size, stacked=roll)
    page.row(_("Received by"), facts.received_by or _("Recorded automatically"), size,
             stacked=roll)
    if facts.is_void:
        page.row(_("Status"), _("VOID since %(date)s: %(reason)s",
                                date=format_date(facts.voided_on, "d MMMM yyyy",
                                                 locale=language),
                                reason=facts.void_reason or ""), size, bold=True, stacked=roll,
                 color=_VOID_RED)
    page.rule()
    modules = qr_modules(url)
    caption = _("Scan the code, or open the address below, to check that this receipt "
                "is genuine.")
    if roll:
        qr_size = 40 * mm
        page.qr((page.width - qr_size) / 2, modules, qr_size)
        page.y += qr_size + 2
        page.lines(caption, 7, align="center")
        page.lines(url, 6, align="center")
        page.y += page.margin
    else:
        qr_size = 34 * mm
        text_width = page.inner - qr_size - 4 * mm
        top = page.y
        page.qr(page.width - page.margin - qr_size, modules, qr_size)
        page.lines(caption, 8, width=text_width)
        page.lines(url, 7, width=text_width)
        page.y = max(page.y, top + qr_size)
        # Room for the treasurer's signature and the association's stamp on paper copies.
        page.y = max(page.y + 12 * mm, A5[1] - 30 * mm)
        page.lines(_("Signature: ____________________    Stamp:"), 9, color=_GREY)
    return page


def _draw(canvas: Canvas, page: _Page, height: float, facts: ReceiptFacts) -> None:
    for op in page.ops:
        y = height - op.y
        if op.kind == "text":
            canvas.setFont(op.font, op.size)
            canvas.setFillColor(op.color)
            if op.align == "center":
                canvas.drawCentredString(op.x + op.width / 2, y, op.text)
            elif op.align == "right":
                canvas.drawRightString(op.x + op.width, y, op.text)
            else:
                canvas.drawString(op.x, y, op.text)
        elif op.kind == "rule":
            canvas.setStrokeColor(_GREY)
            canvas.setLineWidth(0.6)
            canvas.line(op.x, y, op.x + op.width, y)
        elif op.kind == "qr":
            draw_qr(canvas, op.x, y, op.width, op.modules)
    if facts.is_void:
        _stamp_void(canvas, page.width, height, page.bold)


def _stamp_void(canvas: Canvas, width: float, height: float, font: str) -> None:
    """A big diagonal VOID across the page, translucent so the text stays readable."""
    canvas.saveState()
    canvas.setFillColor(_VOID_STAMP)
    canvas.translate(width / 2, height / 2)
    canvas.rotate(35 if height > width * 1.2 else 20)
    size = width * 0.3
    canvas.setFont(font, size)
    canvas.drawCentredString(0, -size / 3, _("VOID"))
    canvas.restoreState()


def render_receipts_pdf(
    receipts: Iterable[Receipt | int],
    layout: str = "a5",
    language: str = "en",
    url_for_receipt: Callable[[ReceiptFacts], str] | None = None,
) -> bytes:
    """One PDF with a page per receipt, A5 or 80 mm roll (each page as long as its receipt).

    Args:
        receipts: receipts, or their ids, in the order to print them.
        layout: "a5" or "roll".
        language: "en" or "sw": the words on the page, amounts in words included.
        url_for_receipt: the check-page address for a receipt (default :func:`verify_url`).

    Raises:
        ValueError: an unknown layout.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown receipt layout {layout!r}")
    language = lang(language)
    ids = [r if isinstance(r, int) else r.id for r in receipts]
    # One receipt shows where the member stood after it; a batch leaves that off.
    all_facts = add_standing(facts_for(ids)) if len(ids) == 1 else facts_for(ids)
    if not all_facts:
        raise ValueError("no receipts to render")
    url_for_receipt = url_for_receipt or verify_url
    buffer = io.BytesIO()
    first_size = ROLL_WIDTH, A5[1]
    canvas = Canvas(buffer, pagesize=A5 if layout == "a5" else first_size,
                    pageCompression=1, invariant=1)
    with force_locale(language):
        header = _header(language)
        title = _("Receipt %(number)s", number=all_facts[0].number) if len(all_facts) == 1 \
            else _("Receipts")
        canvas.setTitle(title)
        canvas.setAuthor(header.name)
        for facts in all_facts:
            page = _layout(facts, layout, language, header, url_for_receipt(facts))
            height = A5[1] if layout == "a5" else page.y
            canvas.setPageSize((page.width, height))
            _draw(canvas, page, height, facts)
            canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_receipt_pdf(receipt: Receipt, layout: str = "a5", language: str = "en",
                       url: str | None = None) -> bytes:
    """One receipt as a PDF page (see :func:`render_receipts_pdf`)."""
    return render_receipts_pdf([receipt], layout, language,
                               (lambda facts: url) if url else None)
