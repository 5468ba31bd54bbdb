"""Processing Daraja's stored callbacks: idempotent, and crediting only verified money.

The worker process (``flask worker``, :func:`worker_step`) processes the bodies the
inbox (:mod:`association.mpesa.inbox`) stored, a batch (:data:`BATCH`) per transaction
(:func:`process_pending`); ``flask mpesa reconcile`` processes any row left
unprocessed (:func:`process`). Processing is idempotent on the M-Pesa receipt code
(unique in ``mpesa_transaction``) and on the CheckoutRequestID (the STK request row is
locked while its callback is processed), so the same callback any number of times,
even in parallel, makes one payment. Money is credited only after verification: the
amount and shortcode must match, and Daraja confirms it (STK Push Query for prompts,
:func:`verify_stk`; Transaction Status for paybill payments where the credentials
allow, :func:`verify_c2b`); otherwise it waits as ``unconfirmed`` for the treasurer
(:func:`confirm_by_hand`, :func:`reject_by_hand`). Paybill validations are answered
here too (:func:`validation_answer`).
"""

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from association.audit.services import acting_as, insert_audited
from association.core.db import is_postgres, one_row
from association.core.money import parse_cents
from association.core.time import MPESA_ZONE, to_utc, utcnow
from association.errors import DomainError
from association.extensions import db
from association.ledger.models import EntrySource, PaymentMethod
from association.ledger.payments import NewPayment, normalise_mpesa_code, record_payments
from association.members.models import Member
from association.mpesa.inbox import callback_url
from association.mpesa.matching import current_index
from association.mpesa.models import (
    CallbackInbox,
    CallbackKind,
    MpesaSettings,
    MpesaTransaction,
    StkRequest,
    StkStatus,
    TransactionSource,
    TransactionStatus,
    UnknownAccountAction,
)
from association.mpesa.provider import (
    ProviderError,
    get_provider,
    our_shortcodes,
    status_query_enabled,
)
from association.mpesa.settings import mpesa_settings
from association.mpesa.transactions import (
    books_day,
    credit_transaction,
    known_codes,
    put_in_suspense,
)

log = logging.getLogger(__name__)

#: An STK callback naming a CheckoutRequestID we do not (yet) know is retried this long:
#: it may have overtaken the commit of its own request.
UNKNOWN_REQUEST_GRACE = timedelta(minutes=10)

_RECEIPT_RE = re.compile(r"^[A-Z0-9]{8,12}$")
_HASH_RE = re.compile(r"^[0-9a-fA-F]{64}$")


class CallbackError(DomainError):
    """A callback body cannot be processed as it is (malformed, missing fields)."""


@dataclass
class Outcome:
    """What processing a callback did, for the inbox row and the reconcile report."""

    outcome: str
    error: str | None = None
    done: bool = True  # False: leave the row unprocessed, to be tried again


def process(row: CallbackInbox) -> Outcome:
    """Process one stored body; never raises. Its work is kept or undone as a whole.

    The row records the outcome (or the error, and stays unprocessed when it
    is worth trying again); the caller commits.
    """
    savepoint = db.session.begin_nested()
    try:
        result = _dispatch(row)
        savepoint.commit()
    except DomainError as error:
        savepoint.rollback()
        # A body that will never parse is done; a ledger or provider hitch is retried.
        result = Outcome("error", str(error)[:300], done=isinstance(error, CallbackError))
    except Exception as error:  # noqa: BLE001 - stored for reconcile, never lost
        savepoint.rollback()
        log.exception("M-Pesa callback %s failed", row.id)
        result = Outcome("error", f"{type(error).__name__}: {error}"[:300], done=False)
    # One write of the row (and one audit event) for the attempt and its outcome.
    row.key = getattr(row, "_named_key", None) or row.key
    row.attempts = (row.attempts or 0) + 1
    row.outcome = result.outcome
    row.error = result.error
    if result.done:
        row.processed_at = utcnow()
    db.session.flush()
    return result


