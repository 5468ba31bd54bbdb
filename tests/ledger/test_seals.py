"""Every path that posts journal entries seals them, and a seal covers the whole entry row
(issue 20 item 1, the security review of the tamper-evident books: before, M-Pesa batches
left their entries unsealed, and an entry's reference, memo, source, reverses_id or
posted_by_id could be changed unseen)."""

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from association.audit.models import AuditEvent
from association.audit.services import acting_as, current_actor, write_events
from association.core.time import month_start, today_in_nairobi
from association.extensions import db
from association.ledger import accounts, journal
from association.ledger.journal import Line
from association.ledger.models import EntrySource, JournalEntry, Payment, PaymentMethod, Side
from association.members.models import Member
from association.mpesa import import_parsing, imports
from tests.audit.tamper import tamper
from tests.conftest import count
from tests.mpesa.daraja_helpers import TOKEN, c2b_confirmation
from tests.mpesa.test_imports import csv_bytes, statement_rows


def _verify(runner):
    return runner.invoke(args=["audit", "verify"])


def _seals() -> dict[int, dict]:
    return {int(e.object_id): json.loads(e.after) for e in db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == journal.SEAL))}


def _post_json(client, url, payload):
    response = client.post(url, data=json.dumps(payload), content_type="application/json")
    assert response.status_code == 200
    response.close()


@pytest.fixture
def payer(app, make_member):
    member_id, number = make_member(first_name="Amina", phone="0712345678",
                                    joined_on=date(2025, 1, 10))
    assert number == "MLK-0001"
    return member_id


def test_a_paybill_callback_payment_is_sealed(app, client, runner, payer):
    """The worker credits a burst of confirmations with record_payments: its entries are
    sealed as post_entry's are (before: "entry 1 has no seal")."""
    for code in ("TC57ABC9XY", "TC57ABC9XZ"):
        _post_json(client, f"/mpesa/c2b/confirmation/{TOKEN}", c2b_confirmation(receipt=code))
    with app.app_context():
        assert count(Payment) == 2
        entries = db.session.scalars(sa.select(JournalEntry).order_by(JournalEntry.id)).all()
        seals = _seals()
        assert {entry.id for entry in entries} <= set(seals)
        assert seals[entries[0].id]["entry"]["reference"] == "TC57ABC9XY"
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert "journal entries match their seals" in result.output


def test_a_statement_import_is_sealed(app, runner, people):
    with app.app_context(), acting_as("test"):
        own = db.session.get(Member, people.own_member_id)
        own.phone = "+254712345678"
        db.session.commit()
        parsed = import_parsing.parse_statement("statement.csv", csv_bytes(statement_rows()))
        preview = imports.build_preview(parsed)
        result = imports.confirm(parsed, preview.expect, {}, None)
        db.session.commit()
        assert result.credited + result.suspense == 2 and count(Payment) >= 1
    result = _verify(runner)
    assert result.exit_code == 0, result.output


def test_dues_expenses_stipends_and_reversals_are_sealed(books, runner, make_member):
    from association.ledger import dues, expenses
    from association.ledger.payments import record_payment, void_receipt
    from association.patrols import stipends
    from tests.patrols.helpers import patrol_walk_values

    member_id, _ = make_member(joined_on=date(2025, 1, 10))
    other_id, _ = make_member(first_name="Zawadi", joined_on=date(2025, 1, 10))
    treasurer = db.session.scalar(sa.select(sa.func.min(sa.literal_column("id")))
                                  .select_from(sa.table("user")))
    dues.bill_month(date(2025, 1, 1))
    expense = expenses.record_expense(accounts.account("patrol_stipends"), "Duka la Mama",
                                      12_000, PaymentMethod.CASH, date(2025, 2, 3), "Torches",
                                      None, None)
    expenses.approve_expense(expense, treasurer)
    expenses.reverse_expense(expense, "Paid twice", treasurer)
    payment = record_payment(db.session.get(Member, member_id), 5_000, PaymentMethod.CASH,
                             date(2025, 2, 4), None)
    void_receipt(payment.receipt, "Typed twice", None)
    walk = patrol_walk_values(other_id, books.zone_id)
    stipends.approve_run(stipends.get_run(walk["run_id"]), treasurer)
    db.session.commit()

    sources = set(db.session.scalars(sa.select(JournalEntry.source)))
    assert {EntrySource.DUES_RUN, EntrySource.EXPENSE, EntrySource.REVERSAL,
            EntrySource.PAYMENT} <= sources
    seals = _seals()
    assert set(seals) == set(db.session.scalars(sa.select(JournalEntry.id)))
    assert {seal["v"] for seal in seals.values()} == {journal.SEAL_VERSION}
    result = _verify(runner)
    assert result.exit_code == 0, result.output


