"""The month close report (issue 20): one PDF per close of a month, with the month's
figures from the report builders and the keyed audit checkpoint made at the close, in
full and as a QR code; read back with pdftotext and zbarimg."""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from association.audit.checkpoints import checkpoints_labelled, make_checkpoint, parse_marks
from association.audit.models import AuditEvent
from association.audit.services import acting_as
from association.auth.models import User
from association.core.time import month_start, today_in_nairobi
from association.extensions import db
from association.ledger.accounts import account
from association.ledger.dues import RateInput, add_rate_schedule, bill_month
from association.ledger.journal import Line, post_entry
from association.ledger.models import ClosedMonth, EntrySource, PaymentMethod, Side
from association.ledger.payments import record_payment, void_receipt
from association.ledger.periods import close_label, close_month, reopen_month
from association.members.models import Category, Member
from tests.conftest import count
from tests.ledger.test_receipts import pdf_text, qr_codes


@dataclass
class Closed:
    month: date
    close_id: int
    checkpoint: str
    receipts: list[str]  # the month's receipt numbers, in order


def _user_id(username: str) -> int:
    return db.session.scalar(sa.select(User.id).where(User.username == username))


@pytest.fixture
def closed(app, people) -> Closed:
    """Last month: two residents charged KES 50 each; Baraka pays 100 cash and 30 M-Pesa,
    Chebet 50 M-Pesa (that receipt voided); KES 20 of stipends paid in cash; then closed
    by the treasurer.

    By hand (KES): income 100, expenditure 20, surplus 80. Receipts 3, one voided. At the
    month's end cash 100 - 20 = 80, M-Pesa 50 + 30 = 80 (the void is posted today, after
    the month), assets 160; trial balance: cash 80 + M-Pesa 80 + stipends 20 = 180 debit,
    dues 100 + Baraka's credit 80 = 180 credit.
    """
    month = month_start(month_start(today_in_nairobi()) - timedelta(days=1))
    with app.app_context(), acting_as("test"):
        treasurer = _user_id("treasurer")
        add_rate_schedule(month, [RateInput(Category.RESIDENT, 5000)], "AGM resolution 2",
                          treasurer)
        bill_month(month, treasurer)
        own = db.session.get(Member, people.own_member_id)
        other = db.session.get(Member, people.other_member_id)
        p1 = record_payment(own, 10000, PaymentMethod.CASH, month + timedelta(days=4),
                            treasurer, issued_on=month + timedelta(days=4))
        p2 = record_payment(other, 5000, PaymentMethod.MPESA, month + timedelta(days=6),
                            treasurer, reference="TC57ABC9XY", issued_on=month + timedelta(days=6))
        p3 = record_payment(own, 3000, PaymentMethod.MPESA, month + timedelta(days=8),
                            treasurer, reference="TC58ABC9XZ", issued_on=month + timedelta(days=8))
        post_entry(month + timedelta(days=14), "Stipends", EntrySource.EXPENSE, [
            Line(account("patrol_stipends").id, Side.DEBIT, 2000),
            Line(account("cash").id, Side.CREDIT, 2000),
        ], treasurer, reference="EXP-1")
        void_receipt(p2.receipt, "Wrong member", treasurer)
        row = close_month(month, treasurer)
        db.session.commit()
        value = checkpoints_labelled([close_label(row)])[close_label(row)].value
        return Closed(month, row.id, value, [p.receipt.number for p in (p1, p2, p3)])


def _url(close_id) -> str:
    return f"/reports/month-close/{close_id}.pdf"


