"""Importing a register from CSV or Excel (preview, then all or nothing) and exporting it.

Real files are built with ``csv`` and ``openpyxl``, sent through the web as a
browser would (CSRF on), and read back; the database is real.
"""

import csv
import io
import json
import os
import re
import time
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel.speaklater import LazyString
from openpyxl import Workbook, load_workbook
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from association.audit.models import AuditEvent
from association.audit.services import acting_as
from association.auth.models import Role
from association.core.time import today_in_nairobi
from association.extensions import db
from association.members import exporting, importing
from association.members.models import Category, Gender, Member, MemberStatus
from association.members.services import MemberFilters, mask_national_id, register_member
from tests.conftest import count, member_data
from tests.core import upload_probe, zipbombs

HEADER = ["First name", "Other names", "Phone", "National ID", "Gender", "Year of birth",
          "Category", "Rental premises", "Zone", "Plot", "House", "Joined"]
TOKEN_RE = re.compile(r'name="token" type="hidden" value="([^"]+)"')


def row(first="Amina", other="Wanjiku", phone="0712 000 001", national_id="",
        gender="female", year="1990", category="resident", premises="", zone="Mabatini",
        plot="Plot 1", house="H1", joined="2025-01-15"):
    return [first, other, phone, national_id, gender, year, category, premises, zone, plot,
            house, joined]


def csv_bytes(rows, header=HEADER, delimiter=",", encoding="utf-8") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, header=HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def upload(web, content: bytes, filename="register.csv"):
    return web.post("/members/import", {"file": (io.BytesIO(content), filename)},
                    content_type="multipart/form-data")


def token_in(response) -> str | None:
    match = TOKEN_RE.search(response.get_data(as_text=True))
    return match.group(1) if match else None


def members(app) -> list[Member]:
    with app.app_context():
        found = list(db.session.scalars(sa.select(Member).order_by(Member.seq)))
        db.session.expunge_all()
        return found


def member_count(app) -> int:
    with app.app_context():
        return count(Member)


def staged_files(app) -> list[str]:
    folder = Path(app.config["UPLOAD_DIR"]) / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture(autouse=True)
def _own_upload_dir(app, tmp_path):
    """Each test stages its uploads in a folder of its own, so it can see exactly them."""
    app.config["UPLOAD_DIR"] = tmp_path / "uploads"


@pytest.fixture
def chair(web, setup_association):
    web.login("chair")
    return web


@pytest.fixture
def rctx(app, setup_association):
    """A request context, for calling the import and export services directly."""
    with app.test_request_context():
        yield setup_association
        db.session.rollback()


# --- Import through the web ------------------------------------------------------------


def test_clean_csv_import_end_to_end(app, chair, runner):
    content = csv_bytes([
        row("Amina", "Wanjiku", "0712 000 001", "12345678"),
        row("Baraka", "Otieno", "+254712000002", "", "m", "1985", "landlord", "3", "Kosovo"),
        row("Chebet", "Kiprono", "0712000003", "", "", "", "business", "", "mabatini ", "", "",
            ""),
    ])
    preview = upload(chair, content)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "3 rows read." in page
    assert "Every row is ready to import." in page
    assert "Baraka" in page and "Chebet" in page
    assert "MLK-0001" not in page  # numbers are given only on confirmation
    assert member_count(app) == 0  # the preview writes nothing
    token = token_in(preview)
    assert token and staged_files(app)

    done = chair.post("/members/import/confirm", {"token": token})
    assert done.status_code in (302, 303)
    assert done.headers["Location"].endswith("/members")
    assert "3 members imported." in chair.get("/members").get_data(as_text=True)

    imported = members(app)
    assert [(m.member_no, m.first_name) for m in imported] == [
        ("MLK-0001", "Amina"), ("MLK-0002", "Baraka"), ("MLK-0003", "Chebet")]
    assert [m.phone for m in imported] == ["+254712000001", "+254712000002", "+254712000003"]
    assert imported[0].national_id == "12345678"
    assert imported[1].category == Category.LANDLORD and imported[1].rental_premises == 3
    assert imported[1].gender == Gender.MALE and imported[1].zone_id == app_zone(app, "Kosovo")
    assert imported[2].joined_on == today_in_nairobi()  # an empty join date becomes today
    assert imported[0].joined_on == date(2025, 1, 15)
    assert all(m.status == MemberStatus.ACTIVE for m in imported)
    assert staged_files(app) == []  # the staged upload is gone

    with app.app_context():
        created = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.object_type == "member",
                                        AuditEvent.action == "create")
        ).all()
        assert len(created) == 3 and {e.actor for e in created} == {"chair"}
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output

    # The same token cannot import a second time.
    again = chair.post("/members/import/confirm", {"token": token}, follow_redirects=True)
    assert "Upload the file again" in again.get_data(as_text=True)
    assert member_count(app) == 3


