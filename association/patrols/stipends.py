"""Stipends: computed from attended shifts, approved by a second official, posted to the books.

A stipend run is recorded as one expense on the "Patrol stipends" account, dated
the last day of the month patrolled and paid from cash or M-Pesa. Like every
expense it is posted only when another official approves it
(:func:`association.ledger.expenses.approve_expense`), so the run's state is its
expense's state: waiting, approved, rejected, or reversed when a reversing entry
has since cancelled the approved expense. A run that is waiting or approved (and not
reversed) *stands*: it blocks a second run for its month, so no stipend is ever paid
twice; a rejected or reversed run lets the coordinator compute the month again. A
closed month refuses the run, and nothing is saved.

What one attended shift pays is the patrol settings row's rate (:func:`settings`,
:func:`set_stipend_rate`): that row holds nothing else.
"""

import enum
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from association.core.db import one_row
from association.core.time import month_end, today_in_nairobi
from association.extensions import db
from association.ledger.accounts import account
from association.ledger.errors import ClosedPeriodError
from association.ledger.expenses import approve_expense, record_expense, reject_expense
from association.ledger.models import Expense, ExpenseStatus, JournalEntry, PaymentMethod
from association.ledger.periods import check_open
from association.members.models import Member
from association.patrols.attendance import attended_shifts
from association.patrols.errors import PatrolError
from association.patrols.models import Patroller, PatrolSettings, StipendLine, StipendRun

#: How stipends may be paid out.
STIPEND_METHODS = (PaymentMethod.CASH, PaymentMethod.MPESA)


def settings() -> PatrolSettings:
    """The one settings row (id 1), created on first use."""
    return one_row(db.session, PatrolSettings, stipend_cents=0)


def set_stipend_rate(amount_cents: int) -> PatrolSettings:
    """Set what one attended shift pays.

    Raises:
        PatrolError: a negative or absurd amount.
    """
    if not isinstance(amount_cents, int) or not 0 <= amount_cents <= 100_000_00:
        raise PatrolError(_l("The stipend for a shift must be between KES 0 and KES 100,000."))
    row = settings()
    row.stipend_cents = amount_cents
    db.session.flush()
    return row


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


class RunState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVERSED = "reversed"


RUN_STATE_LABELS = {
    RunState.PENDING: _l("Waiting for approval"),
    RunState.APPROVED: _l("Approved"),
    RunState.REJECTED: _l("Rejected"),
    RunState.REVERSED: _l("Reversed"),
}


@dataclass(frozen=True)
class RunStatus:
    """Where a run stands, read from its expense and any entry reversing it."""

    state: RunState
    #: The rejection reason, or the reversing entry's memo.
    reason: str | None = None
    #: The reversing entry's date.
    reversed_on: date | None = None

    @property
    def label(self) -> str:
        return str(RUN_STATE_LABELS[self.state])

    @property
    def stands(self) -> bool:
        """Waiting or approved and not reversed: it blocks another run for the month."""
        return self.state in (RunState.PENDING, RunState.APPROVED)


def run_statuses(stipend_runs) -> dict[int, RunStatus]:
    """Each run's status by run id, with one query for the reversals."""
    stipend_runs = list(stipend_runs)
    entries = {run.expense.entry_id for run in stipend_runs
               if run.expense.status == ExpenseStatus.APPROVED and run.expense.entry_id}
    reversals = {e.reverses_id: e for e in db.session.scalars(
        sa.select(JournalEntry).where(JournalEntry.reverses_id.in_(entries)))} if entries else {}
    found = {}
    for run in stipend_runs:
        expense = run.expense
        if expense.status == ExpenseStatus.REJECTED:
            found[run.id] = RunStatus(RunState.REJECTED, expense.rejection_reason)
        elif expense.status == ExpenseStatus.PENDING:
            found[run.id] = RunStatus(RunState.PENDING)
        elif (reversal := reversals.get(expense.entry_id)) is not None:
            found[run.id] = RunStatus(RunState.REVERSED, reversal.memo, reversal.entry_date)
        else:
            found[run.id] = RunStatus(RunState.APPROVED)
    return found


def run_status(run: StipendRun) -> RunStatus:
    return run_statuses([run])[run.id]


def standing_run(month: date, exclude_id: int | None = None) -> StipendRun | None:
    """The month's run that is waiting or approved and not reversed, if any."""
    month_runs = [run for run in runs(month) if run.id != exclude_id]
    statuses = run_statuses(month_runs)
    return next((run for run in month_runs if statuses[run.id].stands), None)


def _check_month_open(month: date) -> None:
    """Stipends are dated the month's last day, so a closed month cannot take them.

    Raises:
        ClosedPeriodError: the month is closed in the books.
    """
    try:
        check_open(month_end(month))
    except ClosedPeriodError:
        raise ClosedPeriodError(_l(
            "%(month)s is closed in the books: its stipends cannot be recorded or approved. "
            "Ask the chair to reopen the month first.", month=month.strftime("%Y-%m"))) from None


def _lock_stipends() -> None:
    """Serialise stipend runs on the patrol settings row, so two officials computing the
    same month at once cannot both record it."""
    settings()
    db.session.execute(sa.select(PatrolSettings.id).where(PatrolSettings.id == 1)
                       .with_for_update())


def create_run(month: date, method: PaymentMethod, user_id: int | None,
               today: date | None = None) -> StipendRun:
    """Compute the month's stipends and send them for approval as one expense.

    Raises:
        PatrolError: the month has not ended, no rate is set, nobody attended, a bad
            method, or a run for the month is already waiting or approved (and not
            reversed).
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
    _check_month_open(month)
    _lock_stipends()
    if (run := standing_run(month)) is not None:
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
        PatrolError: another run for the month already stands.
        SelfApprovalError: the approver computed the run.
        ExpenseError / ClosedPeriodError: as for any expense.
    """
    _lock_stipends()
    if (other := standing_run(run.month, exclude_id=run.id)) is not None:
        raise PatrolError(_l("The stipends for %(month)s are already recorded (STP-%(id)d).",
                             month=run.month.strftime("%Y-%m"), id=other.id))
    if run.expense.status == ExpenseStatus.PENDING:
        _check_month_open(run.month)
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
