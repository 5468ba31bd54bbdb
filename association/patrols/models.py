"""Night patrols: zone settings, shift templates, patrollers, rosters, swaps, stipends, incidents.

Times are Nairobi wall-clock times, stored without a time zone. A *night* is the
date of its evening: the 01:00-05:00 shift of the night of Tuesday 3 March
starts on Wednesday 4 March at 01:00 and still belongs to the night of 3 March.
"""

from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from association.core.db import cents, created_at, intpk, str_enum
from association.core.enums import LabelledEnum
from association.core.time import utcnow
from association.extensions import db


class Attendance(LabelledEnum):
    PRESENT = "present", lazy_pgettext("one person's attendance", "Present")
    ABSENT = "absent", _l("Absent")
    EXCUSED = "excused", _l("Excused")
    REPLACED = "replaced", _l("Replaced")


class SwapStatus(LabelledEnum):
    OFFERED = "offered", _l("Offered")
    # taken; waits for the coordinator
    PENDING = "pending", _l("Waiting for the coordinator")
    APPROVED = "approved", _l("Approved")
    REJECTED = "rejected", _l("Refused")
    CANCELLED = "cancelled", _l("Withdrawn")


class IncidentCategory(LabelledEnum):
    HOUSE_BREAKIN = "house_breakin", _l("House break-in")
    BUSINESS_BREAKIN = "business_breakin", _l("Business break-in")
    MUGGING = "mugging", _l("Mugging")
    SNATCH_THEFT = "snatch_theft", _l("Snatch theft")
    ASSAULT = "assault", _l("Assault")
    GBV = "gbv", _l("Gender-based violence")
    FIRE = "fire", _l("Fire")
    OTHER = "other", _l("Other")


class IncidentAction(LabelledEnum):
    WARNED = "warned", _l("Warned")
    SPOKE_TO_FAMILY = "spoke_to_family", _l("Spoke to the family")
    MEDIATED = "mediated", _l("Mediated")
    TO_CHIEF = "to_chief", _l("Took the person to the chief")
    TO_POLICE = "to_police", _l("Handed to the police")