#: Stored bodies processed in one transaction: one commit for many payments, and at most
#: about BATCH_SECONDS of work, so that a new body waits little for the write lock
#: (SQLite's, or the audit trail's on PostgreSQL) before it is stored and acknowledged.
BATCH = 25
BATCH_SECONDS = 0.2


#: The same number in every process: see :func:`processing_turn`.
_PROCESSING_LOCK = 0x4D504553


def processing_turn() -> None:
    """Wait for this transaction's turn to process stored callbacks.

    Worker processes, their one-by-one retries and ``flask mpesa
    reconcile`` take turns, a transaction each (PostgreSQL's advisory lock, released
    at its end; SQLite's write lock does this already). Processing a batch takes
    milliseconds; in parallel, two batches holding the original and the repeat of
    one receipt code waited for each other's insert until PostgreSQL broke the
    deadlock.
    """
    if is_postgres(db.session):
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_PROCESSING_LOCK)))


def _fresh_rows(limit: int, skip: set[int]) -> list[CallbackInbox]:
    """Stored bodies never tried yet, oldest first; on PostgreSQL locked, skipping rows
    another process is working on (it processes them)."""
    stmt = (sa.select(CallbackInbox)
            .where(CallbackInbox.processed_at.is_(None), CallbackInbox.attempts == 0,
                   # a validation is answered (and marked) by its own request
                   CallbackInbox.kind != CallbackKind.C2B_VALIDATION)
            .order_by(CallbackInbox.id).limit(limit))
    if skip:
        stmt = stmt.where(CallbackInbox.id.not_in(skip))
    if is_postgres(db.session):
        stmt = stmt.with_for_update(skip_locked=True)
    return list(db.session.scalars(stmt))


def process_pending(batch: int = BATCH, stop: Callable[[], bool] | None = None) -> int:
    """Process every stored body that was never tried, ``batch`` at a time, each batch
    in one transaction (committed here); returns how many were processed.

    The worker's M-Pesa step (``flask worker``) and ``flask mpesa reconcile`` call
    this. ``stop``, asked before each batch, ends it early (the worker is stopping:
    the batch under way is finished and committed, the rest waits for the next start).

    A batch that cannot be committed is undone and its bodies processed one by
    one; a body that fails even alone is marked as tried (with the error) and
    left for ``flask mpesa reconcile``, as are bodies whose processing must wait
    (Daraja unreachable, a callback that overtook its request). Bodies already
    tried are reconcile's, never retried here.
    """
    done, skip = 0, set()
    while stop is None or not stop():
        processing_turn()
        rows = _fresh_rows(batch, skip)
        if not rows:
            db.session.rollback()  # end the (read) transaction: no lock kept
            return done
        ids, started = [row.id for row in rows], time.monotonic()
        try:
            alone = _credit_together(rows)
            n = len(rows) - len(alone)
            for row in alone:
                process(row)
                n += 1
                if time.monotonic() - started > BATCH_SECONDS:
                    break  # the rest are fetched again by the next round
            db.session.commit()
            done += n
            _log_batch(n, started)
            continue
        except Exception:  # noqa: BLE001 - undone as a whole, then tried one by one
            db.session.rollback()
            log.exception("M-Pesa callbacks %s-%s not processed as a batch", ids[0], ids[-1])
        n = sum(_process_alone(row_id) for row_id in ids)
        done += n
        _log_batch(n, started, alone=True)
        skip.update(ids)
    return done


def worker_step(stop: Callable[[], bool] | None = None) -> int:
    """The worker's M-Pesa step: process the stored bodies never tried (see
    :func:`process_pending`), as Daraja's callback; returns how many."""
    with acting_as("daraja:callback"):
        return process_pending(stop=stop)


