"""Expenses (recorded by one official, posted when another approves) and the chart of accounts."""

import io
import re
import struct
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from reportlab.pdfgen import canvas
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from association.audit.services import acting_as
from association.auth.models import User
from association.core import uploads
from association.core.money import MAX_CENTS
from association.core.time import month_start, today_in_nairobi
from association.core.uploads import Document
from association.extensions import db
from association.ledger import expenses
from association.ledger.accounts import (
    AccountError,
    account,
    account_balance,
    create_account,
    expense_accounts,
    update_account,
)
from association.ledger.errors import AlreadyVoidedError, ClosedPeriodError
from association.ledger.expenses import (
    DocumentError,
    ExpenseError,
    SelfApprovalError,
)
from association.ledger.journal import Line, post_entry
from association.ledger.models import (
    Account,
    AccountType,
    EntrySource,
    Expense,
    ExpenseStatus,
    JournalEntry,
    PaymentMethod,
    Posting,
    Side,
)
from association.ledger.periods import close_month
from association.ledger.trial_balance import trial_balance
from tests.conftest import count

# --- Files ----------------------------------------------------------------


def tiny_png() -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"\x00\xff\x00\x00"  # one row: filter byte + one RGB pixel
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def tiny_pdf() -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, "Receipt: 3 torches, KES 1,200")
    page.save()
    return out.getvalue()


TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
HTML_PAGE = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
SVG_PAGE = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(1)</script></svg>")


# --- Fixtures -------------------------------------------------------------


@pytest.fixture
def books(app, people, setup_association):
    """Officials, the default chart and KES 10,000 of opening money in each of cash,
    M-Pesa and bank, dated 40 days ago."""

    class Books:
        pass

    b = Books()
    with app.app_context(), acting_as("test"):
        ids = {name: id_ for name, id_ in db.session.execute(sa.select(User.username, User.id))}
        b.chair, b.treasurer, b.secretary = ids["chair"], ids["treasurer"], ids["secretary"]
        b.coordinator = ids["coordinator"]
        fund = account("accumulated_fund").id
        opening = today_in_nairobi() - timedelta(days=40)
        for key in ("cash", "mpesa", "bank"):
            post_entry(opening, "Opening balance", EntrySource.OPENING,
                       [Line(account(key).id, Side.DEBIT, 1_000_000),
                        Line(fund, Side.CREDIT, 1_000_000)])
        b.stipends = account("patrol_stipends").id
        b.equipment = account("patrol_equipment").id
        b.donations = account("donations").id
        db.session.commit()
    return b


def record(by, account_id=None, amount=150_000, method=PaymentMethod.CASH, paid_on=None,
           document=None, payee="Juma Otieno", description="Night patrol stipend, week 12"):
    acct = db.session.get(Account, account_id) if account_id else account("patrol_stipends")
    return expenses.record_expense(acct, payee, amount, method, paid_on or today_in_nairobi(),
                                   description, document, by)


def balance(key_or_id) -> int:
    acct = (db.session.get(Account, key_or_id) if isinstance(key_or_id, int)
            else account(key_or_id))
    return account_balance(acct)


@pytest.fixture
def svc(app, books):
    """A request context (services read the app's config) acting as a test script."""
    with app.test_request_context(), acting_as("test"):
        yield books
        db.session.rollback()


# --- Recording and approving ----------------------------------------------


@pytest.mark.parametrize("method,key", [(PaymentMethod.CASH, "cash"),
                                        (PaymentMethod.MPESA, "mpesa"),
                                        (PaymentMethod.BANK, "bank")])
def test_pending_expense_is_posted_only_when_a_second_official_approves(svc, method, key):
    b = svc
    postings = count(Posting)
    expense = record(b.treasurer, method=method, paid_on=today_in_nairobi() - timedelta(days=2))
    assert expense.status == ExpenseStatus.PENDING and expense.entry_id is None
    assert count(Posting) == postings  # pending: nothing in the books
    assert balance("patrol_stipends") == 0 and balance(key) == 1_000_000

    expenses.approve_expense(expense, b.chair)
    assert expense.status == ExpenseStatus.APPROVED
    assert expense.decided_by_id == b.chair and expense.decided_at is not None
    entry = db.session.get(JournalEntry, expense.entry_id)
    assert entry.source == EntrySource.EXPENSE
    assert entry.reference == f"EXP-{expense.id}"
    assert entry.entry_date == expense.paid_on
    assert entry.posted_by_id == b.chair
    assert {(p.account.key, p.side, p.amount_cents) for p in entry.postings} == {
        ("patrol_stipends", Side.DEBIT, 150_000), (key, Side.CREDIT, 150_000)}
    assert count(Posting) == postings + 2
    assert balance("patrol_stipends") == 150_000  # the expense account grows
    assert balance(key) == 1_000_000 - 150_000  # the money account falls
    tb = trial_balance()
    assert tb.total_debit_cents == tb.total_credit_cents


