"""What each role's section of the home page shows, gathered from the areas' own services.

A section is shown for a role the user holds (the chair gets the treasurer's, the
coordinator's and the secretary's: the money, the nights and the meetings are what a chair
answers for) and only when the user's permissions open the pages it leads to; inside a
section each item also asks for its own page's permission. Only figures and records the
role already sees on those pages appear here.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from association.auth.models import Role
from association.core.time import add_months, month_start, now_in_nairobi, today_in_nairobi
from association.extensions import db
from association.ledger.models import DuesCharge, Payment, Receipt
from association.ledger.periods import is_closed
from association.ledger.reports import Period, arrears_totals, collections
from association.ledger.standing import Standing, standing_of
from association.meetings import governance
from association.meetings.models import GENERAL_TYPES, Meeting, MinutesStatus
from association.meetings.transparency import MonthSummary, month_summary
from association.members.services import list_zones
from association.mpesa.models import MpesaTransaction, TransactionStatus
from association.mpesa.suspense import QueueTotals, queue_totals
from association.patrols.ical import shifts_for
from association.patrols.incidents import IncidentFilters, incident_query
from association.patrols.models import Assignment, Attendance, Incident, Swap, SwapStatus
from association.patrols.patrollers import patroller_of
from association.patrols.roster import current_shortages, month_slots, shift_rows
from association.patrols.roster_generator import Slot
from association.patrols.swaps import pending_swap_count

#: How many of the latest incidents the coordinator's section lists.
LAST_INCIDENTS = 5


# --- Member ------------------------------------------------------------------------------


@dataclass
class MemberHome:
    standing: Standing
    is_patroller: bool
    next_shift: Assignment | None
    next_meeting: Meeting | None
    latest_receipt: Receipt | None


def next_general_meeting(today: date) -> Meeting | None:
    """The next meeting every member may attend (a baraza, an AGM...), or None."""
    return db.session.scalar(
        sa.select(Meeting).where(Meeting.type.in_([t.value for t in GENERAL_TYPES]),
                                 Meeting.held_on >= today)
        .order_by(Meeting.held_on, Meeting.id).limit(1))


def latest_receipt(member_id: int) -> Receipt | None:
    """The member's most recent receipt (voided ones too: the receipt page says so)."""
    return db.session.scalar(
        sa.select(Receipt).join(Payment, Payment.id == Receipt.payment_id)
        .where(Payment.member_id == member_id)
        .order_by(Receipt.issued_at.desc(), Receipt.id.desc()).limit(1))


def member_home(user) -> MemberHome:
    """The member's own standing, next shift, next meeting and latest receipt.

    Args:
        user: a user linked to a member (``user.member_id`` set).
    """
    today, now = today_in_nairobi(), now_in_nairobi()
    patroller = patroller_of(user)
    next_shift = None
    if patroller is not None:
        next_shift = next((a for a in shifts_for(patroller, today)
                           if a.night >= today - timedelta(days=1) and a.ends_at > now), None)
    return MemberHome(standing=standing_of(user.member_id), is_patroller=patroller is not None,
                      next_shift=next_shift, next_meeting=next_general_meeting(today),
                      latest_receipt=latest_receipt(user.member_id))


# --- Treasurer ---------------------------------------------------------------------------


@dataclass
class TreasurerHome:
    today: date
    #: Money received today: {"count", "cash", "mpesa", "bank", "total"} (cents).
    received: dict
    #: M-Pesa payments not yet verified, and money matching no member (None: not shown).
    unconfirmed: int | None
    suspense: QueueTotals | None
    #: {"members": n, "total": cents} of the arrears list.
    arrears: dict
    last_month: date
    dues_run_done: bool
    last_month_closed: bool


def unconfirmed_count() -> int:

    return db.session.scalar(sa.select(sa.func.count(MpesaTransaction.id)).where(
        MpesaTransaction.status == TransactionStatus.UNCONFIRMED)) or 0


def dues_charged(month: date) -> bool:
    """Whether the dues run has charged anyone for ``month``."""
    return db.session.scalar(
        sa.select(DuesCharge.id).where(DuesCharge.month == month_start(month)).limit(1)
    ) is not None


def treasurer_home(sees_mpesa: bool) -> TreasurerHome:
    """Today's money, M-Pesa items waiting, the arrears total and the month's tasks."""
    today = today_in_nairobi()
    received = collections(Period(today, today)).figures
    in_arrears, owed = arrears_totals()
    last_month = add_months(month_start(today), -1)
    return TreasurerHome(
        today=today, received=received,
        unconfirmed=unconfirmed_count() if sees_mpesa else None,
        suspense=queue_totals("suspense") if sees_mpesa else None,
        arrears={"members": in_arrears, "total": owed},
        last_month=last_month, dues_run_done=dues_charged(last_month),
        last_month_closed=is_closed(last_month))


# --- Coordinator -------------------------------------------------------------------------


@dataclass
class TonightShift:
    slot: Slot
    zone: str
    times: str
    #: (name, attendance or None, offered for a swap) of each patroller on it.
    people: list[tuple[str, Attendance | None, bool]]
    short: bool


