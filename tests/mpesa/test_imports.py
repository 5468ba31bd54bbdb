"""Pasted M-Pesa SMS and uploaded statements: preview, confirm, never twice."""

import csv
import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from association.audit.services import acting_as
from association.core.time import today_in_nairobi
from association.extensions import db
from association.ledger.models import Payment, PaymentMethod, Receipt
from association.ledger.payments import record_payment
from association.members.models import Member
from association.mpesa import import_parsing, imports
from association.mpesa.models import MpesaTransaction, TransactionSource, TransactionStatus
from tests.conftest import count
from tests.core import upload_probe, zipbombs

# Real Safaricom wordings (see DARAJA.md section 9); the codes and names are made up.
SMS = {
    # The brief's paybill notification, amount first.
    "amount_first": "TK21AAA001 Confirmed. Ksh50.00 received from JOHN DOE 0712345678 on "
                    "2/11/26 at 7:45 PM. New Account balance is Ksh12,345.00",
    # Till merchant notification (2013 wording): phone before name.
    "till": "TK21AAA002 Confirmed. on 3/11/26 at 6:05 AM Ksh1,500.00 received from "
            "254799000002 JANE WANJIKU. New Account balance is Ksh13,845.00",
    # Paybill notification (IPN era): name, phone, account number.
    "paybill": "TK21AAA003 Confirmed.on 4/11/26 at 10:11 AM Ksh300.00 received from PETER "
               "OTIENO 254799000003. Account Number mlk 2 New Utility balance is Ksh14,145.00",
    # A personal line receives.
    "personal": "TK21AAA004 Confirmed.You have received Ksh200.00 from MARY AKINYI 0799000004 "
                "on 5/11/26 at 9:00 PM New M-PESA balance is Ksh1,000.00. Separate personal "
                "and business funds through Pochi la Biashara.",
    # 2026: masked numbers.
    "masked": "TK21AAA005 Confirmed. Ksh100.00 received from JOHN DOE 2547******78 on 6/11/26 "
              "at 7:46 PM. Account Number MLK0001. New Account balance is Ksh12,445.00",
}
PAYER_OWN = ("TK21AAA006 Confirmed. Ksh50.00 sent to MLANGO KUBWA ASSOC for account MLK-0001 "
             "on 7/11/26 at 8:00 AM New M-PESA balance is Ksh100.00. Transaction cost, Ksh0.00.")
REVERSAL = ("TK21AAA007 Confirmed. Reversal of transaction TK21AAA001 has been successfully "
            "reversed on 8/11/26 at 8:00 AM and Ksh50.00 is debited from your M-PESA account.")

HEADER = ["Receipt No.", "Completion Time", "Initiation Time", "Details", "Transaction Status",
          "Paid In", "Withdrawn", "Balance", "Balance Confirmed", "Reason Type",
          "Other Party Info", "Linked Transaction ID", "A/C No."]


def statement_rows():
    return [
        ["TK31BBB001", "2026-11-02 18:30:12", "2026-11-02 18:30:12",
         "Pay Bill from 254712345678 - JOHN DOE Acc. MLK-0001", "Completed", "50.00", "",
         "12,500.00", "TRUE", "Pay Utility", "254712345678 - JOHN DOE", "", "MLK-0001"],
        ["TK31BBB002", "03-11-2026 07:01:00", "", "Pay Bill from 2547******99 - ANN W Acc. 9",
         "Completed", "1,500.00", "", "14,000.00", "TRUE", "Pay Utility",
         "2547******99 - ANN W", "", ""],
        ["TK31BBB003", "2026-11-03 08:00:00", "", "Pay Bill Charge", "Completed", "", "-5.00",
         "13,995.00", "TRUE", "Pay Bill Charge", "", "", ""],
        ["TK31BBB004", "2026-11-04 09:00:00", "", "Pay Bill from 254712345670 - X Y",
         "Failed", "300.00", "", "", "", "Pay Utility", "", "", "MLK-0002"],
        ["TK31BBB005", "2026-11-05 09:00:00", "", "Business Pay Bill to 400200 - BANK Acc. 1",
         "Completed", "", "10,000.00", "3,995.00", "TRUE", "Business Pay Bill", "", "", ""],
        ["TK31BBB006", "2026-11-06 09:00:00", "", "Transfer of funds from Utility Account",
         "Completed", "20.00", "", "", "", "Organization Revenue Settlement", "", "", ""],
        ["TK31BBB001", "2026-11-02 18:30:12", "", "Pay Bill from 254712345678 - JOHN DOE",
         "Completed", "50.00", "", "", "", "Pay Utility", "", "", "MLK-0001"],
    ]