def test_the_recorder_cannot_approve_their_own_expense(svc):
    b = svc
    expense = record(b.treasurer)
    postings = count(Posting)
    with pytest.raises(SelfApprovalError) as error:
        expenses.approve_expense(expense, b.treasurer)
    assert "you cannot approve it" in str(error.value)
    assert "another official" in str(error.value)
    db.session.refresh(expense)
    assert expense.status == ExpenseStatus.PENDING and expense.decided_by_id is None
    assert count(Posting) == postings


def test_rejection_needs_a_reason_and_stays_listed(svc):
    b = svc
    expense = record(b.treasurer)
    for reason in ("", "   ", "no", None):
        with pytest.raises(ExpenseError, match="Give the reason for rejecting"):
            expenses.reject_expense(expense, b.chair, reason)
        assert expense.status == ExpenseStatus.PENDING
    expenses.reject_expense(expense, b.chair, "  No receipt,\n and the amount is wrong ")
    assert expense.status == ExpenseStatus.REJECTED
    assert expense.rejection_reason == "No receipt, and the amount is wrong"
    assert expense.decided_by_id == b.chair and expense.entry_id is None
    listed = db.session.scalars(expenses.expense_query()).all()
    assert expense in listed
    only_rejected = db.session.scalars(
        expenses.expense_query(expenses.ExpenseFilters(status=ExpenseStatus.REJECTED))).all()
    assert only_rejected == [expense]
    assert balance("patrol_stipends") == 0


def test_the_recorder_may_withdraw_their_own_expense_by_rejecting_it(svc):
    b = svc
    expense = record(b.treasurer)
    expenses.reject_expense(expense, b.treasurer, "Typed the wrong amount")
    assert expense.status == ExpenseStatus.REJECTED


def test_a_decided_expense_cannot_be_decided_again(svc):
    b = svc
    approved = record(b.treasurer)
    expenses.approve_expense(approved, b.chair)
    postings = count(Posting)
    with pytest.raises(ExpenseError, match="already been approved"):
        expenses.approve_expense(approved, b.secretary)
    with pytest.raises(ExpenseError, match="already been approved"):
        expenses.reject_expense(approved, b.secretary, "Changed my mind")
    assert approved.status == ExpenseStatus.APPROVED and approved.decided_by_id == b.chair
    rejected = record(b.treasurer)
    expenses.reject_expense(rejected, b.chair, "Duplicate of another expense")
    with pytest.raises(ExpenseError, match="already been rejected"):
        expenses.approve_expense(rejected, b.secretary)
    with pytest.raises(ExpenseError, match="already been rejected"):
        expenses.reject_expense(rejected, b.secretary, "Again")
    assert rejected.rejection_reason == "Duplicate of another expense"
    assert count(Posting) == postings


def test_a_closed_month_refuses_the_approval(svc):
    b = svc
    last_month = month_start(today_in_nairobi()) - timedelta(days=1)
    expense = record(b.treasurer, paid_on=last_month)
    close_month(last_month, b.treasurer)
    postings = count(Posting)
    with pytest.raises(ClosedPeriodError) as error:
        expenses.approve_expense(expense, b.chair)
    assert f"{last_month:%b %Y} is closed" in str(error.value)
    assert expense.status == ExpenseStatus.PENDING and expense.entry_id is None
    assert count(Posting) == postings
    # Recording a new expense in the closed month is refused at once.
    with pytest.raises(ClosedPeriodError):
        record(b.treasurer, paid_on=last_month)


@pytest.mark.parametrize("amount", [0, -100, MAX_CENTS + 1, 10.5, "100", True])
def test_bad_amounts_are_refused(svc, amount):
    before = count(Expense)
    with pytest.raises(ExpenseError, match="more than zero"):
        record(svc.treasurer, amount=amount)
    assert count(Expense) == before


