"""STK push ("Lipa na M-Pesa" prompts): ask a member's phone to pay, and follow the answer.

A request is recorded (and committed by the caller) *before* the prompt is
sent, so that its callback always finds the member and amount: Daraja does not
echo the account reference back. The worker process (:func:`query_step`) and
``flask mpesa reconcile`` ask Daraja about prompts whose callback is late; the
pending page only reads what they (or the callback) recorded.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

import phonenumbers
import sqlalchemy as sa
from flask import current_app
from flask_babel import format_time
from flask_babel import lazy_gettext as _l
from phonenumbers import carrier

from association import transaction
from association.audit.services import acting_as
from association.auth.models import User
from association.core.db import is_postgres
from association.core.phones import InvalidPhoneError, normalise_phone
from association.core.time import month_start, today_in_nairobi, utcnow
from association.database import reading
from association.errors import DomainError
from association.extensions import db
from association.ledger.dues import rate_for, schedule_for
from association.members.models import Member, MemberStatus
from association.mpesa.inbox import callback_url
from association.mpesa.models import (
    CallbackKind,
    MpesaTransaction,
    StkRequest,
    StkStatus,
    TransactionStatus,
)
from association.mpesa.phones import phones_for
from association.mpesa.processing import verify_stk
from association.mpesa.provider import ProviderError, get_provider, is_enabled

#: Whole shillings: Daraja refuses decimals. The upper bound is M-Pesa's per-payment limit.
MIN_SHILLINGS = 1
MAX_SHILLINGS = 250_000
#: A phone with an open prompt gets no second one this soon ("unable to lock subscriber").
OPEN_PROMPT_WINDOW = timedelta(minutes=2)
#: Ask Daraja about a prompt whose callback has not come after this long.
QUERY_AFTER = timedelta(seconds=30)
QUERY_EVERY = timedelta(seconds=20)
#: How many prompts due a question the worker takes in one round.
QUERY_BATCH = 20
#: The worker stops asking about a prompt this old (Daraja's prompt lasts about a minute);
#: ``flask mpesa reconcile`` goes on asking, every time it runs.
QUERY_UNTIL = timedelta(minutes=10)
#: Month counts offered on the payment page.
MONTH_CHOICES = (1, 3, 6, 12)
#: The rate limits (STK_PROMPTS_PER_*_PER_HOUR) count the prompts sent this long ago or less.
LIMIT_WINDOW = timedelta(hours=1)
#: The same number in every process: prompts are recorded one at a time (see _take_turn).
_PROMPT_LOCK = 0x4D505354


class StkError(DomainError):
    """The prompt cannot be sent; nothing was charged."""


#: What each Daraja ResultCode means for the payer, in their language.
FAILURE_MESSAGES = {
    "1032": _l("You cancelled the M-Pesa prompt. Nothing was paid."),
    "1037": _l("Your phone could not be reached in time (it may be off or out of network). "
               "Nothing was paid; try again."),
    "1019": _l("The M-Pesa prompt expired before it was answered. Nothing was paid; try again."),
    "1": _l("Your M-Pesa balance is not enough for this payment. Nothing was paid."),
    "2001": _l("The M-Pesa PIN was wrong. Nothing was paid; try again."),
    "8006": _l("Your M-Pesa PIN is locked. Call Safaricom (100) to unlock it, then try again."),
    "17": _l("The same amount was sent a moment ago. Wait two minutes before trying again."),
    "1001": _l("Another M-Pesa payment is in progress on this phone. "
               "Wait a minute and try again."),
}
GENERIC_FAILURE = _l("M-Pesa did not complete the payment (code %(code)s). Nothing was paid.")


def failure_message(request: StkRequest) -> str:
    """Why the prompt did not become a payment, in the reader's language."""
    if request.status == StkStatus.ERROR:
        return str(_l("The prompt could not be sent: %(reason)s",
                      reason=request.result_desc or request.result_code or "?"))
    message = FAILURE_MESSAGES.get(str(request.result_code or ""))
    return str(message) if message else str(GENERIC_FAILURE % {"code": request.result_code})


def monthly_rate_cents(member: Member) -> int | None:
    """The member's dues for one month under the rates in force, if any are set."""
    rate = rate_for(member.category, member.rental_premises,
                    schedule_for(month_start(today_in_nairobi())))
    return rate.amount_cents if rate else None


