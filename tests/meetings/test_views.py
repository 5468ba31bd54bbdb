"""The meetings screens, as the secretary, the chair, a member and the public use them."""

import io
import re
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as
from association.core.time import today_in_nairobi
from association.extensions import db
from association.ledger.models import DuesRate
from association.meetings.actions import add_action
from association.meetings.minutes import publish_minutes, save_minutes
from association.meetings.models import (
    ActionItem,
    Meeting,
    MeetingAttendance,
    MeetingType,
    MinutesStatus,
    Official,
    Resolution,
)
from association.meetings.quorum import quorum_rule
from association.meetings.resolutions import ResolutionInput, record_resolution
from association.members.models import Member
from tests.conftest import count
from tests.core import documents
from tests.meetings.conftest import pdf_text


def _meeting_form(**kw):
    data = {"type": "general", "title": "Monthly baraza", "held_on":
            (today_in_nairobi() - timedelta(days=2)).isoformat(), "starts_at": "10:00",
            "venue": "Chief's camp", "convener": "Chairperson",
            "notice_on": (today_in_nairobi() - timedelta(days=9)).isoformat(),
            "agenda": "Security report\nDues\nAOB"}
    data.update(kw)
    return data


def test_secretary_runs_a_meeting_end_to_end(app, web, people, crowd, tmp_path):
    web.login("secretary")
    response = web.post("/meetings/new", _meeting_form())
    assert response.status_code in (302, 303)
    with app.app_context():
        meeting = db.session.scalar(sa.select(Meeting))
        meeting_id, items = meeting.id, [i.id for i in meeting.agenda]
        members = [db.session.get(Member, i) for i in crowd[:6]]
        numbers = [m.member_no for m in members]
        phone = members[1].phone
    page = web.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert "Security report" in page and "Monthly baraza" in page
    # Search by number and by phone, then mark present.
    found = web.get(f"/meetings/{meeting_id}/attendance?q={numbers[0]}").get_data(as_text=True)
    assert "Person0" in found
    found = web.get(f"/meetings/{meeting_id}/attendance?q={phone}").get_data(as_text=True)
    assert "Person1" in found
    for member_id in crowd[:6]:
        assert web.post(f"/meetings/{meeting_id}/attendance",
                        {"member_id": member_id, "status": "present"}).status_code == 302
    web.post(f"/meetings/{meeting_id}/guests", {"name": "Insp. Wafula", "role": "OCS",
                                                "organisation": "Pangani police"})
    page = web.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert "quorum reached" in page and "youth (18-35) 4" in page
    # Votes adding up to more than those present: a message, nothing saved.
    bad = {"kind": "general", "text": "Buy torches", "proposer": "A", "seconder": "B",
           "votes_for": "6", "votes_against": "1", "votes_abstain": "0", "majority": "simple"}
    page = web.post(f"/meetings/{meeting_id}/resolutions/new", bad).get_data(as_text=True)
    assert "7 votes were recorded but only 6" in page
    with app.app_context():
        assert count(Resolution) == 0
    assert web.post(f"/meetings/{meeting_id}/resolutions/new",
                    dict(bad, votes_for="5")).status_code == 302
    # A dues resolution with rates typed one per line.
    dues = dict(bad, kind="dues", text="New dues", votes_for="6", votes_against="0",
                effective_from=f"{today_in_nairobi().year + 1}-01",
                rates="resident 50\nlandlord 1-2 300\nlandlord 3+ 600\nbusiness 200")
    response = web.post(f"/meetings/{meeting_id}/resolutions/new", dues)
    assert response.status_code == 302, re.findall(r'class="(?:flash error|error)"[^>]*>([^<]*)',
                                                   response.get_data(as_text=True))
    with app.app_context():
        assert {r.resolution_ref for r in db.session.scalars(sa.select(DuesRate))} == {
            f"General baraza {(today_in_nairobi() - timedelta(days=2)).isoformat()}, "
            "resolution 2"}
    page = web.post(f"/meetings/{meeting_id}/resolutions/new",
                    dict(dues, rates="resident fifty")).get_data(as_text=True)
    assert "Line 1" in page
    web.post(f"/meetings/{meeting_id}/actions", {"description": "Buy six torches",
                                                 "owner": "Treasurer", "due_on": ""})
    web.post(f"/meetings/{meeting_id}/minutes/edit", {
        "language": "sw", f"discussion-{items[0]}": "OCS aliripoti wizi umepungua.",
        f"decisions-{items[0]}": "Tumshukuru OCS."})
    assert web.post(f"/meetings/{meeting_id}/minutes/circulate").status_code == 302
    with app.app_context():
        assert db.session.get(Meeting, meeting_id).minutes_status == MinutesStatus.CIRCULATED
    # The minutes PDF in both languages, read back.
    english = web.get(f"/meetings/{meeting_id}/minutes.pdf?lang=en")
    assert english.mimetype == "application/pdf"
    text = pdf_text(english.data, tmp_path)
    assert "Monthly baraza" in text and "Quorum" in text and "OCS aliripoti" in text
    assert "Resolution 1" in text and "Buy six torches" in text and "Chairperson" in text
    swahili = pdf_text(web.get(f"/meetings/{meeting_id}/minutes.pdf?lang=sw").data, tmp_path)
    assert "Katibu" in swahili and "Tarehe" in swahili  # labels in Swahili
    assert "OCS aliripoti" in swahili