def test_bad_expense_details_are_refused(svc):
    b = svc
    income = account("donations")
    with pytest.raises(ExpenseError, match="is not an expense account"):
        expenses.record_expense(income, "Juma", 100, PaymentMethod.CASH, today_in_nairobi(),
                                "Stipend", None, b.treasurer)
    with pytest.raises(ExpenseError, match="not an expense account"):
        expenses.record_expense(account("cash"), "Juma", 100, PaymentMethod.CASH,
                                today_in_nairobi(), "Stipend", None, b.treasurer)
    with pytest.raises(ExpenseError, match="Choose the expense account"):
        expenses.record_expense(None, "Juma", 100, PaymentMethod.CASH, today_in_nairobi(),
                                "Stipend", None, b.treasurer)
    with pytest.raises(ExpenseError, match="cannot be dated in the future"):
        record(b.treasurer, paid_on=today_in_nairobi() + timedelta(days=1))
    with pytest.raises(ExpenseError, match="Enter who was paid"):
        record(b.treasurer, payee="   ")
    with pytest.raises(ExpenseError, match="Describe what the money was for"):
        record(b.treasurer, description="")
    with pytest.raises(ExpenseError, match="too long"):
        record(b.treasurer, description="x" * 501)
    with pytest.raises(ExpenseError, match="how the money was paid"):
        record(b.treasurer, method="cheque")
    assert count(Expense) == 0


def test_an_account_out_of_use_takes_no_new_expenses(svc):
    b = svc
    acct = create_account("5090", "Torch batteries", "Betri za tochi",
                                   AccountType.EXPENSE)
    assert acct in expense_accounts()
    update_account(acct, acct.name, acct.name_sw, active=False)
    assert acct not in expense_accounts()
    with pytest.raises(ExpenseError, match="no longer in use"):
        record(b.treasurer, account_id=acct.id)


def test_reversing_an_approved_expense(svc):
    b = svc
    expense = record(b.treasurer, method=PaymentMethod.MPESA)
    with pytest.raises(ExpenseError, match="Only an approved expense"):
        expenses.reverse_expense(expense, "Wrong", b.chair)
    expenses.approve_expense(expense, b.chair)
    with pytest.raises(ExpenseError, match="reason"):
        expenses.reverse_expense(expense, "", b.chair)
    reversal = expenses.reverse_expense(expense, "Paid twice by mistake", b.secretary)
    assert reversal.reverses_id == expense.entry_id and reversal.source == EntrySource.REVERSAL
    assert expenses.expense_reversal(expense) == reversal
    assert balance("patrol_stipends") == 0 and balance("mpesa") == 1_000_000
    with pytest.raises(AlreadyVoidedError):
        expenses.reverse_expense(expense, "Again", b.secretary)
    tb = trial_balance()
    assert tb.total_debit_cents == tb.total_credit_cents


# --- Documents ------------------------------------------------------------


def test_documents_are_recognised_by_their_content():
    assert uploads.detect_document_type(tiny_png()) == "image/png"
    assert uploads.detect_document_type(TINY_JPEG) == "image/jpeg"
    assert uploads.detect_document_type(tiny_pdf()) == "application/pdf"
    webp = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + b"\x00" * 22
    assert uploads.detect_document_type(webp) == "image/webp"
    for content in (HTML_PAGE, SVG_PAGE, b"GIF89a....", b"%PDF-1.4 truncated", b"",
                    b"PK\x03\x04 a zip", b"\x89PNG\r\n\x1a\n"):
        assert uploads.detect_document_type(content) is None


def test_display_names_are_sanitised():
    assert uploads.display_filename("C:\\Users\\juma\\risiti ya tochi.jpg") == \
        "risiti ya tochi.jpg"
    assert uploads.display_filename("../../etc/passwd") == "passwd"
    assert uploads.display_filename("a\x00b\r\nc.png") == "abc.png"
    assert uploads.display_filename("") == "document"
    assert len(uploads.display_filename("x" * 500 + ".pdf")) == 200


def test_a_stored_document_gets_a_random_name_and_the_detected_type(svc, app):
    expense = record(svc.treasurer, document=Document("risiti.JPG", tiny_png()))
    assert expense.document_type == "image/png"
    assert expense.document_name == "risiti.JPG"
    assert expense.document_file.endswith(".png") and "risiti" not in expense.document_file
    path = Path(app.config["UPLOAD_DIR"]) / "expenses" / expense.document_file
    assert path.read_bytes() == tiny_png()
    assert expenses.document_path(expense) == path