class PatrolSettings(db.Model):
    """The association's patrol settings: one row, id 1."""

    __tablename__ = "patrol_settings"
    __table_args__ = (CheckConstraint("stipend_cents >= 0", name="stipend_not_negative"),)

    id: Mapped[intpk]
    #: What a patroller is paid for one attended shift.
    stipend_cents: Mapped[cents] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PatrolZone(db.Model):
    """A zone's patrol settings: how many patrol each shift (never fewer than two)."""

    __tablename__ = "patrol_zone"
    __table_args__ = (
        CheckConstraint("min_per_shift >= 2", name="min_two"),
        CheckConstraint("max_per_shift IS NULL OR max_per_shift >= min_per_shift",
                        name="max_above_min"),
    )

    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="RESTRICT"),
                                         primary_key=True)
    min_per_shift: Mapped[int] = mapped_column(default=2)
    max_per_shift: Mapped[int | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    zone = relationship("Zone")


class ShiftTemplate(db.Model):
    """A zone's shift on one night of the week, e.g. Fridays 21:00-01:00."""

    __tablename__ = "shift_template"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("start_minute != end_minute", name="not_empty"),
        CheckConstraint("start_minute BETWEEN 0 AND 1439 AND end_minute BETWEEN 0 AND 1439",
                        name="minute_range"),
        Index("ix_shift_template_zone_weekday", "zone_id", "weekday"),
    )

    id: Mapped[intpk]
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="RESTRICT"))
    #: The night's weekday, Monday 0: the evening the night begins.
    weekday: Mapped[int]
    #: Minutes after midnight (0-1439); a start before noon is after midnight, the next
    #: calendar day of the same night. Stored as minutes so every value is plain JSON.
    start_minute: Mapped[int]
    end_minute: Mapped[int]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created_at]

    zone = relationship("Zone")

    @property
    def start_time(self) -> time:
        return time(self.start_minute // 60, self.start_minute % 60)

    @start_time.setter
    def start_time(self, value: time) -> None:
        self.start_minute = value.hour * 60 + value.minute

    @property
    def end_time(self) -> time:
        return time(self.end_minute // 60, self.end_minute % 60)

    @end_time.setter
    def end_time(self, value: time) -> None:
        self.end_minute = value.hour * 60 + value.minute


class Patroller(db.Model):
    """A member enrolled as a patrol volunteer."""

    __tablename__ = "patroller"
    __table_args__ = (
        CheckConstraint("weekly_limit IS NULL OR weekly_limit BETWEEN 1 AND 14",
                        name="weekly_limit_range"),
    )
    __audit_redact__ = ("ical_token",)

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="RESTRICT"),
                                           unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: At most this many shifts in a week (Monday to Sunday nights); None: no limit.
    weekly_limit: Mapped[int | None]
    #: Whether they accept shifts on two nights in a row.
    back_to_back: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The secret in their calendar feed's address.
    ical_token: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_on: Mapped[date]
    created_at: Mapped[created_at]

    member = relationship("Member")
    availability: Mapped[list["Availability"]] = relationship(
        back_populates="patroller", cascade="all, delete-orphan",
        order_by="(Availability.weekday, Availability.zone_id)",
    )
    away: Mapped[list["AwayPeriod"]] = relationship(
        back_populates="patroller", cascade="all, delete-orphan",
        order_by="AwayPeriod.start_date",
    )


class Availability(db.Model):
    """A patroller is regularly available on this night of the week in this zone."""

    __tablename__ = "patrol_availability"
    __table_args__ = (
        UniqueConstraint("patroller_id", "weekday", "zone_id", name="uq_patrol_availability"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
    )

    id: Mapped[intpk]
    patroller_id: Mapped[int] = mapped_column(ForeignKey("patroller.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="RESTRICT"))

    patroller: Mapped[Patroller] = relationship(back_populates="availability")


class AwayPeriod(db.Model):
    """Nights (inclusive) a patroller is away."""

    __tablename__ = "patrol_away"
    __table_args__ = (CheckConstraint("end_date >= start_date", name="dates_order"),)

    id: Mapped[intpk]
    patroller_id: Mapped[int] = mapped_column(ForeignKey("patroller.id", ondelete="CASCADE"),
                                              index=True)
    start_date: Mapped[date]
    end_date: Mapped[date]
    reason: Mapped[str | None] = mapped_column(String(200))

    patroller: Mapped[Patroller] = relationship(back_populates="away")


class Roster(db.Model):
    """A month's roster: when it was (re)generated and by whom."""

    __tablename__ = "roster"

    id: Mapped[intpk]
    #: The first day of the month.
    month: Mapped[date] = mapped_column(unique=True)
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    generated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class Assignment(db.Model):
    """One patroller on one shift of one night, and whether they turned up."""

    __tablename__ = "patrol_assignment"
    __table_args__ = (
        UniqueConstraint("night", "template_id", "patroller_id", name="uq_assignment"),
        Index("ix_assignment_patroller_night", "patroller_id", "night"),
    )

    id: Mapped[intpk]
    night: Mapped[date] = mapped_column(index=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("shift_template.id",
                                                        ondelete="RESTRICT"))
    #: Copied from the template, so that later changes to it do not rewrite history.
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="RESTRICT"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    patroller_id: Mapped[int] = mapped_column(ForeignKey("patroller.id", ondelete="RESTRICT"))
    #: Set or changed by the coordinator (or a swap): regenerating keeps it.
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    attendance: Mapped[Attendance | None] = mapped_column(str_enum(Attendance, 10))
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("patroller.id"))
    attendance_note: Mapped[str | None] = mapped_column(String(200))
    attendance_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    attendance_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

    template: Mapped[ShiftTemplate] = relationship()
    zone = relationship("Zone")
    patroller: Mapped[Patroller] = relationship(foreign_keys=[patroller_id])
    replaced_by: Mapped[Patroller | None] = relationship(foreign_keys=[replaced_by_id])


class Swap(db.Model):
    """A patroller offers their shift; another takes it; the rules or the coordinator decide."""

    __tablename__ = "patrol_swap"

    id: Mapped[intpk]
    assignment_id: Mapped[int] = mapped_column(ForeignKey("patrol_assignment.id",
                                                          ondelete="CASCADE"), index=True)
    offered_by_id: Mapped[int] = mapped_column(ForeignKey("patroller.id"))
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("patroller.id"))
    status: Mapped[SwapStatus] = mapped_column(str_enum(SwapStatus, 10),
                                               default=SwapStatus.OFFERED, index=True)
    note: Mapped[str | None] = mapped_column(String(200))
    #: Why it needs the coordinator (rules the taker does not meet).
    problems: Mapped[str | None] = mapped_column(String(500))
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[created_at]
    taken_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]

    assignment: Mapped[Assignment] = relationship()
    offered_by: Mapped[Patroller] = relationship(foreign_keys=[offered_by_id])
    taken_by: Mapped[Patroller | None] = relationship(foreign_keys=[taken_by_id])


class StipendRun(db.Model):
    """A month's stipends: computed from attended shifts, approved as one expense."""

    __tablename__ = "stipend_run"
    __table_args__ = (
        CheckConstraint("rate_cents > 0", name="rate_positive"),
        CheckConstraint("total_cents > 0", name="total_positive"),
    )

    id: Mapped[intpk]
    month: Mapped[date] = mapped_column(index=True)
    rate_cents: Mapped[cents]
    total_cents: Mapped[cents]
    #: The expense waiting for (or given) a second official's approval.
    expense_id: Mapped[int] = mapped_column(ForeignKey("expense.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[created_at]

    expense = relationship("Expense")
    lines: Mapped[list["StipendLine"]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="StipendLine.id"
    )


class StipendLine(db.Model):
    """What one patroller is owed in a stipend run."""

    __tablename__ = "stipend_line"
    __table_args__ = (
        UniqueConstraint("run_id", "patroller_id", name="uq_stipend_line"),
        CheckConstraint("shifts > 0", name="shifts_positive"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    id: Mapped[intpk]
    run_id: Mapped[int] = mapped_column(ForeignKey("stipend_run.id", ondelete="CASCADE"))
    patroller_id: Mapped[int] = mapped_column(ForeignKey("patroller.id"))
    shifts: Mapped[int]
    amount_cents: Mapped[cents]

    run: Mapped[StipendRun] = relationship(back_populates="lines")
    patroller: Mapped[Patroller] = relationship()


class Incident(db.Model):
    """An entry of the incident register; corrections keep the earlier versions."""

    __tablename__ = "incident"
    __audit_redact__ = ("reporter_name", "reporter_phone", "person_description")

    id: Mapped[intpk]
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="RESTRICT"),
                                         index=True)
    place: Mapped[str] = mapped_column(String(200))
    category: Mapped[IncidentCategory] = mapped_column(str_enum(IncidentCategory, 20),
                                                       index=True)
    description: Mapped[str] = mapped_column(Text)
    #: IncidentAction values the patrol took.
    actions: Mapped[list] = mapped_column(JSON, default=list)
    action_notes: Mapped[str | None] = mapped_column(Text)
    weapon_involved: Mapped[bool] = mapped_column(Boolean, default=False)
    sexual_offence: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Violence, weapons or a sexual offence: to be handed to the police.
    major: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    police_station: Mapped[str | None] = mapped_column(String(120))
    ob_number: Mapped[str | None] = mapped_column(String(60))
    police_officer: Mapped[str | None] = mapped_column(String(120))
    #: Who reported it: optional, seen only by the coordinator and the chair.
    reporter_name: Mapped[str | None] = mapped_column(String(120))
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    #: What the report says about a person: always an unverified allegation.
    person_description: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    zone = relationship("Zone")
    revisions: Mapped[list["IncidentRevision"]] = relationship(
        back_populates="incident", order_by="IncidentRevision.id.desc()"
    )


class IncidentRevision(db.Model):
    """An incident as it stood before a correction, with who corrected it and why."""

    __tablename__ = "incident_revision"
    __audit_redact__ = ("snapshot",)

    id: Mapped[intpk]
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="RESTRICT"),
                                             index=True)
    snapshot: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(300))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    changed_at: Mapped[created_at]

    incident: Mapped[Incident] = relationship(back_populates="revisions")
    changed_by = relationship("User")
