"""For tests/test_access.py: an M-Pesa transaction waiting in suspense, for the desk's routes."""

from datetime import datetime

from association.extensions import db
from association.mpesa.models import MpesaTransaction, TransactionSource, TransactionStatus


def desk_walk_values() -> dict:
    """A suspense transaction's id (call inside the walk's app context)."""
    tx = MpesaTransaction(receipt_code="TKWALK0001", amount_cents=5_000,
                          transacted_at=datetime(2026, 11, 2, 7, 30),
                          source=TransactionSource.C2B, status=TransactionStatus.SUSPENSE,
                          account_reference="HSE 12")
    db.session.add(tx)
    db.session.flush()
    tx_id = tx.id
    db.session.commit()
    return {"tx_id": tx_id}