def _post(reverses=None, amount=50_000):
    cash, income = accounts.account("cash").id, accounts.account("donations").id
    entry = journal.post_entry(date(2025, 2, 3), "Gift from the chief", EntrySource.ADJUSTMENT,
                               [Line(cash, Side.DEBIT, amount),
                                Line(income, Side.CREDIT, amount)],
                               reference="GIFT-1")
    db.session.commit()
    return entry.id


@pytest.mark.parametrize("column, sql", [
    ("reference", "reference = 'QX99ZZZ000'"),
    ("memo", "memo = 'Gift from the chair'"),
    ("source", "source = 'mpesa'"),
    ("posted_by_id", "posted_by_id = (SELECT min(id) FROM \"user\")"),
    ("reverses_id", "reverses_id = :other"),
    ("posted_at", "posted_at = posted_at - INTERVAL '1 day'"),
    ("entry_date", "entry_date = :day"),
])
def test_a_changed_entry_column_is_caught_naming_it(books, runner, column, sql):
    other = _post()
    entry_id = _post(amount=20_000)
    assert _verify(runner).exit_code == 0
    if column == "posted_at" and db.engine.dialect.name != "postgresql":
        sql = "posted_at = datetime(posted_at, '-1 day')"
    tamper(f"UPDATE journal_entry SET {sql} WHERE id = :e",  # noqa: S608 - the test's own SQL
           e=entry_id, other=other,
           day=date(2025, 2, 4))
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"Journal entry {entry_id}: entry {entry_id} differs from its seal" in result.output
    assert f"its {column} changed" in result.output


def test_a_changed_posting_is_named_as_such(books, runner):
    entry_id = _post()
    tamper("UPDATE posting SET account_id = (SELECT max(id) FROM account) "
           "WHERE entry_id = :e AND side = 'debit'", e=entry_id)
    assert "its postings changed" in _verify(runner).output


def test_seals_of_the_first_version_are_still_checked(books, runner):
    """The upgrade 4d1b00c5e7a1 sealed old entries with their date and postings only: those
    seals keep proving what they hold."""
    cash, income = accounts.account("cash").id, accounts.account("donations").id
    entry_id = db.session.execute(sa.insert(JournalEntry).values(
        entry_date=date(2025, 1, 5), memo="old", source=EntrySource.ADJUSTMENT,
    ).returning(JournalEntry.id)).scalar_one()
    postings = [(entry_id, cash, Side.DEBIT, 700), (entry_id, income, Side.CREDIT, 700)]
    ids = [db.session.execute(sa.text(
        "INSERT INTO posting (entry_id, account_id, side, amount_cents) "
        "VALUES (:e, :a, :s, :c) RETURNING id"),
        {"e": e, "a": a, "s": s.value, "c": c}).scalar_one() for e, a, s, c in postings]
    journal.rebuild_month_totals()
    write_events(db.session.connection(), [
        (journal.SEAL, "journal_entry", str(entry_id), None, journal.seal_content_v1(
            date(2025, 1, 5),
            [(pid, a, None, s, c) for pid, (_, a, s, c) in zip(ids, postings, strict=True)]),
         *current_actor())])
    db.session.commit()
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    tamper("UPDATE journal_entry SET entry_date = :d WHERE id = :e", d=date(2025, 1, 6),
           e=entry_id)
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"entry {entry_id} differs from its seal" in result.output
    assert "its postings or date were changed" in result.output


def test_the_seal_holds_every_column_of_the_entry(books):
    """A column added to journal_entry must be added to the seal (a new seal version)."""
    assert set(journal.ENTRY_COLUMNS) == set(JournalEntry.__table__.columns.keys())
    entry_id = _post()
    seal = _seals()[entry_id]
    assert seal["entry"]["reference"] == "GIFT-1" and seal["entry"]["source"] == "adjustment"
    assert seal["postings"] == 2 and seal["debit_cents"] == 50_000


def test_a_payment_dated_this_month_is_sealed_by_the_batch(books, runner, make_member):
    """record_payments called as the worker calls it, for several members at once."""
    from association.ledger.payments import NewPayment, record_payments
    from association.members.models import Category

    first, first_no = make_member(joined_on=date(2025, 1, 10))
    second, second_no = make_member(first_name="Zawadi", joined_on=date(2025, 1, 10))
    today = today_in_nairobi()
    day = max(month_start(today), today - timedelta(days=1))
    record_payments([
        NewPayment(first, first_no, Category.RESIDENT, 5_000, PaymentMethod.MPESA, day,
                   "QX11AAA001"),
        NewPayment(second, second_no, Category.RESIDENT, 7_000, PaymentMethod.MPESA, day,
                   "QX11AAA002"),
        NewPayment(first, first_no, Category.RESIDENT, 3_000, PaymentMethod.CASH, day),
    ], None, EntrySource.MPESA)
    db.session.commit()
    seals = _seals()
    assert len(seals) == 3
    assert sorted(seal["debit_cents"] for seal in seals.values()) == [3_000, 5_000, 7_000]
    result = _verify(runner)
    assert result.exit_code == 0, result.output