def test_bad_input_gives_messages_and_saves_nothing(app, web, people, crowd):
    web.login("secretary")
    before = today_in_nairobi() - timedelta(days=2)
    for data, message in (
        ({"held_on": "not-a-date"}, "not-a-date is not a date. Write the day first"),
        ({"notice_on": (before + timedelta(days=1)).isoformat()}, "on or before the day"),
        ({"type": "party"}, "Not a valid choice"),
        ({"title": ""}, "This field is required"),
        ({"title": "x" * 500}, "160"),
    ):
        page = web.post("/meetings/new", _meeting_form(**data))
        assert page.status_code == 200, data
        assert message in page.get_data(as_text=True), data
    with app.app_context():
        assert count(Meeting) == 0
    assert web.get("/meetings/999999").status_code == 404
    assert web.post("/meetings/999999/attendance", {"member_id": "1",
                                                    "status": "present"}).status_code == 404
    assert web.post("/actions/999999/status", {"status": "done"}).status_code == 404
    huge = "9" * 20  # beyond any integer column: 404, not a database error
    for url in (f"/meetings/{huge}", f"/minutes/{huge}", f"/meetings/{huge}/minutes.pdf",
                f"/compliance/constitution/{huge}"):
        assert web.get(url).status_code == 404, url
    assert web.post(f"/actions/{huge}/status", {"status": "done"}).status_code == 404


def test_published_minutes_are_for_members_and_editing_them_is_refused(app, web, people,
                                                                       held_meeting):
    meeting_id = held_meeting(days_ago=30)
    draft_id = held_meeting(days_ago=3)
    with app.app_context(), acting_as("test"):
        meeting = db.session.get(Meeting, meeting_id)
        save_minutes(meeting, {meeting.agenda[0].id: ("Patrols went well.", None)}, "en")
        meeting.minutes_status = MinutesStatus.CONFIRMED
        publish_minutes(meeting)
        db.session.commit()
        item_id = meeting.agenda[0].id
    web.login("member")
    listing = web.get("/minutes").get_data(as_text=True)
    assert "Monthly baraza" in listing
    assert web.get(f"/minutes/{meeting_id}").status_code == 200
    assert web.get(f"/minutes/{draft_id}").status_code == 404
    assert web.get(f"/meetings/{meeting_id}/minutes.pdf").status_code == 200
    assert web.get(f"/meetings/{draft_id}/minutes.pdf").status_code == 404
    assert web.get(f"/meetings/{meeting_id}").status_code == 403
    web.logout()
    web.login("secretary")
    page = web.post(f"/meetings/{meeting_id}/minutes/edit",
                    {"language": "en", f"discussion-{item_id}": "Rewritten"},
                    follow_redirects=True).get_data(as_text=True)
    assert "cannot be changed" in page
    web.post(f"/meetings/{meeting_id}/addenda", {"text": "Correction: 12 patrols, not 11."})
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        assert meeting.agenda[0].discussion == "Patrols went well."
        assert [a.text for a in meeting.addenda] == ["Correction: 12 patrols, not 11."]


