"""Meetings and governance: meetings, agenda, attendance, minutes, resolutions, action items,
quorum rules, officials, elections, constitution versions and the registration record."""

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from association.core.db import created_at, intpk, str_enum
from association.core.enums import LabelledEnum
from association.extensions import db


class MeetingType(LabelledEnum):
    # general baraza
    GENERAL = "general", _l("General baraza")
    AGM = "agm", _l("Annual general meeting")
    # special general meeting
    SPECIAL = "special", _l("Special general meeting")
    COMMITTEE = "committee", _l("Committee meeting")
    # community dialogue or joint activity with police / partners
    DIALOGUE = "dialogue", _l("Community dialogue or joint activity")


#: Meetings of the whole membership: their published minutes are open to every member.
GENERAL_TYPES = frozenset({MeetingType.GENERAL, MeetingType.AGM, MeetingType.SPECIAL,
                           MeetingType.DIALOGUE})


class MinutesStatus(LabelledEnum):
    DRAFT = "draft", _l("Draft")
    CIRCULATED = "circulated", _l("Circulated to the committee")
    CONFIRMED = "confirmed", _l("Confirmed")
    PUBLISHED = "published", _l("Published")


class AttendanceStatus(LabelledEnum):
    PRESENT = "present", lazy_pgettext("one person's attendance", "Present")
    APOLOGY = "apology", _l("Apology")


class QuorumKind(LabelledEnum):
    FRACTION = "fraction", _l("A fraction of active members")
    FIXED = "fixed", _l("A fixed number of members")


class MajorityRule(LabelledEnum):
    SIMPLE = "simple", _l("Simple majority")
    TWO_THIRDS = "two_thirds", _l("Two-thirds majority")


class ResolutionKind(LabelledEnum):
    GENERAL = "general", _l("General")
    DUES = "dues", _l("Sets the dues rates")
    CONFIRM_MINUTES = "confirm_minutes", _l("Confirms earlier minutes")
    ELECTION = "election", _l("Election")
    CONSTITUTION = "constitution", _l("Adopts the constitution")


class ActionStatus(LabelledEnum):
    OPEN = "open", _l("Open")
    DONE = "done", _l("Done")
    DROPPED = "dropped", _l("Dropped")


class Office(LabelledEnum):
    CHAIR = "chair", _l("Chairperson")
    VICE_CHAIR = "vice_chair", _l("Vice-chairperson")
    SECRETARY = "secretary", _l("Secretary")
    VICE_SECRETARY = "vice_secretary", _l("Vice-secretary")
    TREASURER = "treasurer", _l("Treasurer")
    ORGANISING_SECRETARY = "organising_secretary", _l("Organising secretary")
    COMMITTEE_MEMBER = "committee_member", _l("Committee member")


#: The offices a complete register must fill.
KEY_OFFICES = (Office.CHAIR, Office.SECRETARY, Office.TREASURER)


class Meeting(db.Model):
    """A baraza, AGM, special general meeting, committee meeting or community dialogue."""

    __tablename__ = "meeting"
    __table_args__ = (
        CheckConstraint("headcount IS NULL OR headcount >= 0", name="headcount"),
        CheckConstraint("notice_on IS NULL OR notice_on <= held_on", name="notice_before"),
    )

    id: Mapped[intpk]
    type: Mapped[MeetingType] = mapped_column(str_enum(MeetingType, 20), index=True)
    title: Mapped[str] = mapped_column(String(160))
    held_on: Mapped[date] = mapped_column(index=True)
    #: "HH:MM" (kept as text: the audit trail stores JSON, which has no time type).
    starts_at: Mapped[str | None] = mapped_column(String(5))
    venue: Mapped[str] = mapped_column(String(160))
    convener: Mapped[str] = mapped_column(String(120))
    notice_on: Mapped[date | None]
    #: People present when names were not captured (then a photo of the sign-in sheet).
    headcount: Mapped[int | None]
    signin_file: Mapped[str | None] = mapped_column(String(60))
    signin_type: Mapped[str | None] = mapped_column(String(40))
    minutes_status: Mapped[MinutesStatus] = mapped_column(
        str_enum(MinutesStatus, 20), default=MinutesStatus.DRAFT, index=True)
    #: The language the secretary wrote the minutes in ("en" or "sw").
    minutes_language: Mapped[str] = mapped_column(String(5), default="en")
    #: Committee minutes are shown to members only when the committee chooses.
    members_may_read: Mapped[bool] = mapped_column(default=False)
    circulated_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[created_at]

    agenda: Mapped[list["AgendaItem"]] = relationship(
        back_populates="meeting", order_by="AgendaItem.position",
        cascade="all, delete-orphan")
    attendance: Mapped[list["MeetingAttendance"]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan")
    guests: Mapped[list["MeetingGuest"]] = relationship(
        back_populates="meeting", order_by="MeetingGuest.id", cascade="all, delete-orphan")
    resolutions: Mapped[list["Resolution"]] = relationship(
        back_populates="meeting", order_by="Resolution.number",
        foreign_keys="Resolution.meeting_id")
    actions: Mapped[list["ActionItem"]] = relationship(
        back_populates="meeting", order_by="ActionItem.id")
    addenda: Mapped[list["MinutesAddendum"]] = relationship(
        back_populates="meeting", order_by="MinutesAddendum.id")
    comments: Mapped[list["MinutesComment"]] = relationship(
        back_populates="meeting", order_by="MinutesComment.id")


class AgendaItem(db.Model):
    """An agenda item in order, with the minutes of its discussion and decisions."""

    __tablename__ = "meeting_agenda_item"
    __table_args__ = (
        UniqueConstraint("meeting_id", "position", name="uq_meeting_agenda_item_position"),
    )

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"),
                                            index=True)
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    #: An open action item of an earlier meeting, carried forward onto this agenda.
    carried_action_id: Mapped[int | None] = mapped_column(ForeignKey("action_item.id"))
    discussion: Mapped[str | None] = mapped_column(Text)
    decisions: Mapped[str | None] = mapped_column(Text)

    meeting: Mapped[Meeting] = relationship(back_populates="agenda")
    carried_action = relationship("ActionItem", foreign_keys=[carried_action_id])


