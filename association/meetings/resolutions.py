"""Resolutions and their votes: whether one passed under its majority rule, confirming
earlier minutes, and dues resolutions that add rates to the ledger's schedule. Decisions
of a meeting that has not reached its quorum are marked inquorate, and such a meeting
cannot change the dues or confirm minutes."""

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.core.time import month_start
from association.extensions import db
from association.ledger.dues import RateInput, add_rate_schedule
from association.ledger.errors import LedgerError
from association.meetings.common import (
    MeetingError,
    check_editable,
    check_held,
    clean_line,
    clean_text,
    meeting_label,
    minutes_locked,
    resolution_ref,
)
from association.meetings.models import (
    AttendanceStatus,
    MajorityRule,
    Meeting,
    MinutesStatus,
    Resolution,
    ResolutionKind,
    ResolutionRate,
)
from association.meetings.quorum import present_count, quorum_for

MAX_VOTES = 1_000_000


@dataclass
class ResolutionInput:
    text: str
    proposer: str
    seconder: str
    votes_for: int
    votes_against: int
    votes_abstain: int
    majority: MajorityRule = MajorityRule.SIMPLE
    kind: ResolutionKind = ResolutionKind.GENERAL
    confirms_meeting_id: int | None = None
    #: For a dues resolution: the month the rates start, and the rates.
    effective_from: date | None = None
    rates: list[RateInput] = field(default_factory=list)


def passes(votes_for: int, votes_against: int, majority: MajorityRule) -> bool:
    """Simple majority: more for than against. Two-thirds: at least two thirds of the votes
    cast (for and against; abstentions are not votes cast)."""
    if majority == MajorityRule.TWO_THIRDS:
        return votes_for > 0 and 3 * votes_for >= 2 * (votes_for + votes_against)
    return votes_for > votes_against


def _check_votes(meeting: Meeting, data: ResolutionInput) -> None:
    for value in (data.votes_for, data.votes_against, data.votes_abstain):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise MeetingError(_l("Votes must be whole numbers, zero or more."))
        if value > MAX_VOTES:
            raise MeetingError(_l("That is more votes than anyone could count."))
    total = data.votes_for + data.votes_against + data.votes_abstain
    present = present_count(meeting)
    recorded = meeting.headcount is not None or any(
        a.status == AttendanceStatus.PRESENT for a in meeting.attendance)
    if not recorded:
        raise MeetingError(_l("Record who attended (or the headcount) before the votes."))
    if total > present:
        raise MeetingError(_l("%(total)d votes were recorded but only %(present)d people were "
                              "present.", total=total, present=present))
    if total == 0:
        raise MeetingError(_l("Record the votes: for, against and abstaining."))


def record_resolution(meeting: Meeting, data: ResolutionInput, recorded_by_id: int | None,
                      today: date | None = None) -> Resolution:
    """Record a resolution with its votes; whether it passed follows the majority rule.

    A passed resolution confirming earlier minutes marks them confirmed; a passed dues
    resolution adds the rates to the ledger's schedule, named after the resolution.

    Raises:
        MeetingError: missing text or names, votes that add up to more than those present,
            minutes confirmed twice, dues set by an inquorate meeting, bad rates.
    """
    check_editable(meeting)
    check_held(meeting, today)
    kind = ResolutionKind(data.kind)
    majority = MajorityRule(data.majority)
    text = clean_text(data.text, 4000, _l("Resolution"))
    proposer = clean_line(data.proposer, 120, _l("Proposed by"))
    seconder = clean_line(data.seconder, 120, _l("Seconded by"))
    if proposer.casefold() == seconder.casefold():
        raise MeetingError(_l("The seconder must be someone other than the proposer."))
    _check_votes(meeting, data)
    passed = passes(data.votes_for, data.votes_against, majority)
    quorum = quorum_for(meeting)
    inquorate = not quorum.met
    target = None
    if kind == ResolutionKind.CONFIRM_MINUTES:
        target = db.session.get(Meeting, data.confirms_meeting_id or 0)
        if target is None:
            raise MeetingError(_l("Choose the meeting whose minutes are confirmed."))
        if target.id == meeting.id or target.held_on >= meeting.held_on:
            raise MeetingError(_l("A meeting confirms the minutes of an earlier meeting."))
        if minutes_locked(target):
            raise MeetingError(_l("The minutes of %(meeting)s are already confirmed.",
                                  meeting=meeting_label(target)))
        if passed and inquorate:
            raise MeetingError(_l("This meeting did not reach its quorum: it cannot confirm "
                                  "minutes."))
    if kind == ResolutionKind.DUES:
        if not data.rates:
            raise MeetingError(_l("Give the new dues rates."))
        if data.effective_from is None:
            raise MeetingError(_l("Give the month the new rates start."))
        if passed and inquorate:
            raise MeetingError(_l("This meeting did not reach its quorum: it cannot change the "
                                  "dues."))
        if month_start(data.effective_from) < month_start(meeting.held_on):
            raise MeetingError(_l("New rates cannot start before the month of the meeting."))
    number = (db.session.scalar(sa.select(sa.func.max(Resolution.number))
                                .where(Resolution.meeting_id == meeting.id)) or 0) + 1
    resolution = Resolution(
        meeting=meeting, number=number, kind=kind, text=text, proposer=proposer,
        seconder=seconder, votes_for=data.votes_for, votes_against=data.votes_against,
        votes_abstain=data.votes_abstain, majority=majority, passed=passed,
        inquorate=inquorate, recorded_by_id=recorded_by_id,
    )
    db.session.add(resolution)
    db.session.flush()
    if passed and target is not None:
        resolution.confirms_meeting_id = target.id
        target.minutes_status = MinutesStatus.CONFIRMED
    if passed and kind == ResolutionKind.DUES:
        try:
            rates = add_rate_schedule(data.effective_from, data.rates, resolution_ref(resolution),
                                      recorded_by_id)
        except LedgerError as error:
            raise MeetingError(error.message) from None
        for rate in rates:
            db.session.add(ResolutionRate(resolution_id=resolution.id, dues_rate_id=rate.id))
    db.session.flush()
    return resolution


def link_existing_rates(resolution: Resolution) -> int:
    """Link the ledger's rates entered under this resolution's reference (on the ledger's
    rates screen) to it, and mark it as the resolution that set the dues."""
    from association.ledger.models import DuesRate

    linked = set(db.session.scalars(sa.select(ResolutionRate.dues_rate_id)))
    rates = [r for r in db.session.scalars(
        sa.select(DuesRate).where(DuesRate.resolution_ref == resolution_ref(resolution)))
        if r.id not in linked]
    for rate in rates:
        db.session.add(ResolutionRate(resolution_id=resolution.id, dues_rate_id=rate.id))
    if rates:
        resolution.kind = ResolutionKind.DUES
    db.session.flush()
    return len(rates)


def resolution_for_rate_ref(ref: str) -> Resolution | None:
    """The resolution whose reference the ledger's schedule shows (for links from it)."""
    from association.ledger.models import DuesRate

    rate_ids = sa.select(DuesRate.id).where(DuesRate.resolution_ref == ref)
    return db.session.scalar(
        sa.select(Resolution).join(ResolutionRate)
        .where(ResolutionRate.dues_rate_id.in_(rate_ids)).limit(1))