@pytest.mark.parametrize("content,message", [
    (HTML_PAGE, "is not a photo (JPEG, PNG, WebP) or a PDF"),
    (SVG_PAGE, "is not a photo (JPEG, PNG, WebP) or a PDF"),
    (b"", "is empty"),
    (TINY_JPEG + b"\x00" * (5 * 1024 * 1024), "larger than 5 MB"),
])
def test_bad_documents_are_refused_and_nothing_is_stored(svc, app, content, message):
    folder = Path(app.config["UPLOAD_DIR"]) / "expenses"
    before = set(folder.iterdir()) if folder.exists() else set()
    with pytest.raises(DocumentError, match=re.escape(message)):
        record(svc.treasurer, document=Document("receipt.jpg", content))
    assert count(Expense) == 0
    assert (set(folder.iterdir()) if folder.exists() else set()) == before


# --- The chart of accounts ------------------------------------------------


def test_accounts_need_a_unique_well_formed_code_and_name(svc):
    made = create_account(" 5050 ", "Patrol whistles", "", AccountType.EXPENSE)
    assert (made.code, made.name_sw, made.key, made.active) == ("5050", None, None, True)
    with pytest.raises(AccountError, match="The code 5050 is already used by Patrol whistles"):
        create_account("5050", "Reflector jackets", None, AccountType.EXPENSE)
    with pytest.raises(AccountError, match="already used by Cash on hand"):
        create_account("1000", "Petty cash", None, AccountType.ASSET)
    create_account("ab12", "Lower-case code", None, AccountType.EXPENSE)
    with pytest.raises(AccountError, match="already used"):
        create_account("AB12", "Upper-case code", None, AccountType.EXPENSE)
    for code in ("", "12", "12345678901", "50-50", "5 0;", "<b>"):
        with pytest.raises(AccountError, match="3 to 10 letters or digits"):
            create_account(code, f"Name {code}", None, AccountType.EXPENSE)
    with pytest.raises(AccountError, match="already called"):
        create_account("5060", "patrol WHISTLES", None, AccountType.EXPENSE)
    with pytest.raises(AccountError, match="Give the account a name"):
        create_account("5061", "  ", None, AccountType.EXPENSE)


def test_system_accounts_cannot_be_deactivated_or_change_type(svc):
    cash = account("cash")
    with pytest.raises(AccountError, match="cannot be deactivated"):
        update_account(cash, cash.name, cash.name_sw, active=False)
    assert cash.active
    stipends = account("patrol_stipends")  # a system account with no postings yet
    with pytest.raises(AccountError, match="type cannot change"):
        update_account(stipends, stipends.name, stipends.name_sw, True,
                                type_=AccountType.INCOME)
    update_account(cash, "Cash box", "Sanduku la pesa", True)
    assert (cash.name, cash.name_sw) == ("Cash box", "Sanduku la pesa")


def test_a_used_account_keeps_its_code_and_type(svc):
    b = svc
    acct = create_account("5070", "Whistles", "Filimbi", AccountType.EXPENSE)
    # Unused: code and type may still change.
    update_account(acct, acct.name, acct.name_sw, True, code="5071",
                            type_=AccountType.EXPENSE)
    assert acct.code == "5071"
    expense = record(b.treasurer, account_id=acct.id, amount=50_000)
    with pytest.raises(AccountError, match="cannot be deactivated|pending expense uses"):
        update_account(acct, acct.name, acct.name_sw, active=False)
    expenses.approve_expense(expense, b.chair)
    for change in ({"type_": AccountType.INCOME}, {"code": "5072"}):
        with pytest.raises(AccountError, match="its code and type cannot change"):
            update_account(acct, acct.name, acct.name_sw, True, **change)
    db.session.refresh(acct)
    assert (acct.code, acct.type) == ("5071", AccountType.EXPENSE)
    # Names and the active flag still change.
    update_account(acct, "Patrol whistles", None, False)
    assert (acct.name, acct.name_sw, acct.active) == ("Patrol whistles", None, False)
    assert account_balance(acct) == 50_000


# --- Through the web --------------------------------------------------------


def _form(account_id, /, **overrides):
    data = {"account_id": str(account_id), "payee": "Juma Otieno", "amount": "1,500",
            "method": "cash", "paid_on": today_in_nairobi().isoformat(),
            "description": "Night patrol stipend, week 12"}
    data.update(overrides)
    return data