class MeetingAttendance(db.Model):
    """A member present at a meeting, or who sent an apology."""

    __tablename__ = "meeting_attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "member_id", name="uq_meeting_attendance_member"),
    )

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"),
                                            index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    status: Mapped[AttendanceStatus] = mapped_column(str_enum(AttendanceStatus, 10))

    meeting: Mapped[Meeting] = relationship(back_populates="attendance")
    member = relationship("Member")


class MeetingGuest(db.Model):
    """A guest: a police officer, the chief, a partner organisation's officer."""

    __tablename__ = "meeting_guest"

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"),
                                            index=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(120))
    organisation: Mapped[str | None] = mapped_column(String(120))

    meeting: Mapped[Meeting] = relationship(back_populates="guests")


class MinutesAddendum(db.Model):
    """A correction to published minutes: they are never edited."""

    __tablename__ = "meeting_addendum"

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    added_at: Mapped[created_at]

    meeting: Mapped[Meeting] = relationship(back_populates="addenda")
    added_by = relationship("User")


class MinutesComment(db.Model):
    """A committee member's comment on circulated minutes."""

    __tablename__ = "meeting_comment"

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[created_at]

    meeting: Mapped[Meeting] = relationship(back_populates="comments")
    user = relationship("User")


class QuorumRule(db.Model):
    """The constitution's quorum for a type of meeting: a fraction of active members or a
    fixed number."""

    __tablename__ = "quorum_rule"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'fraction' AND numerator >= 1 AND denominator >= 1 "
            "AND numerator <= denominator) OR (kind = 'fixed' AND fixed_count >= 1)",
            name="sense"),
    )

    id: Mapped[intpk]
    meeting_type: Mapped[MeetingType] = mapped_column(str_enum(MeetingType, 20), unique=True)
    kind: Mapped[QuorumKind] = mapped_column(str_enum(QuorumKind, 10))
    numerator: Mapped[int | None]
    denominator: Mapped[int | None]
    fixed_count: Mapped[int | None]
    updated_at: Mapped[created_at]


class Resolution(db.Model):
    """A motion put to a meeting: proposer, seconder, votes and whether it passed."""

    __tablename__ = "resolution"
    __table_args__ = (
        UniqueConstraint("meeting_id", "number", name="uq_resolution_number"),
        CheckConstraint("votes_for >= 0 AND votes_against >= 0 AND votes_abstain >= 0",
                        name="votes"),
    )

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    number: Mapped[int]
    kind: Mapped[ResolutionKind] = mapped_column(str_enum(ResolutionKind, 20))
    text: Mapped[str] = mapped_column(Text)
    proposer: Mapped[str] = mapped_column(String(120))
    seconder: Mapped[str] = mapped_column(String(120))
    votes_for: Mapped[int]
    votes_against: Mapped[int]
    votes_abstain: Mapped[int]
    majority: Mapped[MajorityRule] = mapped_column(str_enum(MajorityRule, 20))
    passed: Mapped[bool]
    #: The meeting had not reached its quorum when this was decided.
    inquorate: Mapped[bool] = mapped_column(default=False)
    #: For a resolution confirming the minutes of an earlier meeting.
    confirms_meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id"),
                                                            unique=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[created_at]

    meeting: Mapped[Meeting] = relationship(back_populates="resolutions",
                                            foreign_keys=[meeting_id])
    confirms_meeting: Mapped[Meeting | None] = relationship(foreign_keys=[confirms_meeting_id])
    rates: Mapped[list["ResolutionRate"]] = relationship(back_populates="resolution")