def app_zone(app, name) -> int:
    with app.app_context():
        from association.members.services import zone_by_name

        return zone_by_name(name).id


def test_clean_xlsx_import_with_date_and_number_cells(app, chair):
    header = ["Name", "Mobile", "ID No.", "Sex", "YOB", "Type", "Premises", "Zone",
              "Date joined", "Favourite colour"]
    content = xlsx_bytes([
        ["Wanjiru Njeri Kamau", 712000011, 23456789, "F", datetime(1991, 5, 1), "Tenant", None,
         "Mabatini", datetime(2024, 3, 31), "blue"],
        ["Otieno Ochieng", 254712000012, None, "Male", 1980, "Landlord", 2.0, "Kosovo",
         date(2023, 12, 1), "red"],
        [None, None, None, None, None, None, None, None, None, None],  # a blank row is skipped
        ["Zawadi Achieng", "0712000013", None, None, None, "Other", None, "Kosovo",
         "01/02/2024", None],
    ], header=header)
    preview = upload(chair, content, "Register 2024.xlsx")
    page = preview.get_data(as_text=True)
    assert "Every row is ready to import." in page
    assert "Favourite colour" in page  # the column left out is named
    assert 'id="row-5"' in page  # rows keep their spreadsheet numbers

    chair.post("/members/import/confirm", {"token": token_in(preview)})
    imported = members(app)
    assert [(m.first_name, m.other_names) for m in imported] == [
        ("Wanjiru", "Njeri Kamau"), ("Otieno", "Ochieng"), ("Zawadi", "Achieng")]
    first, second, third = imported
    assert first.phone == "+254712000011" and first.national_id == "23456789"
    assert first.year_of_birth == 1991 and first.joined_on == date(2024, 3, 31)
    assert first.gender == Gender.FEMALE and first.category == Category.RESIDENT
    assert second.phone == "+254712000012" and second.rental_premises == 2
    assert second.joined_on == date(2023, 12, 1)
    assert third.joined_on == date(2024, 2, 1) and third.category == Category.OTHER


def test_swahili_headers_and_values(app, chair):
    header = ["Jina la kwanza", "Jina la ukoo", "Namba ya simu", "Kitambulisho", "Jinsia",
              "Mwaka wa kuzaliwa", "Aina", "Nyumba za kupangisha", "Eneo", "Ploti", "Nyumba",
              "Alijiunga", "Maelezo"]
    rows = [
        ["Zoë", "Mwangi", "0712000021", "", "Mwanamke", "1988", "Mwenye nyumba", "4",
         "Mabatini", "P9", "A2", "31/03/2024", "Mwenyekiti wa zamani"],
        ["Juma", "Hassan", "0712000022", "", "Mwanaume", "1979", "Biashara", "", "Kosovo",
         "", "", "2024-04-01", ""],
        ["Neema", "Atieno", "0712000023", "", "Kike", "", "Mpangaji", "", "Kosovo", "", "", "",
         ""],
    ]
    # Semicolons and Windows-1252, as Excel saves CSV on many Kenyan office PCs.
    content = csv_bytes(rows, header=header, delimiter=";", encoding="cp1252")
    preview = upload(chair, content)
    assert "Every row is ready to import." in preview.get_data(as_text=True)
    chair.post("/members/import/confirm", {"token": token_in(preview)})
    zoe, juma, neema = members(app)
    assert zoe.first_name == "Zoë" and zoe.gender == Gender.FEMALE
    assert zoe.category == Category.LANDLORD and zoe.rental_premises == 4
    assert zoe.joined_on == date(2024, 3, 31) and zoe.notes == "Mwenyekiti wa zamani"
    assert juma.gender == Gender.MALE and juma.category == Category.BUSINESS
    assert neema.category == Category.RESIDENT and neema.joined_on == today_in_nairobi()


