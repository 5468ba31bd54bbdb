"""Receipts as documents: what a receipt says, in figures and in words, and as SMS.

The numbering lives in ``receipt_numbers`` and voiding in ``payments``; this
module only reads them. Everything a receipt shows is gathered once into a
:class:`ReceiptFacts` (in a handful of queries, for one receipt or a thousand),
then rendered: as a short SMS here, or as an A5 page or an 80 mm roll for
thermal printers by ``receipt_pdf``.
"""

import functools
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from babel.dates import format_date
from flask_babel import force_locale
from flask_babel import gettext as _

from association.auth.models import User
from association.core.money import format_kes
from association.core.time import nairobi_date
from association.database import execute_prepared
from association.extensions import db
from association.hosting.addresses import public_url
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
from association.ledger.standing import Standing, standing_of
from association.members.models import Member

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
    """The absolute address of the check page of a receipt (or its facts), as in the QR code:
    in its association's public site (:func:`association.hosting.addresses.public_url`),
    whether built in a request or outside one (the command line, bulk printing)."""
    return public_url("receipts.verify", number=receipt.number, c=receipt.check_code)


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
    member_id: int | None = None
    #: The payment's journal entry.
    entry_id: int | None = None
    #: The member's standing right after this payment (:func:`add_standing`), or None.
    standing: Standing | None = None

    @property
    def is_void(self) -> bool:
        return self.voided_on is not None


def receipt_facts(receipt: Receipt) -> ReceiptFacts:
    """What ``receipt`` says: member, months covered, credit kept, method, who received it,
    and where the member stood after it."""
    return add_standing(facts_for([receipt.id]))[0]


def add_standing(all_facts: list[ReceiptFacts]) -> list[ReceiptFacts]:
    """Each valid receipt's standing right after its payment ("Paid up to: Dec 2026;
    balance KES 0.00"): a few queries per receipt, so for one receipt or a few, not for
    a batch of thousands."""
    for facts in all_facts:
        if not facts.is_void:
            facts.standing = standing_of(facts.member_id, through_entry_id=facts.entry_id)
    return all_facts


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
                  charge.c.month, allocation.c.amount_cents, charge.c.amount_cents,
                  payment.c.member_id, payment.c.entry_id)
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
         member_no, first_name, other_names, credit, month, part, charged, member_id,
         entry_id) in rows:
        facts = result.get(receipt_id)
        if facts is None:
            facts = result[receipt_id] = ReceiptFacts(
                number=number, check_code=check_code, issued_on=nairobi_date(issued_at),
                paid_on=paid_on, member_no=member_no, member_name=f"{first_name} {other_names}",
                amount_cents=amount, method=method, mpesa_code=mpesa_code, reference=reference,
                received_by=received_by, months=[], credit_cents=int(credit),
                voided_on=nairobi_date(voided_at) if voided_at else None,
                void_reason=void_reason, voided_by=voided_by, member_id=member_id,
                entry_id=entry_id,
            )
        if month is not None:
            facts.months.append(MonthPaid(month, part, part < charged))
    return result


def method_label(method: PaymentMethod) -> str:
    return str(method.label)


def lang(language: str | None) -> str:
    return "sw" if (language or "").lower().startswith("sw") else "en"


def month_label(month: date, language: str) -> str:
    """date(2026, 8, 1) -> "Aug 2026" (Swahili "Ago 2026")."""
    return format_date(month, "MMM yyyy", locale=lang(language))


def months_text(facts: ReceiptFacts, language: str) -> str:
    """The months a payment settled, as printed: "Aug 2026, Sep 2026 (part)"."""
    with force_locale(lang(language)):
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
    locale = lang(language)

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
    if lang(language) == "sw":
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
    language = lang(language)
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
        if facts.standing is not None:  # where the member stands now, when it fits
            candidates += [
                _("%(number)s confirmed. %(amount)s received from %(member)s %(purpose)s via "
                  "%(method)s. %(standing)s. Asante. Verify: %(url)s", purpose=purposes[-1],
                  standing=facts.standing.summary(), **values),
                _("%(number)s confirmed. %(amount)s received from %(member)s %(purpose)s via "
                  "%(method)s. %(standing)s. Verify: %(url)s", purpose=purposes[-1],
                  standing=facts.standing.summary(), **values),
            ]
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