def csv_bytes(rows, header=HEADER, preamble=()) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in preamble:
        writer.writerow(line)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def xlsx_bytes(rows, header=HEADER) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Organisation Name", "MLANGO KUBWA ASSOC"])
    sheet.append([])
    sheet.append(header)
    for row in rows:
        row = list(row)
        if row[1] and row[1][4] == "-":  # real Excel cells: datetimes and numbers
            row[1] = datetime.fromisoformat(row[1])
        if row[5]:
            row[5] = float(row[5].replace(",", ""))
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def register(app, people, make_member):
    """Member 1 (own) and 2 (other) from ``people``; member 1's phone is known."""
    with app.app_context(), acting_as("test"):
        own = db.session.get(Member, people.own_member_id)
        own.phone = "+254712345678"
        db.session.commit()
    return people


def in_app(app, function, *args, **kwargs):
    with app.app_context():
        return function(*args, **kwargs)


def tx_by_code(code):
    return db.session.scalar(sa.select(MpesaTransaction).where(
        MpesaTransaction.receipt_code == code))


def statuses(app) -> dict:
    with app.app_context():
        return dict(db.session.execute(sa.select(
            MpesaTransaction.receipt_code, MpesaTransaction.status)).all())


# --- reading SMS -----------------------------------------------------------------------


def test_every_documented_sms_wording_is_read(app):
    with app.app_context():
        parsed = import_parsing.parse_sms("\n\n".join(SMS.values()))
    got = {tx.receipt_code: tx for tx in parsed.items}
    assert list(got) == [f"TK21AAA00{n}" for n in range(1, 6)]
    assert parsed.skipped == []
    one = got["TK21AAA001"]
    assert (one.amount_cents, one.phone, one.payer_name, one.account_reference) == (
        5_000, "+254712345678", "JOHN DOE", None)
    # 7:45 PM in Nairobi is 16:45 UTC.
    assert one.transacted_at == datetime(2026, 11, 2, 16, 45)
    till = got["TK21AAA002"]
    assert (till.amount_cents, till.phone, till.payer_name) == (
        150_000, "+254799000002", "JANE WANJIKU")
    assert till.transacted_at == datetime(2026, 11, 3, 3, 5)
    paybill = got["TK21AAA003"]
    assert (paybill.account_reference, paybill.payer_name) == ("mlk 2", "PETER OTIENO")
    assert got["TK21AAA004"].payer_name == "MARY AKINYI"
    masked = got["TK21AAA005"]
    assert (masked.phone, masked.phone_shown, masked.account_reference) == (
        None, "2547******78", "MLK0001")


def test_messages_run_together_without_line_breaks(app):
    with app.app_context():
        parsed = import_parsing.parse_sms(SMS["amount_first"] + " " + SMS["till"])
    assert [tx.amount_cents for tx in parsed.items] == [5_000, 150_000]


def test_payer_messages_reversals_and_repeats_are_skipped(app):
    with app.app_context():
        parsed = import_parsing.parse_sms("\n".join([SMS["amount_first"], PAYER_OWN, REVERSAL,
                                              SMS["amount_first"]]))
    assert [tx.receipt_code for tx in parsed.items] == ["TK21AAA001"]
    assert [s.reason for s in parsed.skipped] == ["payer_message", "not_received", "duplicate"]


@pytest.mark.parametrize("text", ["", "   ", "hello there", "Confirmed. Ksh50.00",
                                  "x" * (import_parsing.MAX_SMS_CHARS + 1)])
def test_text_without_messages_is_refused(app, text):
    with app.app_context(), pytest.raises(import_parsing.ImportFileError):
        import_parsing.parse_sms(text)