def _log_batch(count: int, started: float, alone: bool = False) -> None:
    """One line a batch: how many bodies, how long (never what they said: no phones,
    names or receipt codes in logs)."""
    log.info("M-Pesa callbacks: %d processed%s in %.1f ms", count,
             " one by one" if alone else "", (time.monotonic() - started) * 1000)


def _credit_together(rows: list[CallbackInbox]) -> list[CallbackInbox]:
    """Credit a batch's plain paybill confirmations in one go, and return the rows left
    for :func:`process`, one by one, in their order.

    Plain is the common case of a burst: a receipt code new to the books, paid to our
    shortcode, whose account or payer names a member, with no Transaction Status to
    ask Daraja for. Each gets what :func:`process` would give it (the transaction,
    the payment with its receipt, the inbox row's outcome) in a few statements for
    the whole batch. A repeat of a receipt whose transaction has the same amount (in
    the books, or credited by this batch) is a duplicate, as :func:`process` finds it,
    without a look of its own. Everything else is left alone: other kinds, other
    repeats, money for suspense, amounts or shortcodes to refuse. A receipt code
    another process records meanwhile makes the insert fail, and the caller redoes the
    batch one by one.
    """
    if status_query_enabled():
        return rows
    shortcodes = our_shortcodes()
    candidates, repeats, amounts = [], [], {}
    for row in rows:
        fields = _plain_confirmation(row, shortcodes)
        if fields is None:
            continue
        if fields["receipt"] in amounts:
            repeats.append((row, fields))  # sent twice in the same burst
        else:
            amounts[fields["receipt"]] = fields["amount"]
            candidates.append((row, fields))
    known = known_codes(amounts)
    # A repeat is a duplicate, as process() finds it, when its receipt's M-Pesa transaction
    # has the same amount; anything else about a known code is left to process().
    recorded = {code: cents for code, cents in db.session.execute(
        sa.select(MpesaTransaction.receipt_code, MpesaTransaction.amount_cents)
        .where(MpesaTransaction.receipt_code.in_(known)))} if known else {}
    index = current_index() if len(known) < len(candidates) else None
    chosen = []
    for row, fields in candidates:
        if fields["receipt"] not in known and (found := index.match(
                fields["reference"], fields["phone"], fields["msisdn_hash"])):
            chosen.append((row, fields, found.member_id))
    credited = {fields["receipt"]: fields["amount"] for _, fields, _ in chosen}
    duplicates = [(row, fields) for row, fields in candidates
                  if recorded.get(fields["receipt"]) == fields["amount"]]
    duplicates += [(row, fields) for row, fields in repeats
                   if fields["amount"] in (recorded.get(fields["receipt"]),
                                           credited.get(fields["receipt"]))]
    if not chosen and not duplicates:
        return rows
    now = utcnow()
    if chosen:
        _record_together(chosen, now)
    finished = [(row, fields, "credited") for row, fields, _ in chosen]
    finished += [(row, fields, "duplicate") for row, fields in duplicates]
    for row, fields, outcome in finished:
        row.key = fields["receipt"]
        row.attempts = (row.attempts or 0) + 1
        row.outcome, row.error, row.processed_at = outcome, None, now
    done = {id(row) for row, *_ in finished}
    return [row for row in rows if id(row) not in done]


