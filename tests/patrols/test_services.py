"""Patrol services against the real database: settings, rosters, swaps, attendance, stipends."""

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as
from association.core.time import month_end, month_nights, today_in_nairobi
from association.extensions import db
from association.ledger.accounts import account_id
from association.ledger.errors import ClosedPeriodError
from association.ledger.expenses import SelfApprovalError
from association.ledger.models import ExpenseStatus, PaymentMethod, Posting, Side
from association.ledger.periods import close_month
from association.members.models import MemberStatus
from association.members.services import change_status, register_member
from association.patrols import (
    assignments,
    attendance,
    patrollers,
    roster,
    shifts,
    stipends,
    swaps,
    zones,
)
from association.patrols.errors import IneligibleError, PatrolError
from association.patrols.models import (
    Assignment,
    Attendance,
    AwayPeriod,
    PatrolZone,
    ShiftTemplate,
    StipendRun,
    Swap,
    SwapStatus,
)
from association.patrols.public import public_summary
from tests.conftest import count, member_data
from tests.patrols.conftest import (
    EVENING,
    LATE,
    last_month,
    long_ago,
    next_month,
    template_of,
)


def test_shifts_that_end_before_they_start_are_refused(patrols):
    zone = patrols.zone1
    before = count(ShiftTemplate)
    for start, end in ((time(21), time(20)), (time(5), time(1)), (time(21), time(21)),
                       (None, time(1)), (time(21), time(21, 10))):
        with pytest.raises(PatrolError):
            shifts.add_templates(zone, [0], start, end)
    with pytest.raises(PatrolError, match="overlaps"):
        shifts.add_templates(zone, [0, 1], time(23), time(3))
    with pytest.raises(PatrolError):
        shifts.add_templates(zone, [], time(18), time(20))
    with pytest.raises(PatrolError):
        shifts.add_templates(zone, [7], time(18), time(20))
    assert count(ShiftTemplate) == before


def test_zone_minimum_is_at_least_two_and_within_the_volunteers(patrols):
    zone = patrols.zone2  # four volunteers
    with pytest.raises(PatrolError, match="alone"):
        zones.save_zone_settings(zone, 1, None, True)
    with pytest.raises(PatrolError, match="maximum"):
        zones.save_zone_settings(zone, 3, 2, True)
    with pytest.raises(PatrolError, match="Only 4 volunteers"):
        zones.save_zone_settings(zone, 5, None, True)
    zones.save_zone_settings(zone, 4, 6, True)
    assert db.session.get(PatrolZone, zone.id).min_per_shift == 4


def test_enrol_refuses_inactive_and_duplicates(patrols):
    member = register_member(member_data(patrols.zone1.id))
    change_status(member, MemberStatus.LEFT, today_in_nairobi(), "moved", None)
    with pytest.raises(PatrolError, match="not an active member"):
        patrollers.enrol(member)
    with pytest.raises(PatrolError, match="already"):
        patrollers.enrol(patrols.v1[0].member)
    with pytest.raises(PatrolError):
        patrollers.enrol(register_member(member_data(patrols.zone1.id)), weekly_limit=0)


def test_away_dates_may_not_overlap(patrols):
    p = patrols.v1[0]
    start = today_in_nairobi() + timedelta(days=3)
    patrollers.add_away(p, start, start + timedelta(days=4), "Upcountry")
    with pytest.raises(PatrolError, match="overlaps"):
        patrollers.add_away(p, start + timedelta(days=4), start + timedelta(days=8), None)
    with pytest.raises(PatrolError, match="before"):
        patrollers.add_away(p, start + timedelta(days=9), start + timedelta(days=8), None)
    with pytest.raises(PatrolError, match="past"):
        patrollers.add_away(p, date(2020, 1, 1), date(2020, 1, 2), None)
    assert db.session.scalar(sa.select(sa.func.count(AwayPeriod.id))) == 1