def _expense(app, expense_id=None):
    with app.app_context():
        stmt = sa.select(Expense).order_by(Expense.id.desc())
        if expense_id:
            stmt = sa.select(Expense).where(Expense.id == expense_id)
        found = db.session.scalars(stmt).first()
        if found is not None:
            db.session.expunge(found)
        return found


def test_record_approve_and_download_through_the_web(app, web, books):
    web.login("treasurer")
    page = web.get("/expenses/new").get_data(as_text=True)
    assert "5000 Patrol stipends" in page and "Donations" not in page
    response = web.post("/expenses/new", _form(books.equipment, payee="Mathare Hardware",
                                               amount="1200.50",
                                               document=(io.BytesIO(tiny_png()), "torch.png")))
    assert response.status_code in (302, 303)
    expense = _expense(app)
    assert response.headers["Location"].endswith(f"/expenses/{expense.id}")
    assert (expense.amount_cents, expense.payee, expense.status) == (
        120_050, "Mathare Hardware", ExpenseStatus.PENDING)
    detail = web.get(f"/expenses/{expense.id}").get_data(as_text=True)
    assert "another official must approve it" in detail
    assert "Approve and post" not in detail

    # The recorder's own approval is refused with a clear message.
    refused = web.post(f"/expenses/{expense.id}/approve", follow_redirects=True)
    assert "you cannot approve it" in refused.get_data(as_text=True)
    assert _expense(app, expense.id).status == ExpenseStatus.PENDING

    document = web.get(f"/expenses/{expense.id}/document")
    assert document.status_code == 200
    assert document.mimetype == "image/png"
    assert document.headers["Content-Disposition"].startswith("attachment")
    assert f"EXP-{expense.id}.png" in document.headers["Content-Disposition"]
    assert document.headers["X-Content-Type-Options"] == "nosniff"
    assert document.data == tiny_png()
    document.close()

    web.logout()
    web.login("secretary")
    page = web.get(f"/expenses/{expense.id}").get_data(as_text=True)
    assert "Approve and post KES 1,200.50" in page
    approved = web.post(f"/expenses/{expense.id}/approve", follow_redirects=True)
    assert f"EXP-{expense.id} is approved and posted" in approved.get_data(as_text=True)
    assert _expense(app, expense.id).status == ExpenseStatus.APPROVED
    with app.app_context():
        assert balance(books.equipment) == 120_050
        assert balance("cash") == 1_000_000 - 120_050
    again = web.post(f"/expenses/{expense.id}/approve", follow_redirects=True)
    assert "already been approved" in again.get_data(as_text=True)
    listing = web.get("/expenses").get_data(as_text=True)
    assert f"EXP-{expense.id}" in listing and "Mathare Hardware" in listing


def test_a_pdf_is_accepted_and_served_as_pdf(app, web, books):
    web.login("chair")
    web.post("/expenses/new", _form(books.stipends,
                                    document=(io.BytesIO(tiny_pdf()), "risiti.pdf")))
    expense = _expense(app)
    assert expense.document_type == "application/pdf" and expense.document_name == "risiti.pdf"
    web.logout()
    web.login("auditor")
    response = web.get(f"/expenses/{expense.id}/document")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data.startswith(b"%PDF-")
    response.close()


@pytest.mark.parametrize("content,name", [(HTML_PAGE, "receipt.jpg"), (SVG_PAGE, "photo.png"),
                                          (b"plain text", "risiti.pdf")])
def test_a_page_disguised_as_a_photo_is_refused(app, web, books, content, name):
    web.login("treasurer")
    response = web.post("/expenses/new",
                        _form(books.stipends, document=(io.BytesIO(content), name)))
    assert response.status_code == 200
    assert "is not a photo (JPEG, PNG, WebP) or a PDF" in response.get_data(as_text=True)
    with app.app_context():
        assert count(Expense) == 0
    folder = Path(app.config["UPLOAD_DIR"]) / "expenses"
    assert not folder.exists() or not any(folder.iterdir()) or all(
        p.name.endswith((".png", ".pdf")) for p in folder.iterdir())