def _record_together(chosen: list[tuple[CallbackInbox, dict, int]], now: datetime) -> None:
    """The payments, receipts and M-Pesa transactions of ``chosen`` (row, fields, member
    id), a few INSERTs for them all."""
    members = {member.id: member for member in db.session.execute(
        sa.select(Member.id, Member.member_no, Member.category)
        .where(Member.id.in_({member_id for *_, member_id in chosen})))}
    payment_ids = record_payments([
        NewPayment(member_id, members[member_id].member_no, members[member_id].category,
                   fields["amount"], PaymentMethod.MPESA, books_day(fields["transacted_at"]),
                   fields["receipt"])
        for _, fields, member_id in chosen], None, EntrySource.MPESA)
    insert_audited(MpesaTransaction, [
        {"receipt_code": fields["receipt"], "amount_cents": fields["amount"],
         "transacted_at": fields["transacted_at"], "source": TransactionSource.C2B,
         "status": TransactionStatus.CREDITED, "shortcode": fields["shortcode"],
         "account_reference": fields["reference"], "phone": fields["phone"],
         "msisdn_hash": fields["msisdn_hash"], "payer_name": fields["name"],
         "checkout_request_id": None, "member_id": member_id, "payment_id": payment_id,
         "note": None, "decided_by_id": None, "suspense_entry_id": None,
         "cleared_entry_id": None, "assigned_from_suspense_at": None, "refund_code": None,
         "refunded_on": None, "created_at": now, "updated_at": now}
        for (_, fields, member_id), payment_id in zip(chosen, payment_ids, strict=True)])


def _plain_confirmation(row: CallbackInbox, shortcodes) -> dict | None:
    """A paybill confirmation's fields, when nothing in it needs a second look."""
    if row.kind != CallbackKind.C2B_CONFIRMATION:
        return None
    try:
        fields = _c2b_fields(parse(row.raw_body))
    except CallbackError:
        return None
    if fields["amount"] is None or fields["shortcode"] not in shortcodes:
        return None
    return fields


def _process_alone(row_id: int) -> int:
    try:
        processing_turn()
        row = db.session.get(CallbackInbox, row_id)
        if row is None or row.processed_at is not None or row.attempts:
            db.session.rollback()
            return 0
        process(row)
        db.session.commit()
        return 1
    except Exception as error:  # noqa: BLE001 - the body is stored: reconcile processes it
        db.session.rollback()
        log.exception("M-Pesa callback %s not processed", row_id)
        try:
            processing_turn()
            row = db.session.get(CallbackInbox, row_id)
            row.attempts = (row.attempts or 0) + 1
            row.outcome = "error"
            row.error = f"{type(error).__name__}: {error}"[:300]
            db.session.commit()
        except Exception:  # noqa: BLE001 - left as it is; reconcile still finds it
            db.session.rollback()
        return 0


def _names(row: CallbackInbox, key: str) -> None:
    """Note the receipt code or CheckoutRequestID a body names; written with its outcome."""
    row._named_key = key[:60]


def _dispatch(row: CallbackInbox) -> Outcome:
    data = parse(row.raw_body)
    if row.kind == CallbackKind.STK:
        return _process_stk(row, data)
    if row.kind == CallbackKind.C2B_CONFIRMATION:
        return _process_confirmation(row, data)
    if row.kind == CallbackKind.C2B_VALIDATION:
        return Outcome(validation_answer(data)[1])
    if row.kind == CallbackKind.STATUS_RESULT:
        return _process_status_result(row, data)
    return Outcome("timeout")


# --- Parsing -------------------------------------------------------------------


def parse(raw: bytes) -> dict:
    """A callback body as a JSON object.

    Raises:
        CallbackError: it is not JSON, or not an object.
    """
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CallbackError(_l("The callback body is not JSON.")) from None
    if not isinstance(data, dict):
        raise CallbackError(_l("The callback body is not a JSON object."))
    return data


def parse_daraja_time(value) -> datetime:
    """YYYYMMDDHHmmss in East Africa Time (string or number) -> naive UTC; now when unreadable."""
    try:
        local = datetime.strptime(str(value).strip()[:14], "%Y%m%d%H%M%S")
    except (ValueError, TypeError):
        return utcnow()
    return to_utc(local, MPESA_ZONE)


def _receipt(value) -> str:
    code = normalise_mpesa_code(str(value) if value is not None else None)
    if not code or not _RECEIPT_RE.match(code):
        raise CallbackError(_l("The callback has no valid M-Pesa receipt number."))
    return code