def _assignments(month):
    return roster.month_assignments(month)


def test_generate_fills_every_shift_it_can_and_explains_the_rest(patrols):
    month = next_month()
    result = roster.generate_roster(month, None)
    rows = _assignments(month)
    assert result.added == len(rows) > 0
    zone1 = [a for a in rows if a.zone_id == patrols.zone1.id]
    nights = month_nights(month)
    assert len(zone1) == len(nights) * 4  # ten volunteers: zone 1 fully covered
    short_zones = {s.slot.zone_id for s in result.shortages}
    assert short_zones == {patrols.zone2.id}  # four volunteers cannot cover 4 places a night
    for shortage in result.shortages:
        assert shortage.available == 4 and shortage.reasons
    text = roster.shortage_text(result.shortages[0], {patrols.zone2.id: "Kosovo"})
    assert "Kosovo" in text and "rest rule" in text
    # nobody twice a night, nobody two nights in a row
    seen = {}
    for a in rows:
        assert (a.patroller_id, a.night) not in seen
        seen[(a.patroller_id, a.night)] = a
        assert (a.patroller_id, a.night - timedelta(days=1)) not in seen


def test_before_the_roster_is_generated_the_shortage_says_to_generate_it(patrols):
    month = next_month()
    shortages = roster.current_shortages(month)
    zone1 = [s for s in shortages if s.slot.zone_id == patrols.zone1.id]
    assert zone1 and all(s.have == 0 and s.available == 10 for s in zone1)
    text = roster.shortage_text(zone1[0], {patrols.zone1.id: "Mabatini"})
    assert "generate the roster" in text and "already on this shift" not in text


def test_shortages_from_today_count_the_nights_before_it(patrols):
    """Shifts held earlier in the week still count against a shift from today on: the weekly
    limit and the rest rule; an away period too. The roster page's shortages are the same."""
    month = next_month()
    today = next(d for d in month_nights(month) if d.day >= 8 and d.weekday() == 6)
    limited, rested, away, _free = patrols.v2
    patrollers.update_patroller(limited, True, 1, False)
    for person, night in ((limited, today - timedelta(days=6)),
                          (rested, today - timedelta(days=1))):
        assignments.assign(night, template_of(patrols.zone2.id, night.weekday(), EVENING[0]),
                        person, now=long_ago())
    patrollers.add_away(away, today, today, None)
    shortages = roster.current_shortages(month, today=today)
    evening = next(s for s in shortages if s.slot.night == today
                   and s.slot.zone_id == patrols.zone2.id and s.slot.starts_at.hour == 21)
    assert (evening.have, evening.available) == (0, 4)
    assert evening.reasons == {"weekly_limit": 1, "rest": 1, "away": 1}
    assert min(s.slot.night for s in shortages) == today
    page = roster.month_roster(month, {}, today=today)
    assert page.shortages == shortages


def test_regenerating_keeps_manual_edits_unless_asked(patrols):
    month = next_month()
    roster.generate_roster(month, None)
    first = month.replace(day=2)
    template = template_of(patrols.zone2.id, first.weekday(), EVENING[0])
    on_shift = {a.patroller_id for a in assignments.shift_assignments(first, template.id)}
    extra = next(p for p in patrols.v2 if p.id not in on_shift)
    # put them on by hand (a zone-2 shift they may already have the late one of)
    for a in assignments.shift_assignments(first, template_of(patrols.zone2.id, first.weekday(),
                                                             LATE[0]).id):
        if a.patroller_id == extra.id:
            assignments.unassign(a)
    manual, _ = assignments.assign(first, template, extra)
    manual_id = manual.id
    roster.generate_roster(month, None)
    assert db.session.get(Assignment, manual_id) is not None
    again = roster.generate_roster(month, None, keep_manual=False)
    assert db.session.get(Assignment, manual_id) is None
    assert again.removed > 0


