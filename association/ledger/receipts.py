"""Receipts as documents: what a receipt says, in figures and in words, as PDF and as SMS.

The numbering, voiding and the books themselves live in ``services``; this
module only reads them. Everything a receipt shows is gathered once into a
:class:`ReceiptFacts` (in a handful of queries, for one receipt or a thousand),
then rendered: an A5 page, an 80 mm roll for thermal printers, or a short SMS.
"""

import functools
import hmac
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from babel.dates import format_date
from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from association.auth.models import User
from association.core.money import format_kes
from association.core.pdf import BUILTIN_FONTS, draw_qr, fold_for_latin1, qr_modules, unicode_fonts
from association.core.phones import display_phone
from association.core.time import nairobi_date
from association.database import execute_prepared
from association.extensions import db
from association.i18n import enum_label
from association.ledger.accounts import account_id
from association.ledger.models import (
    Allocation,
    DuesCharge,
    Payment,
    PaymentMethod,
    Posting,
    Receipt,
    Side,
)
from association.members.models import Member
from association.profile.models import RegistrationBody

#: The page layouts a receipt can be printed in.
LAYOUTS = ("a5", "roll")
ROLL_WIDTH = 80 * mm
SMS_LIMIT = 160


# --- Finding receipts -------------------------------------------------------------------


def get_receipt(number: str) -> Receipt | None:
    """The receipt with this number, or None."""
    number = (number or "").strip().upper()
    if not number or len(number) > 30:
        return None
    return db.session.scalar(sa.select(Receipt).where(Receipt.number == number))


def can_see(user, receipt: Receipt) -> bool:
    """Officials who read the books see every receipt; a member sees only their own."""
    if user.can("ledger.view"):
        return True
    return user.member_id is not None and user.member_id == receipt.payment.member_id


def receipt_for(user, number: str) -> Receipt | None:
    """The receipt ``user`` may open, or None (shown as 404 whether it exists or not)."""
    receipt = get_receipt(number)
    if receipt is None or not can_see(user, receipt):
        return None
    return receipt


def verify(number: str, check_code: str | None) -> Receipt | None:
    """The receipt if ``check_code`` is its check code; None otherwise, whatever was wrong.

    The comparison takes the same time whether the code is nearly right or not.
    """
    receipt = get_receipt(number)
    given = (check_code or "").strip().lower()
    expected = receipt.check_code if receipt is not None else "0" * 8
    if not hmac.compare_digest(given.encode(), expected.encode()) or receipt is None:
        return None
    return receipt


def verify_url(receipt) -> str:
    """The absolute address of the check page of a receipt (or its facts), as in the QR code.

    Outside a request (the benchmark, the command line) the app's SERVER_NAME is
    used if set, else http://localhost.
    """
    values = {"number": receipt.number, "c": receipt.check_code}
    if has_request_context() or current_app.config.get("SERVER_NAME"):
        return url_for("receipts.verify", _external=True, **values)
    # The URL map alone, as a test request on http://localhost would build it: setting
    # up that request for each receipt took longer than drawing the receipt's text.
    config = current_app.config
    adapter = current_app.url_map.bind("localhost", script_name=config["APPLICATION_ROOT"],
                                       url_scheme=config["PREFERRED_URL_SCHEME"])
    return adapter.build("receipts.verify", values, force_external=True)


# --- What a receipt says -----------------------------------------------------------------


@dataclass(frozen=True)
class MonthPaid:
    """One month's dues settled (``part``: only some of that month's charge) by a payment."""

    month: date
    amount_cents: int
    part: bool


@dataclass
class ReceiptFacts:
    """Everything a receipt shows, read from the books in one go."""

    number: str
    check_code: str
    issued_on: date
    paid_on: date
    member_no: str
    member_name: str
    amount_cents: int
    method: PaymentMethod
    mpesa_code: str | None
    reference: str | None
    received_by: str | None
    months: list[MonthPaid] = field(default_factory=list)
    credit_cents: int = 0
    voided_on: date | None = None
    void_reason: str | None = None
    voided_by: str | None = None

    @property
    def is_void(self) -> bool:
        return self.voided_on is not None


