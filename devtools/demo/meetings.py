"""Demo data for meetings: a year of barazas, two AGMs (the recent one elected the current
officials and set next year's dues; last year's set the rates in force), committee meetings
with action items carried forward, a dialogue with the police, published minutes in English
and Swahili, the constitution and the registration record."""

from datetime import date, timedelta

import sqlalchemy as sa

from association.auth.models import User
from association.core.time import month_start
from association.extensions import db
from association.ledger.dues import RateInput
from association.meetings import files, governance, pdf
from association.meetings.actions import add_action, set_action_status
from association.meetings.attendance import add_guest, mark_attendance, set_headcount
from association.meetings.meetings import MeetingData, create_meeting
from association.meetings.minutes import circulate_minutes, publish_minutes, save_minutes
from association.meetings.models import (
    AttendanceStatus,
    MajorityRule,
    Meeting,
    MeetingType,
    MinutesStatus,
    Office,
    QuorumKind,
    ResolutionKind,
)
from association.meetings.quorum import present_count, quorum_for, set_quorum_rule
from association.meetings.resolutions import ResolutionInput, link_existing_rates, record_resolution
from association.members.models import Category, Member, MemberStatus

SECURITY_EN = ("The patrol coordinator reported {n} patrol nights and fewer break-ins in "
               "Mabatini. Residents asked for more torches and for patrols to start earlier.")
SECURITY_SW = ("Mratibu wa doria aliripoti usiku {n} wa doria na kupungua kwa wizi wa nyumba "
               "Mabatini. Wakazi waliomba tochi zaidi na doria zianze mapema.")
FINANCE_EN = ("The treasurer presented the month's collections and expenses; members asked "
              "that the figures be pinned on the noticeboard.")
FINANCE_SW = ("Mweka hazina aliwasilisha michango na matumizi ya mwezi; wanachama waliomba "
              "takwimu zibandikwe kwenye ubao wa matangazo.")
DECIDE_EN = "Agreed: the report is adopted."
DECIDE_SW = "Imekubaliwa: ripoti imepitishwa."

ACTIONS = (
    ("Buy six torches and whistles for the night patrols", "Treasurer"),
    ("Write to the OCS Pangani about the dark lane by the river", "Secretary"),
    ("Repair the gate at the water point", "Organising secretary"),
    ("Print the month's accounts for the noticeboard", "Treasurer"),
    ("Meet the landlords of Kosovo about late contributions", "Chairperson"),
    ("Arrange a clean-up day with the youth group", "Organising secretary"),
)


def _constitution_pdf() -> bytes:
    doc = pdf.Document("Constitution")
    doc.text("Mlango Kubwa Landlords and Tenants Association", "title")
    doc.text("Constitution (Katiba)", "h")
    for clause in (
        "1. Name: Mlango Kubwa Landlords and Tenants Association.",
        "2. Objects: the security and welfare of the residents of Mlango Kubwa ward through "
        "volunteer night patrols, cooperation with the police and community dialogue.",
        "3. Membership: every resident, tenant, landlord and business of the area who pays the "
        "monthly contribution set by the general meeting.",
        "4. Officials: chairperson, vice-chairperson, secretary, treasurer, organising "
        "secretary and three committee members, elected at the AGM for one year.",
        "5. Meetings: a general baraza every month; the AGM once a year; quorum one tenth of "
        "active members for a baraza, one fifth for the AGM, five for the committee.",
        "6. Funds: kept in the association's M-Pesa paybill and bank account; every payment "
        "approved by two officials.",
    ):
        doc.text(clause)
    return doc.finish()


def _eligible(members, day: date) -> list[Member]:
    """Members on the register and active on ``day``."""
    return [m for m in members if m.joined_on <= day
            and (m.status == MemberStatus.ACTIVE or m.status_since > day)]


def _attend(meeting: Meeting, members, count: int, rng) -> None:
    pool = _eligible(members, meeting.held_on)
    for member in rng.sample(pool, k=min(count, len(pool))):
        mark_attendance(meeting, member, AttendanceStatus.PRESENT)
    for member in rng.sample(pool, k=min(3, len(pool))):
        if all(a.member_id != member.id for a in meeting.attendance):
            mark_attendance(meeting, member, AttendanceStatus.APOLOGY)