def test_every_problem_shows_in_the_preview_and_nothing_is_written(app, chair, make_member):
    make_member(phone="0711000001", national_id="11112222")
    rows = [
        row("Ok", "Row", "0712000031"),                                          # row 2
        row("Bad", "Phone", "12345"),                                            # row 3
        row("First", "Phone", "0722 000 111"),                                   # row 4
        row("Second", "Phone", "0722000111"),                                    # row 5
        row("Db", "Phone", "0711 000 001"),                                      # row 6
        row("Db", "Id", "0712000032", "11112222"),                               # row 7
        row("First", "Id", "0712000033", "a1234567"),                            # row 8
        row("Second", "Id", "0712000034", "A1234567"),                           # row 9
        row("Unknown", "Zone", "0712000035", zone="Nowhere"),                    # row 10
        row("Unknown", "Category", "0712000036", category="Squatter"),           # row 11
        row("", "Noname", "0712000037"),                                         # row 12
        row("Landlord", "Nopremises", "0712000038", category="landlord"),        # row 13
        row("Bad", "Year", "0712000039", year="nineteen"),                       # row 14
        row("Too", "Young", "0712000040", year=str(today_in_nairobi().year - 10)),     # row 15
        row("Bad", "Date", "0712000041", joined="yesterday"),                    # row 16
        row("Bad", "Gender", "0712000042", gender="x?"),                         # row 17
        row("Bad", "Premises", "0712000043", category="landlord", premises="many"),  # row 18
    ]
    before = member_count(app)
    preview = upload(chair, csv_bytes(rows))
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    expected = [
        "12345 is not a valid phone number",
        "The phone number +254722000111 is also on row 4.",
        "Another member already has the phone number +254711000001.",
        "Another member already has that ID number.",
        "The same ID number is also on row 8.",
        "Unknown zone: Nowhere",
        "Unknown category: Squatter",
        "The first name is missing.",
        "Enter how many rental premises this landlord has",
        "nineteen is not a year of birth",
        "Members must be at least 18 years old.",
        "yesterday is not a date.",
        "Unknown gender: x?.",
        "many is not a number of rental premises.",
    ]
    for message in expected:
        assert message in page, message
    assert "17 rows read." in page and "14 rows have problems." in page
    assert page.count('class="row-error"') == 14  # rows 4 and 8 hold the first copies
    assert 'id="row-2">' in page  # the good row is shown too, without the error class
    assert 'href="#row-3"' in page
    assert "Nothing will be imported until every problem is corrected." in page
    assert token_in(preview) is None  # no confirm button
    assert "import/confirm" not in page
    assert staged_files(app) == []
    assert member_count(app) == before


def test_a_file_that_became_invalid_before_confirming_writes_nothing(app, chair, make_member):
    content = csv_bytes([row("Amina", "Wanjiku", "0712000051"),
                         row("Baraka", "Otieno", "0712000052")])
    preview = upload(chair, content)
    token = token_in(preview)
    assert token
    make_member(phone="0712000052")  # someone registers that phone meanwhile
    before = member_count(app)

    response = chair.post("/members/import/confirm", {"token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Nothing was imported: 1 row has a problem." in page
    assert "Another member already has the phone number +254712000052." in page
    assert token_in(response) is None
    assert member_count(app) == before
    assert staged_files(app) == []


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("register.pdf", b"%PDF-1.4 not a register", "Only CSV and Excel (.xlsx) files"),
        ("register.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Only CSV and Excel (.xlsx) files"),
        ("register", b"first name,zone\nA,B\n", "Only CSV and Excel (.xlsx) files"),
        ("register.csv", bytes(range(256)) * 8, "This file is not a CSV text file."),
        ("register.xlsx", b"first name,zone\nAmina,Mabatini\n",
         "This file is not a readable Excel (.xlsx) file."),
        ("register.csv", b"", "The file is empty."),
        ("register.csv", b"\n\n ,, \n", "The file is empty."),
        ("register.csv", b"First name,Other names,Zone\n",
         "The file has column names but no members under them."),
        ("register.csv", b"colour,size\nred,3\n", "The file has no column for: name"),
        ("register.csv", b"name,phone\nAmina W,0712000001\n", "The file has no column for: zone"),
        ("register.csv", b'name,zone\n"Amina,Mabatini\n', "could not be read as CSV"),
    ],
)
def test_unreadable_files_give_a_clear_message(app, chair, filename, content, message):
    response = upload(chair, content, filename)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in page
    assert 'class="flash error"' in page or 'class="error"' in page
    assert token_in(response) is None
    assert member_count(app) == 0