def _phone_or_hash(value) -> tuple[str | None, str | None]:
    """A payer's MSISDN as Daraja sends it: plain, hashed (SHA-256 hex) or masked."""
    text = str(value or "").strip().replace(" ", "")
    if _HASH_RE.match(text):
        return None, text.lower()
    if text.isdigit() and len(text) == 12 and text.startswith("254"):
        return "+" + text, None
    return None, None


def _text(value, length: int) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return text[:length] or None


def settings() -> MpesaSettings:
    """The one settings row, created on first use."""
    return one_row(db.session, MpesaSettings, unknown_account=UnknownAccountAction.SUSPENSE)


def _match(reference, phone, msisdn_hash) -> Member | None:
    from association.mpesa.matching import match_member

    return match_member(reference, phone=phone, msisdn_hash=msisdn_hash)


# --- Transactions ----------------------------------------------------------------


def _lock(model, *where):
    stmt = sa.select(model).where(*where).execution_options(populate_existing=True)
    if is_postgres(db.session):
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def _get_or_create(receipt: str, values: dict,
                   looked: bool = False) -> tuple[MpesaTransaction | None, bool]:
    """The transaction with this receipt code, locked; created from ``values`` if new
    (``looked``: the caller has just looked for it under lock and found none).

    Returns (transaction, created); (None, False) when the insert clashed with
    another receipt's CheckoutRequestID (a forged or garbled callback).
    """
    existing = None if looked else _lock(MpesaTransaction,
                                         MpesaTransaction.receipt_code == receipt)
    if existing is not None:
        return existing, False
    tx = MpesaTransaction(receipt_code=receipt, **values)
    try:
        with db.session.begin_nested():
            db.session.add(tx)
            db.session.flush()
    except IntegrityError:
        existing = _lock(MpesaTransaction, MpesaTransaction.receipt_code == receipt)
        return existing, False
    return tx, True


def settle(tx: MpesaTransaction) -> str:
    """A verified transaction: credit it to its member, or put it in suspense."""
    if tx.member_id is None:
        put_in_suspense(tx, None)
        return "suspense" if tx.status == TransactionStatus.SUSPENSE else "credited"
    credit_transaction(tx, db.session.get(Member, tx.member_id), None)
    return "credited"


# --- STK callbacks -----------------------------------------------------------------


def _stk_items(callback: dict) -> dict:
    metadata = callback.get("CallbackMetadata") or {}
    items = metadata.get("Item") if isinstance(metadata, dict) else None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise CallbackError(_l("A successful STK callback has no CallbackMetadata."))
    return {str(i.get("Name")): i.get("Value") for i in items if isinstance(i, dict)}


def _process_stk(row: CallbackInbox, data: dict) -> Outcome:
    try:
        callback = data["Body"]["stkCallback"]
        checkout = str(callback["CheckoutRequestID"]).strip()[:60]
        code = str(callback["ResultCode"]).strip()
    except (KeyError, TypeError):
        raise CallbackError(_l("The STK callback lacks Body.stkCallback, its "
                               "CheckoutRequestID or its ResultCode.")) from None
    _names(row, checkout)
    request = _lock(StkRequest, StkRequest.checkout_request_id == checkout)
    if request is None:
        if code == "0" and utcnow() - row.received_at > UNKNOWN_REQUEST_GRACE:
            return _process_orphan_stk(checkout, callback)
        late = utcnow() - row.received_at > UNKNOWN_REQUEST_GRACE
        return Outcome("unknown_request", "no STK request has this CheckoutRequestID",
                       done=late)
    if code != "0":
        if request.status in (StkStatus.SENDING, StkStatus.PENDING):
            request.status = StkStatus.FAILED
            request.result_code = code[:30]
            request.result_desc = _text(callback.get("ResultDesc"), 300)
        return Outcome("failed")
    items = _stk_items(callback)
    receipt = _receipt(items.get("MpesaReceiptNumber"))
    amount = parse_cents(items.get("Amount"))
    phone, _ = _phone_or_hash(items.get("PhoneNumber"))
    tx, created = _get_or_create(receipt, dict(
        amount_cents=amount or request.amount_cents,
        transacted_at=parse_daraja_time(items.get("TransactionDate")),
        source=TransactionSource.STK, status=TransactionStatus.UNCONFIRMED,
        shortcode=mpesa_settings()["MPESA_SHORTCODE"],
        account_reference=request.account_reference, phone=phone or request.phone,
        checkout_request_id=checkout, member_id=request.member_id,
    ))
    if tx is None or tx.checkout_request_id != checkout:
        return Outcome("conflict", "the receipt code or CheckoutRequestID belongs to "
                                   "another payment")
    request.transaction_id = tx.id
    if tx.status != TransactionStatus.UNCONFIRMED:
        return Outcome("duplicate")
    if amount != request.amount_cents:
        tx.note = (f"The amount ({items.get('Amount')}) differs from the request "
                   f"({request.amount_cents / 100}): not credited.")[:300]
        request.result_desc = "amount differs from the request"
        return Outcome("amount_mismatch")
    return Outcome(verify_stk(tx, request))


