"""Members' balances and credit: what each member owes or has paid in advance,
their open charges, and settling the oldest charges first with money or credit.
"""

from collections import defaultdict
from datetime import date

import sqlalchemy as sa

from association.audit.services import insert_audited
from association.extensions import db
from association.ledger.accounts import account_id
from association.ledger.journal import Line, post_entry
from association.ledger.models import Allocation, DuesCharge, EntrySource, Posting, Side


def _member_account_balance(key: str, member_ids=None, through_entry_id: int | None = None
                            ) -> dict[int, int]:
    """Debit-minus-credit of an account's member sub-ledger, per member (as it stood after
    ``through_entry_id`` when given)."""
    signed = sa.case((Posting.side == Side.DEBIT, Posting.amount_cents),
                     else_=-Posting.amount_cents)
    stmt = (sa.select(Posting.member_id, sa.func.sum(signed))
            .where(Posting.account_id == account_id(key), Posting.member_id.is_not(None))
            .group_by(Posting.member_id))
    if member_ids is not None:
        stmt = stmt.where(Posting.member_id.in_(list(member_ids)))
    if through_entry_id is not None:
        stmt = stmt.where(Posting.entry_id <= through_entry_id)
    return {member_id: int(total) for member_id, total in db.session.execute(stmt)}


def credit_balances(member_ids=None) -> dict[int, int]:
    """Cents each member has paid in advance (member credit is a liability: credit-normal)."""
    return {m: -v for m, v in _member_account_balance("member_credit", member_ids).items() if v}


def net_owed(member_ids=None, through_entry_id: int | None = None) -> dict[int, int]:
    """What each member owes (positive) or has in credit (negative), in cents: dues
    receivable less member credit. Members with neither are left out."""
    owed = _member_account_balance("dues_receivable", member_ids, through_entry_id)
    credit = _member_account_balance("member_credit", member_ids, through_entry_id)
    return {m: owed.get(m, 0) + credit.get(m, 0) for m in owed.keys() | credit.keys()}


def member_balance(member_id: int) -> int:
    """What the member owes (positive) or has in credit (negative), in cents; what a member
    is shown is their standing (:mod:`association.ledger.standing`), built on this."""
    return net_owed([member_id]).get(member_id, 0)


def open_charges(member_id: int) -> list[DuesCharge]:
    return open_charges_of([member_id]).get(member_id, [])


def open_charges_of(member_ids) -> dict[int, list[DuesCharge]]:
    """Each member's unpaid charges, oldest first, in one query."""
    wanted = set(member_ids)
    stmt = (sa.select(DuesCharge).where(DuesCharge.open_cents > 0)
            .order_by(DuesCharge.member_id, DuesCharge.month, DuesCharge.id))
    if len(wanted) <= 500:
        stmt = stmt.where(DuesCharge.member_id.in_(wanted))
    found = defaultdict(list)
    for charge in db.session.scalars(stmt):
        if charge.member_id in wanted:
            found[charge.member_id].append(charge)
    return found


def allocate(charges: list[DuesCharge], amount: int) -> list[tuple[DuesCharge, int]]:
    """Settle the oldest charges first; returns (charge, cents) pairs."""
    parts = []
    for charge in charges:
        if amount <= 0:
            break
        if charge.open_cents <= 0:
            continue  # settled by an earlier payment of the same batch
        part = min(charge.open_cents, amount)
        parts.append((charge, part))
        amount -= part
    return parts


def apply_credits(on: date, posted_by_id: int | None, member_ids=None) -> int:
    """Use members' advance payments to settle their open charges, oldest first."""
    credits = credit_balances(member_ids)
    if not credits:
        return 0
    credit_account, receivable = account_id("member_credit"), account_id("dues_receivable")
    lines, plans = [], []
    open_charges = open_charges_of(credits)
    for member_id, credit in sorted(credits.items()):
        parts = allocate(open_charges.get(member_id, []), credit)
        used = sum(part for _, part in parts)
        if used:
            lines += [Line(credit_account, Side.DEBIT, used, member_id),
                      Line(receivable, Side.CREDIT, used, member_id)]
            plans.append(parts)
    if not plans:
        return 0
    entry = post_entry(on, "Member credit applied to dues", EntrySource.CREDIT_APPLIED, lines,
                       posted_by_id)
    allocations = []
    for parts in plans:
        for charge, part in parts:
            charge.open_cents -= part
            allocations.append({"charge_id": charge.id, "payment_id": None, "entry_id": entry.id,
                                "amount_cents": part, "reversed_by_entry_id": None})
    insert_audited(Allocation, allocations)
    return sum(row["amount_cents"] for row in allocations)
