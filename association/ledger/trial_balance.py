"""The trial balance: each account's balance over a span of days, read from the
month totals for whole months and from the postings for the days around them.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from association.core.time import month_end, month_start
from association.extensions import db
from association.ledger.models import Account, AccountMonthTotal, JournalEntry, Posting, Side


@dataclass
class TrialBalanceRow:
    account: Account
    debit_cents: int
    credit_cents: int


@dataclass
class TrialBalance:
    rows: list[TrialBalanceRow] = field(default_factory=list)

    @property
    def total_debit_cents(self) -> int:
        return sum(r.debit_cents for r in self.rows)

    @property
    def total_credit_cents(self) -> int:
        return sum(r.credit_cents for r in self.rows)


def trial_balance(as_of: date | None = None, start: date | None = None) -> TrialBalance:
    """Each account's net balance on its debit or credit side, from ``start`` to ``as_of``.

    Whole months come from the month totals; only the days of a month cut by
    ``start`` or ``as_of`` are added up from the postings themselves.
    """
    low, high = start or date.min, as_of or date.max
    totals: dict[int, int] = defaultdict(int)
    if month_start(low) == month_start(high):
        whole, parts = [], [(low, high)]
        if low.day == 1 and high == month_end(high):
            whole, parts = [(low, low)], []
    else:
        parts = []
        if low.day != 1:
            parts.append((low, month_end(low)))
            low = month_end(low) + timedelta(days=1)
        if high != month_end(high):
            parts.append((month_start(high), high))
            high = month_start(high) - timedelta(days=1)
        whole = [(low, month_start(high))] if low <= high else []
    for first, last in whole:
        stmt = (sa.select(AccountMonthTotal.account_id,
                          sa.func.sum(AccountMonthTotal.debit_cents
                                      - AccountMonthTotal.credit_cents))
                .where(AccountMonthTotal.month.between(first, last))
                .group_by(AccountMonthTotal.account_id))
        for account, total in db.session.execute(stmt):
            totals[account] += int(total)
    signed = sa.case((Posting.side == Side.DEBIT, Posting.amount_cents),
                     else_=-Posting.amount_cents)
    for first, last in parts:
        stmt = (sa.select(Posting.account_id, sa.func.sum(signed))
                .join(JournalEntry, JournalEntry.id == Posting.entry_id)
                .where(JournalEntry.entry_date.between(first, last))
                .group_by(Posting.account_id))
        for account, total in db.session.execute(stmt):
            totals[account] += int(total)
    accounts = db.session.scalars(sa.select(Account).order_by(Account.code))
    rows = [TrialBalanceRow(a, max(totals.get(a.id, 0), 0), max(-totals.get(a.id, 0), 0))
            for a in accounts if totals.get(a.id)]
    return TrialBalance(rows)