def test_generating_is_deterministic(patrols):
    month = next_month()
    roster.generate_roster(month, None)
    first = [(a.night, a.template_id, a.patroller_id) for a in _assignments(month)]
    roster.generate_roster(month, None)
    assert [(a.night, a.template_id, a.patroller_id) for a in _assignments(month)] == first


def test_past_nights_are_never_regenerated(patrols):
    month = next_month()
    roster.generate_roster(month, None, today=month)
    before = {(a.night, a.template_id, a.patroller_id) for a in _assignments(month)
              if a.night < month.replace(day=10)}
    roster.generate_roster(month, None, keep_manual=False, today=month.replace(day=10))
    after = {(a.night, a.template_id, a.patroller_id) for a in _assignments(month)
             if a.night < month.replace(day=10)}
    assert before == after


def test_no_shifts_to_roster_is_a_clear_error(app, setup_association):
    with app.app_context(), acting_as("test"):
        with pytest.raises(PatrolError, match="no shifts"):
            roster.generate_roster(next_month(), None)
        with pytest.raises(PatrolError, match="ahead"):
            roster.generate_roster(date(today_in_nairobi().year + 2, 1, 1), None)


def test_coordinator_edits_check_the_rules(patrols):
    night = next_month().replace(day=5)
    template = template_of(patrols.zone1.id, night.weekday(), EVENING[0])
    late = template_of(patrols.zone1.id, night.weekday(), LATE[0])
    p = patrols.v1[0]
    assignments.assign(night, template, p)
    with pytest.raises(IneligibleError, match="already on that shift"):
        assignments.assign(night, template, p)
    # a zone-2 volunteer on zone 1 is allowed, with a warning
    _, warnings = assignments.assign(night, late, patrols.v2[0])
    assert any("not usually available" in str(w) for w in warnings)
    # overlapping shift in another zone: refused
    zone2_evening = template_of(patrols.zone2.id, night.weekday(), EVENING[0])
    with pytest.raises(IneligibleError, match="overlapping"):
        assignments.assign(night, zone2_evening, p)
    patrollers.add_away(patrols.v1[1], night, night, None)
    with pytest.raises(IneligibleError, match="away"):
        assignments.assign(night, template, patrols.v1[1])
    # a shift in the past
    with pytest.raises(PatrolError, match="already started"):
        assignments.assign(date(2020, 1, 6), template_of(patrols.zone1.id, 0, EVENING[0]), p)
    # the wrong weekday for that template
    with pytest.raises(PatrolError, match="not held"):
        assignments.assign(night + timedelta(days=1), template, p)


def _offer_setup(patrols):
    night = next_month().replace(day=12)
    template = template_of(patrols.zone1.id, night.weekday(), EVENING[0])
    a, _ = assignments.assign(night, template, patrols.v1[0])
    swap = swaps.offer_shift(patrols.v1[0], a, "Funeral upcountry")
    return night, template, a, swap


def test_a_swap_is_automatic_when_every_rule_holds(patrols):
    night, template, a, swap = _offer_setup(patrols)
    with pytest.raises(PatrolError, match="already offered"):
        swaps.offer_shift(patrols.v1[0], a, None)
    with pytest.raises(PatrolError, match="own shift"):
        swaps.take_offer(patrols.v1[0], swap)
    swaps.take_offer(patrols.v1[1], swap)
    assert swap.status == SwapStatus.APPROVED and swap.automatic
    assert a.patroller_id == patrols.v1[1].id and a.manual
    with pytest.raises(PatrolError, match="no longer on offer"):
        swaps.take_offer(patrols.v1[2], swap)


def test_a_swap_to_an_ineligible_patroller_is_refused(patrols):
    night, template, a, swap = _offer_setup(patrols)
    patrollers.add_away(patrols.v1[3], night - timedelta(days=1), night + timedelta(days=1),
                      None)
    with pytest.raises(IneligibleError, match="away"):
        swaps.take_offer(patrols.v1[3], swap)
    db.session.refresh(swap)
    assert swap.status == SwapStatus.OFFERED and a.patroller_id == patrols.v1[0].id


