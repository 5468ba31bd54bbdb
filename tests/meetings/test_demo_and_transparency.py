"""The demo's meetings, and the public transparency page that must never show a person."""

import io
import re
import zipfile
from datetime import timedelta

import sqlalchemy as sa

from association.core.phones import display_phone
from association.core.time import today_in_nairobi
from association.extensions import db
from association.ledger.models import DuesRate
from association.meetings import governance
from association.meetings.models import (
    Meeting,
    MeetingType,
    MinutesStatus,
    ResolutionKind,
    ResolutionRate,
)
from association.members.models import Member
from tests.meetings.conftest import pdf_text


def test_demo_meetings_and_a_transparency_page_without_personal_data(app, runner, web,
                                                                      tmp_path):
    result = runner.invoke(args=["seed-demo", "--members", "60"])
    assert result.exit_code == 0, result.output
    today = today_in_nairobi()
    with app.app_context():
        meetings = db.session.scalars(sa.select(Meeting)).all()
        barazas = [m for m in meetings if m.type == MeetingType.GENERAL]
        assert len(barazas) >= 10
        assert any(m.type == MeetingType.COMMITTEE and m.actions for m in meetings)
        published = [m for m in meetings if m.minutes_status == MinutesStatus.PUBLISHED]
        assert {m.minutes_language for m in published} == {"en", "sw"}
        agm = governance.last_meeting(MeetingType.AGM, today)
        assert agm.held_on >= today - timedelta(days=365)
        officials = governance.current_officials(today)
        assert officials and {o.elected_at_id for o in officials} == {agm.id}
        electing = {o.resolution for o in officials}
        assert len(electing) == 1 and None not in electing
        (resolution,) = electing
        assert resolution.meeting_id == agm.id and resolution.passed
        assert resolution.kind == ResolutionKind.ELECTION
        assert any(link.resolution.meeting_id == agm.id
                   for link in db.session.scalars(sa.select(ResolutionRate)))
        # The rates in force today were decided by last year's AGM, and the books say so.
        linked = {link.dues_rate_id for link in db.session.scalars(sa.select(ResolutionRate))}
        assert {r.id for r in db.session.scalars(sa.select(DuesRate))} == linked
        checks = {str(c.label): c.state for c in governance.compliance(today)}
        assert checks["AGM held within the last 12 months"] == governance.OK
        assert checks["Officials register complete"] == governance.OK
        people = [(m.full_name, m.phone, m.national_id, m.member_no)
                  for m in db.session.scalars(sa.select(Member))]
    page = web.get("/transparency")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Money collected" in html and "Paying members" in html
    month = today.replace(day=1) - timedelta(days=1)
    sheet = web.get(f"/transparency/{month:%Y-%m}.pdf")
    assert sheet.mimetype == "application/pdf"
    text = pdf_text(sheet.data, tmp_path)
    assert "Money collected" in text
    assert int(re.search(r"Pages:\s+(\d+)", _pdfinfo(sheet.data, tmp_path)).group(1)) == 1
    flat_html = re.sub(r"\s+", " ", html)
    flat_pdf = re.sub(r"\s+", " ", text)
    for name, phone, national_id, number in people:
        for value in (name, phone, national_id, number, display_phone(phone) if phone else None,
                      "0" + phone[4:] if phone else None):
            if value:
                assert value not in flat_html, value
                assert value not in flat_pdf, value
    assert web.get("/transparency/2099-01.pdf").status_code == 404
    assert web.get("/transparency/garbage.pdf").status_code == 404
    # The registration pack of the demo is complete.
    web.login("secretary")
    with zipfile.ZipFile(io.BytesIO(web.get("/compliance/pack.zip").data)) as zf:
        names = zf.namelist()
    assert "03-constitution.pdf" in names
    assert any(n.startswith("04-minutes-agm-") for n in names)
    assert any(n.startswith("05-minutes-election-") for n in names) is False  # same AGM
    # A member reads published minutes in both languages.
    web.logout()
    web.login("member")
    listing = web.get("/minutes").get_data(as_text=True)
    assert "Monthly baraza" in listing and "Annual general meeting" in listing


