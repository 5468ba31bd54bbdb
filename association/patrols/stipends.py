"""Stipends: computed from attended shifts, approved by a second official, posted to the books.

A stipend run is recorded as one expense on the "Patrol stipends" account, dated
the last day of the month patrolled and paid from cash or M-Pesa. Like every
expense it is posted only when another official approves it
(:func:`association.ledger.expenses.approve_expense`), so the run's state is its
expense's state. A closed month refuses the run, and nothing is saved.
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from association.extensions import db
from association.ledger.expenses import approve_expense, record_expense, reject_expense
from association.ledger.models import Expense, ExpenseStatus, PaymentMethod
from association.ledger.services import account, check_open, month_end, today_in_nairobi
from association.members.models import Member
from association.patrols.models import Patroller, StipendLine, StipendRun
from association.patrols.services import PatrolError, attended_shifts, settings

#: How stipends may be paid out.
STIPEND_METHODS = (PaymentMethod.CASH, PaymentMethod.MPESA)


@dataclass(frozen=True)
class PreviewLine:
    patroller: Patroller
    shifts: int
    amount_cents: int


def preview(month: date) -> tuple[int, list[PreviewLine]]:
    """The rate and what each patroller is owed for ``month`` (not saved)."""
    rate = settings().stipend_cents
    counts = attended_shifts(month)
    rows = db.session.scalars(
        sa.select(Patroller).join(Member, Member.id == Patroller.member_id)
        .where(Patroller.id.in_(counts)).options(selectinload(Patroller.member))
        .order_by(Member.seq)
    ) if counts else []
    return rate, [PreviewLine(p, counts[p.id], counts[p.id] * rate) for p in rows]


def runs(month: date | None = None) -> list[StipendRun]:
    stmt = sa.select(StipendRun).options(selectinload(StipendRun.expense)).order_by(
        StipendRun.month.desc(), StipendRun.id.desc())
    if month is not None:
        stmt = stmt.where(StipendRun.month == month.replace(day=1))
    return list(db.session.scalars(stmt))


def run_status(run: StipendRun) -> ExpenseStatus:
    return run.expense.status


def create_run(month: date, method: PaymentMethod, user_id: int | None,
               today: date | None = None) -> StipendRun:
    """Compute the month's stipends and send them for approval as one expense.

    Raises:
        PatrolError: the month has not ended, no rate is set, nobody attended, a bad
            method, or a run for the month is already waiting or approved.
        ClosedPeriodError: the month is closed in the books.
    """
    month = month.replace(day=1)
    today = today or today_in_nairobi()
    last = month_end(month)
    if last >= today:
        raise PatrolError(_l("Stipends for %(month)s can be computed once the month has ended.",
                             month=month.strftime("%Y-%m")))
    try:
        method = PaymentMethod(method)
    except ValueError:
        raise PatrolError(_l("Pay stipends in cash or by M-Pesa.")) from None
    if method not in STIPEND_METHODS:
        raise PatrolError(_l("Pay stipends in cash or by M-Pesa."))
    check_open(last)
    for run in runs(month):
        if run.expense.status != ExpenseStatus.REJECTED:
            raise PatrolError(_l("The stipends for %(month)s are already recorded (STP-%(id)d).",
                                 month=month.strftime("%Y-%m"), id=run.id))
    rate, lines = preview(month)
    if rate <= 0:
        raise PatrolError(_l("Set the stipend for a shift in the patrol settings first."))
    if not lines:
        raise PatrolError(_l("Nobody attended a shift in %(month)s: record attendance first.",
                             month=month.strftime("%Y-%m")))
    total = sum(line.amount_cents for line in lines)
    shifts = sum(line.shifts for line in lines)
    expense = record_expense(
        account("patrol_stipends"),
        f"Patrol volunteers ({len(lines)})",
        total, method, last,
        f"Patrol stipends {month.strftime('%Y-%m')}: {shifts} shifts",
        None, user_id,
    )
    run = StipendRun(month=month, rate_cents=rate, total_cents=total, expense_id=expense.id,
                     created_by_id=user_id)
    run.lines = [StipendLine(patroller_id=line.patroller.id, shifts=line.shifts,
                             amount_cents=line.amount_cents) for line in lines]
    db.session.add(run)
    db.session.flush()
    return run


def approve_run(run: StipendRun, user_id: int | None) -> StipendRun:
    """A second official approves the run: it is posted to the books.

    Raises:
        SelfApprovalError: the approver computed the run.
        ExpenseError / ClosedPeriodError: as for any expense.
    """
    approve_expense(run.expense, user_id)
    db.session.refresh(run)
    return run


def reject_run(run: StipendRun, user_id: int | None, reason: str) -> StipendRun:
    reject_expense(run.expense, user_id, reason)
    db.session.refresh(run)
    return run


def get_run(run_id: int) -> StipendRun | None:
    return db.session.scalar(
        sa.select(StipendRun).where(StipendRun.id == run_id)
        .options(selectinload(StipendRun.lines).selectinload(StipendLine.patroller)
                 .selectinload(Patroller.member), selectinload(StipendRun.expense)
                 .selectinload(Expense.account))
    )