def test_close_report_prints_the_checkpoint_totals_and_receipts(app, web, closed, tmp_path):
    web.login("treasurer")
    response = web.get(_url(closed.close_id))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    text = pdf_text(response.data, tmp_path)
    flat = " ".join(text.split())
    # The checkpoint in full (wrapped to fit: read it back without the line breaks).
    assert closed.checkpoint in "".join(text.split())
    head, mac = closed.checkpoint.rsplit("-", 1)
    lines = [line.strip() for line in text.splitlines()]
    assert lines[lines.index(f"{head}-") + 1] == mac
    assert parse_marks(f"{head}-{mac}")[0].value == closed.checkpoint
    assert "flask audit verify --checkpoint" in flat
    # Who closed it, the association, the month.
    assert "Month close report" in flat and "Closed by: Treasurer" in flat
    assert "Status: Closed" in flat
    assert "Association: Mlango Kubwa Landlords and Tenants Association" in flat
    # The month the Kenyan way ("November 2026"), never an ISO month in a PDF people read.
    assert f"Month: {closed.month:%B %Y}" in flat and closed.month.strftime("%Y-%m") not in flat
    # Income and expenditure.
    assert "Total income 100.00" in flat
    assert "Total expenditure 20.00" in flat
    assert "Surplus for the period 80.00" in flat
    # Receipts: count, first and last number, voided.
    assert "Receipts issued 3" in flat
    assert f"First number {closed.receipts[0]}" in flat
    assert f"Last number {closed.receipts[2]}" in flat
    assert "Of which voided 1" in flat
    # Balances at the month's end, and the trial balance then.
    assert "Cash on hand 0.00 100.00 20.00 80.00" in flat
    assert "M-Pesa 0.00 80.00 0.00 80.00" in flat
    assert "Total assets 160.00" in flat
    assert "Total debits 180.00" in flat and "Total credits 180.00" in flat
    assert "Debits equal credits Yes" in flat
    # The QR code holds the checkpoint.
    assert qr_codes(response.data, tmp_path) == [closed.checkpoint]
    # Downloading it is in the audit trail.
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.object_type == "month_close_report",
            AuditEvent.object_id == str(closed.close_id))) == 1


def test_months_page_links_each_close_to_its_report(web, closed):
    web.login("auditor")
    page = web.get("/ledger/periods").get_data(as_text=True)
    assert _url(closed.close_id) in page
    assert "Close report (PDF)" in page


def test_close_report_in_swahili(web, closed, tmp_path):
    web.login("auditor")
    web.post("/language", {"language": "sw", "next": "/"})
    response = web.get(_url(closed.close_id))
    assert response.status_code == 200
    text = pdf_text(response.data, tmp_path)
    flat = " ".join(text.split())
    assert "Ripoti ya kufunga mwezi" in flat
    assert "Kituo cha ukaguzi mwezi ulipofungwa" in flat
    assert "flask audit verify --checkpoint" in flat
    assert "Month close report" not in flat
    assert closed.checkpoint in "".join(text.split())
    assert f"Nambari ya kwanza {closed.receipts[0]}" in flat
    assert qr_codes(response.data, tmp_path) == [closed.checkpoint]
    page = web.get("/ledger/periods").get_data(as_text=True)
    assert "Ripoti ya kufunga (PDF)" in page


@pytest.mark.parametrize("username, status", [
    ("member", 403), ("coordinator", 403), ("auditor", 200), ("secretary", 200),
    ("chair", 200), ("treasurer", 200)])
def test_who_may_get_the_report(web, closed, username, status):
    web.login(username)
    response = web.get(_url(closed.close_id))
    assert response.status_code == status
    if status == 200:
        assert response.data.startswith(b"%PDF")


def test_anonymous_is_sent_to_log_in(web, closed):
    response = web.get(_url(closed.close_id))
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("close_id", ["999999", "0", "-1", "abc", "1.5"])
def test_unknown_close_is_404_and_writes_nothing(app, web, closed, close_id):
    web.login("auditor")
    with app.app_context():
        before = count(AuditEvent)
    assert web.get(_url(close_id)).status_code == 404
    with app.app_context():
        assert count(AuditEvent) == before


def test_reopened_close_keeps_its_report_and_its_own_checkpoint(app, web, closed, tmp_path):
    with app.app_context(), acting_as("test"):
        chair = _user_id("chair")
        reopen_month(closed.month, "M-Pesa payments of the 28th were missed", chair)
        again = close_month(closed.month, _user_id("treasurer"))
        db.session.commit()
        second_id = again.id
        second = checkpoints_labelled([close_label(again)])[close_label(again)].value
    assert second != closed.checkpoint
    web.login("auditor")
    first = pdf_text(web.get(_url(closed.close_id)).data, tmp_path, "first.pdf")
    flat = " ".join(first.split())
    assert "Status: Reopened by Wanjiru Kamau on" in flat
    assert "M-Pesa payments of the 28th were missed" in flat
    assert closed.checkpoint in "".join(first.split())
    assert second not in "".join(first.split())
    latest = pdf_text(web.get(_url(second_id)).data, tmp_path, "second.pdf")
    assert second in "".join(latest.split())
    assert "Status: Closed" in " ".join(latest.split()) and "Reopened" not in latest
    page = web.get("/ledger/periods").get_data(as_text=True)
    assert _url(closed.close_id) in page and _url(second_id) in page