def test_a_zip_that_is_not_a_workbook_and_a_broken_workbook(app, chair):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    broken = xlsx_bytes([row()])[:-200]
    for content in (out.getvalue(), broken):
        page = upload(chair, content, "register.xlsx").get_data(as_text=True)
        assert "This file is not a readable Excel (.xlsx) file." in page
    assert member_count(app) == 0


TOO_BIG = "This workbook is too big to read safely"


@pytest.mark.committed(reason="the upload runs in another process, which must see the chair")
def test_a_zip_bomb_register_is_refused_in_little_memory(app, setup_association):
    """~300 KiB that unpacks to 100 MiB: refused from the ZIP's directory, before a row is
    read; the process that took the upload peaks well under 200 MiB; nothing is staged."""
    bomb = zipbombs.bomb_workbook(tuple(HEADER))
    assert len(bomb) < 400 * 1024
    answer = upload_probe.upload(app, "chair", "/members/import", "register.xlsx", bomb)
    assert answer.status == 200
    assert TOO_BIG in answer.body and 'class="flash error"' in answer.body
    assert TOKEN_RE.search(answer.body) is None
    assert answer.peak_mib < 200, answer.peak_mib
    assert member_count(app) == 0
    assert staged_files(app) == []


@pytest.mark.committed(reason="the upload runs in another process, which must see the chair")
@pytest.mark.parametrize("bomb", [zipbombs.styles_bomb_workbook, zipbombs.strings_bomb_workbook])
def test_a_styles_or_shared_strings_bomb_register_is_refused_in_little_memory(
        app, setup_association, bomb):
    """The security review's bombs, under every cap of the whole workbook: styles of
    48 MiB of cell formats (~3 MiB uploaded; 790 MiB and 11.6 s before), two million
    shared strings (~1 MiB uploaded). openpyxl parses both whole: refused by their own
    caps, quickly, the process well under 200 MiB, nothing staged."""
    content = bomb(tuple(HEADER))
    assert len(content) < app.config["MAX_CONTENT_LENGTH"]
    answer = upload_probe.upload(app, "chair", "/members/import", "register.xlsx", content)
    assert answer.status == 200
    assert TOO_BIG in answer.body and 'class="flash error"' in answer.body
    assert TOKEN_RE.search(answer.body) is None
    assert answer.peak_mib < 200, answer.peak_mib
    assert member_count(app) == 0
    assert staged_files(app) == []


def test_a_twenty_thousand_row_register_as_excel_saves_it_is_read(app, chair):
    """Every text in the shared strings (~120,000 of them, 3 MiB): within their caps."""
    rows = [row(f"Amina{n}", f"Wanjiku Njeri{n}", f"07{12_000_000 + n:08d}",
                f"{20_000_000 + n}", plot=f"Plot {n}", house=f"House {n}")
            for n in range(20_000)]
    content = zipbombs.shared_strings_workbook([HEADER, *rows])
    chair.get("/members/import")
    # A multipart body built in memory: the test client would spool it to an unclosed file.
    boundary, body = encode_multipart(MultiDict({
        "csrf_token": chair.token or chair._refresh_token("/members/import"),
        "file": FileStorage(io.BytesIO(content), "register.xlsx")}))
    page = chair.client.post("/members/import", data=body,
                             content_type=f"multipart/form-data; boundary={boundary}"
                             ).get_data(as_text=True)
    assert "20000 rows read." in page
    assert "Every row is ready to import." in page
    assert member_count(app) == 0