@pytest.mark.parametrize("broken, reason", [
    ("TK21AAA009 Confirmed. Ksh50.00 received from JOHN DOE 0712345678. New balance",
     "no_date"),
    ("TK21AAA009 Confirmed. received from JOHN DOE on 2/11/26 at 7:45 PM.", "no_amount"),
    ("TK21AAA009 Confirmed. Ksh50.00 received from JOHN on 31/2/26 at 7:45 PM.", "bad_date"),
    ("TK21AAA009 Confirmed. Ksh50.00 received from JOHN on 2/11/99 at 7:45 PM.", "bad_date"),
    ("TK21AAA009 Confirmed. Ksh50.00 received from JOHN on 2/11/26 at 17:45 PM.", "bad_date"),
    ("TK21AAA009 Confirmed. Ksh0.00 received from JOHN on 2/11/26 at 7:45 PM.", "no_amount"),
])
def test_broken_messages_are_listed_not_guessed(app, broken, reason):
    with app.app_context():
        parsed = import_parsing.parse_sms(broken)
    assert parsed.items == []
    assert [s.reason for s in parsed.skipped] == [reason]


# --- reading statements ---------------------------------------------------------------------


@pytest.mark.parametrize("maker", [csv_bytes, xlsx_bytes])
def test_statement_rows_received_are_read_and_the_rest_skipped(app, maker):
    with app.app_context():
        parsed = import_parsing.parse_statement("statement.bin", maker(statement_rows()))
    got = {tx.receipt_code: tx for tx in parsed.items}
    assert list(got) == ["TK31BBB001", "TK31BBB002"]
    first = got["TK31BBB001"]
    assert (first.amount_cents, first.account_reference, first.phone, first.payer_name) == (
        5_000, "MLK-0001", "+254712345678", "JOHN DOE")
    assert first.transacted_at == datetime(2026, 11, 2, 15, 30, 12)
    second = got["TK31BBB002"]
    # No A/C No.: the account is read from Details; the masked phone is kept as shown.
    assert (second.amount_cents, second.account_reference, second.phone,
            second.phone_shown) == (150_000, "9", None, "2547******99")
    assert second.transacted_at == datetime(2026, 11, 3, 4, 1)
    reasons = [s.reason for s in parsed.skipped]
    assert reasons == ["money_out", "not_completed", "money_out", "internal", "duplicate"]


def test_header_variants_and_semicolons(app):
    header = ["RECEIPT NO", "Completion Date", "Details", "Status", "Paid in (KES)",
              "Withdrawn", "A/C No"]
    header[4] = "Paid In"
    rows = [["tk31ccc001", "05/11/2026 07:15 PM", "Pay Bill from 0712345678 - JOHN",
             "completed", "1500", "", "mlk1"]]
    content = csv_bytes(rows, header).replace(b",", b";")
    with app.app_context():
        parsed = import_parsing.parse_statement("s.csv", content)
    assert [(tx.receipt_code, tx.amount_cents, tx.account_reference) for tx in parsed.items] \
        == [("TK31CCC001", 150_000, "mlk1")]
    assert parsed.items[0].transacted_at == datetime(2026, 11, 5, 16, 15)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"   \n  ", "empty"),
    (b"%PDF-1.7 ...", "PDF statements cannot be read"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Old Excel"),
    (b"<!DOCTYPE html><html><body>Login</body></html>", "web page"),
    (b"<html><table><tr><td>Receipt No.</td></tr></table></html>", "web page"),
    (b"PK\x03\x04garbage-not-a-zip", "not a readable Excel"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "not a statement file"),
    (b"name,phone\nAmina,0712345678\n", "No statement columns"),
    (b'Receipt No.,Completion Time,Paid In\n"TK1,2026', "could not be read as CSV"),
])
def test_files_that_are_not_statements_are_refused(app, content, message):
    with app.app_context(), pytest.raises(import_parsing.ImportFileError) as caught:
        import_parsing.parse_statement("statement.xlsx", content)
    assert message in str(caught.value)


def test_a_zip_that_is_not_a_workbook(app):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not excel")
    with app.app_context(), pytest.raises(import_parsing.ImportFileError,
                                          match="not a readable Excel"):
        import_parsing.parse_statement("s.xlsx", out.getvalue())


