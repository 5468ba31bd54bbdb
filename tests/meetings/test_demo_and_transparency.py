"""The demo's meetings, and the public transparency page that must never show a person."""

import io
import re
import zipfile
from datetime import timedelta

import sqlalchemy as sa

from association.extensions import db
from association.ledger.models import DuesRate
from association.ledger.services import today_in_nairobi
from association.meetings import governance
from association.meetings.models import (
    Meeting,
    MeetingType,
    MinutesStatus,
    ResolutionRate,
)
from association.members.models import Member
from association.phones import display_phone
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
