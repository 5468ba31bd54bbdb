"""Periods: closing a month so that nothing more is posted in it, reopening it
with a reason, and the check every posting makes that its month is open.
"""

import logging
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.audit.checkpoints import REFUSED, TrailBroken, make_checkpoint
from association.audit.models import CheckpointReason
from association.audit.services import log_event
from association.core import dates
from association.core.time import month_end, month_start, today_in_nairobi, utcnow
from association.extensions import db
from association.ledger.errors import ClosedPeriodError, LedgerError
from association.ledger.models import ClosedMonth

log = logging.getLogger(__name__)


def is_closed(day: date) -> bool:
    """Whether the month of ``day`` is closed (asked once per month and transaction)."""
    month = month_start(day)
    known = db.session.info.setdefault("ledger_closed_months", {})
    if month not in known:
        known[month] = db.session.scalar(
            sa.select(sa.func.count(ClosedMonth.id)).where(
                ClosedMonth.month == month, ClosedMonth.reopened_at.is_(None)
            )
        ) > 0
    return known[month]


def forget_closed_months(session, *args) -> None:
    """A month may be closed or reopened by anyone once this transaction is over."""
    session.info.pop("ledger_closed_months", None)


def forget_closed_months_on_write(session, flush_context, instances) -> None:
    if any(isinstance(obj, ClosedMonth) for obj in (*session.new, *session.dirty)):
        forget_closed_months(session)


def check_open(day: date) -> None:
    if is_closed(day):
        raise ClosedPeriodError(
            _l("%(month)s is closed: nothing can be posted in it. Ask the chair to reopen it, "
               "or date the entry in an open month.", month=dates.month(day))
        )


def close_month(month: date, closed_by_id: int | None) -> ClosedMonth:
    """Close a month: from now on nothing can be posted in it.

    Raises:
        LedgerError: already closed, or not yet over.
    """
    month = month_start(month)
    if is_closed(month):
        raise LedgerError(_l("%(month)s is already closed.", month=dates.month(month)))
    if month_end(month) >= today_in_nairobi():
        raise LedgerError(_l("A month can be closed only after it has ended."))
    closed = ClosedMonth(month=month, closed_by_id=closed_by_id)
    db.session.add(closed)
    db.session.flush()
    # The chain as the month is closed, signed: shown on the periods page and printed on
    # this close's report (close_report.py) to keep. A trail that fails its check is not
    # signed: the month still closes, and the page and the report say why there is none.
    try:
        make_checkpoint(CheckpointReason.MONTH_CLOSE, close_label(closed))
    except TrailBroken as error:
        log.error("month close %s: no audit checkpoint, the trail failed its check: %s",
                  close_label(closed), error.reason)
        log_event(*REFUSED, close_label(closed), {"reason": error.reason})
    return closed


def close_label(closed: ClosedMonth) -> str:
    """The label of a month close's checkpoint."""
    return f"{closed.month.strftime('%Y-%m')} #{closed.id}"


def reopen_month(month: date, reason: str, reopened_by_id: int | None) -> ClosedMonth:
    """Reopen a closed month (the chair, with a reason); the closing stays on record.

    Raises:
        LedgerError: the month is not closed, or no reason was given.
    """
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise LedgerError(_l("Give the reason for reopening the month."))
    closed = db.session.scalar(
        sa.select(ClosedMonth).where(ClosedMonth.month == month_start(month),
                                     ClosedMonth.reopened_at.is_(None))
    )
    if closed is None:
        raise LedgerError(_l("%(month)s is not closed.", month=dates.month(month)))
    closed.reopened_at = utcnow()
    closed.reopened_by_id = reopened_by_id
    closed.reopen_reason = reason[:1000]
    db.session.flush()
    return closed