def test_a_swap_against_a_soft_rule_waits_for_the_coordinator(patrols):
    night, template, a, swap = _offer_setup(patrols)
    taker = patrols.v2[0]  # not available in zone 1
    swaps.take_offer(taker, swap)
    assert swap.status == SwapStatus.PENDING and "not usually available" in swap.problems
    assert a.patroller_id == patrols.v1[0].id
    assert swaps.pending_swaps() == [swap]
    swaps.decide_swap(swap, True, None)
    assert swap.status == SwapStatus.APPROVED and a.patroller_id == taker.id
    with pytest.raises(PatrolError):
        swaps.decide_swap(swap, False, None)


def _past_shift(patrols, days_ago=3, zone=None, person=None):
    night = today_in_nairobi() - timedelta(days=days_ago)
    zone = zone or patrols.zone1
    template = template_of(zone.id, night.weekday(), EVENING[0])
    a, _ = assignments.assign(night, template, person or patrols.v1[0], now=long_ago())
    return a


def test_attendance_for_a_shift_that_has_not_happened_is_refused(patrols):
    night = next_month().replace(day=3)
    a, _ = assignments.assign(night, template_of(patrols.zone1.id, night.weekday(), EVENING[0]),
                           patrols.v1[0])
    with pytest.raises(PatrolError, match="not happened"):
        attendance.record_attendance(night, [attendance.AttendanceInput(a.id, Attendance.PRESENT)],
                                   None)
    assert a.attendance is None


def test_attendance_all_or_nothing_and_replacements(patrols):
    a = _past_shift(patrols)
    b = _past_shift(patrols, person=patrols.v1[1])
    with pytest.raises(PatrolError, match="who replaced"):
        attendance.record_attendance(a.night, [
            attendance.AttendanceInput(a.id, Attendance.PRESENT),
            attendance.AttendanceInput(b.id, Attendance.REPLACED)], None)
    assert a.attendance is None  # nothing half-saved
    with pytest.raises(PatrolError, match="already on that shift"):
        attendance.record_attendance(a.night, [
            attendance.AttendanceInput(b.id, Attendance.REPLACED, patrols.v1[0].id)], None)
    with pytest.raises(PatrolError, match="not on this night"):
        attendance.record_attendance(a.night, [attendance.AttendanceInput(999999,
                                                                      Attendance.PRESENT)], None)
    changed = attendance.record_attendance(a.night, [
        attendance.AttendanceInput(a.id, Attendance.PRESENT),
        attendance.AttendanceInput(b.id, Attendance.REPLACED, patrols.v1[2].id, "sick")], None)
    assert changed == 2
    assert attendance.attended_shifts(a.night) == {patrols.v1[0].id: 1, patrols.v1[2].id: 1}


def test_a_replacement_cannot_have_been_on_another_shift_at_the_time(patrols):
    a = _past_shift(patrols, person=patrols.v1[1])
    elsewhere = _past_shift(patrols, zone=patrols.zone2, person=patrols.v1[2])
    with pytest.raises(PatrolError, match="was on another shift at that time"):
        attendance.record_attendance(a.night, [
            attendance.AttendanceInput(a.id, Attendance.REPLACED, patrols.v1[2].id)], None)
    assert a.attendance is None and a.replaced_by_id is None
    # Recorded absent from their own shift in the same go, they may have replaced someone.
    attendance.record_attendance(a.night, [
        attendance.AttendanceInput(elsewhere.id, Attendance.ABSENT),
        attendance.AttendanceInput(a.id, Attendance.REPLACED, patrols.v1[2].id)], None)
    assert a.replaced_by_id == patrols.v1[2].id
    # ...and then they cannot be marked present on their own shift as well.
    with pytest.raises(PatrolError, match="was on another shift at that time"):
        attendance.record_attendance(a.night, [
            attendance.AttendanceInput(elsewhere.id, Attendance.PRESENT),
            attendance.AttendanceInput(a.id, Attendance.REPLACED, patrols.v1[2].id)], None)
    assert elsewhere.attendance == Attendance.ABSENT
    with pytest.raises(PatrolError, match="was on another shift at that time"):
        attendance.record_attendance(a.night, [
            attendance.AttendanceInput(elsewhere.id, Attendance.PRESENT)], None)
    assert elsewhere.attendance == Attendance.ABSENT


