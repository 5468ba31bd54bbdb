"""Officials, elections, change-of-officials notices, the constitution, the registration
record and what the registrar will ask for (the compliance checks)."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.core import dates
from association.core.phones import InvalidPhoneError, normalise_phone
from association.core.time import fiscal_year_start, today_in_nairobi
from association.core.uploads import Document, display_filename
from association.extensions import db
from association.meetings import files
from association.meetings.common import (
    MeetingError,
    check_editable,
    check_held,
    clean_line,
    governance_record,
    resolution_ref,
)
from association.meetings.models import (
    KEY_OFFICES,
    AttendanceStatus,
    ConstitutionVersion,
    Election,
    ElectionCandidate,
    GovernanceRecord,
    Meeting,
    MeetingType,
    MinutesStatus,
    Office,
    Official,
    OfficialsNotice,
    Resolution,
    ResolutionKind,
)
from association.meetings.quorum import present_count
from association.members.models import Member, MemberStatus

#: Days the registrar allows to hear of a change of officials (Societies Act s.17).
NOTICE_DAYS = 14
KRA_PIN_RE = re.compile(r"^[AP]\d{9}[A-Z]$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class GovernanceError(MeetingError):
    """An officials, election or registration record cannot be saved as asked."""


# --- Officials --------------------------------------------------------------


def current_officials(on: date | None = None) -> list[Official]:
    """Office bearers in office on ``on`` (today), by office."""
    on = on or today_in_nairobi()
    rows = db.session.scalars(
        sa.select(Official).where(Official.term_start <= on,
                                  sa.or_(Official.term_end.is_(None), Official.term_end >= on))
    )
    order = {office: i for i, office in enumerate(Office)}
    return sorted(rows, key=lambda o: (order[o.office], o.term_start, o.id))


def all_officials() -> list[Official]:
    return list(db.session.scalars(
        sa.select(Official).order_by(Official.term_start.desc(), Official.id.desc())))


def _note_change(on: date, text: str, meeting_id: int | None = None) -> OfficialsNotice:
    """Add ``text`` to the change-of-officials notice for ``on`` (one notice per date)."""
    notice = db.session.scalar(sa.select(OfficialsNotice).where(
        OfficialsNotice.changed_on == on, OfficialsNotice.filed_on.is_(None)))
    if notice is None:
        notice = OfficialsNotice(changed_on=on, due_on=on + timedelta(days=NOTICE_DAYS),
                                 summary="", meeting_id=meeting_id)
        db.session.add(notice)
    notice.summary = (notice.summary + "\n" + text).strip()
    if meeting_id and notice.meeting_id is None:
        notice.meeting_id = meeting_id
    db.session.flush()
    return notice


def _office_en(office: Office) -> str:
    return office.value.replace("_", " ").capitalize()


def _contact(phone: str | None, email: str | None, member: Member) -> tuple[str | None,
                                                                             str | None]:
    phone = (phone or "").strip() or None
    if phone:
        try:
            phone = normalise_phone(phone)
        except InvalidPhoneError:
            raise GovernanceError(_l("%(phone)s is not a Kenyan phone number.",
                                     phone=phone[:20])) from None
    email = (email or "").strip() or None
    if email and (len(email) > 120 or not _EMAIL_RE.match(email)):
        raise GovernanceError(_l("%(email)s is not an e-mail address.", email=email[:40]))
    return phone or member.phone, email


def appoint(office: Office, member: Member | None, term_start: date, term_end: date | None,
            elected_at: Meeting | None = None, resolution: Resolution | None = None,
            phone: str | None = None, email: str | None = None,
            today: date | None = None) -> Official:
    """Put a member in office from ``term_start``; a sitting holder of a single office
    leaves it the day before. The change goes on a notice due within 14 days.

    Raises:
        GovernanceError: no member, an inactive member, a term that ends before it starts,
            a start in the future beyond a year, a contact that is not one.
    """
    today = today or today_in_nairobi()
    office = Office(office)
    if member is None:
        raise GovernanceError(_l("Choose the member who holds the office."))
    if member.status != MemberStatus.ACTIVE:
        raise GovernanceError(_l("%(name)s is not an active member.", name=member.full_name))
    if not isinstance(term_start, date):
        raise GovernanceError(_l("Enter the date the term starts."))
    if term_end is not None and term_end < term_start:
        raise GovernanceError(_l("The term ends (%(end)s) before it starts (%(start)s).",
                                 end=dates.day(term_end), start=dates.day(term_start)))
    if term_start > today + timedelta(days=366):
        raise GovernanceError(_l("The term cannot start more than a year from now."))
    if term_start < member.joined_on:
        raise GovernanceError(_l("%(name)s joined after that date.", name=member.full_name))
    if resolution is not None:
        _check_electing_resolution(resolution, elected_at)
        elected_at = elected_at or resolution.meeting
    phone, email = _contact(phone, email, member)
    for holder in current_officials(term_start):
        # A single office has one holder; a committee seat is the member's own.
        if holder.office != office or (office == Office.COMMITTEE_MEMBER
                                       and holder.member_id != member.id):
            continue
        if holder.term_start >= term_start:
            raise GovernanceError(_l("%(name)s's term in this office starts on %(date)s; "
                                     "end it first.", name=holder.member.full_name,
                                     date=dates.day(holder.term_start)))
        holder.term_end = term_start - timedelta(days=1)
        holder.ended_reason = holder.ended_reason or (
            "Re-elected" if holder.member_id == member.id else "Succeeded")
    official = Official(office=office, member_id=member.id, term_start=term_start,
                        term_end=term_end, elected_at_id=elected_at.id if elected_at else None,
                        resolution_id=resolution.id if resolution else None, phone=phone,
                        email=email)
    db.session.add(official)
    db.session.flush()
    by = f", elected by {resolution_ref(resolution)}" if resolution is not None else ""
    _note_change(term_start, f"{_office_en(office)}: {member.full_name} ({member.member_no}) "
                             f"from {term_start.isoformat()}{by}",
                 elected_at.id if elected_at else None)
    return official


def _check_electing_resolution(resolution: Resolution, meeting: Meeting | None) -> None:
    """A resolution can put someone in office only if it passed, at a quorate meeting, and
    (when the meeting is named) at that meeting.

    Raises:
        GovernanceError: a resolution of another meeting, one that failed, or one decided
            without a quorum.
    """
    if meeting is not None and resolution.meeting_id != meeting.id:
        raise GovernanceError(_l("The resolution was not made at that meeting."))
    if not resolution.passed:
        raise GovernanceError(_l("Resolution %(number)d did not pass: it cannot put anyone in "
                                 "office.", number=resolution.number))
    if resolution.inquorate:
        raise GovernanceError(_l("Resolution %(number)d was decided without a quorum: it "
                                 "cannot put anyone in office.", number=resolution.number))


def electing_resolutions(meeting: Meeting) -> list[Resolution]:
    """The meeting's passed election resolutions, which an election's result can rest on."""
    return [r for r in meeting.resolutions
            if r.kind == ResolutionKind.ELECTION and r.passed and not r.inquorate]


def official_resolutions(meetings) -> list[Resolution]:
    """Passed resolutions of these meetings, for the officials form's choice."""
    ids = [m.id for m in meetings]
    if not ids:
        return []
    return list(db.session.scalars(
        sa.select(Resolution).join(Meeting, Meeting.id == Resolution.meeting_id)
        .where(Resolution.meeting_id.in_(ids), Resolution.passed.is_(True),
               Resolution.inquorate.is_(False))
        .order_by(Meeting.held_on.desc(), Resolution.number)))


