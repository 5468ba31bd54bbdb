"""The suspense queue: genuine M-Pesa money that matches no member, and what became of it.

The treasurer settles each transaction one of two ways: assigns it to a member
(the money becomes a ledger payment with a receipt, through
``credit_transaction``) or marks it for refund with a reason (the money is sent
back by M-Pesa outside the app; it never entered the books). Both are final
here, recorded with who decided, and written to the audit trail.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.audit.services import log_event
from association.errors import DomainError
from association.extensions import db
from association.members.models import Member
from association.members.services import MemberNotFoundError, get_member_by_number
from association.mpesa.matching import Match, current_index
from association.mpesa.models import MpesaTransaction, TransactionStatus
from association.mpesa.transactions import TransactionError, credit_transaction
from association.phones import InvalidPhoneError, looks_like_phone, normalise_phone

#: Shortest and longest reason for a refund, and longest note on an assignment.
REASON_MIN, REASON_MAX = 3, 300


class SuspenseError(DomainError):
    """A suspense decision that cannot be made (already decided, no reason, no member)."""


#: Which list the queue page shows.
QUEUES = {
    "suspense": (TransactionStatus.SUSPENSE,),
    "refund": (TransactionStatus.REFUND,),
    #: Credited by an official's decision (assigned here, or imported), newest first.
    "credited": (TransactionStatus.CREDITED,),
}


def _in_queue(queue: str):
    statuses = QUEUES.get(queue, QUEUES["suspense"])
    clause = MpesaTransaction.status.in_(statuses)
    if queue == "credited":
        clause = sa.and_(clause, MpesaTransaction.decided_by_id.is_not(None))
    return clause


def queue_query(queue: str = "suspense", q: str = "") -> sa.Select:
    """Transactions waiting in suspense (oldest first), or those marked for refund or
    credited by an official (newest first).

    ``q`` narrows by receipt code, account reference or payer name.
    """
    stmt = sa.select(MpesaTransaction).where(_in_queue(queue))
    q = " ".join((q or "").split())[:60]
    if q:
        stmt = stmt.where(sa.or_(
            MpesaTransaction.receipt_code == q.upper().replace(" ", ""),
            MpesaTransaction.account_reference.icontains(q, autoescape=True),
            MpesaTransaction.payer_name.icontains(q, autoescape=True),
        ))
    if queue in ("refund", "credited"):
        return stmt.order_by(MpesaTransaction.updated_at.desc(), MpesaTransaction.id.desc())
    return stmt.order_by(MpesaTransaction.transacted_at, MpesaTransaction.id)


@dataclass
class QueueTotals:
    count: int
    amount_cents: int


def queue_totals(queue: str = "suspense") -> QueueTotals:
    count, total = db.session.execute(
        sa.select(sa.func.count(MpesaTransaction.id),
                  sa.func.coalesce(sa.func.sum(MpesaTransaction.amount_cents), 0))
        .where(_in_queue(queue))
    ).one()
    return QueueTotals(count, int(total))


def suggestions(transactions) -> dict[int, Match]:
    """For each waiting transaction, the member it would match now (or why not).

    A member registered after the money came, or a phone corrected since, often
    explains a payment that landed in suspense.
    """
    index = current_index()
    return {
        tx.id: index.match(tx.account_reference, tx.phone, tx.msisdn_hash)
        for tx in transactions
        if tx.status == TransactionStatus.SUSPENSE
    }


def suggested_members(hints: dict[int, Match]) -> dict[int, Member]:
    """The members named by :func:`suggestions`, by id."""
    ids = {m.member_id for m in hints.values() if m.member_id}
    if not ids:
        return {}
    return {m.id: m for m in db.session.scalars(sa.select(Member).where(Member.id.in_(ids)))}


def decided_by_names(transactions) -> dict[int, str]:
    """Who decided each transaction, by user id."""
    from association.auth.models import User

    ids = {tx.decided_by_id for tx in transactions if tx.decided_by_id}
    if not ids:
        return {}
    return dict(db.session.execute(
        sa.select(User.id, User.full_name).where(User.id.in_(ids))).all())


def _locked(tx_id: int) -> MpesaTransaction | None:
    """The transaction, re-read and locked so two officials cannot decide it at once."""
    return db.session.scalar(
        sa.select(MpesaTransaction).where(MpesaTransaction.id == tx_id)
        .with_for_update().execution_options(populate_existing=True)
    )


def _waiting(tx_id: int) -> MpesaTransaction:
    tx = _locked(tx_id)
    if tx is None:
        raise SuspenseError(_l("That M-Pesa payment does not exist."))
    if tx.status != TransactionStatus.SUSPENSE:
        raise SuspenseError(_l(
            "The M-Pesa payment %(code)s is no longer in suspense: someone has already dealt "
            "with it.", code=tx.receipt_code))
    return tx


def find_member(typed: str) -> Member:
    """The member a treasurer typed: a member number in any usual form, or a phone.

    Raises:
        SuspenseError: empty, or no member has that number or phone.
    """
    text = " ".join((typed or "").split())[:60]
    if not text:
        raise SuspenseError(_l("Enter the member number (e.g. MLK-0042) or phone number."))
    try:
        return get_member_by_number(text)
    except MemberNotFoundError:
        pass
    if looks_like_phone(text):
        try:
            phone = normalise_phone(text)
        except InvalidPhoneError:
            phone = None
        member = db.session.scalar(sa.select(Member).where(Member.phone == phone)) if phone \
            else None
        if member is not None:
            return member
    raise SuspenseError(_l("No member has the number or phone %(typed)s.", typed=text))


def assign(tx_id: int, member: Member, by_user_id: int | None,
           note: str | None = None) -> MpesaTransaction:
    """Credit a suspense transaction to ``member``: a ledger payment and its receipt.

    Args:
        note: why this member (optional), kept with the transaction.

    Raises:
        SuspenseError: the transaction is gone or no longer in suspense, or the note
            is too long.
        LedgerError: the ledger refuses the payment (e.g. the code is already in the books).
    """
    note = " ".join((note or "").split()) or None
    if note and len(note) > REASON_MAX:
        raise SuspenseError(_l("The note is too long (%(n)d characters at most).", n=REASON_MAX))
    tx = _waiting(tx_id)
    try:
        credit_transaction(tx, member, by_user_id)
    except TransactionError as error:
        raise SuspenseError(error.message) from None
    if note:
        tx.note = note
    db.session.flush()
    log_event("mpesa.suspense.assign", "mpesa_transaction", tx.id,
              {"receipt_code": tx.receipt_code, "member_no": member.member_no,
               "amount_cents": tx.amount_cents, "payment_id": tx.payment_id, "note": note})
    return tx


def mark_for_refund(tx_id: int, reason: str, by_user_id: int | None) -> MpesaTransaction:
    """Take a suspense transaction out of the queue to be sent back to the payer.

    Raises:
        SuspenseError: no reason, a reason too short or long, or the transaction is
            gone or no longer in suspense.
    """
    reason = " ".join((reason or "").split())
    if len(reason) < REASON_MIN:
        raise SuspenseError(_l("Give the reason for the refund."))
    if len(reason) > REASON_MAX:
        raise SuspenseError(_l("The reason is too long (%(n)d characters at most).",
                               n=REASON_MAX))
    tx = _waiting(tx_id)
    tx.status = TransactionStatus.REFUND
    tx.note = reason
    tx.decided_by_id = by_user_id
    db.session.flush()
    log_event("mpesa.suspense.refund", "mpesa_transaction", tx.id,
              {"receipt_code": tx.receipt_code, "amount_cents": tx.amount_cents,
               "reason": reason})
    return tx
