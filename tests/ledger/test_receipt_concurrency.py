"""Receipt numbers have no gaps, even when several processes record payments at once."""

import multiprocessing
from datetime import date

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as, verify_chain
from association.extensions import db
from association.ledger import payments
from association.ledger.models import PaymentMethod, Receipt
from association.members.models import Member
from association.members.services import register_member
from tests.conftest import member_data

WORKERS = 4
PAYMENTS_EACH = 8


def _record_payments(database_url: str, upload_dir: str, member_id: int, start, worker: int):
    """Run in a separate process: its own app, engine and connections."""
    from association import create_app
    from config import TestingConfig

    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url,
                                     "UPLOAD_DIR": upload_dir})
    start.wait()
    with app.app_context(), acting_as(f"process-{worker}"):
        for i in range(PAYMENTS_EACH):
            member = db.session.get(Member, member_id)
            payments.record_payment(member, 100 + i, PaymentMethod.MPESA, date(2025, 2, 1), None,
                             reference=f"QW{worker:02d}{i:06d}")
            db.session.commit()
        db.engine.dispose()


@pytest.mark.committed(reason="other processes record the payments: they see only what is "
                              "committed")
def test_concurrent_processes_get_gapless_unique_numbers(app, setup_association, database_url,
                                                         upload_dir):
    with app.app_context(), acting_as("test"):
        member_id = register_member(member_data(setup_association.zone_id,
                                                joined_on=date(2024, 1, 1))).id
        db.session.commit()
        db.engine.dispose()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    processes = [
        context.Process(target=_record_payments,
                        args=(database_url, str(upload_dir), member_id, start, n))
        for n in range(WORKERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * WORKERS
    with app.app_context():
        seqs = sorted(db.session.scalars(sa.select(Receipt.seq)))
        numbers = db.session.scalars(sa.select(Receipt.number)).all()
        assert seqs == list(range(1, WORKERS * PAYMENTS_EACH + 1))
        assert len(set(numbers)) == len(numbers)
        assert verify_chain().ok


def test_a_rolled_back_payment_gives_its_number_back(app, setup_association):
    with app.app_context(), acting_as("test"):
        member = register_member(member_data(setup_association.zone_id,
                                             joined_on=date(2024, 1, 1)))
        db.session.commit()
        payments.record_payment(member, 500, PaymentMethod.CASH, date(2025, 2, 1), None)
        db.session.rollback()
        member = db.session.get(Member, member.id)
        receipt = payments.record_payment(member, 500, PaymentMethod.CASH, date(2025, 2, 1),
                                          None).receipt
        db.session.commit()
        assert receipt.seq == 1