def _vote(text: str, present: int, rng, kind=ResolutionKind.GENERAL, **kw):
    against = rng.randint(0, max(1, present // 10)) if present > 4 else 0
    abstain = rng.randint(0, 3) if present > 6 else 0
    return ResolutionInput(
        text=text, proposer=rng.choice(("Member from Mabatini", "Member from Kosovo",
                                        "Landlords' representative", "Youth representative")),
        seconder=rng.choice(("Member from Mashimoni", "Women's representative",
                             "Member from Kiamutisya")),
        votes_for=present - against - abstain - rng.randint(0, min(5, present // 10)),
        votes_against=against, votes_abstain=abstain, kind=kind, **kw)


def _nth_saturday(month: date, n: int) -> date:
    first = month_start(month)
    offset = (5 - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def seed_meetings(members, today, rng) -> dict:
    """Add meetings demo records for the demo association; return counts of what was made."""
    users = {u.username: u for u in db.session.scalars(sa.select(User))}
    secretary = users.get("secretary")
    secretary_id = secretary.id if secretary else None
    governance.save_record(governance.RecordData(
        founded_on=today - timedelta(days=7 * 365),
        certificate_number="DSD/NRB/MTH/2019/0457",
        certificate_issued_on=today - timedelta(days=7 * 365 - 60),
        certificate_renewal_on=today + timedelta(days=45),
        kra_pin="P051234567X",
        last_return_on=None,
    ), today=today)
    set_quorum_rule(MeetingType.GENERAL, QuorumKind.FRACTION, 1, 10, None)
    set_quorum_rule(MeetingType.SPECIAL, QuorumKind.FRACTION, 1, 10, None)
    set_quorum_rule(MeetingType.AGM, QuorumKind.FRACTION, 1, 5, None)
    set_quorum_rule(MeetingType.COMMITTEE, QuorumKind.FIXED, None, None, 5)
    set_quorum_rule(MeetingType.DIALOGUE, QuorumKind.FIXED, None, None, 1)

    first_month = month_start(month_start(today) - timedelta(days=330))
    agm1_day = first_month - timedelta(days=20)  # the ledger's demo schedule names this AGM
    agm2_day = today - timedelta(days=45)
    plan: list[tuple[date, MeetingType]] = [(agm1_day, MeetingType.AGM),
                                            (agm2_day, MeetingType.AGM)]
    month = first_month
    while month <= today:
        baraza = _nth_saturday(month, 2)
        if baraza <= today - timedelta(days=3) and abs((baraza - agm2_day).days) > 10:
            plan.append((baraza, MeetingType.GENERAL))
        committee = _nth_saturday(month, 4)
        if committee <= today - timedelta(days=2) and month.month % 2 == 0:
            plan.append((committee, MeetingType.COMMITTEE))
        month = month_start(month + timedelta(days=32))
    plan.append((today - timedelta(days=100), MeetingType.DIALOGUE))
    plan.sort()

    pending = {MeetingType.GENERAL: [], MeetingType.COMMITTEE: []}
    made = {"meetings": 0, "resolutions": 0, "actions": 0, "published_minutes": 0}
    inquorate_done = False
    for index, (day, meeting_type) in enumerate(plan):
        family = {MeetingType.COMMITTEE: MeetingType.COMMITTEE,
                  MeetingType.DIALOGUE: None}.get(meeting_type, MeetingType.GENERAL)
        language = "sw" if index % 2 else "en"
        agenda = {
            MeetingType.AGM: ["Confirmation of the last minutes", "Chairperson's report",
                              "Treasurer's report and accounts", "Dues for the coming year",
                              "Elections", "Any other business"],
            MeetingType.GENERAL: ["Confirmation of the last minutes", "Security report",
                                  "Finance report", "Any other business"],
            MeetingType.COMMITTEE: ["Confirmation of the last minutes", "Patrol roster",
                                    "Expenses to approve", "Any other business"],
            MeetingType.DIALOGUE: ["Introductions", "Security in the lanes: youth and women "
                                   "speak", "The police's response", "Shared meal"],
        }[meeting_type]
        titles = {MeetingType.AGM: f"Annual general meeting {day.year}",
                  MeetingType.GENERAL: f"Monthly baraza, {day:%B %Y}",
                  MeetingType.COMMITTEE: f"Committee meeting, {day:%B %Y}",
                  MeetingType.DIALOGUE: "Community dialogue with Pangani police"}
        meeting = create_meeting(MeetingData(
            type=meeting_type, title=titles[meeting_type], held_on=day, starts_at="10:00",
            venue="Chief's camp, Mlango Kubwa" if meeting_type != MeetingType.COMMITTEE
            else "Association office, Mabatini",
            convener="The chairperson" if meeting_type != MeetingType.DIALOGUE
            else "OCS Pangani and the chairperson",
            notice_on=day - timedelta(days=14 if meeting_type == MeetingType.AGM else 7),
            agenda=agenda), secretary_id, today=today)
        made["meetings"] += 1
        if meeting_type == MeetingType.DIALOGUE:
            add_guest(meeting, "Insp. J. Wafula", "OCS", "Pangani police station")
            add_guest(meeting, "Mr. P. Mutua", "Area chief", "Mlango Kubwa location")
            add_guest(meeting, "Ms. R. Achieng", "Programme officer", "Mathare Youth CBO")
            set_headcount(meeting, rng.randint(80, 120), today=today)
        elif meeting_type == MeetingType.COMMITTEE:
            pool = _eligible(members, day)
            committee = [o.member for o in governance.current_officials(day)] or \
                rng.sample(pool, min(8, len(pool)))
            for member in committee[:7]:
                mark_attendance(meeting, member, AttendanceStatus.PRESENT)
        elif meeting_type == MeetingType.AGM:
            _attend(meeting, members, rng.randint(68, 85), rng)
        elif not inquorate_done and index > 4:
            _attend(meeting, members, 18, rng)  # a rainy Saturday: quorum not reached
            inquorate_done = True
        else:
            _attend(meeting, members, rng.randint(32, 60), rng)

        present = present_count(meeting)
        quorate = quorum_for(meeting).met
        minutes = {}
        for item in meeting.agenda:
            if item.title.startswith(("Security", "Patrol")):
                text = (SECURITY_SW if language == "sw" else SECURITY_EN).format(
                    n=rng.randint(24, 30))
                minutes[item.id] = (text, DECIDE_SW if language == "sw" else DECIDE_EN)
            elif item.title.startswith(("Finance", "Treasurer", "Expenses")):
                minutes[item.id] = (FINANCE_SW if language == "sw" else FINANCE_EN,
                                    DECIDE_SW if language == "sw" else DECIDE_EN)
            else:
                minutes[item.id] = (
                    "Majadiliano yalifanyika." if language == "sw" else "Discussed.", None)
        save_minutes(meeting, minutes, language)

        if family in pending and quorate:
            for earlier in pending[family]:
                record_resolution(meeting, _vote(
                    f"The minutes of the meeting of {earlier.held_on:%d %B %Y} are confirmed "
                    "as a true record.", present, rng, ResolutionKind.CONFIRM_MINUTES,
                    confirms_meeting_id=earlier.id), None, today=today)
                publish_minutes(earlier, members_may_read=earlier.type != MeetingType.COMMITTEE
                                or rng.random() < 0.5)
                made["resolutions"] += 1
                made["published_minutes"] += 1
            pending[family] = []
        if meeting_type == MeetingType.AGM:
            _agm_business(meeting, members, present, day, agm1_day, agm2_day, today, rng)
            made["resolutions"] += 4
        elif meeting_type == MeetingType.GENERAL:
            record_resolution(meeting, _vote(
                "The security and finance reports are adopted.", present, rng), None,
                today=today)
            made["resolutions"] += 1
        if meeting_type in (MeetingType.COMMITTEE, MeetingType.GENERAL):
            for description, owner in rng.sample(ACTIONS, k=2):
                add_action(meeting, description, owner, day + timedelta(days=21))
                made["actions"] += 1
            for item in meeting.agenda:
                if item.carried_action is not None and rng.random() < 0.7:
                    set_action_status(item.carried_action, "done", today=day)
        if family in pending:
            circulate_minutes(meeting)
            pending[family].append(meeting)
        elif meeting_type == MeetingType.DIALOGUE:
            circulate_minutes(meeting)
    # The dialogue's minutes are confirmed by the committee and published.
    dialogue = db.session.scalar(sa.select(Meeting).where(Meeting.type == MeetingType.DIALOGUE))
    later = db.session.scalar(sa.select(Meeting).where(
        Meeting.type == MeetingType.COMMITTEE, Meeting.held_on > dialogue.held_on)
        .order_by(Meeting.held_on.desc()).limit(1))
    if later is not None and later.minutes_status != MinutesStatus.PUBLISHED:
        record_resolution(later, _vote("The minutes of the community dialogue are "
                                       "confirmed.", present_count(later), rng,
                                       ResolutionKind.CONFIRM_MINUTES,
                                       confirms_meeting_id=dialogue.id), None, today=today)
        publish_minutes(dialogue)
        made["published_minutes"] += 1

    # A vice-secretary who resigned last week: the notice is due within 14 days.
    vice = next((o for o in governance.current_officials(today)
                 if o.office == Office.VICE_SECRETARY), None)
    if vice is not None:
        governance.end_term(vice, today - timedelta(days=5), "Resigned: moved to Kayole",
                            today=today)
    for notice in governance.pending_notices():
        if notice.due_on < today:
            governance.mark_notice_filed(notice, notice.changed_on + timedelta(days=9),
                                         today=today)
    adopted = db.session.scalar(sa.select(Meeting).where(Meeting.held_on == agm1_day))
    content = _constitution_pdf()
    governance.add_constitution("2019, amended " + str(agm1_day.year), agm1_day, adopted,
                                files.Document("katiba.pdf", content),
                                "Amended to add the youth representative", secretary_id,
                                today=today)
    made["officials"] = len(governance.current_officials(today))
    return made


def _agm_business(meeting, members, present, day, agm1_day, agm2_day, today, rng) -> None:
    """Reports adopted, the dues, and elections (one-year terms, to the next AGM)."""
    record_resolution(meeting, _vote("The chairperson's report is adopted.", present, rng),
                      None, today=today)
    record_resolution(meeting, _vote("The treasurer's report and the accounts for the year "
                                     "are adopted.", present, rng), None, today=today)
    if day == agm1_day:
        third = record_resolution(meeting, _vote(
            "Dues from next month: residents KES 50 a month; landlords KES 300 (1-2 rental "
            "premises), 600 (3-5), 1,000 (6-10), 1,500 (11 or more); businesses KES 200.",
            present, rng, majority=MajorityRule.TWO_THIRDS), None, today=today)
        link_existing_rates(third)
        term_end = agm2_day - timedelta(days=1)
    else:
        start = month_start(date(today.year + 1, 1, 1))
        record_resolution(meeting, _vote(
            "From January: residents stay at KES 50; landlords KES 300 (1-2 premises), 600 "
            "(3-5), 1,000 (6-10), 1,500 (11 or more); businesses rise to KES 250.", present,
            rng, ResolutionKind.DUES, majority=MajorityRule.TWO_THIRDS, effective_from=start,
            rates=[RateInput(Category.RESIDENT, 5_000),
                   RateInput(Category.LANDLORD, 30_000, 1, 2),
                   RateInput(Category.LANDLORD, 60_000, 3, 5),
                   RateInput(Category.LANDLORD, 100_000, 6, 10),
                   RateInput(Category.LANDLORD, 150_000, 11, None),
                   RateInput(Category.BUSINESS, 25_000), RateInput(Category.OTHER, 5_000)]),
            None, today=today)
        term_end = day + timedelta(days=364)
    pool = [a.member for a in meeting.attendance if a.status == AttendanceStatus.PRESENT]
    pool = [m for m in pool if m.status == MemberStatus.ACTIVE and m.phone]
    rng.shuffle(pool)
    seats = [(Office.CHAIR, 1), (Office.VICE_CHAIR, 1), (Office.SECRETARY, 1),
             (Office.VICE_SECRETARY, 1), (Office.TREASURER, 1),
             (Office.ORGANISING_SECRETARY, 1), (Office.COMMITTEE_MEMBER, 3)]
    votes_left = present
    adopted = record_resolution(meeting, _vote(
        "The results of the elections, as declared by the returning officer, are adopted: the "
        "candidates declared elected take office today for one year.", present, rng,
        ResolutionKind.ELECTION), None, today=today)
    for office, count in seats:
        if len(pool) < count + 1:
            break  # a small demo: fewer candidates than offices
        running = [pool.pop() for _i in range(count + 1)]
        votes = sorted(rng.sample(range(1, max(count + 3, votes_left // 2)), count + 1),
                       reverse=True)
        governance.record_election(meeting, office, count, list(zip(running, votes,
                                                                    strict=True)),
                                   term_end, adopted, today=today)