def _paid_month(patrols, rate=20_000):
    """Two attended shifts last month, at ``rate`` cents a shift."""
    stipends.set_stipend_rate(rate)
    month = last_month()
    night = month.replace(day=10)
    rows = []
    for person in patrols.v1[:2]:
        a, _ = assignments.assign(night, template_of(patrols.zone1.id, night.weekday(),
                                                  EVENING[0]), person, now=long_ago())
        rows.append(attendance.AttendanceInput(a.id, Attendance.PRESENT))
    attendance.record_attendance(night, rows, None)
    return month


def _user(name, role) -> int:
    from association.auth.services import create_user

    return create_user(name, name.title(), "mtaani-demo", {role},
                       must_change_password=False).id


def test_stipends_go_to_the_books_after_a_second_officials_approval(patrols):
    from association.auth.models import Role

    coordinator = _user("coord", Role.COORDINATOR)
    treasurer = _user("treas", Role.TREASURER)
    month = _paid_month(patrols)
    run = stipends.create_run(month, PaymentMethod.MPESA, coordinator)
    assert run.total_cents == 40_000 and len(run.lines) == 2
    assert run.expense.status == ExpenseStatus.PENDING
    with pytest.raises(PatrolError, match="already recorded"):
        stipends.create_run(month, PaymentMethod.CASH, coordinator)
    with pytest.raises(SelfApprovalError):
        stipends.approve_run(run, coordinator)
    stipends.approve_run(run, treasurer)
    assert run.expense.status == ExpenseStatus.APPROVED
    postings = db.session.scalars(sa.select(Posting).where(
        Posting.entry_id == run.expense.entry_id)).all()
    assert {(p.account_id, p.side, p.amount_cents) for p in postings} == {
        (account_id("patrol_stipends"), Side.DEBIT, 40_000),
        (account_id("mpesa"), Side.CREDIT, 40_000)}
    assert postings[0].entry.entry_date == month_end(month)


def test_stipends_for_a_closed_month_are_refused_and_nothing_is_saved(patrols):
    month = _paid_month(patrols)
    close_month(month, None)
    runs, expenses = count(StipendRun), db.session.scalar(sa.text("select count(*) from expense"))
    with pytest.raises(ClosedPeriodError, match="closed in the books: its stipends cannot"):
        stipends.create_run(month, PaymentMethod.CASH, None)
    assert count(StipendRun) == runs
    assert db.session.scalar(sa.text("select count(*) from expense")) == expenses


def test_a_waiting_run_whose_month_was_closed_cannot_be_approved(patrols):
    from association.auth.models import Role

    treasurer = _user("treas", Role.TREASURER)
    month = _paid_month(patrols)
    run = stipends.create_run(month, PaymentMethod.CASH, None)
    close_month(month, None)
    with pytest.raises(ClosedPeriodError, match="Ask the chair to reopen the month"):
        stipends.approve_run(run, treasurer)
    assert stipends.run_status(run).state == stipends.RunState.PENDING
    assert run.expense.entry_id is None
    stipends.reject_run(run, treasurer, "Month closed; pay from next month's float")
    assert stipends.run_status(run).state == stipends.RunState.REJECTED