def _process_orphan_stk(checkout: str, callback: dict) -> Outcome:
    """A paid prompt we have no request for (our push timed out after Daraja took it).

    The money is real if Daraja confirms it: it is matched by the payer's phone,
    or waits in suspense for the treasurer; it is never lost.
    """
    items = _stk_items(callback)
    receipt = _receipt(items.get("MpesaReceiptNumber"))
    amount = parse_cents(items.get("Amount"))
    if amount is None:
        raise CallbackError(_l("The paybill callback's amount is not a positive amount."))
    phone, _ = _phone_or_hash(items.get("PhoneNumber"))
    member = _match(None, phone, None) if phone else None
    tx, created = _get_or_create(receipt, dict(
        amount_cents=amount, transacted_at=parse_daraja_time(items.get("TransactionDate")),
        source=TransactionSource.STK, status=TransactionStatus.UNCONFIRMED,
        shortcode=mpesa_settings()["MPESA_SHORTCODE"], phone=phone,
        checkout_request_id=checkout, member_id=member.id if member else None,
        note="No STK request had this CheckoutRequestID.",
    ))
    if tx is None or tx.checkout_request_id != checkout:
        return Outcome("conflict", "the receipt code or CheckoutRequestID belongs to "
                                   "another payment")
    if tx.status != TransactionStatus.UNCONFIRMED:
        return Outcome("duplicate")
    return Outcome(verify_stk(tx, None))


def verify_stk(tx: MpesaTransaction, request: StkRequest | None) -> str:
    """Ask Daraja (STK Push Query) whether the prompt was paid, then credit or reject."""
    try:
        answer = get_provider().stk_query(tx.checkout_request_id)
    except ProviderError as error:
        tx.note = f"Not yet confirmed with Daraja: {error.detail or error}"[:300]
        db.session.flush()
        return "unconfirmed"
    if request is not None:
        request.last_queried_at = utcnow()
        request.query_count = (request.query_count or 0) + 1
    if answer.pending:
        tx.note = "Daraja says the payment is still being processed."
        return "unconfirmed"
    if not answer.paid:
        tx.status = TransactionStatus.REJECTED
        tx.note = f"Daraja says this prompt was not paid ({answer.result_code})."[:300]
        if request is not None:
            request.status = StkStatus.FAILED
            request.result_code = answer.result_code
            request.result_desc = answer.result_desc
        return "rejected"
    tx.note = None
    outcome = settle(tx)
    if request is not None:
        request.status = StkStatus.PAID
        request.result_code = "0"
    return outcome


# --- C2B (paybill / till) -------------------------------------------------------------