# --- preview and confirmation (services) ----------------------------------------------------


def test_confirm_credits_matched_and_queues_the_rest(app, register):
    with app.app_context(), acting_as("test"):
        parsed = import_parsing.parse_sms("\n".join(SMS.values()))
        preview = imports.build_preview(parsed)
        by_code = {row.tx.receipt_code: row for row in preview.rows}
        # JOHN DOE's phone is member 1's; "mlk 2" is member 2; MLK0001 is member 1.
        assert by_code["TK21AAA001"].member.id == register.own_member_id
        assert by_code["TK21AAA003"].member.id == register.other_member_id
        assert by_code["TK21AAA005"].member.id == register.own_member_id
        assert by_code["TK21AAA002"].member is None
        result = imports.confirm(parsed, preview.expect, {}, None)
        db.session.commit()
        assert (result.credited, result.suspense, result.total_cents) == (3, 2, 215_000)
        assert count(Payment) == 3
        one = tx_by_code("TK21AAA001")
        assert (one.source, one.status, one.member_id) == (
            TransactionSource.SMS, TransactionStatus.CREDITED, register.own_member_id)
        assert db.session.get(Payment, one.payment_id).receipt is not None
        assert tx_by_code("TK21AAA002").status == TransactionStatus.SUSPENSE


def test_codes_already_in_the_books_are_marked_and_never_counted_again(app, register):
    with app.app_context(), acting_as("test"):
        member = db.session.get(Member, register.other_member_id)
        record_payment(member, 5_000, PaymentMethod.MPESA, today_in_nairobi(), None,
                       reference="tk21aaa001")  # typed by hand, in lower case
        db.session.commit()
        parsed = import_parsing.parse_sms(SMS["amount_first"] + "\n" + SMS["till"])
        preview = imports.build_preview(parsed)
        assert [row.known for row in preview.rows] == [True, False]
        assert preview.receipts["TK21AAA001"]
        imports.confirm(parsed, preview.expect, {}, None)
        db.session.commit()
        assert count(Payment) == 1 and count(MpesaTransaction) == 1
        # The same messages again: nothing left to import.
        preview = imports.build_preview(parsed)
        assert all(row.known for row in preview.rows)
        with pytest.raises(imports.ImportStaleError, match="already in the books"):
            imports.confirm(parsed, preview.expect, {}, None)


def test_a_second_tab_or_a_callback_meanwhile_makes_the_confirmation_stale(app, register):
    with app.app_context(), acting_as("test"):
        parsed = import_parsing.parse_sms(SMS["amount_first"] + "\n" + SMS["till"])
        first = imports.build_preview(parsed)
        second = imports.build_preview(parsed)
        imports.confirm(parsed, first.expect, {}, None)
        db.session.commit()
        with pytest.raises(imports.ImportStaleError, match="since the preview"):
            imports.confirm(parsed, second.expect, {}, None)
        db.session.rollback()
        assert count(MpesaTransaction) == 2 and count(Payment) == 1


def test_typed_members_override_and_blank_means_suspense(app, register):
    with app.app_context(), acting_as("test"):
        parsed = import_parsing.parse_sms(SMS["amount_first"] + "\n" + SMS["till"])
        preview = imports.build_preview(parsed)
        typed = {"TK21AAA001": "", "TK21AAA002": "  mlk-2 "}
        imports.confirm(parsed, preview.expect, typed, None)
        db.session.commit()
        assert tx_by_code("TK21AAA001").status == TransactionStatus.SUSPENSE
        assert tx_by_code("TK21AAA002").member_id == register.other_member_id


def test_a_wrong_typed_member_writes_nothing(app, register):
    with app.app_context(), acting_as("test"):
        parsed = import_parsing.parse_sms(SMS["amount_first"] + "\n" + SMS["till"])
        preview = imports.build_preview(parsed)
        with pytest.raises(imports.ImportRowsError) as caught:
            imports.confirm(parsed, preview.expect, {"TK21AAA002": "MLK-0999"}, None)
        db.session.rollback()
        assert list(caught.value.problems) == ["TK21AAA002"]
        assert count(MpesaTransaction) == 0 and count(Payment) == 0