def test_stipends_need_an_ended_month_a_rate_and_attendance(patrols):
    with pytest.raises(PatrolError, match="ended"):
        stipends.create_run(today_in_nairobi(), PaymentMethod.CASH, None)
    month = _paid_month(patrols, rate=0)
    with pytest.raises(PatrolError, match="Set the stipend"):
        stipends.create_run(month, PaymentMethod.CASH, None)
    stipends.set_stipend_rate(10_000)
    with pytest.raises(PatrolError, match="cash or by M-Pesa"):
        stipends.create_run(month, PaymentMethod.BANK, None)
    with pytest.raises(PatrolError, match="Nobody attended"):
        stipends.create_run(month.replace(year=month.year - 1), PaymentMethod.CASH, None)
    with pytest.raises(PatrolError):
        stipends.set_stipend_rate(-1)


def test_a_rejected_run_can_be_computed_again(patrols):
    from association.auth.models import Role

    treasurer = _user("treas", Role.TREASURER)
    month = _paid_month(patrols)
    run = stipends.create_run(month, PaymentMethod.CASH, None)
    stipends.reject_run(run, treasurer, "Wrong rate")
    assert stipends.run_status(run) == stipends.RunStatus(stipends.RunState.REJECTED,
                                                          "Wrong rate")
    again = stipends.create_run(month, PaymentMethod.CASH, None)
    assert again.id != run.id
    assert stipends.standing_run(month).id == again.id


def test_a_reversed_run_no_longer_blocks_the_month_but_a_standing_one_does(patrols):
    from association.auth.models import Role
    from association.ledger.expenses import reverse_expense

    treasurer = _user("treas", Role.TREASURER)
    month = _paid_month(patrols)
    run = stipends.create_run(month, PaymentMethod.MPESA, None)
    stipends.approve_run(run, treasurer)
    assert stipends.run_status(run).state == stipends.RunState.APPROVED
    assert stipends.standing_run(month).id == run.id
    # an approved run that stands blocks a second one: no stipend is paid twice
    with pytest.raises(PatrolError, match="already recorded"):
        stipends.create_run(month, PaymentMethod.CASH, None)
    assert count(StipendRun) == 1
    reverse_expense(run.expense, "Sent to the wrong M-Pesa numbers", treasurer)
    status = stipends.run_status(run)
    assert status.state == stipends.RunState.REVERSED and not status.stands
    assert "Sent to the wrong M-Pesa numbers" in status.reason
    assert status.reversed_on == today_in_nairobi()
    assert stipends.standing_run(month) is None
    again = stipends.create_run(month, PaymentMethod.CASH, None)
    assert again.total_cents == run.total_cents
    assert stipends.standing_run(month).id == again.id
    with pytest.raises(PatrolError, match="already recorded"):
        stipends.create_run(month, PaymentMethod.CASH, None)
    stipends.approve_run(again, treasurer)
    # the books hold the stipend once: posted twice, reversed once
    net = db.session.scalar(sa.select(sa.func.sum(sa.case(
        (Posting.side == Side.DEBIT, Posting.amount_cents), else_=-Posting.amount_cents)))
        .where(Posting.account_id == account_id("patrol_stipends")))
    assert net == run.total_cents
    statuses = stipends.run_statuses(stipends.runs(month))
    assert [statuses[r.id].state for r in stipends.runs(month)] == [
        stipends.RunState.APPROVED, stipends.RunState.REVERSED]


def test_a_reversed_run_in_a_month_since_closed_cannot_be_computed_again(patrols):
    from association.auth.models import Role
    from association.ledger.expenses import reverse_expense

    treasurer = _user("treas", Role.TREASURER)
    month = _paid_month(patrols)
    run = stipends.create_run(month, PaymentMethod.CASH, None)
    stipends.approve_run(run, treasurer)
    reverse_expense(run.expense, "Counted the wrong month", treasurer)
    close_month(month, None)
    with pytest.raises(ClosedPeriodError):
        stipends.create_run(month, PaymentMethod.CASH, None)
    assert count(StipendRun) == 1