def end_term(official: Official, on: date, reason: str, today: date | None = None) -> Official:
    """An official leaves office on ``on`` (resigned, removed, died, moved away).

    Raises:
        GovernanceError: a date before the term started or in the future, no reason.
    """
    today = today or today_in_nairobi()
    reason = clean_line(reason, 200, _l("Reason"))
    if on < official.term_start:
        raise GovernanceError(_l("The term ends (%(end)s) before it starts (%(start)s).",
                                 end=dates.day(on), start=dates.day(official.term_start)))
    if on > today:
        raise GovernanceError(_l("The end of the term cannot be in the future."))
    if official.term_end is not None and official.term_end < today and official.ended_reason:
        raise GovernanceError(_l("This term has already ended."))
    official.term_end = on
    official.ended_reason = reason
    db.session.flush()
    _note_change(on + timedelta(days=1),
                 f"{_office_en(official.office)}: {official.member.full_name} left office "
                 f"on {on.isoformat()} ({reason})")
    return official


def pending_notices(today: date | None = None) -> list[OfficialsNotice]:
    return list(db.session.scalars(
        sa.select(OfficialsNotice).where(OfficialsNotice.filed_on.is_(None))
        .order_by(OfficialsNotice.due_on)))


def mark_notice_filed(notice: OfficialsNotice, filed_on: date,
                      today: date | None = None) -> OfficialsNotice:
    today = today or today_in_nairobi()
    if notice.filed_on is not None:
        raise GovernanceError(_l("This notice is already marked as filed."))
    if filed_on > today or filed_on < notice.changed_on:
        raise GovernanceError(_l("The filing date must be between the change and today."))
    notice.filed_on = filed_on
    db.session.flush()
    return notice


