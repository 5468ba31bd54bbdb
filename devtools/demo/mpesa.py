"""Demo data for M-Pesa: the recent M-Pesa payments as Daraja delivered them, one waiting
for confirmation, one in suspense, and the demo member's earlier prompts.

The demo member can pay by STK push through the local sandbox that ``make run`` starts.
"""

import json
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from association.core.time import NAIROBI, utcnow
from association.extensions import db
from association.ledger.models import Payment, PaymentMethod
from association.mpesa.models import (
    AllowedPhone,
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
from association.mpesa.transactions import put_in_suspense

SHORTCODE = "174379"


def _utc(day, hour, minute) -> datetime:
    local = datetime.combine(day, time(hour, minute), tzinfo=NAIROBI)
    return local.astimezone(UTC).replace(tzinfo=None)


def _sloppy(member_no: str, rng) -> str:
    """The account number as members really type it."""
    digits = member_no.split("-")[-1]
    return rng.choice((member_no, member_no.lower(), member_no.replace("-", " "),
                       digits.lstrip("0"), member_no.replace("-", "")))


def seed_mpesa(members, today, rng) -> dict:
    """Add M-Pesa records for the demo association; return counts of what was made."""
    db.session.add(MpesaSettings(id=1, unknown_account=UnknownAccountAction.SUSPENSE))
    by_id = {m.id: m for m in members}
    recent = db.session.execute(
        sa.select(Payment.id, Payment.member_id, Payment.amount_cents, Payment.mpesa_code,
                  Payment.paid_on)
        .where(Payment.method == PaymentMethod.MPESA, Payment.mpesa_code.is_not(None))
        .order_by(Payment.paid_on.desc(), Payment.id.desc()).limit(60)
    ).all()
    transactions, inbox = [], []
    for payment_id, member_id, amount, code, paid_on in recent:
        member = by_id.get(member_id)
        when = _utc(paid_on, rng.randint(6, 21), rng.randint(0, 59))
        source = TransactionSource.STK if rng.random() < 0.3 else TransactionSource.C2B
        reference = member.member_no if source == TransactionSource.STK else \
            _sloppy(member.member_no, rng)
        transactions.append(dict(
            receipt_code=code, amount_cents=amount, transacted_at=when, source=source,
            status=TransactionStatus.CREDITED, shortcode=SHORTCODE,
            account_reference=reference, phone=member.phone if member else None,
            payer_name=member.full_name.upper()[:120] if member else None,
            member_id=member_id, payment_id=payment_id, created_at=when, updated_at=when,
        ))
        if source == TransactionSource.C2B and len(inbox) < 12:
            body = {"TransactionType": "Pay Bill", "TransID": code,
                    "TransTime": when.replace(tzinfo=UTC).astimezone(NAIROBI)
                    .strftime("%Y%m%d%H%M%S"),
                    "TransAmount": f"{amount / 100:.2f}", "BusinessShortCode": SHORTCODE,
                    "BillRefNumber": reference, "InvoiceNumber": "", "OrgAccountBalance": "",
                    "ThirdPartyTransID": "", "MSISDN": "", "FirstName": "", "MiddleName": "",
                    "LastName": ""}
            inbox.append(dict(kind=CallbackKind.C2B_CONFIRMATION,
                              raw_body=json.dumps(body).encode(), remote_addr="196.201.214.200",
                              received_at=when, key=code, processed_at=when,
                              outcome="credited", attempts=1))
    now = utcnow()
    active = [m for m in members if m.status.value == "active" and m.phone]
    waiting_member = rng.choice(active)
    transactions.append(dict(
        receipt_code="TL" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
                                    for _ in range(8)),
        amount_cents=30_000, transacted_at=now - timedelta(hours=2), source=TransactionSource.C2B,
        status=TransactionStatus.UNCONFIRMED, shortcode=SHORTCODE,
        account_reference=_sloppy(waiting_member.member_no, rng), phone=None,
        payer_name=waiting_member.full_name.upper(), member_id=waiting_member.id,
        note="Daraja could not confirm this receipt (2001: The initiator information is "
             "invalid.).", created_at=now - timedelta(hours=2), updated_at=now,
    ))
    unidentified = "TL" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
                                  for _ in range(8))
    transactions.append(dict(
        receipt_code=unidentified,
        amount_cents=5_000, transacted_at=now - timedelta(hours=5), source=TransactionSource.C2B,
        status=TransactionStatus.UNCONFIRMED, shortcode=SHORTCODE,
        account_reference="HSE 12 MAMA", payer_name="GRACE W", member_id=None,
        created_at=now - timedelta(hours=5), updated_at=now - timedelta(hours=5),
    ))
    db.session.execute(sa.insert(MpesaTransaction), transactions)
    # Money that matches no member is in the books (M-Pesa / Unidentified receipts).
    put_in_suspense(db.session.scalar(sa.select(MpesaTransaction).where(
        MpesaTransaction.receipt_code == unidentified)), None)
    if inbox:  # an empty list would insert one row of defaults
        db.session.execute(sa.insert(CallbackInbox), inbox)
    demo_member = next((m for m in members if m.phone and m.status.value == "active"
                        and m.category.value == "resident"), None)
    prompts = 0
    if demo_member is not None:
        db.session.add(StkRequest(
            member_id=demo_member.id, amount_cents=5_000, phone=demo_member.phone,
            account_reference=demo_member.member_no, status=StkStatus.FAILED,
            checkout_request_id=f"ws_CO_{today:%d%m%Y}0930001234567890",
            merchant_request_id="demo-0001", result_code="1032",
            result_desc="Request cancelled by user", language="sw",
            created_at=now - timedelta(days=3), updated_at=now - timedelta(days=3)))
        prompts = 1
        # The local sandbox's phones (the last digits choose the answer: 5678 pays, 1032
        # cancels), allowed for the demo member so that they can try both from their login.
        for phone in ("+254712345678", "+254712341032"):
            if phone != demo_member.phone:
                db.session.add(AllowedPhone(member_id=demo_member.id, phone=phone,
                                            allowed_at=now - timedelta(days=3)))
    db.session.flush()
    return {"mpesa_transactions": len(transactions), "mpesa_callbacks": len(inbox),
            "stk_requests": prompts}