def suggested_amounts(member: Member, owed: int) -> list[tuple[str, int]]:
    """(key, cents) pairs for the payment page: the balance ``owed`` now (the member's
    standing), and months ahead."""
    options = []
    if owed > 0:
        options.append(("owed", -(-owed // 100) * 100))  # round up to whole shillings
    rate = monthly_rate_cents(member)
    if rate:
        for months in MONTH_CHOICES:
            options.append((f"months-{months}", -(-rate * months // 100) * 100))
    return options


def mpesa_phone(text: str) -> str:
    """A phone that can get an M-Pesa prompt, as E.164 (+2547XXXXXXXX or +2541XXXXXXXX).

    Raises:
        StkError: not a Kenyan mobile number.
    """
    try:
        phone = normalise_phone(text)
    except InvalidPhoneError as error:
        raise StkError(error.message) from None
    operator = carrier.name_for_number(phonenumbers.parse(phone), "en")
    if not (phone.startswith(("+2547", "+2541")) and len(phone) == 13) or (
            operator and operator != "Safaricom"):
        raise StkError(_l("%(phone)s cannot receive an M-Pesa prompt: use a Safaricom number "
                          "such as 0712 345 678.", phone=text))
    return phone


def create_request(member: Member, amount_cents: int, phone_text: str,
                   requested_by_id: int | None, language: str | None = None) -> StkRequest:
    """Record a prompt to be sent (the caller commits before :func:`send_request`).

    Who sends it decides where it may go: a member paying for themselves prompts only
    the phones on their record or allowed for them (:mod:`association.mpesa.phones`); an
    official at the desk (``mpesa.manage``) or the command line (no user) any number. The
    rate limits (:func:`check_limits`) apply to every prompt.

    Raises:
        StkError: a bad amount or phone, a phone the sender may not prompt, a rate limit
            reached, a member who has left, or a prompt already open on that phone.
        MpesaDisabled: M-Pesa is not set up.
    """
    get_provider()  # refuses at once when M-Pesa is not set up
    if member.status == MemberStatus.LEFT:
        raise StkError(_l("%(no)s has left the association.", no=member.member_no))
    if not isinstance(amount_cents, int) or amount_cents % 100:
        raise StkError(_l("M-Pesa prompts are for whole shillings only (no cents)."))
    if not MIN_SHILLINGS * 100 <= amount_cents <= MAX_SHILLINGS * 100:
        raise StkError(_l("An M-Pesa prompt must be between KES %(low)s and KES %(high)s.",
                          low=MIN_SHILLINGS, high=f"{MAX_SHILLINGS:,}"))
    phone = mpesa_phone(phone_text)
    sender = db.session.get(User, requested_by_id) if requested_by_id is not None else None
    at_desk = sender is None or sender.can("mpesa.manage")
    if not at_desk and phone not in phones_for(member):
        raise StkError(_l("%(phone)s is not on your member record. You can send a payment "
                          "prompt only to your own phone, or to a number the treasurer or "
                          "the secretary has allowed on your record.", phone=phone_text))
    _take_turn()
    check_limits(member, phone, sender, at_desk)
    open_prompt = db.session.scalar(
        sa.select(StkRequest.id).where(
            StkRequest.phone == phone,
            StkRequest.status.in_((StkStatus.SENDING, StkStatus.PENDING)),
            StkRequest.created_at > utcnow() - OPEN_PROMPT_WINDOW,
        ).limit(1)
    )
    if open_prompt is not None:
        raise StkError(_l("A prompt is already waiting on that phone. Answer it, or wait two "
                          "minutes before asking again."), request_id=open_prompt)
    request = StkRequest(member_id=member.id, amount_cents=amount_cents, phone=phone,
                         account_reference=member.member_no[:12], status=StkStatus.SENDING,
                         requested_by_id=requested_by_id, language=language)
    db.session.add(request)
    db.session.flush()
    return request


def _take_turn() -> None:
    # The limits count rows other workers may be adding at the same moment: on PostgreSQL
    # prompts are recorded one at a time (an advisory lock until the transaction ends,
    # which send_request does at once); SQLite's write lock (BEGIN IMMEDIATE) does this.
    if is_postgres(db.session):
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_PROMPT_LOCK)))


def _full_until(limit: int, *where) -> datetime | None:
    """When the oldest of the last ``limit`` prompts matching ``where`` leaves the window,
    if that many were sent within it (None: there is room). A prompt Daraja never took
    (status ``error``) reached no phone and does not count."""
    rows = db.session.scalars(
        sa.select(StkRequest.created_at).where(
            *where, StkRequest.created_at > utcnow() - LIMIT_WINDOW,
            StkRequest.status != StkStatus.ERROR)
        .order_by(StkRequest.created_at.desc()).limit(max(limit, 1))).all()
    if len(rows) < limit:
        return None
    return (rows[-1] if rows else utcnow()) + LIMIT_WINDOW


def check_limits(member: Member, phone: str, sender: User | None, at_desk: bool) -> None:
    """Refuse a prompt over the hourly limits, counted from the stored prompts (so they
    hold across gunicorn's workers): a member's own prompts (STK_PROMPTS_PER_MEMBER_PER_HOUR),
    an official's (STK_PROMPTS_PER_OFFICIAL_PER_HOUR), and those to one phone, whoever
    sent them (STK_PROMPTS_PER_PHONE_PER_HOUR).

    Raises:
        StkError: a limit is reached; the message says when to try again.
    """
    config = current_app.config
    if not at_desk:
        limit = config["STK_PROMPTS_PER_MEMBER_PER_HOUR"]
        until = _full_until(limit, StkRequest.member_id == member.id)
        if until is not None:
            raise StkError(_l("You have sent the most payment prompts allowed in an hour "
                              "(%(num)d). Try again after %(time)s.",
                              num=limit, time=format_time(until, "short")))
    elif sender is not None:
        limit = config["STK_PROMPTS_PER_OFFICIAL_PER_HOUR"]
        until = _full_until(limit, StkRequest.requested_by_id == sender.id)
        if until is not None:
            raise StkError(_l("You have sent the most payment prompts an official may send "
                              "in an hour (%(num)d). Try again after %(time)s.",
                              num=limit, time=format_time(until, "short")))
    limit = config["STK_PROMPTS_PER_PHONE_PER_HOUR"]
    until = _full_until(limit, StkRequest.phone == phone)
    if until is not None:
        raise StkError(_l("%(phone)s has had the most payment prompts one phone may get in "
                          "an hour (%(num)d). Try again after %(time)s.",
                          phone=phone, num=limit, time=format_time(until, "short")))


def send_request(request: StkRequest) -> StkRequest:
    """Send the recorded prompt to Daraja; on refusal the request is marked and kept.

    Commits first: the request is on record before any callback can arrive.

    Raises:
        StkError: Daraja refused or could not be reached (the request says why).
    """
    if request.status != StkStatus.SENDING:
        raise StkError(_l("This prompt was already sent."))
    values = dict(phone=request.phone.lstrip("+"), amount=request.amount_cents // 100,
                  account_reference=request.account_reference, description="Dues",
                  callback_url=callback_url(CallbackKind.STK))
    # The request must be on record before Daraja can call back, and no transaction (on
    # SQLite: the write lock) may be held while we wait for the network: committed now,
    # through the request's boundary (or the command's); what follows commits at its end.
    transaction.commit_now()
    try:
        accepted = get_provider().stk_push(**values)
    except ProviderError as error:
        request.status = StkStatus.ERROR
        request.result_code = (error.code or "")[:30] or None
        request.result_desc = str(error.message)[:300]
        db.session.flush()
        raise StkError(error.message) from None
    request.checkout_request_id = accepted.checkout_request_id[:60]
    request.merchant_request_id = (accepted.merchant_request_id or "")[:60] or None
    request.status = StkStatus.PENDING
    db.session.flush()
    return request


def refresh_request(request: StkRequest, force: bool = False) -> str | None:
    """Ask Daraja about a prompt whose callback is late; returns what changed, if anything.

    Without ``force`` it asks only after :data:`QUERY_AFTER` and at most every
    :data:`QUERY_EVERY`, so a refreshing page does not hammer Daraja.
    """
    now = utcnow()
    if request.status != StkStatus.PENDING or not request.checkout_request_id:
        return None
    if not force and (now - request.created_at < QUERY_AFTER or (
            request.last_queried_at and now - request.last_queried_at < QUERY_EVERY)):
        return None
    tx = request.transaction or db.session.scalar(
        sa.select(MpesaTransaction).where(
            MpesaTransaction.checkout_request_id == request.checkout_request_id))
    if tx is not None and tx.status == TransactionStatus.UNCONFIRMED:
        if tx.amount_cents != request.amount_cents:
            return None  # another amount arrived: the treasurer decides, not a query
        return verify_stk(tx, request)
    try:
        answer = get_provider().stk_query(request.checkout_request_id)
    except ProviderError:
        request.last_queried_at = now
        return None
    request.last_queried_at = now
    request.query_count = (request.query_count or 0) + 1
    if answer.pending:
        return None
    if answer.paid:
        # Paid, but the callback with the receipt code never came: the treasurer finds the
        # code in the M-Pesa statement (or a later callback brings it).
        request.result_code = "0"
        request.result_desc = "Paid according to Daraja; the callback with the receipt is missing."
        return "paid_no_receipt"
    request.status = StkStatus.FAILED
    request.result_code = answer.result_code
    request.result_desc = answer.result_desc
    db.session.flush()
    return "failed"


def prompts_due_query(after: timedelta, every: timedelta | None, limit: int,
                      until: timedelta | None = None) -> list[int]:
    """The ids of the prompts still pending that are due a question to Daraja, oldest
    first, at most ``limit``: sent at least ``after`` ago (and, with ``until``, less than
    ``until`` ago) and, unless ``every`` is None, not asked within ``every`` (the rule
    :func:`refresh_request` applies without ``force``). The worker (:func:`query_step`)
    and ``flask mpesa reconcile`` select them here."""
    now = utcnow()
    stmt = sa.select(StkRequest.id).where(
        StkRequest.status == StkStatus.PENDING, StkRequest.checkout_request_id.is_not(None),
        StkRequest.created_at <= now - after)
    if until is not None:
        stmt = stmt.where(StkRequest.created_at > now - until)
    if every is not None:
        stmt = stmt.where(sa.or_(StkRequest.last_queried_at.is_(None),
                                 StkRequest.last_queried_at <= now - every))
    return list(db.session.scalars(stmt.order_by(StkRequest.id).limit(limit)))


def query_step(stop: Callable[[], bool] | None = None) -> int:
    """The worker's follow-up of prompts whose callback is late: each one due a question
    (:data:`QUERY_AFTER`, then at most every :data:`QUERY_EVERY` until it is
    :data:`QUERY_UNTIL` old; :data:`QUERY_BATCH` a round) is asked about at Daraja
    (:func:`refresh_request`) and the answer committed,
    prompt by prompt, so that no transaction is held across the next question. Returns
    how many were looked at; the pay-status page shows what was recorded.

    On PostgreSQL a prompt another process holds (its callback being processed, another
    worker) is skipped. A prompt looked at but not asked about (another amount arrived
    for it: the treasurer decides) still counts as looked at, so that it does not keep
    the others waiting.
    """
    if not is_enabled():
        return 0
    with reading():  # no write lock taken when nothing is due
        ids = prompts_due_query(QUERY_AFTER, QUERY_EVERY, QUERY_BATCH, QUERY_UNTIL)
    db.session.rollback()
    done = 0
    with acting_as("worker:stk-query"):
        for request_id in ids:
            if stop is not None and stop():
                break
            stmt = (sa.select(StkRequest).where(StkRequest.id == request_id)
                    .execution_options(populate_existing=True))
            if is_postgres(db.session):
                stmt = stmt.with_for_update(skip_locked=True)
            request = db.session.scalar(stmt)
            if request is not None:
                looked_at = request.last_queried_at
                refresh_request(request)
                if request.last_queried_at == looked_at:
                    request.last_queried_at = utcnow()
                done += 1
            # The worker's step is its own boundary (as the inbox's batches): each
            # prompt's answer is on record before Daraja is asked about the next.
            db.session.commit()
    return done


def visible_request(user, request_id: int) -> StkRequest | None:
    """The prompt ``user`` may follow: their own member's, or any for the treasurer."""
    request = db.session.get(StkRequest, request_id)
    if request is None:
        return None
    if user.can("mpesa.view") or user.can("ledger.record"):
        return request
    if user.member_id is not None and user.member_id == request.member_id:
        return request
    return None