def test_public_summary_counts_covered_nights_and_incidents(patrols):
    from association.patrols.incidents import IncidentData, record_incident
    from association.patrols.models import IncidentCategory

    night = today_in_nairobi() - timedelta(days=2)
    # before anyone was ever rostered, the patrols had not started: no nights to count
    assert public_summary(night, night) == {"nights_covered": 0, "nights": 0, "incidents": {}}
    earlier = template_of(patrols.zone1.id, (night.weekday() - 1) % 7, EVENING[0])
    assignments.assign(night - timedelta(days=1), earlier, patrols.v1[5], now=long_ago())
    summary = public_summary(night, night)
    assert summary == {"nights_covered": 0, "nights": 1, "incidents": {}}
    for zone, people in ((patrols.zone1, patrols.v1), (patrols.zone2, patrols.v2)):
        for start in (EVENING[0], LATE[0]):
            template = template_of(zone.id, night.weekday(), start)
            offset = 0 if start == EVENING[0] else 2
            for p in people[offset:offset + 2]:
                assignments.assign(night, template, p, now=long_ago())
    record_incident(IncidentData(datetime.combine(night, time(23, 30)), patrols.zone1.id,
                                 "Plot 4", IncidentCategory.MUGGING, "A phone was taken.",
                                 ["warned"], reporter_name="Mama Njeri"), None)
    summary = public_summary(night, night)
    assert summary["nights_covered"] == 1 and summary["nights"] == 1
    assert summary["incidents"] == {(patrols.zone1.name, "mugging"): 1}
    assert "Mama Njeri" not in repr(summary)
    assert public_summary(night, night - timedelta(days=1))["nights"] == 0


def test_swaps_are_deleted_with_regenerated_assignments(patrols):
    month = next_month()
    roster.generate_roster(month, None)
    a = _assignments(month)[-1]
    p = db.session.get(type(patrols.v1[0]), a.patroller_id)
    swaps.offer_shift(p, a, None)
    roster.generate_roster(month, None)
    assert count(Swap) == 0


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_generated_rosters_keep_every_hard_rule_with_random_availability(patrols, seed):
    import random
    from collections import Counter

    from association.patrols.roster_generator import week_of

    rng = random.Random(seed)  # noqa: S311
    zones = [patrols.zone1.id, patrols.zone2.id]
    month = next_month()
    for p in patrols.v1 + patrols.v2:
        places = {(d, rng.choice(zones)) for d in rng.sample(range(7), rng.randint(1, 5))}
        patrollers.set_availability(p, places)
        patrollers.update_patroller(p, True, rng.choice((None, 1, 2, 3)), rng.random() < 0.3)
        if rng.random() < 0.3:
            first = month + timedelta(days=rng.randint(0, 20))
            patrollers.add_away(p, first, first + timedelta(days=rng.randint(0, 6)), None)
    result = roster.generate_roster(month, None)
    people = {p.id: p for p in patrols.v1 + patrols.v2}
    nights = {}
    per_shift = Counter()
    for a in _assignments(month):
        p = people[a.patroller_id]
        assert (a.night.weekday(), a.zone_id) in {(x.weekday, x.zone_id) for x in p.availability}
        assert not any(w.start_date <= a.night <= w.end_date for w in p.away)
        nights.setdefault(p.id, []).append(a.night)
        per_shift[(a.night, a.template_id)] += 1
    for pid, ns in nights.items():
        p = people[pid]
        assert len(ns) == len(set(ns))
        if not p.back_to_back:
            assert not any(n + timedelta(days=1) in set(ns) for n in ns)
        if p.weekly_limit:
            assert max(Counter(week_of(n) for n in ns).values()) <= p.weekly_limit
    short = {s.slot.key for s in result.shortages}
    for slot in roster.month_slots(month):
        assert per_shift[slot.key] <= slot.minimum
        assert (per_shift[slot.key] < slot.minimum) == (slot.key in short)