@pytest.mark.parametrize(("attack", "message"), [
    (zipbombs.many_parts_workbook, TOO_BIG),
    (zipbombs.entity_workbook, TOO_BIG),
    (lambda: zipbombs.entity_workbook("xl/workbook.xml"), TOO_BIG),
    (lambda: zipbombs.dense_styles_workbook(tuple(HEADER)), TOO_BIG),
    # Its directory says 1 KiB: reading stops there, and the part's checksum fails.
    (lambda: zipbombs.lying_workbook(tuple(HEADER)),
     "This file is not a readable Excel (.xlsx) file."),
])
def test_workbooks_that_attack_the_reader_are_refused(app, chair, attack, message):
    response = upload(chair, attack(), "register.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in page and 'class="flash error"' in page
    assert token_in(response) is None
    assert member_count(app) == 0
    assert staged_files(app) == []


def test_the_too_big_message_in_swahili(app, chair):
    chair.post("/language", {"language": "sw"})
    page = upload(chair, zipbombs.many_parts_workbook(), "register.xlsx").get_data(as_text=True)
    assert "Kitabu hiki cha Excel ni kikubwa mno" in page
    assert member_count(app) == 0


def test_no_file_chosen(chair):
    response = chair.post("/members/import", {}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "Choose the file to import." in response.get_data(as_text=True)


def test_too_many_rows(app, chair):
    app.config["IMPORT_MAX_ROWS"] = 2
    rows = [row("A", "One", "0712000061"), row("B", "Two", "0712000062"),
            row("C", "Three", "0712000063")]
    page = upload(chair, csv_bytes(rows)).get_data(as_text=True)
    assert "The file has more than 2 members." in page
    page = upload(chair, xlsx_bytes(rows), "register.xlsx").get_data(as_text=True)
    assert "more than 2 members" in page
    assert "Every row is ready" in upload(chair, csv_bytes(rows[:2])).get_data(as_text=True)
    assert member_count(app) == 0


def test_an_oversized_upload_gets_the_413_page(app, chair):
    chair.get("/members/import")
    app.config["MAX_CONTENT_LENGTH"] = 2000
    rows = [row(f"Name{i}", "Big", f"07120001{i:02d}") for i in range(60)]
    response = upload(chair, csv_bytes(rows))
    assert response.status_code == 413
    assert "File too large" in response.get_data(as_text=True)
    assert "(at most 1 KB)" in response.get_data(as_text=True)
    assert member_count(app) == 0


def test_tampered_or_another_users_token_is_refused(app, web, make_user):
    make_user("secretary2", Role.SECRETARY)
    web.login("chair")
    token = token_in(upload(web, csv_bytes([row()])))
    assert token

    web.logout()
    web.login("secretary2")
    refused = web.post("/members/import/confirm", {"token": token}, follow_redirects=True)
    assert "expired or belongs to someone else" in refused.get_data(as_text=True)
    for bad in ("../../etc/passwd", "A" * 32, token + "x", "", "x" * 100):
        response = web.post("/members/import/confirm", {"token": bad}, follow_redirects=True)
        assert response.status_code == 200
        assert "Upload the file again" in response.get_data(as_text=True)
    assert member_count(app) == 0

    web.logout()
    web.login("chair")  # the owner's upload was not harmed by the attempts
    assert web.post("/members/import/confirm", {"token": token}).status_code in (302, 303)
    assert member_count(app) == 1


def test_confirm_needs_the_csrf_token(app, chair):
    token = token_in(upload(chair, csv_bytes([row()])))
    response = chair.client.post("/members/import/confirm", data={"token": token})
    assert response.status_code == 400
    assert member_count(app) == 0


@pytest.mark.parametrize("role", ["member", "coordinator", "treasurer", "auditor"])
def test_only_chair_and_secretary_import(web, people, role):
    web.login(role)
    assert web.get("/members/import").status_code == 403
    assert upload(web, csv_bytes([row()])).status_code == 403
    assert web.post("/members/import/confirm", {"token": "A" * 32}).status_code == 403


def test_secretary_can_import(app, web, people):
    web.login("secretary")
    response = upload(web, csv_bytes([row(phone="0712000071")]))
    assert web.post("/members/import/confirm", {"token": token_in(response)}).status_code in (
        302, 303)
    assert member_count(app) == 3


def test_the_upload_page_explains_the_columns(chair):
    page = chair.get("/members/import").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert "Jina la kwanza" in page
    assert "style=" not in page and "<script" not in page


# --- The import service ------------------------------------------------------------------


def test_messages_go_through_gettext(rctx):
    """Problem and file messages are lazy gettext strings, so they follow the user's language."""
    rows = [row("", "X", "123"), row(zone="Nowhere", category="Squatter", phone="0712000081")]
    preview = importing.parse_register("r.csv", csv_bytes(rows), today_in_nairobi())
    messages = [m for r in preview.rows for m in r.problems.values()]
    assert messages and all(isinstance(m, LazyString) for m in messages)
    with force_locale("sw"):
        assert all(str(m) for m in messages)
    with pytest.raises(importing.RegisterFileError) as error:
        importing.parse_register("r.csv", b"", today_in_nairobi())
    assert isinstance(error.value.message, LazyString)


def test_full_name_column_blank_rows_and_row_numbers(rctx):
    content = (
        "\ufeffFull Name\tZONE\tcategory\tPhone_Number\n"
        "Amina Wanjiku Mwangi\tMabatini\tresident\t0712000091\n"
        "\t\t\t\n"
        "Solo\tKosovo\tbusiness\t0712000092\n"
    ).encode()
    preview = importing.parse_register("r.csv", content, date(2025, 6, 1))
    first, second = preview.rows
    assert (first.number, first.data.first_name, first.data.other_names) == (
        2, "Amina", "Wanjiku Mwangi")
    assert second.number == 4
    assert "other_names" in second.problems  # one word is not a full name
    assert first.data.joined_on == date(2025, 6, 1) and first.remarks
    assert not preview.ok and preview.problem_count == 1 and preview.ok_count == 1
    assert preview.columns == {"full_name": "Full Name", "zone_id": "ZONE",
                               "category": "category", "phone": "Phone_Number"}


def test_old_excel_files_get_their_own_advice(rctx):
    with pytest.raises(importing.RegisterFileError, match=r"\.xls\)"):
        importing.parse_register("old.XLS", b"\xd0\xcf\x11\xe0", today_in_nairobi())


def test_confirm_import_refuses_a_bad_file(rctx, app):
    content = csv_bytes([row(), row()])  # the same phone twice
    with pytest.raises(importing.RegisterImportError) as error:
        importing.confirm_import("r.csv", content, None, today_in_nairobi())
    assert error.value.preview.rows[1].problems["phone"]
    assert count(Member) == 0


def test_staging_is_per_user_and_expires(rctx, app):
    folder = Path(app.config["UPLOAD_DIR"]) / "imports"
    token = importing.stage_upload("my register.csv", b"name,zone\n", user_id=7)
    assert importing.load_staged(token, 7) == ("my register.csv", b"name,zone\n")
    for user_id, bad_token in ((8, token), (7, "../" + token), (7, token[:-1] + "/"),
                               (7, "short"), (7, None)):
        with pytest.raises(importing.RegisterFileError):
            importing.load_staged(bad_token, user_id)

    sidecar = folder / f"{token}.json"
    data = json.loads(sidecar.read_text())
    data["staged_at"] = time.time() - 25 * 3600
    sidecar.write_text(json.dumps(data))
    with pytest.raises(importing.RegisterFileError):
        importing.load_staged(token, 7)

    old = time.time() - 25 * 3600
    for path in folder.glob(f"{token}.*"):
        os.utime(path, (old, old))
    fresh = importing.stage_upload("b.xlsx", b"PK", user_id=7)
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{fresh}.xlsx", f"{fresh}.json"])
    importing.discard_staged(fresh)
    importing.discard_staged("../../etc/passwd")  # ignored, not a path
    assert list(folder.iterdir()) == []


# --- Export --------------------------------------------------------------------------------


def export(web, fmt="csv", **args):
    query = "&".join(f"{k}={v}" for k, v in {"format": fmt, **args}.items())
    return web.get(f"/members/export?{query}")


def read_csv(response) -> list[list[str]]:
    data = response.data
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def read_xlsx(response) -> list[list]:
    workbook = load_workbook(io.BytesIO(response.data))
    sheet = workbook.worksheets[0]
    rows = [[cell.value for cell in r] for r in sheet.iter_rows()]
    assert all(cell.font.bold for cell in sheet[1])
    return rows


def test_export_csv_and_xlsx_contain_the_members(app, web, people):
    web.login("chair")
    response = export(web, "csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert f"members-{today_in_nairobi().isoformat()}.csv" in disposition
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response)
    assert rows[0][:3] == ["Member number", "First name", "Other names"]
    assert [r[0] for r in rows[1:]] == [people.own_member_no, people.other_member_no]
    own = rows[1]
    assert own[1:4] == ["Baraka", "Otieno", own[3]] and own[3].startswith("+2547")
    assert own[5] == "Female" and own[8] == "Resident / tenant" and own[10] == "Mabatini"
    assert own[13] == "2025-01-15" and own[14] == "Active"

    response = export(web, "xlsx")
    assert response.status_code == 200
    assert response.mimetype == exporting.XLSX_MIMETYPE
    disposition = response.headers["Content-Disposition"]
    assert f"members-{today_in_nairobi().isoformat()}.xlsx" in disposition
    rows = read_xlsx(response)
    assert [r[0] for r in rows[1:]] == [people.own_member_no, people.other_member_no]
    assert rows[1][6] == 1994 and isinstance(rows[1][13], datetime)
    assert rows[1][13].date() == date(2025, 1, 15)
    assert rows[2][4] == "23456789"


@pytest.mark.parametrize(("role", "shown"), [("chair", True), ("secretary", True),
                                             ("treasurer", False), ("auditor", False)])
def test_ids_are_masked_unless_the_role_may_see_them(web, people, role, shown):
    web.login(role)
    for fmt in ("csv", "xlsx"):
        response = export(web, fmt)
        assert response.status_code == 200
        rows = read_csv(response) if fmt == "csv" else read_xlsx(response)
        other = next(r for r in rows if r[0] == people.other_member_no)
        assert other[4] == ("23456789" if shown else mask_national_id("23456789"))
        assert (b"23456789" in response.data) is shown or fmt == "xlsx"


@pytest.mark.parametrize("role", ["member", "coordinator"])
def test_member_and_coordinator_cannot_export(web, people, role):
    web.login(role)
    assert export(web, "csv").status_code == 403
    assert export(web, "xlsx").status_code == 403


def test_unknown_export_format_is_400(web, people):
    web.login("chair")
    assert export(web, "pdf").status_code == 400
    assert web.get("/members/export").status_code == 400


def test_formula_cells_are_neutralised(web, make_member, setup_association):
    make_member(first_name="=HYPERLINK(\"http://evil.example\",\"x\")", other_names="@SUM(A1)",
                plot="+1+2", house="-3", notes="ok")
    web.login("chair")
    row_csv = read_csv(export(web, "csv"))[1]
    assert row_csv[1] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert row_csv[2] == "'@SUM(A1)"
    assert row_csv[11] == "'+1+2" and row_csv[12] == "'-3"
    assert row_csv[3].startswith("+254")  # a phone number is not a formula
    workbook = load_workbook(io.BytesIO(export(web, "xlsx").data))
    cells = list(workbook.worksheets[0].iter_rows(min_row=2, max_row=2))[0]
    assert cells[1].value.startswith("'=") and cells[1].data_type == "s"
    assert all(cell.data_type != "f" for cell in cells)


def test_the_export_applies_the_list_filters(app, web, make_member, setup_association):
    make_member(first_name="Amina", other_names="Zone One")
    with app.app_context(), acting_as("test"):
        zone2 = setup_association.zone2_id
        register_member(member_data(zone2, first_name="Baraka", other_names="Zone Two",
                                    category=Category.LANDLORD, rental_premises=2))
        register_member(member_data(zone2, first_name="Chebet", other_names="Zone Two"))
        db.session.commit()
    web.login("chair")

    def names(**filters):
        return [r[1] for r in read_csv(export(web, "csv", **filters))[1:]]

    assert names() == ["Amina", "Baraka", "Chebet"]
    assert names(zone=setup_association.zone2_id) == ["Baraka", "Chebet"]
    assert names(category="landlord") == ["Baraka"]
    assert names(q="chebet") == ["Chebet"]
    assert names(status="left") == []
    assert names(zone=setup_association.zone2_id, category="resident") == ["Chebet"]


def test_the_export_is_audited(app, web, people, runner):
    web.login("treasurer")
    export(web, "xlsx", category="resident")
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "export")
        ).one()
        assert event.object_type == "member" and event.actor == "treasurer"
        assert json.loads(event.after) == {"format": "xlsx", "rows": 2, "ids_shown": False}
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_export_rows_uses_one_query(rctx, app, make_member):
    for i in range(5):
        make_member(first_name=f"Person{i}")
    statements = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        rows = list(exporting.export_rows(MemberFilters(), show_ids=False))
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    assert len(rows) == 6
    assert len([s for s in statements if "FROM member" in s]) == 1


def test_script_in_an_imported_cell_is_escaped_in_the_preview(web, people):
    """Problem messages quote the cell; they must come back escaped, not as markup."""
    web.login("secretary")
    content = b"first name,surname,phone,zone\nAmina,Wanjiku,0712999001,<script>alert(1)</script>\n"
    page = web.post("/members/import",
                    {"file": (io.BytesIO(content), "register.csv")},
                    content_type="multipart/form-data").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
