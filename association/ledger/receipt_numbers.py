"""Receipt numbers: ``{SHORT}-{YYYY}-{NNNNNN}``, sequential within a year and
without gaps, each with the check code that proves the receipt genuine.
"""

import secrets
from datetime import date, datetime, time

import sqlalchemy as sa

from association.core.db import upsert
from association.core.time import today_in_nairobi, utcnow
from association.extensions import db
from association.ledger.models import Payment, Receipt, ReceiptCounter


def next_receipt_seq(year: int, count: int = 1) -> int:
    """Take the next ``count`` numbers of ``year`` (returns the last); the lock is held
    until the transaction ends, and a rollback gives the numbers back, so numbers have
    no gaps."""
    counter = ReceiptCounter.__table__
    bump = (sa.update(counter).where(counter.c.year == year)
            .values(last_seq=counter.c.last_seq + count).returning(counter.c.last_seq))
    seq = db.session.execute(bump).scalar()
    if seq is None:
        db.session.execute(
            upsert(db.session, counter).values(year=year, last_seq=0).on_conflict_do_nothing())
        seq = db.session.execute(bump).scalar()
    return seq


def _short_code() -> str:
    """The association's short code, which never changes once numbers carry it
    (remembered for the session)."""
    from association.profile.services import get_profile

    info = db.session.info
    if "ledger_short_code" not in info:
        info["ledger_short_code"] = get_profile().short_code
    return info["ledger_short_code"]


def new_receipt(payment: Payment, issued_on: date | None) -> Receipt:
    """The payment's receipt, numbered and added to the session (flushed by the caller)."""
    # A back-dated receipt (demo data) is stamped 09:00 Nairobi time (06:00 UTC) that day.
    issued_at = utcnow() if issued_on is None else datetime.combine(issued_on, time(6, 0))
    year = (issued_on or today_in_nairobi()).year
    with db.session.no_autoflush:  # the payment is flushed with its receipt, in one write
        fields = numbered(year, next_receipt_seq(year))
    receipt = Receipt(**fields, payment=payment, issued_at=issued_at)
    db.session.add(receipt)
    return receipt


def numbered(year: int, seq: int) -> dict:
    """A receipt's number (``{SHORT}-{YYYY}-{NNNNNN}``) and the code that proves it."""
    return {"number": f"{_short_code()}-{year}-{seq:06d}", "year": year, "seq": seq,
            "check_code": secrets.token_hex(4)}