def _pdfinfo(content: bytes, tmp_path) -> str:
    import shutil
    import subprocess

    path = tmp_path / "info.pdf"
    path.write_bytes(content)
    return subprocess.run([shutil.which("pdfinfo"), str(path)], capture_output=True,  # noqa: S603
                          check=True, text=True).stdout


def _cells(html: str) -> list[list[str]]:
    """The incident table's rows (header cells and data cells), as text."""
    table = html.split("Incidents by zone", 1)[1].split("</table>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<t[hd][^>]*>.*?</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]


def test_transparency_incident_counts_never_show_a_small_count_or_a_person(
        app, web, setup_association, tmp_path):
    from datetime import datetime, time

    from association.audit.services import acting_as
    from association.patrols.incidents import IncidentData, record_incident
    from association.patrols.models import IncidentCategory as C

    month = today_in_nairobi().replace(day=1) - timedelta(days=1)
    month = month.replace(day=1)
    mabatini, kosovo = setup_association.zone_id, setup_association.zone2_id
    plan = [(mabatini, C.HOUSE_BREAKIN, 5), (mabatini, C.MUGGING, 1), (mabatini, C.ASSAULT, 2),
            (kosovo, C.HOUSE_BREAKIN, 4), (kosovo, C.GBV, 1)]
    with app.app_context(), acting_as("test"):
        day = 0
        for zone_id, category, n in plan:
            for _i in range(n):
                day += 1
                record_incident(IncidentData(
                    datetime.combine(month.replace(day=day), time(22, 30)), zone_id,
                    "Behind Plot 12, Kiamutisya lane", category,
                    "Mama Wanjiru Njeri (0712 345 678, ID 23456789) was attacked by Otieno.",
                    ["to_police"], police_station="Pangani", ob_number="OB 17/11/2026",
                    police_officer="PC Kiprono", reporter_name="Baraka Ochieng",
                    reporter_phone="0722 111 222", person_description="Tall man, red cap"),
                    None)
        db.session.commit()
    html = web.get("/transparency").get_data(as_text=True)
    section = html.split(month.strftime("%B %Y"), 1)[1].split("</section>", 1)[0]
    rows = _cells(section)
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header == ["Zone", "House break-in", "Mugging", "Assault", "Gender-based violence",
                      "Total"]
    assert body == [
        ["Kosovo", "4", "0", "0", "fewer than 3", "5 to 6"],
        ["Mabatini", "5", "fewer than 3", "fewer than 3", "0", "7 to 9"],
    ]
    assert total == ["Total", "9", "fewer than 3", "fewer than 3", "fewer than 3", "12 to 15"]
    # No cell is a count of one or two, and no exact total covers a folded cell.
    for row in body + [total]:
        assert not set(row[1:]) & {"1", "2"}
        if "fewer than 3" in row[1:-1]:
            assert " to " in row[-1] or row[-1] == "fewer than 3"
    for column in range(1, len(header) - 1):
        folded = any(row[column] == "fewer than 3" for row in body)
        assert not folded or not total[column].isdigit()
    sheet = pdf_text(web.get(f"/transparency/{month:%Y-%m}.pdf").data, tmp_path)
    flat = re.sub(r"\s+", " ", sheet)
    assert "fewer than 3" in flat and "12 to 15" in flat and "7 to 9" in flat
    assert not re.search(r"\b[12]\b(?! to)", flat.split("Incidents by zone", 1)[1]
                         .split("To protect", 1)[0].replace("fewer than 3", ""))
    for secret in ("Wanjiru", "Njeri", "0712", "345 678", "23456789", "Plot 12", "Kiamutisya",
                   "Otieno", "Pangani", "OB 17", "Kiprono", "Baraka", "0722", "red cap",
                   "attacked"):
        assert secret not in html, secret
        assert secret not in flat, secret