def _c2b_fields(data: dict) -> dict:
    missing = [k for k in ("TransID", "TransAmount", "BusinessShortCode") if not data.get(k)]
    if missing:
        raise CallbackError(_l("The paybill callback lacks %(fields)s.",
                               fields=", ".join(missing)))
    phone, msisdn_hash = _phone_or_hash(data.get("MSISDN"))
    names = " ".join(str(data.get(k) or "").strip()
                     for k in ("FirstName", "MiddleName", "LastName")).strip()
    return dict(
        receipt=_receipt(data.get("TransID")),
        amount=parse_cents(data.get("TransAmount")),
        shortcode=str(data.get("BusinessShortCode")).strip()[:20],
        reference=_text(data.get("BillRefNumber"), 40),
        phone=phone, msisdn_hash=msisdn_hash, name=" ".join(names.split())[:120] or None,
        transacted_at=parse_daraja_time(data.get("TransTime")),
    )


def validation_answer(data: dict) -> tuple[dict, str]:
    """Accept or refuse a paybill payment before it happens: (answer, outcome)."""
    try:
        fields = _c2b_fields(data)
    except CallbackError:
        return {"ResultCode": "C2B00016", "ResultDesc": "Rejected"}, "rejected_malformed"
    if fields["shortcode"] not in our_shortcodes():
        return {"ResultCode": "C2B00015", "ResultDesc": "Rejected"}, "rejected_shortcode"
    if fields["amount"] is None:
        return {"ResultCode": "C2B00013", "ResultDesc": "Rejected"}, "rejected_amount"
    member = _match(fields["reference"], fields["phone"], fields["msisdn_hash"])
    if member is None and settings().unknown_account == UnknownAccountAction.REJECT:
        return {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}, "rejected_account"
    return {"ResultCode": "0", "ResultDesc": "Accepted"}, "accepted"


def _process_confirmation(row: CallbackInbox, data: dict) -> Outcome:
    fields = _c2b_fields(data)
    _names(row, fields["receipt"])
    if fields["amount"] is None:
        raise CallbackError(_l("The paybill callback's amount is not a positive amount."))
    # A receipt already known (a duplicate, 20% of a burst) needs no member matching.
    known = _lock(MpesaTransaction, MpesaTransaction.receipt_code == fields["receipt"])
    member = None if known else _match(fields["reference"], fields["phone"],
                                       fields["msisdn_hash"])
    tx, created = (known, False) if known else _get_or_create(fields["receipt"], dict(
        amount_cents=fields["amount"], transacted_at=fields["transacted_at"],
        source=TransactionSource.C2B, status=TransactionStatus.UNCONFIRMED,
        shortcode=fields["shortcode"], account_reference=fields["reference"],
        phone=fields["phone"], msisdn_hash=fields["msisdn_hash"], payer_name=fields["name"],
        member_id=member.id if member else None,
    ), looked=True)
    if tx is None:
        return Outcome("conflict", "receipt code clash")
    if not created:
        if tx.amount_cents != fields["amount"] and tx.status == TransactionStatus.UNCONFIRMED:
            tx.note = "A second callback for this receipt gave another amount."
        return Outcome("duplicate")
    if fields["shortcode"] not in our_shortcodes():
        tx.status = TransactionStatus.REJECTED
        tx.note = f"Paid to {fields['shortcode']}, not to our shortcode."[:300]
        return Outcome("rejected")
    return Outcome(verify_c2b(tx))


def verify_c2b(tx: MpesaTransaction) -> str:
    """Confirm a paybill payment with Transaction Status where we can, else settle it."""
    if not status_query_enabled():
        return settle(tx)
    try:
        get_provider().transaction_status(
            receipt_code=tx.receipt_code, result_url=callback_url(CallbackKind.STATUS_RESULT),
            timeout_url=callback_url(CallbackKind.STATUS_TIMEOUT))
    except ProviderError as error:
        tx.note = f"Not yet confirmed with Daraja: {error.detail or error}"[:300]
        return "unconfirmed"
    tx.note = "Waiting for Daraja's Transaction Status answer."
    db.session.flush()
    return "awaiting_confirmation"