def test_close_made_before_checkpoints_says_so(app, web, people, tmp_path):
    """A close from before checkpoints were kept has a report that says there is none."""
    month = month_start(month_start(today_in_nairobi()) - timedelta(days=1))
    with app.app_context(), acting_as("test"):
        row = ClosedMonth(month=month, closed_by_id=_user_id("treasurer"))
        db.session.add(row)
        db.session.commit()
        close_id = row.id
    web.login("auditor")
    response = web.get(_url(close_id))
    assert response.status_code == 200
    flat = " ".join(pdf_text(response.data, tmp_path).split())
    assert "No audit checkpoint was kept for this close" in flat
    assert "Receipts issued 0" in flat and "First number none" in flat
    assert "AC1-" not in flat


def test_a_close_over_a_broken_trail_closes_without_a_checkpoint(app, web, people, tmp_path):
    """Second review, F1 b: the close signed whatever head the database held; now a trail
    that fails its check gets no checkpoint, and the Months page and the report say so."""
    from tests.audit.tamper import tamper

    month = month_start(month_start(today_in_nairobi()) - timedelta(days=1))
    with app.app_context(), acting_as("test"):
        last = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
        tamper("UPDATE audit_event SET actor = 'mallory' WHERE seq = :s", s=last)
        row = close_month(month, _user_id("treasurer"))
        db.session.commit()
        close_id, label = row.id, close_label(row)
        assert checkpoints_labelled([label]) == {}
        assert count(ClosedMonth) == 1
    web.login("auditor")
    page = web.get("/ledger/periods").get_data(as_text=True)
    assert "No audit checkpoint at this close: the audit trail failed its check" in page
    flat = " ".join(pdf_text(web.get(_url(close_id)).data, tmp_path).split())
    assert "No audit checkpoint was made at this close: the audit trail failed its check" in flat
    assert "AC1-" not in flat
    web.post("/language", {"language": "sw", "next": "/"})
    flat = " ".join(pdf_text(web.get(_url(close_id)).data, tmp_path, "sw.pdf").split())
    assert "kumbukumbu ya ukaguzi ilishindwa ukaguzi wake" in flat and "AC1-" not in flat
    page = web.get("/ledger/periods").get_data(as_text=True)
    assert "kumbukumbu ya ukaguzi ilishindwa ukaguzi wake" in page


def test_the_report_takes_only_the_signed_month_close_checkpoint(app, web, closed, tmp_path):
    """Second review, F3: the report took the newest row with the close's label, whatever
    it was: a signed checkpoint of another kind copied under that label replaced it."""
    from tests.audit.tamper import tamper

    with app.app_context(), acting_as("test"):
        row = db.session.get(ClosedMonth, closed.close_id)
        label = close_label(row)
        other = make_checkpoint()  # signed, at a later event
        db.session.commit()
        other_value = other.value
        for why, mac in (("manual", other.mac), ("day", other.mac)):
            tamper("INSERT INTO audit_checkpoint (seq, chain_hash, mac, made_at, why, label) "
                   "VALUES (:s, :h, :m, :t, :w, :l)", s=other.seq, h=other.chain_hash, m=mac,
                   t=other.made_at, w=why, l=label)
        # A second month-close row for the label: refused (one a close), on both databases.
        with pytest.raises(sa.exc.IntegrityError):
            tamper("INSERT INTO audit_checkpoint (seq, chain_hash, mac, made_at, why, label) "
                   "VALUES (:s, :h, :m, :t, 'month_close', :l)", s=other.seq,
                   h=other.chain_hash, m=other.mac, t=other.made_at, l=label)
        db.session.rollback()
        assert checkpoints_labelled([label])[label].value == closed.checkpoint
        # The close's own row changed so its MAC no longer verifies: no checkpoint shown.
        tamper("UPDATE audit_checkpoint SET mac = :m WHERE why = 'month_close' AND label = :l",
               m="0" * 64, l=label)
        assert checkpoints_labelled([label]) == {}
    web.login("auditor")
    text = "".join(pdf_text(web.get(_url(closed.close_id)).data, tmp_path).split())
    assert closed.checkpoint[:40] not in text and other_value not in text