def test_a_large_import_is_confirmed_in_parts(app, register, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_ROWS", 2)
    with app.app_context(), acting_as("test"):
        parsed = import_parsing.parse_sms("\n".join(SMS.values()))
        first = imports.confirm(parsed, imports.build_preview(parsed).expect, {}, None)
        db.session.commit()
        assert (first.credited + first.suspense, first.remaining) == (2, 3)
        second = imports.confirm(parsed, imports.build_preview(parsed).expect, {}, None)
        db.session.commit()
        third = imports.confirm(parsed, imports.build_preview(parsed).expect, {}, None)
        db.session.commit()
        assert (second.remaining, third.remaining) == (1, 0)
        assert count(MpesaTransaction) == 5 and count(Payment) == 3


def test_staged_imports_belong_to_their_uploader(app, register):
    with app.test_request_context():
        parsed = import_parsing.parse_sms(SMS["amount_first"])
        token = imports.stage(parsed, 7)
        assert imports.load(token, 7).items[0].receipt_code == "TK21AAA001"
        for bad_user, bad_token in ((8, token), (7, "short"), (7, "../../etc/passwd"),
                                    (7, "A" * 32), (7, token + "x")):
            with pytest.raises(import_parsing.ImportFileError):
                imports.load(bad_token, bad_user)
        imports.discard(token)
        with pytest.raises(import_parsing.ImportFileError):
            imports.load(token, 7)


# --- pages -----------------------------------------------------------------------------------


def _token(response) -> str:
    return re.search(r"/mpesa/imports/([A-Za-z0-9_-]{16,64})", response.headers["Location"])[1]


def _expect(html: str) -> str:
    return re.search(r'name="expect" type="hidden" value="([0-9a-f]{64})"', html)[1]


def test_paste_preview_confirm_end_to_end(app, web, register):
    web.login("treasurer")
    assert "Paste M-Pesa messages" in web.get("/mpesa/imports/sms").get_data(as_text=True)
    response = web.post("/mpesa/imports/sms", {"text": SMS["amount_first"] + "\n" + SMS["till"]
                                               + "\n" + PAYER_OWN})
    assert response.status_code in (302, 303)
    token = _token(response)
    html = web.get(f"/mpesa/imports/{token}").get_data(as_text=True)
    assert "TK21AAA001" in html and "TK21AAA002" in html
    assert "by the payer&#39;s phone" in html or "by the payer's phone" in html
    assert "payer&#39;s own message" in html or "payer's own message" in html
    assert statuses(app) == {}  # nothing written by the preview
    expect = _expect(html)
    response = web.post(f"/mpesa/imports/{token}/confirm", {
        "expect": expect, "submit": "1", "m-TK21AAA001": "MLK-0001", "m-TK21AAA002": ""},
        follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 M-Pesa payments imported (KES 1,550.00)" in html
    assert statuses(app) == {"TK21AAA001": TransactionStatus.CREDITED,
                             "TK21AAA002": TransactionStatus.SUSPENSE}
    # A double submit: the staged import is gone, nothing changes.
    response = web.post(f"/mpesa/imports/{token}/confirm", {"expect": expect, "submit": "1"},
                        follow_redirects=True)
    assert "This import is finished" in response.get_data(as_text=True)
    assert in_app(app, count, Payment) == 1


def test_check_shows_typed_members_and_errors_without_writing(app, web, register):
    web.login("treasurer")
    token = _token(web.post("/mpesa/imports/sms", {"text": SMS["till"]}))
    html = web.get(f"/mpesa/imports/{token}").get_data(as_text=True)
    expect = _expect(html)
    response = web.post(f"/mpesa/imports/{token}/confirm", {
        "expect": expect, "check": "Check", "m-TK21AAA002": "mlk 2"})
    html = response.get_data(as_text=True)
    assert "Chebet Kiprono" in html
    response = web.post(f"/mpesa/imports/{token}/confirm", {
        "expect": expect, "submit": "1", "m-TK21AAA002": "MLK-0999"})
    assert response.status_code == 422
    assert "No member has the number or phone MLK-0999" in response.get_data(as_text=True)
    assert statuses(app) == {}


def test_two_tabs_the_second_confirmation_is_refused(app, web, register):
    web.login("treasurer")
    first = _token(web.post("/mpesa/imports/sms", {"text": SMS["till"]}))
    second = _token(web.post("/mpesa/imports/sms", {"text": SMS["till"]}))
    expect_first = _expect(web.get(f"/mpesa/imports/{first}").get_data(as_text=True))
    expect_second = _expect(web.get(f"/mpesa/imports/{second}").get_data(as_text=True))
    assert web.post(f"/mpesa/imports/{first}/confirm",
                    {"expect": expect_first, "submit": "1"}).status_code in (302, 303)
    response = web.post(f"/mpesa/imports/{second}/confirm",
                        {"expect": expect_second, "submit": "1"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html and "Already in the books" in html
    assert in_app(app, count, MpesaTransaction) == 1


def test_statement_upload_end_to_end_and_receipt_links(app, web, register):
    web.login("treasurer")
    response = web.post("/mpesa/imports/statement", {
        "file": (io.BytesIO(xlsx_bytes(statement_rows())), "statement.xlsx")},
        content_type="multipart/form-data")
    token = _token(response)
    html = web.get(f"/mpesa/imports/{token}").get_data(as_text=True)
    expect = _expect(html)
    web.post(f"/mpesa/imports/{token}/confirm", {"expect": expect, "submit": "1"})
    assert statuses(app) == {"TK31BBB001": TransactionStatus.CREDITED,
                             "TK31BBB002": TransactionStatus.SUSPENSE}
    # The same statement again (overlapping periods): everything is already in the books.
    response = web.post("/mpesa/imports/statement", {
        "file": (io.BytesIO(csv_bytes(statement_rows())), "statement.csv")},
        content_type="multipart/form-data")
    html = web.get(f"/mpesa/imports/{_token(response)}").get_data(as_text=True)
    number = in_app(app, lambda: db.session.scalar(sa.select(Receipt.number)))
    assert "nothing new to import" in html
    assert f'href="/receipts/{number}"' in html


@pytest.mark.parametrize("upload, message", [
    (None, "Choose the statement file"),
    ((b"", "empty.csv"), "The file is empty"),
    ((b"<html><body>hi</body></html>", "statement.xlsx"), "web page"),
    ((b"\x00\x01\x02garbage" * 50, "statement.csv"), "not a statement file"),
    ((b"a,b,c\n1,2,3\n", "statement.csv"), "No statement columns"),
])
def test_bad_uploads_get_a_clear_message(app, web, register, upload, message):
    web.login("treasurer")
    data = {} if upload is None else {"file": (io.BytesIO(upload[0]), upload[1])}
    response = web.post("/mpesa/imports/statement", data, content_type="multipart/form-data")
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert statuses(app) == {}


TOO_BIG = "This workbook is too big to read safely"


def staged(app) -> list[str]:
    folder = Path(app.config["UPLOAD_DIR"]) / "mpesa-imports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.committed(reason="the upload runs in another process, which must see the users")
def test_a_zip_bomb_statement_is_refused_in_little_memory(app, register):
    """~300 KiB that unpacks to 100 MiB: refused from the ZIP's directory, before a row is
    read; the process that took the upload peaks well under 200 MiB; nothing is staged."""
    bomb = zipbombs.bomb_workbook(tuple(HEADER))
    assert len(bomb) < 400 * 1024
    before = staged(app)
    answer = upload_probe.upload(app, "treasurer", "/mpesa/imports/statement",
                                 "statement.xlsx", bomb)
    assert answer.status == 200
    assert TOO_BIG in answer.body
    assert answer.peak_mib < 200, answer.peak_mib
    assert statuses(app) == {}
    assert staged(app) == before


@pytest.mark.committed(reason="the upload runs in another process, which must see the users")
@pytest.mark.parametrize("bomb", [zipbombs.styles_bomb_workbook, zipbombs.strings_bomb_workbook])
def test_a_styles_or_shared_strings_bomb_statement_is_refused_in_little_memory(
        app, register, bomb):
    """The security review's bombs, under every cap of the whole workbook: styles of
    48 MiB of cell formats (~3 MiB uploaded; 790 MiB and 11.6 s before), two million
    shared strings (~1 MiB uploaded). openpyxl parses both whole: refused by their own
    caps, the process well under 200 MiB, nothing staged."""
    content = bomb(tuple(HEADER))
    assert len(content) < app.config["MAX_CONTENT_LENGTH"]
    before = staged(app)
    answer = upload_probe.upload(app, "treasurer", "/mpesa/imports/statement",
                                 "statement.xlsx", content)
    assert answer.status == 200
    assert TOO_BIG in answer.body
    assert answer.peak_mib < 200, answer.peak_mib
    assert statuses(app) == {}
    assert staged(app) == before


@pytest.mark.parametrize(("attack", "message"), [
    (zipbombs.many_parts_workbook, TOO_BIG),
    (zipbombs.entity_workbook, TOO_BIG),
    (lambda: zipbombs.entity_workbook("xl/workbook.xml"), TOO_BIG),
    (lambda: zipbombs.dense_styles_workbook(tuple(HEADER)), TOO_BIG),
    # Its directory says 1 KiB: reading stops there, and the part's checksum fails.
    (lambda: zipbombs.lying_workbook(tuple(HEADER)),
     "This file is not a readable Excel (.xlsx) file."),
])
def test_workbooks_that_attack_the_reader_are_refused(app, web, register, attack, message):
    web.login("treasurer")
    before = staged(app)
    response = web.post("/mpesa/imports/statement",
                        {"file": (io.BytesIO(attack()), "statement.xlsx")},
                        content_type="multipart/form-data")
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert statuses(app) == {}
    assert staged(app) == before


def test_too_large_an_upload_is_refused(app, web, register):
    web.login("treasurer")
    web.get("/mpesa/imports/statement")
    app.config["MAX_CONTENT_LENGTH"] = 2000  # small, so no temporary file is left open
    big = csv_bytes(statement_rows() * 20)
    response = web.post("/mpesa/imports/statement", {"file": (io.BytesIO(big), "s.csv")},
                        content_type="multipart/form-data")
    assert response.status_code == 413
    assert "File too large" in response.get_data(as_text=True)
    assert statuses(app) == {}


def test_a_ten_thousand_row_statement(app, web, register):
    rows = [[f"TK9{n:07d}", "2026-11-02 18:30:12", "", f"Pay Bill from 25471{n:07d} - P {n}",
             "Completed", "50.00", "", "", "TRUE", "Pay Utility", f"25471{n:07d} - P {n}", "",
             f"MLK-{n % 5000:04d}"] for n in range(10_000)]
    web.login("treasurer")
    web.get("/mpesa/imports/statement")
    # A multipart body built in memory: the test client would spool it to an unclosed file.
    boundary, body = encode_multipart(MultiDict({
        "csrf_token": web.token or web._refresh_token("/mpesa/imports/statement"),
        "file": FileStorage(io.BytesIO(csv_bytes(rows)), "year.csv")}))
    response = web.client.post("/mpesa/imports/statement", data=body,
                               content_type=f"multipart/form-data; boundary={boundary}")
    token = _token(response)
    response = web.get(f"/mpesa/imports/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "10,000 new payments to import" in html or "10000 new payments" in html
    assert "members are matched automatically and cannot be changed here" in html
    assert 'name="m-' not in html
    response = web.post(f"/mpesa/imports/{token}/confirm", {"expect": _expect(html),
                                                            "submit": "1"})
    # The first part (all or nothing), then back to the preview for the rest.
    assert response.headers["Location"].endswith(f"/mpesa/imports/{token}")
    with app.app_context():
        assert count(MpesaTransaction) == imports.BATCH_ROWS
        assert count(Payment) == 2  # MLK-0001 and MLK-0002 in the first part
    html = web.get(f"/mpesa/imports/{token}").get_data(as_text=True)
    left, done = 10_000 - imports.BATCH_ROWS, imports.BATCH_ROWS
    assert f"{left} new payments to import" in html
    assert f"{done} are already in the books" in html


def test_a_statement_as_excel_saves_it_is_read(app, web, register):
    """Every text in the shared strings (~100,000 for 20,000 rows, 3.8 MiB), as Excel
    saves an exported statement: within their caps, every row read."""
    rows = [[f"TK8{n:07d}", "2026-11-02 18:30:12", "", f"Pay Bill from 25471{n:07d} - P {n}",
             "Completed", 50, "", "", "TRUE", "Pay Utility", f"25471{n:07d} - P {n}", "",
             f"MLK-{n % 5000:04d}"] for n in range(20_000)]
    content = zipbombs.shared_strings_workbook([HEADER, *rows])
    web.login("treasurer")
    web.get("/mpesa/imports/statement")
    # A multipart body built in memory: the test client would spool it to an unclosed file.
    boundary, body = encode_multipart(MultiDict({
        "csrf_token": web.token or web._refresh_token("/mpesa/imports/statement"),
        "file": FileStorage(io.BytesIO(content), "statement.xlsx")}))
    response = web.client.post("/mpesa/imports/statement", data=body,
                               content_type=f"multipart/form-data; boundary={boundary}")
    html = web.get(f"/mpesa/imports/{_token(response)}").get_data(as_text=True)
    assert "20000 new payments to import" in html
    assert statuses(app) == {}


def test_wrong_tokens_and_roles(app, web, register):
    web.login("treasurer")
    token = _token(web.post("/mpesa/imports/sms", {"text": SMS["till"]}))
    for bad in ("nope", "A" * 40, "x.y"):
        response = web.get(f"/mpesa/imports/{bad}", follow_redirects=True)
        assert "This import is finished" in response.get_data(as_text=True)
        response = web.post(f"/mpesa/imports/{bad}/confirm", {"expect": "0" * 64,
                                                              "submit": "1"},
                            follow_redirects=True)
        assert response.status_code == 200
    # Another official cannot open or confirm the treasurer's import.
    web.logout()
    web.login("chair")
    response = web.get(f"/mpesa/imports/{token}", follow_redirects=True)
    assert "belongs to someone else" in response.get_data(as_text=True)
    for role in ("auditor", "secretary", "member"):
        web.logout()
        web.login(role)
        assert web.get("/mpesa/imports/sms").status_code == 403
        assert web.get("/mpesa/imports/statement").status_code == 403
        assert web.get(f"/mpesa/imports/{token}").status_code == 403
        assert web.post(f"/mpesa/imports/{token}/confirm", {"submit": "1"}).status_code == 403
    assert statuses(app) == {}


@pytest.mark.parametrize("text", ["", "no messages here", "Z" * 200_001])
def test_bad_pastes_get_a_clear_message(app, web, register, text):
    web.login("treasurer")
    response = web.post("/mpesa/imports/sms", {"text": text})
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)


# --- two confirmations at once -------------------------------------------------------------

WORKERS = 3


def _confirm(database_url: str, upload_dir: str, text: str, start, results, worker: int):
    """Run in a separate process: preview and confirm the same pasted messages."""
    from association import create_app
    from config import TestingConfig

    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url,
                                     "UPLOAD_DIR": upload_dir})
    with app.app_context(), acting_as(f"process-{worker}"):
        parsed = import_parsing.parse_sms(text)
        expect = imports.build_preview(parsed).expect
        db.session.rollback()
        start.wait()
        try:
            imports.confirm(parsed, expect, {}, None)
            db.session.commit()
            results.put("ok")
        except imports.ImportStaleError:
            db.session.rollback()
            results.put("stale")
        finally:
            db.engine.dispose()


@pytest.mark.committed(reason="other processes confirm the statement: they see only what is "
                              "committed")
def test_confirmations_racing_count_each_code_once(app, register, database_url, upload_dir):
    import multiprocessing

    with app.app_context():
        db.engine.dispose()
    text = "\n".join(SMS.values())
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(WORKERS), context.Queue()
    processes = [context.Process(target=_confirm, args=(
        database_url, str(upload_dir), text, start, results, n)) for n in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * WORKERS
    assert sorted(results.get(timeout=5) for _ in range(WORKERS)) == \
        ["ok"] + ["stale"] * (WORKERS - 1)
    with app.app_context():
        assert count(MpesaTransaction) == 5 and count(Payment) == 3
