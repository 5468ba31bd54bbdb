"""Meetings and governance rules, against the real database."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as
from association.core.time import today_in_nairobi
from association.extensions import db
from association.ledger.dues import RateInput, schedule_for
from association.ledger.models import DuesRate
from association.meetings import governance
from association.meetings.actions import add_action, set_action_status
from association.meetings.attendance import add_guest, mark_attendance, remove_guest, set_headcount
from association.meetings.common import MeetingError, MinutesLockedError, resolution_ref
from association.meetings.meetings import (
    MeetingData,
    add_agenda_item,
    create_meeting,
    move_agenda_item,
    remove_agenda_item,
)
from association.meetings.minutes import (
    add_addendum,
    add_comment,
    can_read_minutes,
    circulate_minutes,
    publish_minutes,
    published_for_members,
    save_minutes,
)
from association.meetings.models import (
    ActionStatus,
    AgendaItem,
    AttendanceStatus,
    Election,
    MajorityRule,
    Meeting,
    MeetingType,
    MinutesStatus,
    Office,
    Official,
    OfficialsNotice,
    QuorumKind,
    Resolution,
    ResolutionKind,
    ResolutionRate,
)
from association.meetings.quorum import (
    DEFAULT_QUORUM,
    active_members_on,
    attendance_counts,
    quorum_for,
    quorum_rule,
    set_quorum_rule,
)
from association.meetings.resolutions import (
    ResolutionInput,
    passes,
    record_resolution,
    resolution_for_rate_ref,
)
from association.members.models import Category, Member
from tests.conftest import count
from tests.core import documents


def _vote(text="Resolved to buy six torches", f=5, a=1, ab=0, **kw):
    return ResolutionInput(text=text, proposer="Amina W.", seconder="Baraka O.",
                           votes_for=f, votes_against=a, votes_abstain=ab, **kw)


@pytest.fixture
def s(app):
    with app.app_context(), acting_as("test"):
        yield
        db.session.rollback()


def _data(**kw):
    values = dict(type=MeetingType.GENERAL, title="Baraza", held_on=today_in_nairobi(),
                  venue="Chief's camp", convener="Chair")
    values.update(kw)
    return MeetingData(**values)


# --- Meetings -----------------------------------------------------------------------


def test_meeting_before_the_association_was_founded_is_refused(setup_association, s):
    governance.save_record(governance.RecordData(founded_on=date(2019, 3, 1)))
    with pytest.raises(MeetingError, match="before the association was founded"):
        create_meeting(_data(held_on=date(2019, 2, 28)), None)
    with pytest.raises(MeetingError, match="at most a year ahead"):
        create_meeting(_data(held_on=today_in_nairobi() + timedelta(days=400)), None)
    with pytest.raises(MeetingError, match="notice"):
        create_meeting(_data(notice_on=today_in_nairobi() + timedelta(days=1)), None)
    with pytest.raises(MeetingError, match="Venue"):
        create_meeting(_data(venue="   "), None)
    assert count(Meeting) == 0


def test_founding_date_after_a_recorded_meeting_is_refused(setup_association, s):
    create_meeting(_data(held_on=date(2020, 5, 1)), None)
    with pytest.raises(governance.GovernanceError, match="before that founding date"):
        governance.save_record(governance.RecordData(founded_on=date(2021, 1, 1)))


def test_agenda_keeps_its_order_and_open_actions_carry_forward(setup_association, s):
    first = create_meeting(_data(held_on=today_in_nairobi() - timedelta(days=30),
                                 agenda=["Opening prayer", "Security", "AOB"]), None)
    move_agenda_item(first.agenda[2], up=True)
    assert [i.title for i in first.agenda] == ["Opening prayer", "AOB", "Security"]
    remove_agenda_item(first.agenda[0])
    assert [(i.position, i.title) for i in first.agenda] == [(1, "AOB"), (2, "Security")]
    open_action = add_action(first, "Buy whistles for the patrols", "Treasurer", None)
    done = add_action(first, "Write to the chief", "Secretary", None)
    set_action_status(done, ActionStatus.DONE)
    committee = create_meeting(_data(type=MeetingType.COMMITTEE, agenda=["Roster"]), None)
    assert all(i.carried_action_id is None for i in committee.agenda)  # other family
    second = create_meeting(_data(agenda=["Confirmation of minutes", "AOB"]), None)
    carried = [i for i in second.agenda if i.carried_action_id]
    assert [i.carried_action_id for i in carried] == [open_action.id]
    assert [i.title for i in second.agenda] == [
        "Confirmation of minutes", "Matters arising: Buy whistles for the patrols (Treasurer)",
        "AOB"]
    with pytest.raises(MeetingError, match="due date"):
        add_action(second, "Late", "Chair", second.held_on - timedelta(days=1))


# --- Attendance and quorum ------------------------------------------------------------


def test_counts_by_gender_and_youth_and_quorum(app, crowd, held_meeting, s):
    meeting = db.session.get(Meeting, held_meeting(present=6))
    counts = attendance_counts(meeting)
    assert (counts.total, counts.women, counts.men, counts.youth) == (6, 6, 0, 4)
    quorum = quorum_for(meeting)
    assert quorum.active == 12 and quorum.required == 4 and quorum.met
    set_quorum_rule(MeetingType.GENERAL, QuorumKind.FRACTION, 2, 3, None)
    quorum = quorum_for(meeting)
    assert quorum.required == 8 and not quorum.met
    set_quorum_rule(MeetingType.GENERAL, QuorumKind.FIXED, None, None, 6)
    assert quorum_for(meeting).met
    guest = add_guest(meeting, "Insp. Wafula", "OCS Pangani", "National Police Service")
    assert attendance_counts(meeting).guests == 1
    remove_guest(meeting, guest.id)
    member = db.session.get(Member, crowd[7])
    mark_attendance(meeting, member, AttendanceStatus.APOLOGY)
    assert attendance_counts(meeting).apologies == 1


@pytest.mark.parametrize("args, message", [
    ((QuorumKind.FRACTION, 3, 2, None), "more than all"),
    ((QuorumKind.FRACTION, 0, 3, None), "fraction"),
    ((QuorumKind.FRACTION, None, None, None), "fraction"),
    ((QuorumKind.FIXED, None, None, 0), "at least 1"),
    ((QuorumKind.FIXED, None, None, 10**9), "too large"),
])
def test_quorum_settings_that_make_no_sense(setup_association, s, args, message):
    with pytest.raises(MeetingError, match=message):
        set_quorum_rule(MeetingType.AGM, *args)
    assert quorum_rule(MeetingType.AGM) == DEFAULT_QUORUM[MeetingType.AGM]


def test_quorum_counts_members_active_on_the_meeting_day(app, crowd, held_meeting, s):
    from association.members.models import MemberStatus
    from association.members.services import change_status

    meeting = db.session.get(Meeting, held_meeting())
    leaver = db.session.get(Member, crowd[11])
    change_status(leaver, MemberStatus.LEFT, today_in_nairobi(), "Moved", None)
    assert active_members_on(meeting.held_on) == 12
    assert active_members_on(today_in_nairobi()) == 11


def test_headcount_with_sign_in_sheet(app, held_meeting, s):
    from association.core.uploads import Document
    from association.meetings.files import path_of

    meeting = db.session.get(Meeting, held_meeting(present=2))
    with pytest.raises(MeetingError, match="less than"):
        set_headcount(meeting, 1)
    with pytest.raises(MeetingError, match="not a photo"):
        set_headcount(meeting, 40, Document("sheet.jpg", b"<html>not a photo</html>"))
    with pytest.raises(MeetingError, match="zero or more"):
        set_headcount(meeting, -3)
    jpeg = documents.photo("JPEG")  # a real photo: a bare JPEG header is refused
    set_headcount(meeting, 40, Document("sheet.jpg", jpeg))
    assert quorum_for(meeting).present == 40
    assert path_of(meeting.signin_file).read_bytes() == jpeg
    assert meeting.signin_type == "image/jpeg"


def test_a_future_meeting_takes_apologies_but_nobody_present(app, crowd, s, setup_association):
    meeting = create_meeting(_data(held_on=today_in_nairobi() + timedelta(days=5)), None)
    member = db.session.get(Member, crowd[0])
    mark_attendance(meeting, member, AttendanceStatus.APOLOGY)
    with pytest.raises(MeetingError, match="not taken place"):
        mark_attendance(meeting, member, AttendanceStatus.PRESENT)


# --- Resolutions ----------------------------------------------------------------------


def test_votes_adding_up_to_more_than_those_present_are_refused(app, held_meeting, s):
    meeting = db.session.get(Meeting, held_meeting(present=6))
    with pytest.raises(MeetingError, match="7 votes were recorded but only 6"):
        record_resolution(meeting, _vote(f=5, a=1, ab=1), None)
    with pytest.raises(MeetingError, match="zero or more"):
        record_resolution(meeting, _vote(f=-1), None)
    with pytest.raises(MeetingError, match="Record the votes"):
        record_resolution(meeting, _vote(f=0, a=0), None)
    with pytest.raises(MeetingError, match="other than the proposer"):
        record_resolution(meeting, ResolutionInput("x", "Amina", "amina", 3, 0, 0), None)
    assert count(Resolution) == 0
    first = record_resolution(meeting, _vote(f=4, a=2), None)
    second = record_resolution(meeting, _vote(f=3, a=2, majority=MajorityRule.TWO_THIRDS),
                               None)
    assert (first.number, first.passed, first.inquorate) == (1, True, False)
    assert (second.number, second.passed) == (2, False)


@pytest.mark.parametrize("f, a, rule, passed", [
    (3, 3, MajorityRule.SIMPLE, False), (4, 3, MajorityRule.SIMPLE, True),
    (4, 2, MajorityRule.TWO_THIRDS, True), (3, 2, MajorityRule.TWO_THIRDS, False),
    (0, 0, MajorityRule.TWO_THIRDS, False), (1, 0, MajorityRule.TWO_THIRDS, True),
])
def test_majority_rules(f, a, rule, passed):
    assert passes(f, a, rule) is passed


def test_inquorate_decisions_are_marked_and_cannot_set_dues(app, held_meeting, s):
    meeting = db.session.get(Meeting, held_meeting(present=2))
    resolution = record_resolution(meeting, _vote(f=2, a=0), None)
    assert resolution.passed and resolution.inquorate
    with pytest.raises(MeetingError, match="cannot change the dues"):
        record_resolution(meeting, _vote(
            f=2, a=0, kind=ResolutionKind.DUES, effective_from=meeting.held_on,
            rates=[RateInput(Category.RESIDENT, 6_000)]), None)
    assert count(DuesRate) == 0


def test_a_dues_resolution_sets_the_ledgers_rates_and_names_itself(app, held_meeting, s):
    meeting = db.session.get(Meeting, held_meeting(meeting_type=MeetingType.AGM, present=6))
    start = date(meeting.held_on.year + 1, 1, 1)
    resolution = record_resolution(meeting, _vote(
        text="Dues from January", f=6, a=0, kind=ResolutionKind.DUES, effective_from=start,
        rates=[RateInput(Category.RESIDENT, 5_000), RateInput(Category.LANDLORD, 30_000, 1, 2),
               RateInput(Category.LANDLORD, 60_000, 3, None)]), None)
    rates = schedule_for(start)
    assert len(rates) == 3 and count(ResolutionRate) == 3
    ref = f"AGM {meeting.held_on.isoformat()}, resolution 1"
    assert {r.resolution_ref for r in rates} == {ref}
    assert resolution_for_rate_ref(ref).id == resolution.id
    with pytest.raises(MeetingError, match="overlap"):
        record_resolution(meeting, _vote(
            f=6, a=0, kind=ResolutionKind.DUES, effective_from=date(start.year, 2, 1),
            rates=[RateInput(Category.LANDLORD, 30_000, 1, 3),
                   RateInput(Category.LANDLORD, 60_000, 3, None)]), None)
    db.session.rollback()


# --- Minutes ------------------------------------------------------------------------


def test_minutes_lifecycle(app, held_meeting, s):
    first_id, second_id = held_meeting(days_ago=40), held_meeting(days_ago=5)
    first = db.session.get(Meeting, first_id)
    with pytest.raises(MeetingError, match="at least one agenda item"):
        circulate_minutes(first)
    item = first.agenda[0]
    save_minutes(first, {item.id: ("The OCS reported fewer break-ins.", "Thank the OCS.")},
                 "en")
    with pytest.raises(MeetingError, match="after a later meeting confirms"):
        publish_minutes(first)
    circulate_minutes(first)
    add_comment(first, "Add the number of break-ins.", None)
    second = db.session.get(Meeting, second_id)
    with pytest.raises(MeetingError, match="earlier meeting"):
        record_resolution(first, _vote(kind=ResolutionKind.CONFIRM_MINUTES,
                                       confirms_meeting_id=second.id), None)
    confirm = record_resolution(second, _vote(
        text="Minutes of the last baraza confirmed", kind=ResolutionKind.CONFIRM_MINUTES,
        confirms_meeting_id=first.id), None)
    assert confirm.confirms_meeting_id == first.id
    assert first.minutes_status == MinutesStatus.CONFIRMED
    with pytest.raises(MeetingError, match="already confirmed"):
        record_resolution(second, _vote(kind=ResolutionKind.CONFIRM_MINUTES,
                                        confirms_meeting_id=first.id), None)
    with pytest.raises(MinutesLockedError, match="confirmed"):
        save_minutes(first, {item.id: ("Changed", None)}, "en")
    publish_minutes(first)
    assert first.minutes_status == MinutesStatus.PUBLISHED and first.members_may_read
    with pytest.raises(MinutesLockedError, match="published"):
        save_minutes(first, {item.id: ("Changed", None)}, "en")
    with pytest.raises(MinutesLockedError):
        add_agenda_item(first, "More")
    with pytest.raises(MeetingError, match="already published"):
        publish_minutes(first)
    add_addendum(first, "The OCS's name is Insp. Wafula, not Wafua.", None)
    db.session.flush()
    assert db.session.get(AgendaItem, item.id).discussion == "The OCS reported fewer break-ins."
    assert len(first.addenda) == 1


def test_committee_minutes_reach_members_only_if_chosen(app, held_meeting, s):
    committee = db.session.get(Meeting, held_meeting(meeting_type=MeetingType.COMMITTEE,
                                                     days_ago=30))
    committee.minutes_status = MinutesStatus.CONFIRMED
    publish_minutes(committee, members_may_read=False)

    class Member_:
        def can(self, permission):
            return False

    assert not can_read_minutes(Member_(), committee)
    assert committee not in db.session.scalars(published_for_members()).all()


# --- Officials and elections ----------------------------------------------------------


def test_officials_terms_succession_and_notice(app, crowd, s):
    today = today_in_nairobi()
    first, second = db.session.get(Member, crowd[0]), db.session.get(Member, crowd[1])
    with pytest.raises(governance.GovernanceError, match="ends .* before it starts"):
        governance.appoint(Office.CHAIR, first, date(2025, 5, 1), date(2025, 4, 1))
    assert count(Official) == 0 and count(OfficialsNotice) == 0
    old = governance.appoint(Office.CHAIR, first, date(2025, 1, 1), None, phone="0712 345 678")
    assert old.phone == "+254712345678"
    new = governance.appoint(Office.CHAIR, second, today - timedelta(days=3), None)
    assert old.term_end == today - timedelta(days=4)
    assert [o.id for o in governance.current_officials(today)] == [new.id]
    notice = db.session.scalar(sa.select(OfficialsNotice).where(
        OfficialsNotice.changed_on == today - timedelta(days=3)))
    assert notice.due_on == today + timedelta(days=11)
    assert "Chair" in notice.summary and second.full_name in notice.summary
    with pytest.raises(governance.GovernanceError, match="filing date"):
        governance.mark_notice_filed(notice, today + timedelta(days=1))
    governance.mark_notice_filed(notice, today)
    with pytest.raises(governance.GovernanceError, match="already marked"):
        governance.mark_notice_filed(notice, today)
    with pytest.raises(governance.GovernanceError, match="not a Kenyan phone"):
        governance.appoint(Office.TREASURER, first, today, None, phone="12")
    with pytest.raises(governance.GovernanceError, match="before it starts"):
        governance.end_term(new, new.term_start - timedelta(days=1), "Resigned")


def _resolve(meeting, kind=ResolutionKind.ELECTION, votes=(5, 1, 0),
             text="The election results declared by the returning officer are adopted."):
    return record_resolution(meeting, ResolutionInput(
        text=text, proposer="Member from Mabatini", seconder="Member from Kosovo",
        votes_for=votes[0], votes_against=votes[1], votes_abstain=votes[2], kind=kind), None)


def test_election_records_votes_and_puts_the_winner_in_office(app, crowd, held_meeting, s):
    meeting = db.session.get(Meeting, held_meeting(meeting_type=MeetingType.AGM, present=6))
    adopted = _resolve(meeting)
    a, b, c = (db.session.get(Member, i) for i in crowd[:3])
    with pytest.raises(governance.GovernanceError, match="7 votes were recorded but only 6"):
        governance.record_election(meeting, Office.CHAIR, 1, [(a, 4), (b, 3)], None, adopted)
    with pytest.raises(governance.GovernanceError, match="tie"):
        governance.record_election(meeting, Office.CHAIR, 1, [(a, 3), (b, 3)], None, adopted)
    with pytest.raises(governance.GovernanceError, match="listed twice"):
        governance.record_election(meeting, Office.CHAIR, 1, [(a, 3), (a, 2)], None, adopted)
    assert count(Official) == 0
    election = governance.record_election(meeting, Office.CHAIR, 1, [(b, 2), (a, 4)],
                                          meeting.held_on + timedelta(days=730), adopted)
    assert [(x.member_id, x.votes, x.elected) for x in election.candidates] == [
        (a.id, 4, True), (b.id, 2, False)]
    holders = governance.current_officials(today_in_nairobi())
    assert [(o.office, o.member_id, o.elected_at_id, o.resolution_id) for o in holders] == [
        (Office.CHAIR, a.id, meeting.id, adopted.id)]
    notice = db.session.scalar(sa.select(OfficialsNotice).where(
        OfficialsNotice.changed_on == meeting.held_on))
    assert f"elected by {resolution_ref(adopted)}" in notice.summary
    governance.record_election(meeting, Office.COMMITTEE_MEMBER, 2,
                               [(b, 5), (c, 4), (a, 1)], None, adopted)
    assert governance.election_meeting(today_in_nairobi()).id == meeting.id
    assert {o.resolution_id for o in governance.current_officials(today_in_nairobi())} == {
        adopted.id}


def test_an_election_rests_on_a_passed_election_resolution_of_its_meeting(
        app, crowd, held_meeting, s):
    ids = (held_meeting(meeting_type=MeetingType.AGM, present=6),
           held_meeting(meeting_type=MeetingType.AGM, present=6, days_ago=40))
    meeting, other = (db.session.get(Meeting, i) for i in ids)
    a, b = (db.session.get(Member, i) for i in crowd[:2])
    elsewhere = _resolve(other)
    failed = _resolve(meeting, votes=(1, 4, 1))
    general = _resolve(meeting, ResolutionKind.GENERAL, text="The reports are adopted.")
    bad = [(None, "Choose the resolution that adopted the result"),
           (elsewhere, "not made at that meeting"),
           (failed, f"Resolution {failed.number} did not pass"),
           (general, f"Resolution {general.number} is not about an election")]
    for resolution, message in bad:
        with pytest.raises(governance.GovernanceError, match=message):
            governance.record_election(meeting, Office.CHAIR, 1, [(a, 4), (b, 1)], None,
                                       resolution)
    assert count(Official) == 0 and count(Election) == 0
    assert governance.electing_resolutions(meeting) == []
    # appointing by hand checks the same: another meeting's or a failed resolution
    with pytest.raises(governance.GovernanceError, match="not made at that meeting"):
        governance.appoint(Office.TREASURER, a, meeting.held_on, None, elected_at=meeting,
                           resolution=elsewhere)
    with pytest.raises(governance.GovernanceError, match="did not pass"):
        governance.appoint(Office.TREASURER, a, meeting.held_on, None, resolution=failed)
    official = governance.appoint(Office.TREASURER, a, meeting.held_on, None,
                                  resolution=general)
    assert official.elected_at_id == meeting.id and official.resolution_id == general.id


def test_an_inquorate_meeting_cannot_elect(app, crowd, held_meeting, s):
    meeting = db.session.get(Meeting, held_meeting(meeting_type=MeetingType.AGM, present=6))
    set_quorum_rule(MeetingType.AGM, QuorumKind.FIXED, None, None, 10)
    adopted = _resolve(meeting)
    assert adopted.passed and adopted.inquorate
    a, b = (db.session.get(Member, i) for i in crowd[:2])
    with pytest.raises(governance.GovernanceError, match="without a quorum"):
        governance.record_election(meeting, Office.CHAIR, 1, [(a, 4), (b, 1)], None, adopted)
    assert count(Official) == 0


def test_candidates_are_parsed_from_member_numbers(app, crowd, s):
    member = db.session.get(Member, crowd[0])
    parsed = governance.parse_candidates(f"{member.member_no} 12\n\n")
    assert parsed == [(member, 12)]
    with pytest.raises(governance.GovernanceError, match="Line 1"):
        governance.parse_candidates("MLK-0001 twelve")
    with pytest.raises(MeetingError):
        governance.parse_candidates("MLK-9999 3")


def test_registration_record_checks(setup_association, s):
    with pytest.raises(governance.GovernanceError, match="KRA PIN"):
        governance.save_record(governance.RecordData(kra_pin="12345"))
    with pytest.raises(governance.GovernanceError, match="after the date of issue"):
        governance.save_record(governance.RecordData(certificate_issued_on=date(2024, 1, 1),
                                                     certificate_renewal_on=date(2023, 1, 1)))
    record = governance.save_record(governance.RecordData(kra_pin="p051234567x",
                                                          certificate_number="DSD/1"))
    assert record.kra_pin == "P051234567X"


def test_compliance_names_what_is_missing(setup_association, s):
    checks = {str(c.label): c.state for c in governance.compliance()}
    assert checks["AGM held within the last 12 months"] == governance.MISSING
    assert checks["Officials register complete"] == governance.MISSING
    assert checks["Constitution"] == governance.MISSING
    assert checks["Registration certificate"] == governance.MISSING
    assert checks["Accounts for the last financial year"] == governance.DUE  # no books yet


def test_transparency_folds_categories_with_few_payers(app, crowd, s):
    from association.ledger.models import PaymentMethod
    from association.ledger.payments import record_payment
    from association.meetings.transparency import month_summary

    members = [db.session.get(Member, i) for i in crowd]
    members[0].category = Category.BUSINESS
    day = today_in_nairobi().replace(day=1)
    for member in members[:4]:
        record_payment(member, 5_000, PaymentMethod.CASH, day, None)
    summary = month_summary(day)
    assert summary.paying_members == 4
    labels = dict(summary.income)
    assert labels["Resident / tenant"] == 15_000
    assert labels["Other categories"] == 5_000 and "Business" not in labels
