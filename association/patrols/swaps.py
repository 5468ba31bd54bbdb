"""Swaps: a patroller offers one of their shifts, another takes it (at once when every
rule holds, otherwise the coordinator decides), and the offers and swaps waiting.
"""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from association.core.time import now_in_nairobi, utcnow
from association.extensions import db
from association.patrols.assignments import check_future, rule_problems
from association.patrols.errors import IneligibleError, PatrolError
from association.patrols.models import Assignment, Patroller, Swap, SwapStatus


def assignment_of(patroller: Patroller, assignment_id: int) -> Assignment | None:
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or assignment.patroller_id != patroller.id:
        return None
    return assignment


def offer_shift(patroller: Patroller, assignment: Assignment, note: str | None,
                now: datetime | None = None) -> Swap:
    """``patroller`` offers their shift to the others.

    Raises:
        PatrolError: not their shift, already started, or already offered.
    """
    if assignment.patroller_id != patroller.id:
        raise PatrolError(_l("You can offer only your own shifts."))
    check_future(assignment.night, assignment.template, now)
    open_offer = db.session.scalar(sa.select(Swap.id).where(
        Swap.assignment_id == assignment.id,
        Swap.status.in_((SwapStatus.OFFERED, SwapStatus.PENDING))))
    if open_offer is not None:
        raise PatrolError(_l("You have already offered this shift."))
    swap = Swap(assignment_id=assignment.id, offered_by_id=patroller.id,
                status=SwapStatus.OFFERED, note=" ".join((note or "").split())[:200] or None)
    db.session.add(swap)
    db.session.flush()
    return swap


def cancel_offer(patroller: Patroller, swap: Swap) -> None:
    """Withdraw an offer nobody has taken yet (or that waits for the coordinator)."""
    if swap.offered_by_id != patroller.id:
        raise PatrolError(_l("That offer is not yours."))
    if swap.status not in (SwapStatus.OFFERED, SwapStatus.PENDING):
        raise PatrolError(_l("That offer is already settled."))
    swap.status = SwapStatus.CANCELLED
    db.session.flush()


def open_offers(for_patroller: Patroller | None = None, now: datetime | None = None) -> list:
    """Shifts offered and not yet taken, that have not started."""
    now = now or now_in_nairobi()
    stmt = (sa.select(Swap).join(Assignment, Assignment.id == Swap.assignment_id)
            .where(Swap.status == SwapStatus.OFFERED, Assignment.starts_at > now)
            .options(selectinload(Swap.assignment).selectinload(Assignment.zone),
                     selectinload(Swap.offered_by).selectinload(Patroller.member))
            .order_by(Assignment.starts_at))
    if for_patroller is not None:
        stmt = stmt.where(Swap.offered_by_id != for_patroller.id)
    return list(db.session.scalars(stmt))


def _hand_over(swap: Swap, taker: Patroller) -> None:
    swap.assignment.patroller_id = taker.id
    swap.assignment.manual = True


def take_offer(taker: Patroller, swap: Swap, now: datetime | None = None) -> Swap:
    """``taker`` takes an offered shift: at once when every rule holds, otherwise it waits
    for the coordinator (rules such as availability or the rest rule); never when a hard
    rule is broken.

    Raises:
        PatrolError: not on offer, their own offer, or the shift has started.
        IneligibleError: away, inactive, on an overlapping shift or already on it.
    """
    if swap.status != SwapStatus.OFFERED:
        raise PatrolError(_l("That shift is no longer on offer."))
    if swap.offered_by_id == taker.id:
        raise PatrolError(_l("You cannot take your own shift."))
    assignment = swap.assignment
    check_future(assignment.night, assignment.template, now)
    problems = rule_problems(taker, assignment.night, assignment.template)
    if problems.hard:
        raise IneligibleError(problems.hard[0])
    swap.taken_by_id = taker.id
    swap.taken_at = utcnow()
    if problems.soft:
        swap.status = SwapStatus.PENDING
        swap.problems = " ".join(str(p) for p in problems.soft)[:500]
    else:
        swap.status = SwapStatus.APPROVED
        swap.automatic = True
        swap.decided_at = utcnow()
        _hand_over(swap, taker)
    db.session.flush()
    return swap


def pending_swap_count() -> int:
    """How many swaps wait for the coordinator."""
    return db.session.scalar(sa.select(sa.func.count(Swap.id))
                             .where(Swap.status == SwapStatus.PENDING))


def pending_swaps() -> list[Swap]:
    return list(db.session.scalars(
        sa.select(Swap).where(Swap.status == SwapStatus.PENDING).order_by(Swap.id)
        .options(selectinload(Swap.assignment), selectinload(Swap.offered_by),
                 selectinload(Swap.taken_by))))


def decide_swap(swap: Swap, approve: bool, user_id: int | None,
                now: datetime | None = None) -> Swap:
    """The coordinator approves or refuses a swap waiting for them.

    Raises:
        PatrolError: not waiting, or the shift has started.
        IneligibleError: approving, but a hard rule is now broken.
    """
    if swap.status != SwapStatus.PENDING:
        raise PatrolError(_l("That swap is not waiting for a decision."))
    if approve:
        check_future(swap.assignment.night, swap.assignment.template, now)
        problems = rule_problems(swap.taken_by, swap.assignment.night, swap.assignment.template)
        if problems.hard:
            raise IneligibleError(problems.hard[0])
        _hand_over(swap, swap.taken_by)
        swap.status = SwapStatus.APPROVED
    else:
        swap.status = SwapStatus.REJECTED
    swap.decided_by_id = user_id
    swap.decided_at = utcnow()
    db.session.flush()
    return swap
