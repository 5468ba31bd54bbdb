"""Payments: recording money from members (one at a time or a batch of M-Pesa
confirmations) with its entry, the charges it settles and its numbered receipt,
and voiding a receipt.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from association.audit.services import insert_audited
from association.core.money import MAX_CENTS
from association.core.time import month_start, today_in_nairobi, utcnow
from association.extensions import db
from association.ledger.accounts import DUES_INCOME_KEY, METHOD_ACCOUNT_KEY, account_id
from association.ledger.balances import allocate, credit_balances, open_charges, open_charges_of
from association.ledger.errors import AlreadyVoidedError, DuplicatePaymentError, LedgerError
from association.ledger.journal import (
    Line,
    add_to_month_totals,
    balanced,
    post_entry,
    reverse_entry,
    seal_entries,
)
from association.ledger.models import (
    Allocation,
    DuesCharge,
    EntrySource,
    JournalEntry,
    Payment,
    PaymentMethod,
    Posting,
    Receipt,
    Side,
)
from association.ledger.periods import check_open
from association.ledger.receipt_numbers import new_receipt, next_receipt_seq, numbered
from association.ledger.settings import settings
from association.members.models import Category, Member


def normalise_mpesa_code(code: str | None) -> str | None:
    """M-Pesa receipt codes are 10 letters and digits, upper case."""
    text = "".join((code or "").split()).upper()
    return text or None


def record_payment(
    member: Member,
    amount_cents: int,
    method: PaymentMethod,
    paid_on: date,
    received_by_id: int | None,
    reference: str | None = None,
    source: EntrySource = EntrySource.PAYMENT,
    issued_on: date | None = None,
) -> Payment:
    """Record money from a member, settle their oldest charges, keep the rest as credit,
    and issue the numbered receipt.

    Args:
        reference: the M-Pesa code for M-Pesa payments (required), else a bank or
            other reference.
        issued_on: the receipt's date, which picks its year's numbers (default today;
            the demo data back-dates it).

    Raises:
        LedgerError: a bad amount or date, or an M-Pesa payment without its code.
        DuplicatePaymentError: that M-Pesa code is already in the books.
        ClosedPeriodError: ``paid_on`` is in a closed month.
    """
    mpesa_code, reference = _checked_payment(amount_cents, method, paid_on, reference)
    voluntary = settings().voluntary_contributions
    parts = [] if voluntary else allocate(open_charges(member.id), amount_cents)
    lines = _payment_lines(member.id, member.category, amount_cents, method, parts, voluntary)
    savepoint = db.session.begin_nested()
    try:
        entry = post_entry(paid_on, _payment_memo(method, member.member_no), source,
                           lines, received_by_id, reference=mpesa_code or reference)
        payment = Payment(member_id=member.id, amount_cents=amount_cents, method=method,
                          mpesa_code=mpesa_code, reference=reference, paid_on=paid_on,
                          received_by_id=received_by_id, entry_id=entry.id)
        db.session.add(payment)
        for charge, part in parts:
            charge.open_cents -= part
            db.session.add(Allocation(charge_id=charge.id, payment=payment,
                                      entry_id=entry.id, amount_cents=part))
        new_receipt(payment, issued_on)
        db.session.flush()  # the payment, its allocations and receipt: one write, one audit
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        # Another request recorded the same M-Pesa code a moment ago.
        raise DuplicatePaymentError(
            _l("The M-Pesa code %(code)s is already in the books.", code=mpesa_code)) from None
    return payment


def _checked_payment(amount_cents: int, method: PaymentMethod, paid_on: date,
                     reference: str | None) -> tuple[str | None, str | None]:
    """A payment's (M-Pesa code, other reference), once it may be recorded.

    Raises:
        LedgerError: a bad amount or date, an M-Pesa payment without its code, a
            reference too long.
        ClosedPeriodError: ``paid_on`` is in a closed month.
    """
    if not isinstance(amount_cents, int) or not 0 < amount_cents <= MAX_CENTS:
        raise LedgerError(_l("The amount must be more than zero."))
    if paid_on > today_in_nairobi():
        raise LedgerError(_l("A payment cannot be dated in the future."))
    mpesa_code = None
    if method == PaymentMethod.MPESA:
        mpesa_code = normalise_mpesa_code(reference)
        if not mpesa_code or not mpesa_code.isalnum() or not 8 <= len(mpesa_code) <= 12:
            raise LedgerError(_l("Enter the M-Pesa code from the confirmation message, "
                                 "e.g. TC57ABC9XY."))
        reference = None
        # A code already in the books is refused by its unique index.
    reference = (reference or "").strip() or None
    if reference and len(reference) > 40:  # the journal entry keeps 40 characters
        raise LedgerError(_l("The reference is too long: at most 40 characters."))
    check_open(paid_on)
    return mpesa_code, reference


def _payment_memo(method: PaymentMethod, member_no: str) -> str:
    return f"{method.value} payment from {member_no}"


def _payment_lines(member_id: int, category: Category, amount_cents: int,
                   method: PaymentMethod, parts: list[tuple[DuesCharge, int]],
                   voluntary: bool) -> list[Line]:
    """Dr the money's account; Cr the dues settled by ``parts`` and the rest to the
    member's credit (or, for voluntary contributions, Cr the category's income)."""
    lines = [Line(account_id(METHOD_ACCOUNT_KEY[method]), Side.DEBIT, amount_cents)]
    if voluntary:
        lines.append(Line(account_id(DUES_INCOME_KEY[category]), Side.CREDIT, amount_cents))
        return lines
    settled = sum(part for _, part in parts)
    if settled:
        lines.append(Line(account_id("dues_receivable"), Side.CREDIT, settled, member_id))
    if amount_cents > settled:
        lines.append(Line(account_id("member_credit"), Side.CREDIT, amount_cents - settled,
                          member_id))
    return lines


@dataclass(frozen=True)
class NewPayment:
    """One payment of a batch for :func:`record_payments`."""

    member_id: int
    member_no: str
    category: Category
    amount_cents: int
    method: PaymentMethod
    paid_on: date
    reference: str | None = None


def record_payments(payments: list[NewPayment], received_by_id: int | None = None,
                    source: EntrySource = EntrySource.PAYMENT) -> list[int]:
    """Record many payments at once (a batch of M-Pesa confirmations): for each, the
    same entry, allocations, credit and numbered receipt as :func:`record_payment`,
    in a few statements for the whole batch. Returns the payments' ids, in order.

    Payments of one member settle their charges in the order given. The receipts
    take consecutive numbers of this year.

    Raises:
        LedgerError, ClosedPeriodError: as :func:`record_payment`, for any payment;
            nothing of the batch is written.
        IntegrityError: an M-Pesa code already in the books (the caller undoes the
            transaction).
    """
    if not payments:
        return []
    checked = [_checked_payment(p.amount_cents, p.method, p.paid_on, p.reference)
               for p in payments]
    voluntary = settings().voluntary_contributions
    charges = {} if voluntary else open_charges_of({p.member_id for p in payments})
    plans = []
    for payment, (mpesa_code, reference) in zip(payments, checked, strict=True):
        parts = [] if voluntary else allocate(charges.get(payment.member_id, []),
                                                payment.amount_cents)
        for charge, part in parts:
            charge.open_cents -= part  # the member's next payment settles the next charge
        lines = balanced(_payment_lines(payment.member_id, payment.category,
                                         payment.amount_cents, payment.method, parts,
                                         voluntary))
        plans.append((payment, mpesa_code, reference, parts, lines))
    now = utcnow()
    entries = [
        {"entry_date": p.paid_on, "memo": _payment_memo(p.method, p.member_no), "source": source,
         "reference": code or reference, "posted_by_id": received_by_id, "posted_at": now,
         "reverses_id": None}
        for p, code, reference, _, _ in plans]
    entry_ids = insert_audited(JournalEntry, entries)
    posting_ids = iter(insert_audited(Posting, [
        {"entry_id": entry_id, "account_id": line.account_id, "member_id": line.member_id,
         "side": line.side, "amount_cents": line.amount_cents}
        for entry_id, (*_, lines) in zip(entry_ids, plans, strict=True) for line in lines]))
    # Sealed as post_entry seals, or `flask audit verify` finds entries with no seal.
    seal_entries(({**entry, "id": entry_id}, [next(posting_ids) for _ in lines], lines)
                 for entry, entry_id, (*_, lines) in zip(entries, entry_ids, plans, strict=True))
    by_month: dict[date, list[Line]] = defaultdict(list)
    for p, *_, lines in plans:
        by_month[month_start(p.paid_on)] += lines
    for month, lines in sorted(by_month.items()):
        add_to_month_totals(month, lines)
    payment_ids = insert_audited(Payment, [
        {"member_id": p.member_id, "amount_cents": p.amount_cents, "method": p.method,
         "mpesa_code": code, "reference": reference, "paid_on": p.paid_on,
         "received_by_id": received_by_id, "entry_id": entry_id, "created_at": now}
        for entry_id, (p, code, reference, _, _) in zip(entry_ids, plans, strict=True)])
    insert_audited(Allocation, [
        {"charge_id": charge.id, "payment_id": payment_id, "entry_id": entry_id,
         "amount_cents": part, "reversed_by_entry_id": None}
        for payment_id, entry_id, (_, _, _, parts, _) in zip(payment_ids, entry_ids, plans,
                                                               strict=True)
        for charge, part in parts])
    year = today_in_nairobi().year
    first = next_receipt_seq(year, len(plans)) - len(plans) + 1
    insert_audited(Receipt, [
        {**numbered(year, seq), "payment_id": payment_id, "issued_at": now,
         "voided_at": None, "void_reason": None, "voided_by_id": None, "void_entry_id": None}
        for seq, payment_id in enumerate(payment_ids, start=first)])
    db.session.flush()  # the charges' open amounts (audited as any flush)
    return payment_ids


def void_receipt(receipt: Receipt, reason: str, voided_by_id: int | None) -> Receipt:
    """Void a receipt: reverse its payment's entry and reopen the months it paid.

    The receipt keeps its number in the register, marked VOID with the reason.

    Raises:
        AlreadyVoidedError: voided before.
        LedgerError: no reason given.
        ClosedPeriodError: today's month is closed.
    """
    if receipt.is_void:
        raise AlreadyVoidedError(_l("Receipt %(no)s is already void.", no=receipt.number))
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise LedgerError(_l("Give the reason for voiding the receipt."))
    payment = receipt.payment
    reversal = reverse_entry(payment.entry, f"Void of receipt {receipt.number}: {reason}"[:300],
                             voided_by_id)
    for allocation in payment.allocations:
        if allocation.reversed_by_entry_id is None:
            allocation.reversed_by_entry_id = reversal.id
            allocation.charge.open_cents += allocation.amount_cents
    receipt.voided_at = utcnow()
    receipt.void_reason = reason[:300]
    receipt.voided_by_id = voided_by_id
    receipt.void_entry_id = reversal.id
    db.session.flush()
    _undo_spent_credit(payment.member_id, reversal.entry_date, voided_by_id)
    return receipt


def _undo_spent_credit(member_id: int, on: date, posted_by_id: int | None) -> None:
    """If the voided payment's credit was already used, reopen those charges (newest first)."""
    owed_credit = -credit_balances([member_id]).get(member_id, 0)
    if owed_credit <= 0:
        return
    allocations = db.session.scalars(
        sa.select(Allocation).join(DuesCharge)
        .where(DuesCharge.member_id == member_id, Allocation.payment_id.is_(None),
               Allocation.reversed_by_entry_id.is_(None))
        .order_by(DuesCharge.month.desc(), Allocation.id.desc())
    )
    undo, remaining = [], owed_credit
    for allocation in allocations:
        if remaining <= 0:
            break
        take = min(allocation.amount_cents, remaining)
        undo.append((allocation, take))
        remaining -= take
    if not undo:
        return
    amount = sum(take for _, take in undo)
    entry = post_entry(on, "Credit withdrawn after a voided receipt", EntrySource.ADJUSTMENT,
                       [Line(account_id("dues_receivable"), Side.DEBIT, amount, member_id),
                        Line(account_id("member_credit"), Side.CREDIT, amount, member_id)],
                       posted_by_id)
    for allocation, take in undo:
        allocation.reversed_by_entry_id = entry.id
        allocation.charge.open_cents += take
        if take < allocation.amount_cents:  # only part of it was paid by the withdrawn credit
            # In force from the withdrawal on: before it, the whole allocation was.
            db.session.add(Allocation(charge_id=allocation.charge_id, entry_id=entry.id,
                                      amount_cents=allocation.amount_cents - take))
    db.session.flush()