def test_wrong_roles_are_refused(web, people, held_meeting):
    meeting_id = held_meeting()
    web.login("treasurer")
    assert web.get(f"/meetings/{meeting_id}").status_code == 200
    assert web.post("/meetings/new", _meeting_form()).status_code == 403
    assert web.post(f"/meetings/{meeting_id}/attendance", {"member_id": "1",
                                                           "status": "present"}).status_code == 403
    assert web.get("/compliance").status_code == 403
    web.logout()
    web.login("auditor")
    assert web.get("/compliance").status_code == 200
    assert web.post("/compliance/record", {"kra_pin": "P051234567X"}).status_code == 403


def test_election_and_officials_register(app, web, people, crowd, held_meeting, tmp_path):
    meeting_id = held_meeting(meeting_type=MeetingType.AGM, present=6)
    with app.app_context():
        numbers = [db.session.get(Member, i).member_no for i in crowd[:3]]
    other_id = held_meeting(meeting_type=MeetingType.AGM, present=6, days_ago=60)
    web.login("chair")
    page = web.get(f"/meetings/{meeting_id}/elections/new").get_data(as_text=True)
    assert "First record the resolution that adopted the result" in page
    chair = {"office": "chair", "seats": "1", "candidates": f"{numbers[0]} 5\n{numbers[1]} 1"}
    page = web.post(f"/meetings/{meeting_id}/elections/new", chair,
                    follow_redirects=True).get_data(as_text=True)
    assert "Choose the resolution that adopted the result" in page
    adopt = {"kind": "election", "text": "The election results are adopted.", "proposer": "A",
             "seconder": "B", "votes_for": "5", "votes_against": "1", "votes_abstain": "0",
             "majority": "simple"}
    assert web.post(f"/meetings/{other_id}/resolutions/new", adopt).status_code == 302
    assert web.post(f"/meetings/{meeting_id}/resolutions/new",
                    dict(adopt, votes_for="1", votes_against="5")).status_code == 302
    assert web.post(f"/meetings/{meeting_id}/resolutions/new", adopt).status_code == 302
    with app.app_context():
        refs = {(r.meeting_id, r.passed): r.id for r in db.session.scalars(sa.select(Resolution))}
    # another meeting's resolution, or one that failed: a message, nobody in office
    for bad in (refs[(other_id, True)], refs[(meeting_id, False)], 99999):
        page = web.post(f"/meetings/{meeting_id}/elections/new", dict(chair, resolution_id=bad),
                        follow_redirects=True).get_data(as_text=True)
        assert "Not a valid choice" in page
    with app.app_context(), acting_as("test"):
        from association.meetings import governance
        with pytest.raises(governance.GovernanceError, match="not made at that meeting"):
            governance.record_election(
                db.session.get(Meeting, meeting_id), "chair", 1,
                governance.parse_candidates(chair["candidates"]), None,
                db.session.get(Resolution, refs[(other_id, True)]))
        db.session.rollback()
        assert count(Official) == 0
    adopted = refs[(meeting_id, True)]
    page = web.post(f"/meetings/{meeting_id}/elections/new", {
        "office": "chair", "seats": "1", "candidates": f"{numbers[0]} 3\n{numbers[1]} 3",
        "resolution_id": adopted}, follow_redirects=True).get_data(as_text=True)
    assert "tie for the last seat" in page
    page = web.post(f"/meetings/{meeting_id}/elections/new", {
        "office": "chair", "seats": "1", "candidates": f"{numbers[0]} 9\n{numbers[1]} 1",
        "resolution_id": adopted}, follow_redirects=True).get_data(as_text=True)
    assert "10 votes were recorded but only 6" in page
    response = web.post(f"/meetings/{meeting_id}/elections/new",
                        dict(chair, resolution_id=adopted))
    assert response.status_code == 302
    page = web.get("/officials").get_data(as_text=True)
    assert "Person0 Mwangi" in page and "due by" in page and "resolution 2" in page
    register = pdf_text(web.get("/officials.pdf").data, tmp_path)
    assert "Person0 Mwangi" in register and "resolution 2" in register
    with app.app_context():
        notice_id = db.session.scalar(sa.text("SELECT id FROM officials_notice"))
    notice = pdf_text(web.get(f"/officials/notices/{notice_id}.pdf").data, tmp_path)
    assert "Notice of change of officials" in notice and "Person0 Mwangi" in notice
    assert "resolution 2" in notice
    page = web.post("/officials/new", {"office": "treasurer", "member_no": numbers[2],
                                       "term_start": "2026-05-01", "term_end": "2026-04-01"},
                    follow_redirects=True).get_data(as_text=True)
    assert "before it starts" in page
    with app.app_context():
        assert count(Official) == 1