def _post_big(web, url, data):
    """Post a multipart body built in memory (the test client would spool it to an
    unclosed temporary file)."""
    data = dict(data, csrf_token=web.token or web._refresh_token("/expenses/new"))
    boundary, body = encode_multipart(MultiDict(data))
    return web.client.post(url, data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")


def test_an_oversize_file_is_refused(app, web, books):
    web.login("treasurer")
    big = TINY_JPEG + b"\x00" * (6 * 1024 * 1024)
    form = _form(books.stipends, document=FileStorage(io.BytesIO(big), "big.jpg"))
    response = _post_big(web, "/expenses/new", form)
    assert response.status_code == 413
    assert "File too large" in response.get_data(as_text=True)
    with app.app_context():
        assert count(Expense) == 0
    # With a higher request limit, the document's own 5 MB limit answers clearly.
    app.config["MAX_CONTENT_LENGTH"] = 20 * 1024 * 1024
    form = _form(books.stipends, document=FileStorage(io.BytesIO(big), "big.jpg"))
    response = _post_big(web, "/expenses/new", form)
    assert response.status_code == 200
    assert "The file is larger than 5 MB" in response.get_data(as_text=True)
    with app.app_context():
        assert count(Expense) == 0


@pytest.mark.parametrize("overrides,message", [
    ({"amount": "-5"}, "The amount must be more than zero."),
    ({"amount": "0"}, "The amount must be more than zero."),
    ({"amount": "0.00"}, "The amount must be more than zero."),
    ({"amount": "10.005"}, "Amounts have at most two decimal places (cents)."),
    ({"amount": "abc"}, "abc is not an amount."),
    ({"amount": "1,2,3"}, "1,2,3 is not an amount."),
    ({"amount": "1,50"}, "1,50 is not an amount."),
    ({"amount": "99999999999999"}, "too large to be right"),
    ({"amount": "1e5"}, "1e5 is not an amount."),
    ({"amount": "999999999"}, "That amount is too large to be right."),
    ({"amount": ""}, "Enter an amount."),
    ({"account_id": "999999"}, "Not a valid choice."),
    ({"account_id": "abc"}, "Choose the expense account."),
    ({"account_id": ""}, "Choose the expense account."),
    ({"method": "cheque"}, "Not a valid choice."),
    ({"paid_on": "31/02/2026"}, "31/02/2026 is not a day of the calendar."),
    ({"paid_on": ""}, "Enter the date the money was paid."),
    ({"payee": ""}, "Enter who was paid."),
    ({"payee": "p" * 121}, "Field cannot be longer than 120 characters."),
    ({"description": ""}, "Describe what the money was for."),
])
def test_bad_expense_forms_show_the_problem_and_write_nothing(app, web, books, overrides,
                                                              message):
    web.login("treasurer")
    response = web.post("/expenses/new", _form(books.stipends, **overrides))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert count(Expense) == 0


def test_income_accounts_and_future_dates_are_refused_in_the_form(app, web, books):
    web.login("treasurer")
    response = web.post("/expenses/new", _form(books.donations))
    assert "Not a valid choice." in response.get_data(as_text=True)
    future = (today_in_nairobi() + timedelta(days=3)).isoformat()
    response = web.post("/expenses/new", _form(books.stipends, paid_on=future))
    assert "An expense cannot be dated in the future." in response.get_data(as_text=True)
    with app.app_context():
        assert count(Expense) == 0


def test_reject_through_the_web_needs_a_reason_and_stays_listed(app, web, books):
    web.login("coordinator")
    response = web.post("/expenses/new", _form(books.stipends, payee="Kamau Boda"))
    assert response.headers["Location"].endswith("/expenses/new")  # cannot read the list
    expense = _expense(app)
    web.logout()
    web.login("chair")
    no_reason = web.post(f"/expenses/{expense.id}/reject", {"reason": ""},
                         follow_redirects=True)
    assert "Give the reason for rejecting the expense." in no_reason.get_data(as_text=True)
    assert _expense(app, expense.id).status == ExpenseStatus.PENDING
    done = web.post(f"/expenses/{expense.id}/reject", {"reason": "No receipt attached"},
                    follow_redirects=True)
    assert f"EXP-{expense.id} is rejected." in done.get_data(as_text=True)
    listing = web.get("/expenses?status=rejected").get_data(as_text=True)
    assert "Kamau Boda" in listing and "No receipt attached" in listing
    assert "Kamau Boda" not in web.get("/expenses?status=approved").get_data(as_text=True)
    month = expense.paid_on.strftime("%Y-%m")
    assert "Kamau Boda" in web.get(f"/expenses?month={month}").get_data(as_text=True)
    assert "Kamau Boda" not in web.get("/expenses?month=2001-01").get_data(as_text=True)
    for bad in ("2026-13", "abc", "2026-1"):
        page = web.get(f"/expenses?month={bad}")
        assert page.status_code == 200 and "is not a month" in page.get_data(as_text=True)
    assert web.get("/expenses?status=lost").status_code == 200
    again = web.post(f"/expenses/{expense.id}/approve", follow_redirects=True)
    assert "already been rejected" in again.get_data(as_text=True)


def test_pending_expenses_come_first(app, books):
    with app.test_request_context(), acting_as("test"):
        older = record(books.treasurer, payee="First")
        decided = record(books.treasurer, payee="Second")
        expenses.approve_expense(decided, books.chair)
        newer = record(books.treasurer, payee="Third")
        db.session.commit()
        order = [e.payee for e in db.session.scalars(expenses.expense_query())]
        assert order == [older.payee, newer.payee, decided.payee]


def test_wrong_roles_are_refused_and_unknown_ids_are_404(app, web, books):
    with app.test_request_context(), acting_as("test"):
        expense_id = record(books.treasurer).id
        db.session.commit()
    web.login("member")
    for url in ("/expenses", "/expenses/new", f"/expenses/{expense_id}",
                f"/expenses/{expense_id}/document", "/accounts"):
        assert web.get(url).status_code == 403, url
    web.logout()
    web.login("auditor")
    assert web.get("/expenses").status_code == 200
    assert web.get("/expenses/new").status_code == 403
    assert web.post(f"/expenses/{expense_id}/approve").status_code == 403
    assert web.post(f"/expenses/{expense_id}/reject", {"reason": "x y z"}).status_code == 403
    web.logout()
    web.login("coordinator")
    assert web.get("/expenses/new").status_code == 200
    assert web.get("/expenses").status_code == 403
    web.logout()
    web.login("treasurer")
    assert web.get("/accounts/new").status_code == 403
    assert web.post("/accounts/new", {"code": "5999", "name": "X", "type": "expense"}
                    ).status_code == 403
    for url in ("/expenses/999999", "/expenses/999999/document"):
        assert web.get(url).status_code == 404, url
    # An expense without a document has nothing to download.
    assert web.get(f"/expenses/{expense_id}/document").status_code == 404
    web.logout()
    web.login("chair")
    assert web.post("/expenses/999999/approve").status_code == 404
    assert web.post("/expenses/999999/reject", {"reason": "gone"}).status_code == 404
    assert web.get("/accounts/999999").status_code == 404
    assert _expense(app, expense_id).status == ExpenseStatus.PENDING


def test_account_names_follow_the_users_language(app, web, books):
    web.login("treasurer")
    web.post("/language", {"language": "sw"})
    page = web.get("/expenses/new").get_data(as_text=True)
    assert "5000 Posho za doria" in page


def test_chart_of_accounts_screens(app, web, books):
    web.login("auditor")
    page = web.get("/accounts").get_data(as_text=True)
    assert "1000" in page and "Cash on hand" in page and "Pesa taslimu" in page
    assert "KES 10,000.00" in page  # the opening cash
    web.logout()
    web.login("chair")
    added = web.post("/accounts/new", {"code": "5080", "name": "Reflector jackets",
                                       "name_sw": "Jaketi za kuakisi", "type": "expense"},
                     follow_redirects=True)
    assert "Account 5080 Reflector jackets added." in added.get_data(as_text=True)
    duplicate = web.post("/accounts/new", {"code": "5080", "name": "Boots", "type": "expense"})
    assert "The code 5080 is already used by Reflector jackets" in \
        duplicate.get_data(as_text=True)
    for bad in ({"code": "50", "name": "Short", "type": "expense"},
                {"code": "5081", "name": "", "type": "expense"},
                {"code": "5081", "name": "Boots", "type": "king"}):
        response = web.post("/accounts/new", bad)
        assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Account.id))
                                 .where(Account.code.in_(["50", "5081"]))) == 0
        jackets = db.session.scalar(sa.select(Account).where(Account.code == "5080"))
        jackets_id, cash_id = jackets.id, account("cash").id

    # A system account: no "in use" box, and a post without it keeps it in use.
    page = web.get(f"/accounts/{cash_id}").get_data(as_text=True)
    assert "stays in use" in page and 'name="active"' not in page
    web.post(f"/accounts/{cash_id}", {"name": "Cash box", "name_sw": "Sanduku"})
    with app.app_context():
        cash = db.session.get(Account, cash_id)
        assert (cash.name, cash.active, cash.code) == ("Cash box", True, "1000")

    # A used account: code and type are no longer offered, and changing them is refused.
    with app.test_request_context(), acting_as("test"):
        expense = record(books.treasurer, account_id=jackets_id)
        expenses.approve_expense(expense, books.chair)
        db.session.commit()
    page = web.get(f"/accounts/{jackets_id}").get_data(as_text=True)
    assert 'name="code"' not in page and 'name="type"' not in page
    web.post(f"/accounts/{jackets_id}", {"name": "Jackets", "name_sw": "", "active": "y",
                                         "code": "9999", "type": "income"})
    with app.app_context():
        jackets = db.session.get(Account, jackets_id)
        assert (jackets.code, jackets.type, jackets.name) == ("5080", AccountType.EXPENSE,
                                                              "Jackets")
    # Taken out of use: it leaves the expense form.
    web.post(f"/accounts/{jackets_id}", {"name": "Jackets", "name_sw": ""})
    with app.app_context():
        assert db.session.get(Account, jackets_id).active is False
    assert "5080 Jackets" not in web.get("/expenses/new").get_data(as_text=True)