class ResolutionRate(db.Model):
    """A dues rate of the ledger's schedule that a resolution set."""

    __tablename__ = "resolution_rate"

    id: Mapped[intpk]
    resolution_id: Mapped[int] = mapped_column(ForeignKey("resolution.id"), index=True)
    dues_rate_id: Mapped[int] = mapped_column(ForeignKey("dues_rate.id"), unique=True)

    resolution: Mapped[Resolution] = relationship(back_populates="rates")
    dues_rate = relationship("DuesRate")


class ActionItem(db.Model):
    """Something a meeting asked someone to do, by a date."""

    __tablename__ = "action_item"

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str] = mapped_column(String(120))
    due_on: Mapped[date | None]
    status: Mapped[ActionStatus] = mapped_column(str_enum(ActionStatus, 10),
                                                 default=ActionStatus.OPEN, index=True)
    closed_on: Mapped[date | None]
    created_at: Mapped[created_at]

    meeting: Mapped[Meeting] = relationship(back_populates="actions")


class Official(db.Model):
    """An office bearer: office, member, term, and the meeting that elected them."""

    __tablename__ = "official"
    __table_args__ = (
        CheckConstraint("term_end IS NULL OR term_end >= term_start", name="term"),
        Index("ix_official_office_term", "office", "term_start"),
    )

    id: Mapped[intpk]
    office: Mapped[Office] = mapped_column(str_enum(Office, 30))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    term_start: Mapped[date]
    #: The end of the term (planned, or the date they left office).
    term_end: Mapped[date | None]
    elected_at_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id"))
    resolution_id: Mapped[int | None] = mapped_column(ForeignKey("resolution.id"))
    #: Contact as given for the register (defaults to the member's phone).
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(120))
    ended_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[created_at]

    member = relationship("Member")
    elected_at: Mapped[Meeting | None] = relationship(foreign_keys=[elected_at_id])
    resolution: Mapped[Resolution | None] = relationship(foreign_keys=[resolution_id])


class Election(db.Model):
    """An election for an office at a meeting."""

    __tablename__ = "election"

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    office: Mapped[Office] = mapped_column(str_enum(Office, 30))
    seats: Mapped[int] = mapped_column(default=1)
    term_end: Mapped[date | None]
    created_at: Mapped[created_at]

    meeting: Mapped[Meeting] = relationship()
    candidates: Mapped[list["ElectionCandidate"]] = relationship(
        back_populates="election", order_by="ElectionCandidate.votes.desc()",
        cascade="all, delete-orphan")


class ElectionCandidate(db.Model):
    __tablename__ = "election_candidate"
    __table_args__ = (
        UniqueConstraint("election_id", "member_id", name="uq_election_candidate_member"),
        CheckConstraint("votes >= 0", name="votes"),
    )

    id: Mapped[intpk]
    election_id: Mapped[int] = mapped_column(ForeignKey("election.id", ondelete="CASCADE"),
                                             index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    votes: Mapped[int]
    elected: Mapped[bool] = mapped_column(default=False)

    election: Mapped[Election] = relationship(back_populates="candidates")
    member = relationship("Member")


class OfficialsNotice(db.Model):
    """A change of officials the registrar must be told of within 14 days."""

    __tablename__ = "officials_notice"

    id: Mapped[intpk]
    changed_on: Mapped[date] = mapped_column(index=True)
    due_on: Mapped[date]
    summary: Mapped[str] = mapped_column(Text)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id"))
    filed_on: Mapped[date | None]
    created_at: Mapped[created_at]

    meeting: Mapped[Meeting | None] = relationship()


class ConstitutionVersion(db.Model):
    """A version of the constitution as adopted, with its PDF."""

    __tablename__ = "constitution_version"

    id: Mapped[intpk]
    label: Mapped[str] = mapped_column(String(60))
    adopted_on: Mapped[date]
    adopted_at_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id"))
    file: Mapped[str] = mapped_column(String(60))
    file_name: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(String(300))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[created_at]

    adopted_at: Mapped[Meeting | None] = relationship()


class GovernanceRecord(db.Model):
    """One row: the registration certificate, the KRA PIN and the founding date."""

    __tablename__ = "governance_record"

    id: Mapped[intpk]
    founded_on: Mapped[date | None]
    certificate_number: Mapped[str | None] = mapped_column(String(60))
    certificate_issued_on: Mapped[date | None]
    certificate_renewal_on: Mapped[date | None]
    certificate_file: Mapped[str | None] = mapped_column(String(60))
    certificate_type: Mapped[str | None] = mapped_column(String(40))
    kra_pin: Mapped[str | None] = mapped_column(String(11))
    #: When the last annual return / progress report went to the registrar.
    last_return_on: Mapped[date | None]
    updated_at: Mapped[created_at]