@dataclass
class CoordinatorHome:
    night: date
    shifts: list[TonightShift]
    swaps_waiting: int | None
    incidents: list[Incident] | None = field(default=None)


def tonight(now: datetime | None = None) -> date:
    """The night under way or to come: until last night's shifts have all ended (they run
    past midnight) it is last night, then tonight."""
    now = now or now_in_nairobi()
    yesterday = now.date() - timedelta(days=1)
    if any(s.night == yesterday and s.ends_at > now for s in month_slots(yesterday)):
        return yesterday
    return now.date()


def tonight_shifts(night: date) -> list[TonightShift]:
    """The night's shifts with who holds each, and those below their minimum."""
    slots = [s for s in month_slots(night) if s.night == night]
    if not slots:
        return []
    rows = shift_rows(night - timedelta(days=7), night + timedelta(days=7))
    short = {s.slot.key for s in current_shortages(night, night, slots, rows)}
    held = [r for r in rows if r.night == night]
    offered = set(db.session.scalars(sa.select(Swap.assignment_id).where(
        Swap.assignment_id.in_([r.id for r in held]),
        Swap.status.in_((SwapStatus.OFFERED, SwapStatus.PENDING))))) if held else set()
    zones = {z.id: z.name for z in list_zones()}
    shifts = []
    for slot in slots:
        people = [(r.full_name, r.attendance, r.id in offered) for r in held
                  if r.template_id == slot.template_id]
        shifts.append(TonightShift(
            slot, zones.get(slot.zone_id, ""),
            f"{slot.starts_at:%H:%M}-{slot.ends_at:%H:%M}", people, slot.key in short))
    shifts.sort(key=lambda s: (s.slot.starts_at, s.zone))
    return shifts


def coordinator_home(manages: bool, sees_incidents: bool) -> CoordinatorHome:
    """Tonight's shifts, swaps waiting for a decision and the latest incidents."""
    night = tonight()
    incidents = None
    if sees_incidents:
        incidents = list(db.session.scalars(
            incident_query(IncidentFilters()).limit(LAST_INCIDENTS)))
    return CoordinatorHome(night=night, shifts=tonight_shifts(night),
                           swaps_waiting=pending_swap_count() if manages else None,
                           incidents=incidents)


# --- Secretary ---------------------------------------------------------------------------


@dataclass
class SecretaryHome:
    next_meeting: Meeting | None
    awaiting_confirmation: list[Meeting]
    #: Compliance checks that are due or missing (None: not shown).
    compliance: list[governance.Check] | None


def secretary_home(sees_compliance: bool) -> SecretaryHome:
    """The next meeting, minutes circulated and not yet confirmed, compliance deadlines."""
    today = today_in_nairobi()
    upcoming = db.session.scalar(
        sa.select(Meeting).where(Meeting.held_on >= today)
        .order_by(Meeting.held_on, Meeting.id).limit(1))
    circulated = list(db.session.scalars(
        sa.select(Meeting).where(Meeting.minutes_status == MinutesStatus.CIRCULATED)
        .order_by(Meeting.held_on, Meeting.id)))
    checks = None
    if sees_compliance:
        checks = [c for c in governance.compliance(today) if c.state != governance.OK]
    return SecretaryHome(next_meeting=upcoming, awaiting_confirmation=circulated,
                         compliance=checks)


# --- Which sections ----------------------------------------------------------------------


#: Section -> the roles that get it and the permission its pages need.
SECTIONS = (
    ("member", None, None),
    ("treasurer", {Role.TREASURER, Role.CHAIR}, "ledger.view"),
    ("coordinator", {Role.COORDINATOR, Role.CHAIR}, "patrols.view"),
    ("secretary", {Role.SECRETARY, Role.CHAIR}, "meetings.view"),
    ("auditor", {Role.AUDITOR}, "ledger.view"),
)


def section_names(user) -> list[str]:
    """The sections ``user``'s home shows, in order; a member's own first."""
    roles = user.roles
    names = []
    for name, holders, permission in SECTIONS:
        if name == "member":
            if user.member_id is not None:
                names.append(name)
        elif roles & holders and user.can(permission):
            names.append(name)
    return names


def sections_for(user) -> list[tuple[str, object]]:
    """(name, data) of each section ``user`` sees; the auditor's needs no data (links)."""
    build = {
        "member": lambda: member_home(user),
        "treasurer": lambda: treasurer_home(user.can("mpesa.view")),
        "coordinator": lambda: coordinator_home(user.can("patrols.manage"),
                                                user.can("incidents.view")),
        "secretary": lambda: secretary_home(user.can("governance.pack")),
        "auditor": lambda: None,
    }
    return [(name, build[name]()) for name in section_names(user)]


# --- The public home ---------------------------------------------------------------------


def public_home() -> MonthSummary:
    """This month's public figures, as the transparency page shows them (no names)."""
    return month_summary(today_in_nairobi())