def _process_status_result(row: CallbackInbox, data: dict) -> Outcome:
    result = data.get("Result")
    if not isinstance(result, dict) or "ResultCode" not in result:
        raise CallbackError(_l("The Transaction Status result lacks Result.ResultCode."))
    parameters = (result.get("ResultParameters") or {})
    items = parameters.get("ResultParameter") if isinstance(parameters, dict) else None
    if isinstance(items, dict):
        items = [items]
    values = {str(i.get("Key")): i.get("Value") for i in items or [] if isinstance(i, dict)}
    receipt = _receipt(values.get("ReceiptNo") or result.get("TransactionID"))
    _names(row, receipt)
    tx = _lock(MpesaTransaction, MpesaTransaction.receipt_code == receipt)
    if tx is None:
        return Outcome("unknown_receipt")
    if tx.status != TransactionStatus.UNCONFIRMED:
        return Outcome("duplicate")
    code = str(result.get("ResultCode")).strip()
    completed = str(values.get("TransactionStatus", "Completed")).strip().lower() == "completed"
    amount = parse_cents(values.get("Amount")) if values.get("Amount") is not None else None
    if code != "0" or not completed:
        tx.note = f"Daraja could not confirm this receipt ({code}: " \
                  f"{_text(result.get('ResultDesc'), 200)})."[:300]
        return Outcome("not_confirmed")
    if amount is not None and amount != tx.amount_cents:
        tx.note = "Daraja confirms another amount for this receipt: not credited."
        return Outcome("amount_mismatch")
    tx.note = None
    return Outcome(settle(tx))


# --- The treasurer's decision on money Daraja could not confirm --------------------------------


def _unconfirmed(tx_id: int) -> MpesaTransaction:
    tx = _lock(MpesaTransaction, MpesaTransaction.id == tx_id)
    if tx is None:
        raise CallbackError(_l("That M-Pesa payment does not exist."))
    if tx.status != TransactionStatus.UNCONFIRMED:
        raise CallbackError(_l("The M-Pesa payment %(code)s is no longer waiting for "
                               "confirmation: someone has already dealt with it.",
                               code=tx.receipt_code))
    return tx


def confirm_by_hand(tx_id: int, by_user_id: int | None) -> MpesaTransaction:
    """The treasurer found the receipt in the M-Pesa statement: credit it (or put it in
    suspense when no member is known). The amount is what the callback said arrived.

    Raises:
        CallbackError: no such payment, or it is no longer waiting.
    """
    tx = _unconfirmed(tx_id)
    tx.note = "Confirmed by hand against the M-Pesa statement."
    tx.decided_by_id = by_user_id
    if tx.member_id is None:
        put_in_suspense(tx, by_user_id)
        return tx
    credit_transaction(tx, db.session.get(Member, tx.member_id), by_user_id)
    if tx.checkout_request_id:
        request = db.session.scalar(sa.select(StkRequest).where(
            StkRequest.checkout_request_id == tx.checkout_request_id))
        if request is not None:
            request.status = StkStatus.PAID
            request.transaction_id = tx.id
    db.session.flush()
    return tx


def reject_by_hand(tx_id: int, reason: str, by_user_id: int | None) -> MpesaTransaction:
    """The treasurer decides the money never arrived (not in the statement): nothing is credited.

    Raises:
        CallbackError: no such payment, it is no longer waiting, or no reason was given.
    """
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise CallbackError(_l("Give the reason for rejecting this payment."))
    tx = _unconfirmed(tx_id)
    tx.status = TransactionStatus.REJECTED
    tx.note = reason[:300]
    tx.decided_by_id = by_user_id
    db.session.flush()
    return tx