def receipt_facts(receipt: Receipt) -> ReceiptFacts:
    """What ``receipt`` says: member, months covered, credit kept, method, who received it."""
    return facts_for([receipt.id])[0]


def facts_for(receipt_ids: Iterable[int]) -> list[ReceiptFacts]:
    """The facts of many receipts, in the order given, in a few queries per 500 receipts."""
    ids = list(receipt_ids)
    found: dict[int, ReceiptFacts] = {}
    for start in range(0, len(ids), 500):
        found.update(_facts_chunk(ids[start:start + 500]))
    return [found[i] for i in ids if i in found]


@functools.cache
def _facts_statement() -> sa.Select:
    """The one query behind receipts' facts, a row per month a receipt paid (or one row),
    built once: on the tables, not the ORM, and one round trip, because a receipt
    download spends its time drawing, not assembling SQL or waiting for the database."""
    receipt, payment, member = Receipt.__table__, Payment.__table__, Member.__table__
    receiver, voider = User.__table__.alias("receiver"), User.__table__.alias("voider")
    posting, allocation, charge = Posting.__table__, Allocation.__table__, DuesCharge.__table__
    # The credit kept is what the payment's own entry put on the member's credit account.
    credit = (sa.select(sa.func.coalesce(sa.func.sum(posting.c.amount_cents), 0))
              .where(posting.c.entry_id == payment.c.entry_id,
                     posting.c.account_id == sa.bindparam("credit_account"),
                     posting.c.side == Side.CREDIT)
              .scalar_subquery())
    return (
        sa.select(receipt.c.id, receipt.c.number, receipt.c.check_code, receipt.c.issued_at,
                  receipt.c.voided_at, receipt.c.void_reason, voider.c.full_name,
                  payment.c.paid_on, payment.c.amount_cents,
                  payment.c.method, payment.c.mpesa_code, payment.c.reference,
                  receiver.c.full_name, member.c.member_no, member.c.first_name,
                  member.c.other_names, credit,
                  charge.c.month, allocation.c.amount_cents, charge.c.amount_cents)
        .select_from(receipt)
        .join(payment, payment.c.id == receipt.c.payment_id)
        .join(member, member.c.id == payment.c.member_id)
        .outerjoin(receiver, receiver.c.id == payment.c.received_by_id)
        .outerjoin(voider, voider.c.id == receipt.c.voided_by_id)
        # Joined, not a subquery of months paid: SQLite would build that subquery for every
        # allocation there is, and scan it for each receipt (0.75 s a receipt at 730,000).
        .outerjoin(allocation, allocation.c.payment_id == payment.c.id)
        .outerjoin(charge, charge.c.id == allocation.c.charge_id)
        .where(receipt.c.id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(receipt.c.id, charge.c.month, allocation.c.id)
    )


def _facts_chunk(ids: list[int]) -> dict[int, ReceiptFacts]:
    rows = execute_prepared(db.session, _facts_statement(),
                            {"ids": ids, "credit_account": account_id("member_credit")})
    result = {}
    for (receipt_id, number, check_code, issued_at, voided_at, void_reason, voided_by,
         paid_on, amount, method, mpesa_code, reference, received_by,
         member_no, first_name, other_names, credit, month, part, charged) in rows:
        facts = result.get(receipt_id)
        if facts is None:
            facts = result[receipt_id] = ReceiptFacts(
                number=number, check_code=check_code, issued_on=nairobi_date(issued_at),
                paid_on=paid_on, member_no=member_no, member_name=f"{first_name} {other_names}",
                amount_cents=amount, method=method, mpesa_code=mpesa_code, reference=reference,
                received_by=received_by, months=[], credit_cents=int(credit),
                voided_on=nairobi_date(voided_at) if voided_at else None,
                void_reason=void_reason, voided_by=voided_by,
            )
        if month is not None:
            facts.months.append(MonthPaid(month, part, part < charged))
    return result


def method_label(method: PaymentMethod) -> str:
    return str(method.label)


def _lang(language: str | None) -> str:
    return "sw" if (language or "").lower().startswith("sw") else "en"


def month_label(month: date, language: str) -> str:
    """date(2026, 8, 1) -> "Aug 2026" (Swahili "Ago 2026")."""
    return format_date(month, "MMM yyyy", locale=_lang(language))


def months_text(facts: ReceiptFacts, language: str) -> str:
    """The months a payment settled, as printed: "Aug 2026, Sep 2026 (part)"."""
    with force_locale(_lang(language)):
        return ", ".join(
            _("%(month)s (part)", month=month_label(m.month, language)) if m.part
            else month_label(m.month, language)
            for m in facts.months
        )


def months_span(months: list[date], language: str) -> str:
    """Months written short, for an SMS: "Aug-Sep 2026", "Dec 2025-Jan 2026", "Mar, May 2026"."""
    months = sorted(set(months))
    if not months:
        return ""
    runs: list[list[date]] = [[months[0]]]
    for month in months[1:]:
        last = runs[-1][-1]
        if (month.year * 12 + month.month) - (last.year * 12 + last.month) == 1:
            runs[-1].append(month)
        else:
            runs.append([month])
    locale = _lang(language)

    def short(day: date) -> str:
        return format_date(day, "MMM", locale=locale)

    parts = []
    for index, run in enumerate(runs):
        first, last = run[0], run[-1]
        next_year = runs[index + 1][0].year if index + 1 < len(runs) else None
        year_shown = next_year != last.year
        if first == last:
            text = short(first)
        elif first.year == last.year:
            text = f"{short(first)}-{short(last)}"
        else:
            text = f"{short(first)} {first.year}-{short(last)}"
        parts.append(f"{text} {last.year}" if year_shown else text)
    return ", ".join(parts)


# --- Amounts in words --------------------------------------------------------------------

_EN_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_EN_SCALES = ((10**9, "billion"), (10**6, "million"), (10**3, "thousand"))

_SW_ONES = "sifuri moja mbili tatu nne tano sita saba nane tisa".split()
_SW_TENS = "_ kumi ishirini thelathini arobaini hamsini sitini sabini themanini tisini".split()

#: Amounts in words go up to (not including) a trillion shillings.
WORDS_LIMIT = 10**12


def _en_below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = [f"{_EN_ONES[hundreds]} hundred"] if hundreds else []
    if rest:
        if rest < 20:
            parts.append(_EN_ONES[rest])
        else:
            tens, ones = divmod(rest, 10)
            parts.append(_EN_TENS[tens] + (f"-{_EN_ONES[ones]}" if ones else ""))
    return " and ".join(parts)


def number_in_words_en(n: int) -> str:
    """1234 -> "one thousand two hundred and thirty-four" (British usage, as on cheques)."""
    if n == 0:
        return "zero"
    words = []
    for scale, name in _EN_SCALES:
        group, n = divmod(n, scale)
        if group:
            words.append(f"{_en_below_1000(group)} {name}")
    if n:
        words.append(("and " if words and n < 100 else "") + _en_below_1000(n))
    return " ".join(words)


def _sw_below_100(n: int) -> str:
    tens, ones = divmod(n, 10)
    if not tens:
        return _SW_ONES[ones]
    return _SW_TENS[tens] + (f" na {_SW_ONES[ones]}" if ones else "")


def _sw_below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = [f"mia {_SW_ONES[hundreds]}"] if hundreds else []
    if rest:
        parts.append(_sw_below_100(rest))
    return " na ".join(parts)


def number_in_words_sw(n: int) -> str:
    """2300 -> "elfu mbili na mia tatu"; 150000 -> "laki moja na elfu hamsini"."""
    if n == 0:
        return _SW_ONES[0]
    billions, n = divmod(n, 10**9)
    millions, n = divmod(n, 10**6)
    lakhs, n = divmod(n, 10**5)
    thousands, n = divmod(n, 10**3)
    parts = []
    if billions:
        parts.append(f"bilioni {_sw_below_1000(billions)}")
    if millions:
        parts.append(f"milioni {_sw_below_1000(millions)}")
    if lakhs:
        parts.append(f"laki {_SW_ONES[lakhs]}")
    if thousands:
        parts.append(f"elfu {_sw_below_100(thousands)}")
    if n:
        parts.append(_sw_below_1000(n))
    return " na ".join(parts)


def amount_in_words(cents: int, language: str = "en") -> str:
    """An amount as written on a receipt, in English or Swahili.

    150000 -> "One thousand five hundred shillings only" /
    "Shilingi elfu moja na mia tano tu"; 50 cents are "and fifty cents" /
    "na senti hamsini".

    Raises:
        ValueError: a negative amount, not a whole number of cents, or a trillion
            shillings or more.
    """
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise ValueError("amount_in_words needs whole cents")
    if not 0 <= cents < WORDS_LIMIT * 100:
        raise ValueError("amount_in_words needs an amount from 0 to under a trillion shillings")
    shillings, rest = divmod(cents, 100)
    if _lang(language) == "sw":
        if shillings and rest:
            text = (f"shilingi {number_in_words_sw(shillings)} "
                    f"na senti {number_in_words_sw(rest)} tu")
        elif rest:
            text = f"senti {number_in_words_sw(rest)} tu"
        else:
            text = f"shilingi {number_in_words_sw(shillings)} tu"
    else:
        def unit(n: int, one: str, many: str) -> str:
            return f"{number_in_words_en(n)} {one if n == 1 else many}"

        if shillings and rest:
            text = (f"{unit(shillings, 'shilling', 'shillings')} and "
                    f"{unit(rest, 'cent', 'cents')} only")
        elif rest:
            text = f"{unit(rest, 'cent', 'cents')} only"
        else:
            text = f"{unit(shillings, 'shilling', 'shillings')} only"
    return text[0].upper() + text[1:]


# --- SMS -----------------------------------------------------------------------------------


def _method_text(facts: ReceiptFacts) -> str:
    """ "M-Pesa TC57ABC9XY", "Cash", "Bank SLIP-1"."""
    detail = facts.mpesa_code or facts.reference
    label = method_label(facts.method)
    return f"{label} {detail}" if detail else label


def receipt_sms(receipt: Receipt | ReceiptFacts, language: str = "en",
                url: str | None = None) -> str:
    """A short receipt text for an SMS: within 160 characters whenever it can be.

    The fullest wording that fits is chosen; the receipt number, amount, member
    number and the link to the check page are always kept.
    """
    facts = receipt if isinstance(receipt, ReceiptFacts) else receipt_facts(receipt)
    url = url or verify_url(facts)
    language = _lang(language)
    with force_locale(language):
        values = dict(number=facts.number, amount=format_kes(facts.amount_cents),
                      member=facts.member_no, method=_method_text(facts), url=url)
        if facts.is_void:
            return _("%(number)s (%(amount)s from %(member)s) is VOID. Check: %(url)s", **values)
        span = months_span([m.month for m in facts.months], language)
        credit = format_kes(facts.credit_cents)
        if span and facts.credit_cents:
            purposes = [_("for %(months)s (+%(credit)s credit)", months=span, credit=credit),
                        _("for %(months)s", months=span)]
        elif span:
            purposes = [_("for %(months)s", months=span)]
        elif facts.credit_cents:
            purposes = [_("paid in advance")]
        else:
            purposes = [_("as a contribution")]
        candidates = []
        for purpose in purposes:
            candidates += [
                _("%(number)s confirmed. %(amount)s received from %(member)s %(purpose)s via "
                  "%(method)s. Asante. Verify: %(url)s", purpose=purpose, **values),
                _("%(number)s confirmed. %(amount)s received from %(member)s %(purpose)s via "
                  "%(method)s. Verify: %(url)s", purpose=purpose, **values),
                _("%(number)s: %(amount)s from %(member)s %(purpose)s, %(method)s. "
                  "Verify: %(url)s", purpose=purpose, **values),
                _("%(number)s: %(amount)s from %(member)s %(purpose)s, %(method)s. %(url)s",
                  purpose=purpose, **values),
            ]
        candidates += [
            _("%(number)s: %(amount)s from %(member)s, %(method)s. %(url)s", **values),
            _("%(number)s: %(amount)s from %(member)s. %(url)s", **values),
        ]
    for text in candidates:
        if len(text) <= SMS_LIMIT:
            return text
    return candidates[-1]


# --- PDF -----------------------------------------------------------------------------------

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
    language = _lang(language)
    ids = [r if isinstance(r, int) else r.id for r in receipts]
    all_facts = facts_for(ids)
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