# --- Elections --------------------------------------------------------------


def record_election(meeting: Meeting, office: Office, seats: int,
                    candidates: list[tuple[Member | None, int]], term_end: date | None,
                    resolution: Resolution | None, today: date | None = None) -> Election:
    """Record an election's candidates and votes; the winners take office from the meeting,
    elected by ``resolution`` (the meeting's resolution adopting the result).

    Raises:
        GovernanceError: no resolution, a resolution of another meeting, one that failed or
            was not about an election; no candidates, the same candidate twice, votes that
            add up to more than those present could cast, a tie for the last seat, a bad term.
    """
    check_editable(meeting)
    check_held(meeting, today)
    if resolution is None:
        raise GovernanceError(_l("Choose the resolution that adopted the result (record it "
                                 "first)."))
    _check_electing_resolution(resolution, meeting)
    if resolution.kind != ResolutionKind.ELECTION:
        raise GovernanceError(_l("Resolution %(number)d is not about an election.",
                                 number=resolution.number))
    office = Office(office)
    if isinstance(seats, bool) or not isinstance(seats, int) or not 1 <= seats <= 30:
        raise GovernanceError(_l("Seats must be between 1 and 30."))
    if office != Office.COMMITTEE_MEMBER and seats != 1:
        raise GovernanceError(_l("This office has one seat."))
    if not candidates:
        raise GovernanceError(_l("Give at least one candidate and their votes."))
    seen = set()
    for member, votes in candidates:
        if member is None:
            raise GovernanceError(_l("A candidate is not on the register."))
        if member.id in seen:
            raise GovernanceError(_l("%(name)s is listed twice.", name=member.full_name))
        seen.add(member.id)
        if isinstance(votes, bool) or not isinstance(votes, int) or votes < 0:
            raise GovernanceError(_l("Votes must be whole numbers, zero or more."))
    if len(candidates) < seats:
        raise GovernanceError(_l("There are fewer candidates than seats."))
    present = present_count(meeting)
    if not any(a.status == AttendanceStatus.PRESENT for a in meeting.attendance) \
            and meeting.headcount is None:
        raise GovernanceError(_l("Record who attended (or the headcount) before the votes."))
    total = sum(v for _m, v in candidates)
    if total > present * seats:
        raise GovernanceError(_l("%(total)d votes were recorded but only %(present)d people "
                                 "were present.", total=total, present=present))
    ranked = sorted(candidates, key=lambda c: -c[1])
    if len(ranked) > seats and ranked[seats - 1][1] == ranked[seats][1]:
        raise GovernanceError(_l("There is a tie for the last seat: record the run-off vote."))
    if ranked[seats - 1][1] == 0:
        raise GovernanceError(_l("A winner needs at least one vote."))
    election = Election(meeting_id=meeting.id, office=office, seats=seats, term_end=term_end)
    db.session.add(election)
    for index, (member, votes) in enumerate(ranked):
        election.candidates.append(ElectionCandidate(member_id=member.id, votes=votes,
                                                     elected=index < seats))
    db.session.flush()
    for member, _votes in ranked[:seats]:
        appoint(office, member, meeting.held_on, term_end, elected_at=meeting,
                resolution=resolution, today=today)
    return election


