"""``flask mpesa reconcile``: finish what callbacks left undone; safe to run any number of times.

1. Inbox rows stored but not processed (a crash, Daraja unreachable during
   verification, a callback that overtook its own request) are processed again.
2. STK prompts still pending after two minutes are asked about (STK Push Query).
3. Unconfirmed payments are verified again (STK query, or Transaction Status).

Each item is committed on its own, so one failure never undoes the others.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from association.audit.services import acting_as
from association.core.time import utcnow
from association.extensions import db
from association.mpesa import processing
from association.mpesa.models import (
    CallbackInbox,
    MpesaTransaction,
    StkRequest,
    StkStatus,
    TransactionSource,
    TransactionStatus,
)
from association.mpesa.provider import is_enabled, status_query_enabled
from association.mpesa.stk import prompts_due_query, refresh_request

STK_PENDING_AFTER = timedelta(minutes=2)
#: A prompt recorded but never sent (the process died in between) is given up after this.
SENDING_GIVE_UP = timedelta(minutes=5)
#: Transaction Status questions are asked again at most this often.
STATUS_EVERY = timedelta(minutes=10)


@dataclass
class ReconcileReport:
    """What one run changed, line by line, for the command's output."""

    lines: list[str] = field(default_factory=list)
    changed: int = 0
    errors: int = 0

    def add(self, text: str, changed: bool = True, error: bool = False) -> None:
        self.lines.append(text)
        self.changed += int(changed)
        self.errors += int(error)


def _commit_or_rollback(report: ReconcileReport, what: str) -> bool:
    # The reconcile command is its own boundary, as every command: it commits each item
    # apart, so that one that cannot be saved is reported and the others are kept.
    try:
        db.session.commit()
        return True
    except Exception as error:  # noqa: BLE001 - reported; the next run tries again
        db.session.rollback()
        report.add(f"{what}: could not be saved ({type(error).__name__})", False, True)
        return False


def reconcile(limit: int = 500) -> ReconcileReport:
    """Run the three passes; returns what changed."""
    report = ReconcileReport()
    with acting_as("cli:mpesa reconcile"):
        _reprocess_inbox(report, limit)
        if is_enabled():
            _query_pending_prompts(report, limit)
            _verify_unconfirmed(report, limit)
        else:
            report.add("M-Pesa is not set up: Daraja was not asked anything.", False)
    return report


def _reprocess_inbox(report: ReconcileReport, limit: int) -> None:
    ids = db.session.scalars(
        sa.select(CallbackInbox.id).where(CallbackInbox.processed_at.is_(None))
        .order_by(CallbackInbox.id).limit(limit)
    ).all()
    for row_id in ids:
        processing.processing_turn()
        row = db.session.get(CallbackInbox, row_id)
        if row is None or row.processed_at is not None:
            db.session.rollback()  # the turn is another's again
            continue
        result = processing.process(row)
        if _commit_or_rollback(report, f"callback {row_id}"):
            label = f"callback {row_id} ({row.kind.value}, {row.key or '-'}): {result.outcome}"
            if result.error:
                label += f" - {result.error}"
            report.add(label, changed=result.done, error=not result.done)


def _query_pending_prompts(report: ReconcileReport, limit: int) -> None:
    now = utcnow()
    stale = db.session.scalars(
        sa.select(StkRequest).where(StkRequest.status == StkStatus.SENDING,
                                    StkRequest.created_at < now - SENDING_GIVE_UP).limit(limit)
    ).all()
    for request in stale:
        request.status = StkStatus.ERROR
        request.result_desc = "Never sent: the app stopped before Daraja was asked."
        if _commit_or_rollback(report, f"STK request {request.id}"):
            report.add(f"STK request {request.id}: never sent, marked as an error")
    for request_id in prompts_due_query(STK_PENDING_AFTER, None, limit):
        request = db.session.get(StkRequest, request_id)
        before = request.result_code
        changed = refresh_request(request, force=True)
        if not _commit_or_rollback(report, f"STK request {request_id}"):
            continue
        if changed == "paid_no_receipt" and before == "0":
            continue  # already reported on an earlier run
        if changed:
            report.add(f"STK request {request_id} ({request.checkout_request_id}): {changed}")


def _verify_unconfirmed(report: ReconcileReport, limit: int) -> None:
    now = utcnow()
    txs = db.session.scalars(
        sa.select(MpesaTransaction).where(
            MpesaTransaction.status == TransactionStatus.UNCONFIRMED,
            MpesaTransaction.source.in_((TransactionSource.STK, TransactionSource.C2B)),
        ).order_by(MpesaTransaction.id).limit(limit)
    ).all()
    for tx in txs:
        if tx.source == TransactionSource.STK and tx.checkout_request_id:
            request = db.session.scalar(sa.select(StkRequest).where(
                StkRequest.checkout_request_id == tx.checkout_request_id))
            if (tx.note or "").startswith("The amount"):
                continue  # amounts that disagree wait for the treasurer
            outcome = processing.verify_stk(tx, request)
        elif tx.source == TransactionSource.C2B:
            if status_query_enabled() and tx.updated_at > now - STATUS_EVERY:
                continue
            if (tx.note or "").startswith(("Daraja could not", "Daraja confirms another")):
                continue  # Daraja has answered: the treasurer decides
            outcome = processing.verify_c2b(tx)
        else:
            continue
        if _commit_or_rollback(report, f"M-Pesa {tx.receipt_code}"):
            if outcome != "unconfirmed":
                report.add(f"M-Pesa {tx.receipt_code}: {outcome}")