def test_reverse_through_the_web_and_the_balance_warning(app, web, books):
    with app.test_request_context(), acting_as("test"):
        big = record(books.treasurer, amount=2_000_000, payee="Big Supplier")  # > KES 10,000 cash
        small = record(books.treasurer, amount=30_000, payee="Small Supplier")
        expenses.approve_expense(small, books.chair)
        db.session.commit()
        big_id, small_id = big.id, small.id
    web.login("secretary")
    page = web.get(f"/expenses/{big_id}").get_data(as_text=True)
    assert "The books show only KES 9,700.00 in Cash on hand" in page
    assert "The books show only" not in web.get(f"/expenses/{small_id}").get_data(as_text=True)
    no_reason = web.post(f"/expenses/{small_id}/reverse", {"reason": ""}, follow_redirects=True)
    assert "Give the reason for reversing the expense." in no_reason.get_data(as_text=True)
    done = web.post(f"/expenses/{small_id}/reverse", {"reason": "Supplier refunded us"},
                    follow_redirects=True)
    text = done.get_data(as_text=True)
    assert f"EXP-{small_id} is reversed." in text and "Supplier refunded us" in text
    assert '<span class="badge rejected">Reversed</span>' in text  # no longer "Approved"
    listed = web.get("/expenses").get_data(as_text=True)
    row = listed[listed.index(f"EXP-{small_id}"):]
    assert row.index("Reversed") < row.index("</tr>")
    again = web.post(f"/expenses/{small_id}/reverse", {"reason": "Twice"}, follow_redirects=True)
    assert "already been reversed" in again.get_data(as_text=True)
    refused = web.post(f"/expenses/{big_id}/reverse", {"reason": "Not posted yet"},
                       follow_redirects=True)
    assert "Only an approved expense can be reversed." in refused.get_data(as_text=True)
    with app.app_context():
        assert balance("cash") == 1_000_000
        assert db.session.scalar(sa.select(sa.func.count(JournalEntry.id))
                                 .where(JournalEntry.reverses_id.is_not(None))) == 1