# --- Constitution and the registration record -------------------------------


def constitutions() -> list[ConstitutionVersion]:
    return list(db.session.scalars(
        sa.select(ConstitutionVersion).order_by(ConstitutionVersion.adopted_on.desc(),
                                                ConstitutionVersion.id.desc())))


def add_constitution(label: str, adopted_on: date, adopted_at: Meeting | None,
                     document: Document | None, notes: str | None,
                     uploaded_by_id: int | None, today: date | None = None) -> ConstitutionVersion:
    """Store a version of the constitution (a PDF) with the meeting that adopted it.

    Raises:
        GovernanceError: no label, no PDF, a date in the future, a meeting after the date.
    """
    today = today or today_in_nairobi()
    label = clean_line(label, 60, _l("Version"))
    if not isinstance(adopted_on, date) or adopted_on > today:
        raise GovernanceError(_l("The adoption date cannot be in the future."))
    if adopted_at is not None and adopted_at.held_on > adopted_on:
        raise GovernanceError(_l("The adopting meeting was after the adoption date."))
    if document is None:
        raise GovernanceError(_l("Attach the constitution as a PDF."))
    name, _type = files.store(document, "constitution", pdf_only=True)
    version = ConstitutionVersion(
        label=label, adopted_on=adopted_on, adopted_at_id=adopted_at.id if adopted_at else None,
        file=name, file_name=display_filename(document.filename),
        notes=clean_line(notes, 300, _l("Notes"), False), uploaded_by_id=uploaded_by_id)
    db.session.add(version)
    db.session.flush()
    return version


@dataclass
class RecordData:
    founded_on: date | None = None
    certificate_number: str | None = None
    certificate_issued_on: date | None = None
    certificate_renewal_on: date | None = None
    kra_pin: str | None = None
    last_return_on: date | None = None


def save_record(data: RecordData, certificate: Document | None = None,
                today: date | None = None) -> GovernanceRecord:
    """Save the founding date, registration certificate, KRA PIN and last return.

    Raises:
        GovernanceError: a malformed KRA PIN, dates out of order or in the future.
    """
    today = today or today_in_nairobi()
    pin = "".join((data.kra_pin or "").split()).upper() or None
    if pin and not KRA_PIN_RE.match(pin):
        raise GovernanceError(_l("A KRA PIN is a letter, 9 digits and a letter, e.g. "
                                 "P051234567X."))
    number = clean_line(data.certificate_number, 60, _l("Certificate number"), False)
    for value in (data.founded_on, data.certificate_issued_on, data.last_return_on):
        if value is not None and value > today:
            raise GovernanceError(_l("Only the renewal date may be in the future."))
    if data.founded_on and data.founded_on < date(1900, 1, 1):
        raise GovernanceError(_l("The founding date is too long ago."))
    if data.certificate_issued_on and data.certificate_renewal_on \
            and data.certificate_renewal_on <= data.certificate_issued_on:
        raise GovernanceError(_l("The renewal date must be after the date of issue."))
    if data.founded_on and data.certificate_issued_on \
            and data.certificate_issued_on < data.founded_on:
        raise GovernanceError(_l("The certificate cannot be older than the association."))
    if data.founded_on:
        first = db.session.scalar(sa.select(sa.func.min(Meeting.held_on)))
        if first is not None and first < data.founded_on:
            raise GovernanceError(_l("A meeting is recorded on %(date)s, before that founding "
                                     "date.", date=dates.day(first)))
    record = governance_record()
    if record is None:
        record = GovernanceRecord()
        db.session.add(record)
    record.founded_on = data.founded_on
    record.certificate_number = number
    record.certificate_issued_on = data.certificate_issued_on
    record.certificate_renewal_on = data.certificate_renewal_on
    record.kra_pin = pin
    record.last_return_on = data.last_return_on
    if certificate is not None:
        record.certificate_file, record.certificate_type = files.store(certificate, "certificate")
    db.session.flush()
    return record