def test_registration_pack_downloads_complete(app, web, people, crowd, held_meeting, tmp_path):
    meeting_id = held_meeting(meeting_type=MeetingType.AGM, present=6)
    with app.app_context():
        numbers = [db.session.get(Member, i).member_no for i in crowd[:2]]
    web.login("chair")
    web.post(f"/meetings/{meeting_id}/resolutions/new", {
        "kind": "election", "text": "The election results are adopted.", "proposer": "A",
        "seconder": "B", "votes_for": "6", "votes_against": "0", "votes_abstain": "0",
        "majority": "simple"})
    with app.app_context():
        adopted = db.session.scalar(sa.select(Resolution.id))
    assert web.post(f"/meetings/{meeting_id}/elections/new", {
        "office": "secretary", "seats": "1", "candidates": f"{numbers[0]} 5\n{numbers[1]} 1",
        "resolution_id": adopted}).status_code == 302
    pdf = documents.pdf("Katiba")  # a real PDF: a bare "%PDF-" with no pages is refused
    response = web.post("/compliance/constitution", {
        "label": "2024", "adopted_on": "2024-03-01", "adopted_at_id": "",
        "document": (io.BytesIO(pdf), "katiba.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302
    page = web.post("/compliance/constitution", {
        "label": "2025", "adopted_on": "2025-03-01", "adopted_at_id": "",
        "document": (io.BytesIO(b"<html>x</html>"), "katiba.pdf")},
        content_type="multipart/form-data").get_data(as_text=True)
    assert "not a PDF" in page
    response = web.get("/compliance/pack.zip")
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as zf:
        names = set(zf.namelist())
        assert {"00-cover.pdf", "01-members-register.csv", "02-officials.pdf",
                "03-constitution.pdf", "06-income-and-expenditure.pdf",
                "07-financial-position.pdf"} <= names
        assert any(n.startswith("04-minutes-agm-") for n in names)
        register = zf.read("01-members-register.csv").decode("utf-8-sig")
        assert "23456789" in register  # the chair sees ID numbers
        cover = pdf_text(zf.read("00-cover.pdf"), tmp_path)
        assert "Registration pack" in cover and "03-constitution.pdf" in cover
        assert zf.read("03-constitution.pdf") == pdf
        officials = pdf_text(zf.read("02-officials.pdf"), tmp_path)
        assert "Person0 Mwangi" in officials and "resolution 1" in officials
        agm_minutes = next(n for n in names if n.startswith("04-minutes-agm-"))
        signed = pdf_text(zf.read(agm_minutes), tmp_path)
        assert "Person0 Mwangi" in signed  # the secretary elected signs the minutes
        assert "Elections" in signed and "Person1 Mwangi 1" in signed
    web.logout()
    web.login("auditor")
    with zipfile.ZipFile(io.BytesIO(web.get("/compliance/pack.zip").data)) as zf:
        assert "23456789" not in zf.read("01-members-register.csv").decode("utf-8-sig")
    page = web.get("/compliance").get_data(as_text=True)
    assert "Officials register complete" in page


def test_quorum_settings_screen(app, web, people):
    web.login("chair")
    page = web.post("/governance/quorum", {"meeting_type": "agm", "kind": "fraction",
                                           "numerator": "3", "denominator": "2"},
                    follow_redirects=True).get_data(as_text=True)
    assert "more than all the members" in page
    assert web.post("/governance/quorum", {"meeting_type": "agm", "kind": "fixed",
                                           "fixed_count": "25"}).status_code == 302
    with app.app_context():
        assert quorum_rule(MeetingType.AGM)[3] == 25


def test_action_status_and_attendance_removal(app, web, people, held_meeting, crowd):
    meeting_id = held_meeting()
    web.login("secretary")
    response = web.post(f"/meetings/{meeting_id}/attendance",
                        {"member_id": "9" * 20, "status": "present"})
    assert response.status_code == 302
    assert web.post(f"/meetings/{meeting_id}/attendance/{'9' * 20}/remove").status_code == 404
    web.logout()
    with app.app_context(), acting_as("test"):
        action = add_action(db.session.get(Meeting, meeting_id), "Fix the gate", "Chair",
                            None)
        db.session.commit()
        action_id = action.id
    web.login("secretary")
    web.post(f"/actions/{action_id}/status", {"status": "done"})
    web.post(f"/meetings/{meeting_id}/attendance/{crowd[0]}/remove")
    with app.app_context():
        assert db.session.get(ActionItem, action_id).status.value == "done"
        assert count(MeetingAttendance) == 5


def test_ledger_rates_link_to_the_resolution_and_commands(app, web, people, held_meeting,
                                                          runner, tmp_path):
    from datetime import date

    from association.ledger.dues import RateInput
    from association.meetings.models import ResolutionKind
    from association.members.models import Category

    meeting_id = held_meeting(meeting_type=MeetingType.AGM)
    with app.app_context(), acting_as("test"):
        meeting = db.session.get(Meeting, meeting_id)
        record_resolution(meeting, ResolutionInput(
            "Dues", "A", "B", 6, 0, 0, kind=ResolutionKind.DUES,
            effective_from=date(meeting.held_on.year + 1, 1, 1),
            rates=[RateInput(Category.RESIDENT, 5_000)]), None)
        db.session.commit()
        ref = db.session.scalar(sa.select(DuesRate.resolution_ref))
    web.login("auditor")
    response = web.get("/resolutions/for-rate", query_string={"ref": ref})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/meetings/{meeting_id}#resolution-1")
    assert web.get("/resolutions/for-rate?ref=nothing").status_code == 404
    result = runner.invoke(args=["meetings", "compliance"])
    assert result.exit_code == 1 and "[MISSING] Constitution" in result.output
    out = tmp_path / "pack.zip"
    result = runner.invoke(args=["meetings", "pack", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        assert "00-cover.pdf" in zf.namelist()
    assert runner.invoke(args=["meetings", "pack", "--out", str(out)]).exit_code != 0


def test_minutes_lifecycle_on_screen(app, web, people, held_meeting):
    first_id = held_meeting(days_ago=40)
    second_id = held_meeting(days_ago=5)
    with app.app_context():
        item_id = db.session.get(Meeting, first_id).agenda[0].id
    web.login("secretary")
    page = web.post(f"/meetings/{first_id}/minutes/circulate",
                    follow_redirects=True).get_data(as_text=True)
    assert "Write the minutes of at least one agenda item first." in page
    web.post(f"/meetings/{first_id}/minutes/edit",
             {"language": "en", f"discussion-{item_id}": "Patrols went well."})
    web.post(f"/meetings/{first_id}/minutes/circulate")
    web.logout()
    web.login("treasurer")
    web.post(f"/meetings/{first_id}/comments", {"text": "Add the stipend figures."})
    assert web.post(f"/meetings/{first_id}/minutes/publish").status_code == 403
    web.logout()
    web.login("secretary")
    assert "Add the stipend figures." in web.get(f"/meetings/{first_id}").get_data(as_text=True)
    form = web.get(f"/meetings/{second_id}/resolutions/new").get_data(as_text=True)
    assert f'value="{first_id}"' in form  # offered for confirmation
    confirm = {"kind": "confirm_minutes", "text": "Minutes confirmed", "proposer": "A",
               "seconder": "B", "votes_for": "5", "votes_against": "0", "votes_abstain": "0",
               "majority": "simple", "confirms_meeting_id": str(first_id)}
    assert web.post(f"/meetings/{second_id}/resolutions/new", confirm).status_code == 302
    page = web.post(f"/meetings/{second_id}/resolutions/new", confirm).get_data(as_text=True)
    assert "Not a valid choice" in page  # no longer offered: confirmed already
    web.post(f"/meetings/{first_id}/minutes/publish")
    with app.app_context():
        assert db.session.get(Meeting, first_id).minutes_status == MinutesStatus.PUBLISHED
        assert count(Resolution) == 1


def test_headcount_photo_upload_and_download(app, web, people, held_meeting):
    meeting_id = held_meeting(present=2)
    web.login("secretary")
    png = documents.photo("PNG")  # a real photo: a bare PNG header is refused
    page = web.post(f"/meetings/{meeting_id}/headcount",
                    {"headcount": "1", "sheet": (io.BytesIO(png), "sheet.png")},
                    content_type="multipart/form-data", follow_redirects=True)
    assert "less than the 2 members" in page.get_data(as_text=True)
    page = web.post(f"/meetings/{meeting_id}/headcount",
                    {"headcount": "-4"}, follow_redirects=True).get_data(as_text=True)
    assert "Number must be between 0 and 100000" in page
    page = web.post(f"/meetings/{meeting_id}/headcount",
                    {"headcount": "45", "sheet": (io.BytesIO(b"<svg onload=x>"), "s.png")},
                    content_type="multipart/form-data", follow_redirects=True)
    assert "not a photo" in page.get_data(as_text=True)
    assert web.get(f"/meetings/{meeting_id}/signin-sheet").status_code == 404
    web.post(f"/meetings/{meeting_id}/headcount",
             {"headcount": "45", "sheet": (io.BytesIO(png), "sheet.png")},
             content_type="multipart/form-data")
    sheet = web.get(f"/meetings/{meeting_id}/signin-sheet")
    assert sheet.data == png and sheet.mimetype == "image/png"
    assert sheet.headers["X-Content-Type-Options"] == "nosniff"
    assert sheet.headers["Content-Disposition"].startswith("attachment")
    assert "45" in web.get(f"/meetings/{meeting_id}").get_data(as_text=True)


def test_a_meeting_recorded_by_mistake_can_be_deleted_until_something_is_decided(
        app, web, people, held_meeting):
    mistake = held_meeting(present=3)
    decided = held_meeting()
    with app.app_context(), acting_as("test"):
        add_action(db.session.get(Meeting, decided), "Fix the gate", "Chair", None)
        db.session.commit()
    web.login("secretary")
    page = web.post(f"/meetings/{decided}/delete", follow_redirects=True).get_data(as_text=True)
    assert "cannot be deleted" in page
    assert web.post(f"/meetings/{mistake}/delete").status_code == 302
    with app.app_context():
        assert db.session.get(Meeting, mistake) is None
        assert db.session.get(Meeting, decided) is not None
        assert count(MeetingAttendance) == 6


def test_edit_a_meeting_and_read_the_settings_pages(app, web, people, held_meeting):
    meeting_id = held_meeting()
    web.login("secretary")
    page = web.get(f"/meetings/{meeting_id}/edit").get_data(as_text=True)
    assert 'value="Monthly baraza"' in page
    data = _meeting_form(title="Baraza (moved to the school)", agenda="")
    assert web.post(f"/meetings/{meeting_id}/edit", data).status_code == 302
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        assert meeting.title == "Baraza (moved to the school)" and meeting.starts_at == "10:00"
        assert len(meeting.agenda) == 2  # the agenda is kept
    for url in ("/governance/quorum", "/officials", "/officials/new", "/compliance/record",
                "/compliance/constitution", "/minutes", f"/meetings/{meeting_id}/attendance",
                f"/meetings/{meeting_id}/minutes/edit", f"/meetings/{meeting_id}/elections/new",
                "/officials.pdf"):
        assert web.get(url).status_code == 200, url


#: The form's messages for an edit that sends nothing, and for one that sends nonsense.
EDIT_MESSAGES = {
    "en": {"empty": ["Enter the date of the meeting."],
           "invalid": ["This field is required.", "Write the time as HH:MM, e.g. 14:30.",
                       "soon is not a date. Write the day first, e.g. 7 Dec 2026"]},
    "sw": {"empty": ["Weka tarehe ya mkutano."],
           "invalid": ["Sehemu hii lazima ijazwe.", "Andika saa kama SS:DD, kwa mfano 14:30.",
                       "soon si tarehe. Andika siku kwanza, k.m. 7 Des 2026"]},
}


@pytest.mark.parametrize("lang", ["en", "sw"])
@pytest.mark.parametrize("case", ["empty", "invalid"])
def test_editing_a_meeting_with_bad_data_gives_the_form_back(app, web, people, held_meeting,
                                                             lang, case):
    """A POST that leaves the fields out (or fills them with nonsense) gets the form back with
    messages in the user's language, the stored start time still shown, and changes nothing
    (the stored "HH:MM" text once reached the time field and rendering it was a 500)."""
    meeting_id = held_meeting()
    with app.app_context():
        db.session.get(Meeting, meeting_id).starts_at = "18:30"
        db.session.commit()
    web.login("secretary")
    with web.client.session_transaction() as session:
        session["lang"] = lang
    data = {} if case == "empty" else {"type": "general", "title": "", "held_on": "soon",
                                       "starts_at": "25:99", "venue": "x", "convener": "y"}
    response = web.post(f"/meetings/{meeting_id}/edit", data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for message in EDIT_MESSAGES[lang][case]:
        assert message in page, message
    shown = "18:30" if case == "empty" else "25:99"
    assert re.search(rf'name="starts_at"[^>]*value="{shown}"', page)
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        assert (meeting.title, meeting.starts_at) == ("Monthly baraza", "18:30")


def test_circulated_minutes_notify_the_committee_until_they_comment(app, web, people,
                                                                    held_meeting):
    meeting_id = held_meeting(meeting_type=MeetingType.COMMITTEE)
    with app.app_context(), acting_as("test"):
        meeting = db.session.get(Meeting, meeting_id)
        save_minutes(meeting, {meeting.agenda[0].id: ("Break-ins are down.", None)}, "en")
        db.session.commit()
    notice = "are circulated to the committee for your comments"
    web.login("treasurer")
    assert notice not in web.get("/meetings").get_data(as_text=True)  # still a draft
    web.logout()
    web.login("secretary")
    assert web.post(f"/meetings/{meeting_id}/minutes/circulate").status_code == 302
    web.logout()
    web.login("treasurer")
    page = web.get("/meetings").get_data(as_text=True)
    assert notice in page and f"/meetings/{meeting_id}#comments" in page
    assert web.post(f"/meetings/{meeting_id}/comments",
                    {"text": "Add the OCS's name."}).status_code == 302
    assert notice not in web.get("/meetings").get_data(as_text=True)
    web.logout()
    web.login("coordinator")  # the coordinator starts on the roster: the notice is there too
    assert notice in web.get("/patrols/").get_data(as_text=True)
    web.logout()
    web.login("auditor")  # reads meetings but is not asked to comment
    assert notice not in web.get("/meetings").get_data(as_text=True)
    web.logout()
    # back to draft and circulated again: the treasurer is asked again
    web.login("secretary")
    web.post(f"/meetings/{meeting_id}/minutes/redraft")
    web.post(f"/meetings/{meeting_id}/minutes/circulate")
    web.logout()
    web.login("treasurer")
    assert notice in web.get("/meetings").get_data(as_text=True)