@pytest.mark.committed(reason="two threads with connections of their own: the database's "
                              "locking decides who posts")
def test_two_officials_approving_at_once_post_it_once(app, books):
    """The second approval waits for the first (row lock / write lock), then is refused."""
    import threading
    import time

    with app.test_request_context(), acting_as("test"):
        expense_id = record(books.treasurer).id
        db.session.commit()
    first_done, results = threading.Event(), {}

    def approve(name, approver_id, hold):
        with app.app_context(), acting_as(name):
            try:
                if not hold:
                    first_done.wait(10)
                expenses.approve_expense(db.session.get(Expense, expense_id), approver_id)
                if hold:
                    first_done.set()
                    time.sleep(0.5)  # the other approval is now waiting for this one
                db.session.commit()
                results[name] = "approved"
            except ExpenseError as error:
                db.session.rollback()
                results[name] = str(error)
            finally:
                first_done.set()

    threads = [threading.Thread(target=approve, args=("chair", books.chair, True)),
               threading.Thread(target=approve, args=("secretary", books.secretary, False))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results["chair"] == "approved"
    assert "already been approved" in results["secretary"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(JournalEntry.id))
                                 .where(JournalEntry.source == EntrySource.EXPENSE)) == 1
        assert db.session.get(Expense, expense_id).decided_by_id == books.chair