# --- Compliance --------------------------------------------------------------

OK, DUE, MISSING = "ok", "due", "missing"


@dataclass
class Check:
    label: str
    state: str
    detail: str


def last_meeting(meeting_type: MeetingType, today: date) -> Meeting | None:
    return db.session.scalar(
        sa.select(Meeting).where(Meeting.type == meeting_type, Meeting.held_on <= today)
        .order_by(Meeting.held_on.desc(), Meeting.id.desc()).limit(1))


def election_meeting(today: date) -> Meeting | None:
    """The meeting that elected most of the current officials."""
    counts: dict[int, int] = {}
    for official in current_officials(today):
        if official.elected_at_id:
            counts[official.elected_at_id] = counts.get(official.elected_at_id, 0) + 1
    if not counts:
        return None
    return db.session.get(Meeting, max(counts, key=lambda k: (counts[k], k)))


def last_financial_year(today: date) -> tuple[date, date]:
    from association.profile.services import fiscal_year_start_month

    first_month = fiscal_year_start_month()
    start = fiscal_year_start(today, first_month)
    previous = fiscal_year_start(start - timedelta(days=1), first_month)
    return previous, start - timedelta(days=1)


def compliance(today: date | None = None) -> list[Check]:
    """What is in order, and what is missing or due, for the registrar."""

    from association.core.time import month_start
    from association.ledger.periods import is_closed

    today = today or today_in_nairobi()
    checks = []
    agm = last_meeting(MeetingType.AGM, today)
    if agm and agm.held_on >= today - timedelta(days=365):
        checks.append(Check(_l("AGM held within the last 12 months"), OK,
                            _l("Last AGM on %(date)s.", date=dates.day(agm.held_on))))
    elif agm:
        checks.append(Check(_l("AGM held within the last 12 months"), DUE,
                            _l("The last AGM was on %(date)s: more than 12 months ago.",
                               date=dates.day(agm.held_on))))
    else:
        checks.append(Check(_l("AGM held within the last 12 months"), MISSING,
                            _l("No AGM is recorded.")))
    if agm:
        published = agm.minutes_status == MinutesStatus.PUBLISHED
        checks.append(Check(_l("Minutes of the last AGM"), OK if published else DUE,
                            _l("Published.") if published else _l("Not yet confirmed and "
                                                                   "published.")))
    officials = current_officials(today)
    held = {o.office for o in officials}
    missing = [o for o in KEY_OFFICES if o not in held]
    no_contact = [o for o in officials if not o.phone and not o.email]
    if missing:
        from association.i18n import enum_label

        checks.append(Check(_l("Officials register complete"), MISSING,
                            _l("No one holds: %(offices)s.",
                               offices=", ".join(enum_label(o) for o in missing))))
    elif no_contact:
        checks.append(Check(_l("Officials register complete"), DUE,
                            _l("Officials without contact details: %(n)d.", n=len(no_contact))))
    else:
        checks.append(Check(_l("Officials register complete"), OK,
                            _l("Officials in office: %(n)d.", n=len(officials))))
    overdue = [n for n in pending_notices() if n.due_on < today]
    waiting = [n for n in pending_notices() if n.due_on >= today]
    if overdue:
        checks.append(Check(_l("Change-of-officials notices"), MISSING,
                            _l("A notice was due on %(date)s and is not marked as filed.",
                               date=dates.day(overdue[0].due_on))))
    elif waiting:
        checks.append(Check(_l("Change-of-officials notices"), DUE,
                            _l("File the notice by %(date)s (within 14 days of the change).",
                               date=dates.day(waiting[0].due_on))))
    else:
        checks.append(Check(_l("Change-of-officials notices"), OK,
                            _l("Every change has been notified.")))
    active = db.session.scalar(sa.select(sa.func.count(Member.id))
                               .where(Member.status == MemberStatus.ACTIVE)) or 0
    no_phone = db.session.scalar(sa.select(sa.func.count(Member.id)).where(
        Member.status == MemberStatus.ACTIVE, Member.phone.is_(None))) or 0
    if active < 10:
        checks.append(Check(_l("Members register current"), MISSING,
                            _l("Only %(n)d active members: registration needs at least 10.",
                               n=active)))
    else:
        checks.append(Check(_l("Members register current"), OK if not no_phone else DUE,
                            _l("%(n)d active members; %(missing)d without a phone number.",
                               n=active, missing=no_phone)))
    fy_start, fy_end = last_financial_year(today)
    months, day = [], fy_start
    while day <= fy_end:
        months.append(day)
        day = month_start(day + timedelta(days=32))
    from association.ledger.models import JournalEntry

    first_entry = db.session.scalar(sa.select(sa.func.min(JournalEntry.entry_date)))
    kept = [m for m in months if first_entry is not None and m >= month_start(first_entry)]
    open_months = [m for m in kept if not is_closed(m)]
    if not kept:
        checks.append(Check(_l("Accounts for the last financial year"), DUE,
                            _l("No books were kept in the last financial year.")))
    else:
        checks.append(Check(
            _l("Accounts for the last financial year"), OK if not open_months else DUE,
            _l("%(start)s to %(end)s: every month closed.", start=dates.day(fy_start),
               end=dates.day(fy_end)) if not open_months else
            _l("%(start)s to %(end)s: months not closed yet: %(n)d.",
               start=dates.day(fy_start), end=dates.day(fy_end), n=len(open_months))))
    record = governance_record()
    renewal = record.certificate_renewal_on if record else None
    if not record or not record.certificate_number:
        checks.append(Check(_l("Registration certificate"), MISSING,
                            _l("No certificate number recorded.")))
    elif renewal is None:
        checks.append(Check(_l("Registration certificate"), DUE,
                            _l("Record the renewal date.")))
    elif renewal < today:
        checks.append(Check(_l("Registration certificate"), MISSING,
                            _l("Renewal was due on %(date)s.", date=dates.day(renewal))))
    elif renewal <= today + timedelta(days=60):
        checks.append(Check(_l("Registration certificate"), DUE,
                            _l("Renew by %(date)s.", date=dates.day(renewal))))
    else:
        checks.append(Check(_l("Registration certificate"), OK,
                            _l("Valid; renew by %(date)s.", date=dates.day(renewal))))
    last_return = record.last_return_on if record else None
    if last_return and last_return >= today - timedelta(days=365):
        checks.append(Check(_l("Annual return"), OK,
                            _l("Last filed on %(date)s.", date=dates.day(last_return))))
    else:
        checks.append(Check(_l("Annual return"), DUE,
                            _l("No return filed in the last 12 months.")))
    checks.append(Check(_l("Constitution"), OK if constitutions() else MISSING,
                        _l("Stored.") if constitutions() else _l("Upload the constitution.")))
    checks.append(Check(_l("KRA PIN"), OK if record and record.kra_pin else DUE,
                        _l("Recorded.") if record and record.kra_pin else
                        _l("The renewal form asks for the association's KRA PIN.")))
    return checks


def parse_candidates(text: str) -> list[tuple[Member | None, int]]:
    """Candidates typed one per line: a member number, then their votes ("MLK-0012 45").

    Raises:
        GovernanceError: a line that is not a number and votes, or an unknown member.
    """
    from association.members.services import MemberNotFoundError, get_member_by_number

    out = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or not parts[-1].isdigit() or len(parts[-1]) > 7:
            raise GovernanceError(_l("Line %(n)d: write the member number, then the votes, "
                                     "e.g. \"MLK-0012 45\".", n=number))
        try:
            member = get_member_by_number(" ".join(parts[:-1]))
        except MemberNotFoundError as error:
            raise GovernanceError(_l("Line %(n)d: %(error)s", n=number,
                                     error=str(error))) from None
        out.append((member, int(parts[-1])))
    if len(out) > 100:
        raise GovernanceError(_l("At most 100 candidates."))
    return out
