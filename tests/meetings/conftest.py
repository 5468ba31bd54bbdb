"""Builders for meetings tests: a held meeting with attendance, a PDF reader."""

import shutil
import subprocess
from datetime import date, timedelta

import pytest

from association.audit.services import acting_as
from association.core.time import today_in_nairobi
from association.extensions import db
from association.meetings.attendance import mark_attendance
from association.meetings.meetings import MeetingData, create_meeting
from association.meetings.models import AttendanceStatus, MeetingType
from association.members.models import Gender, Member


def pdf_text(content: bytes, tmp_path) -> str:
    """The text of a PDF, read back with poppler's pdftotext."""
    tool = shutil.which("pdftotext")
    assert tool, "install poppler-utils"
    path = tmp_path / "read.pdf"
    path.write_bytes(content)
    result = subprocess.run([tool, "-layout", str(path), "-"], capture_output=True,  # noqa: S603
                            check=True)
    return result.stdout.decode()


@pytest.fixture
def crowd(app, make_member):
    """Twelve members: 7 women (4 of them youth), 5 men (1 youth); ids in order."""
    this_year = today_in_nairobi().year
    ids = []
    for i in range(12):
        female = i < 7
        youth = (i < 4) or i == 7
        ids.append(make_member(
            first_name=f"Person{i}", other_names="Mwangi",
            gender=Gender.FEMALE if female else Gender.MALE,
            year_of_birth=this_year - (25 if youth else 50),
            joined_on=date(2024, 1, 10))[0])
    return ids


@pytest.fixture
def held_meeting(app, crowd):
    """A general baraza held a week ago with 6 of the 12 present; returns its id."""

    def make(meeting_type=MeetingType.GENERAL, present=6, days_ago=7, agenda=None):
        with app.app_context(), acting_as("test"):
            meeting = create_meeting(MeetingData(
                type=meeting_type, title="Monthly baraza", venue="Chief's camp",
                convener="The chairperson",
                held_on=today_in_nairobi() - timedelta(days=days_ago),
                notice_on=today_in_nairobi() - timedelta(days=days_ago + 7),
                agenda=agenda or ["Security report", "Dues"]), None)
            for member_id in crowd[:present]:
                mark_attendance(meeting, db.session.get(Member, member_id),
                                AttendanceStatus.PRESENT)
            db.session.commit()
            return meeting.id

    return make
