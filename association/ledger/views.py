"""The treasurer's books: payments, dues runs, month close, rates, waivers, settings."""


import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from association import transaction
from association.audit.checkpoints import checkpoints_labelled, refused_labels
from association.auth.models import User
from association.auth.permissions import permission_required
from association.core import dates
from association.core.money import format_kes
from association.core.time import add_months, month_end, month_start, parse_month, today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.ledger.dues import (
    RateInput,
    add_rate_schedule,
    bill_month,
    decide_waiver,
    request_waiver,
    schedule_for,
)
from association.ledger.errors import ClosedPeriodError, DuplicatePaymentError
from association.ledger.forms import (
    EXAMPLE_TIERS,
    TIER_ROWS,
    CloseMonthForm,
    DuesRunForm,
    PaymentForm,
    RateScheduleForm,
    ReopenMonthForm,
    SettingsForm,
    WaiverDecisionForm,
    WaiverForm,
)
from association.ledger.models import (
    ClosedMonth,
    DuesCharge,
    DuesRate,
    DuesWaiver,
    Expense,
    ExpenseStatus,
    LedgerSettings,
    Payment,
    PaymentMethod,
    WaiverStatus,
)
from association.ledger.payments import record_payment
from association.ledger.periods import close_label, close_month, is_closed, reopen_month
from association.ledger.report_charts import dues_chart
from association.ledger.reports import Period
from association.ledger.settings import set_voluntary
from association.ledger.standing import standing_of
from association.ledger.trial_balance import trial_balance
from association.members.models import Category
from association.members.services import get_member_by_number
from association.web import flash_form_errors

bp = Blueprint("ledger", __name__)

#: The session key holding the last dues run's result, shown once on the dues page.
DUES_RESULT_KEY = "ledger_dues_result"


def _voluntary() -> bool:
    """The voluntary-contributions switch, read without creating the settings row on a GET."""
    return bool(db.session.scalar(
        sa.select(LedgerSettings.voluntary_contributions).order_by(LedgerSettings.id).limit(1)
    ))


def _user_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(
        sa.select(User.id, User.full_name).where(User.id.in_(ids))).all())


# --- The treasurer's home -------------------------------------------------------------


@bp.route("/ledger")
@permission_required("ledger.view")
def index():
    """The books at a glance: money held, owed by members, months closed, what to do next."""
    balances = {}
    for row in trial_balance().rows:
        if row.account.key:
            balances[row.account.key] = row.debit_cents - row.credit_cents
    this_month = month_start(today_in_nairobi())
    last_month = add_months(this_month, -1)
    pending_expenses = db.session.scalar(
        sa.select(sa.func.count(Expense.id)).where(Expense.status == ExpenseStatus.PENDING)
    )
    pending_waivers = db.session.scalar(
        sa.select(sa.func.count(DuesWaiver.id)).where(DuesWaiver.status == WaiverStatus.PENDING)
    )
    recent = db.session.scalars(
        sa.select(Payment).order_by(Payment.id.desc()).limit(10)
    ).all()
    return render_template(
        "ledger/index.html",
        held=[(key, balances.get(key, 0)) for key in ("cash", "mpesa", "bank")],
        held_total=sum(balances.get(key, 0) for key in ("cash", "mpesa", "bank")),
        owed=balances.get("dues_receivable", 0),
        credit=-balances.get("member_credit", 0),
        months=[(last_month, is_closed(last_month)),
                (this_month, is_closed(this_month))],
        last_month=last_month,
        pending_expenses=pending_expenses,
        pending_waivers=pending_waivers,
        recent=recent,
        voluntary=_voluntary(),
        close_form=CloseMonthForm(formdata=None, month=last_month.strftime("%Y-%m")),
    )


# --- Payments -------------------------------------------------------------------------


@bp.route("/ledger/payments/new", methods=["GET", "POST"])
@permission_required("ledger.record")
def payment_new():
    """Record money a member paid (cash, M-Pesa or bank) and issue the receipt."""
    form = PaymentForm()
    member = None
    if not form.is_submitted() and request.args.get("member"):
        form.member.data = request.args["member"][:30]
        try:
            member = get_member_by_number(form.member.data)
        except DomainError as error:
            form.member.errors = [str(error)]
    if form.validate_on_submit():
        member = form.found_member
        try:
            payment = record_payment(
                member, form.amount_cents, PaymentMethod(form.method.data), form.paid_on.data,
                received_by_id=current_user.id, reference=form.reference.data,
            )
        except DuplicatePaymentError as error:
            transaction.discard()
            form.reference.errors.append(str(error))
            flash(str(error), "error")
        except ClosedPeriodError as error:
            transaction.discard()
            form.paid_on.errors.append(str(error))
            flash(str(error), "error")
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            number = payment.receipt.number
            flash(_("%(amount)s from %(name)s (%(no)s) is recorded: receipt %(receipt)s.",
                    amount=format_kes(payment.amount_cents), name=member.full_name,
                    no=member.member_no, receipt=number), "success")
            return redirect(url_for("receipts.detail", number=number))
    elif form.is_submitted():
        member = form.found_member
    standing = standing_of(member.id) if member is not None else None
    if standing is not None and not form.is_submitted() and not form.amount.data:
        # Opened for a member (e.g. from the arrears list): their balance, to confirm.
        form.amount.data = format_kes(standing.balance_cents, "", whole=True) \
            if standing.owes else None
    return render_template("ledger/payment.html", form=form, member=member, standing=standing)


# --- Monthly dues ---------------------------------------------------------------------


@bp.route("/ledger/dues")
@permission_required("ledger.view")
def dues():
    """Recent dues runs, the rates in force, and the form to run a month."""
    this_month = month_start(today_in_nairobi())
    since = add_months(this_month, -11)
    runs = db.session.execute(
        sa.select(DuesCharge.month, sa.func.count(DuesCharge.id),
                  sa.func.sum(DuesCharge.amount_cents), sa.func.sum(DuesCharge.open_cents))
        .where(DuesCharge.month >= since)
        .group_by(DuesCharge.month).order_by(DuesCharge.month.desc())
    ).all()
    result = session.pop(DUES_RESULT_KEY, None)
    return render_template(
        "ledger/dues.html",
        runs=runs,
        schedule=schedule_for(this_month),
        this_month=this_month,
        form=DuesRunForm(formdata=None),
        result=result,
        voluntary=_voluntary(),
        dues_chart=dues_chart(Period(since, today_in_nairobi())),
    )


@bp.route("/ledger/dues/run", methods=["POST"])
@permission_required("ledger.record")
def dues_run():
    """Charge every active member a month's dues; running a month again charges no one twice."""
    form = DuesRunForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("ledger.dues"))
    try:
        result = bill_month(form.run_month, posted_by_id=current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("ledger.dues"))
    session[DUES_RESULT_KEY] = {
        "month": result.month.isoformat(), "charged": result.charged,
        "total_cents": result.total_cents, "already_charged": result.already_charged,
        "not_active": result.not_active, "joined_later": result.joined_later,
        "no_rate": result.no_rate, "waived": result.waived,
        "credit_applied_cents": result.credit_applied_cents,
    }
    if result.charged:
        flash(_("Dues for %(month)s: %(num)d members charged, %(total)s in all.",
                month=dates.month(result.month), num=result.charged,
                total=format_kes(result.total_cents)), "success")
    else:
        flash(_("Dues for %(month)s: nobody was charged this time.",
                month=dates.month(result.month)), "info")
    return redirect(url_for("ledger.dues"))


# --- Periods --------------------------------------------------------------------------


@bp.route("/ledger/periods")
@permission_required("ledger.view")
def periods():
    """The last 24 months, open or closed, with who closed or reopened them and why."""
    this_month = month_start(today_in_nairobi())
    months = [add_months(this_month, -i) for i in range(24)]
    rows = db.session.scalars(
        sa.select(ClosedMonth).where(ClosedMonth.month >= months[-1])
        .order_by(ClosedMonth.month.desc(), ClosedMonth.id.desc())
    ).all()
    history = {}
    for row in rows:
        history.setdefault(row.month, []).append(row)
    table = [
        (month, any(r.reopened_at is None for r in history.get(month, [])),
         history.get(month, []), month_end(month) < today_in_nairobi())
        for month in months
    ]
    labels = [close_label(row) for row in rows]
    checkpoints, refused = checkpoints_labelled(labels), refused_labels(labels)
    return render_template(
        "ledger/periods.html", table=table,
        checkpoints={row.id: checkpoints.get(close_label(row)) for row in rows},
        refused={row.id for row in rows if close_label(row) in refused},
        close_form=CloseMonthForm(formdata=None),
        reopen_form=ReopenMonthForm(formdata=None),
    )


@bp.route("/ledger/periods/close", methods=["POST"])
@permission_required("ledger.close")
def period_close():
    """Close a month that has ended: nothing more can be posted in it."""
    form = CloseMonthForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("ledger.periods"))
    month = parse_month(form.month.data)
    try:
        close_month(month, closed_by_id=current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("%(month)s is closed.", month=dates.month(month)), "success")
    return redirect(url_for("ledger.periods"))


@bp.route("/ledger/periods/reopen", methods=["POST"])
@permission_required("ledger.reopen")
def period_reopen():
    """Reopen a closed month (the chair, giving the reason); the closing stays on record."""
    form = ReopenMonthForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("ledger.periods"))
    month = parse_month(form.month.data)
    try:
        reopen_month(month, form.reason.data, reopened_by_id=current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("%(month)s is open again.", month=dates.month(month)), "success")
    return redirect(url_for("ledger.periods"))


# --- Rates ----------------------------------------------------------------------------


def _schedules():
    """Every schedule (its rates, effective month, resolution), newest first."""
    rates = db.session.scalars(
        sa.select(DuesRate).order_by(DuesRate.effective_from.desc(), DuesRate.category,
                                     DuesRate.min_premises)
    ).all()
    schedules = {}
    for rate in rates:
        schedules.setdefault(rate.effective_from, []).append(rate)
    return list(schedules.items())


@bp.route("/ledger/rates")
@permission_required("ledger.view")
def rates():
    """Every dues schedule, newest first, with the resolution that decided it."""
    this_month = month_start(today_in_nairobi())
    in_force = schedule_for(this_month)
    schedules = _schedules()
    return render_template(
        "ledger/rates.html", schedules=schedules,
        in_force=in_force[0].effective_from if in_force else None,
        names=_user_names(rs[0].created_by_id for _month, rs in schedules),
    )


def _prefill_rates() -> dict:
    """The schedule in force, or the issue's example when there is none yet."""
    current = schedule_for(month_start(today_in_nairobi()))
    if not current:
        tiers = [{"min_premises": lo, "max_premises": hi, "amount": amount}
                 for lo, hi, amount in EXAMPLE_TIERS]
        return {"resident": "50", "tiers": tiers + [{}] * (TIER_ROWS - len(tiers))}

    def shillings(cents):
        return format_kes(cents, currency="", whole=True)

    data, tiers = {"resident": "", "business": "", "other": ""}, []
    for rate in current:
        if rate.category == Category.LANDLORD:
            tiers.append({"min_premises": rate.min_premises, "max_premises": rate.max_premises,
                          "amount": shillings(rate.amount_cents)})
        elif rate.category.value in data and not data[rate.category.value]:
            data[rate.category.value] = shillings(rate.amount_cents)
    data["tiers"] = (tiers + [{}] * TIER_ROWS)[:TIER_ROWS]
    return data


def _rate_inputs(form: RateScheduleForm) -> list[RateInput]:
    rates = [RateInput(Category(name), cents) for name, cents in form.cents.items()]
    for tier in form.tiers:
        if not tier.form.is_blank():
            rates.append(RateInput(
                Category.LANDLORD, tier.form.amount_cents,
                min_premises=tier.form.min_premises.data,
                max_premises=tier.form.max_premises.data,
            ))
    return rates


@bp.route("/ledger/rates/new", methods=["GET", "POST"])
@permission_required("ledger.rates")
def rates_new():
    """Adopt a new dues schedule from a month on; past charges keep the old rates."""
    form = RateScheduleForm() if request.method == "POST" else RateScheduleForm(
        data=_prefill_rates())
    if form.validate_on_submit():
        try:
            add_rate_schedule(form.effective_month, _rate_inputs(form),
                                       form.resolution_ref.data, created_by_id=current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The new rates apply from %(month)s.",
                    month=dates.month(form.effective_month)), "success")
            return redirect(url_for("ledger.rates"))
    elif form.is_submitted():
        flash(_("Some of the rates need correcting; see below."), "error")
    return render_template("ledger/rates_new.html", form=form)


# --- Waivers --------------------------------------------------------------------------


@bp.route("/ledger/waivers")
@permission_required("ledger.view")
def waivers():
    """Waivers and reductions: those awaiting the chair, then those decided."""
    pending = db.session.scalars(
        sa.select(DuesWaiver).where(DuesWaiver.status == WaiverStatus.PENDING)
        .order_by(DuesWaiver.id)
    ).all()
    decided = db.session.scalars(
        sa.select(DuesWaiver).where(DuesWaiver.status != WaiverStatus.PENDING)
        .order_by(DuesWaiver.decided_at.desc(), DuesWaiver.id.desc()).limit(200)
    ).all()
    names = _user_names([w.requested_by_id for w in pending + decided]
                        + [w.decided_by_id for w in decided])
    return render_template("ledger/waivers.html", pending=pending, decided=decided, names=names,
                           decision_form=WaiverDecisionForm(formdata=None))


@bp.route("/ledger/waivers/new", methods=["GET", "POST"])
@permission_required("ledger.waiver_request")
def waiver_new():
    """Ask the chair to waive or reduce a member's dues for some months."""
    form = WaiverForm()
    if form.validate_on_submit():
        try:
            waiver = request_waiver(
                form.found_member, form.first, form.last, form.amount_cents, form.reason.data,
                requested_by_id=current_user.id,
            )
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The waiver for %(name)s (%(no)s) awaits the chair's decision.",
                    name=waiver.member.full_name, no=waiver.member.member_no), "success")
            return redirect(url_for("ledger.waivers"))
    return render_template("ledger/waiver_new.html", form=form)


@bp.route("/ledger/waivers/<int:waiver_id>/decide", methods=["POST"])
@permission_required("ledger.waiver_approve")
def waiver_decide(waiver_id: int):
    """The chair approves or rejects a waiver."""
    waiver = db.session.get(DuesWaiver, waiver_id)
    if waiver is None:
        abort(404)
    form = WaiverDecisionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("ledger.waivers"))
    approve = form.decision.data == "approve"
    try:
        decide_waiver(waiver, approve, decided_by_id=current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        message = (_("The waiver for %(no)s is approved.", no=waiver.member.member_no) if approve
                   else _("The waiver for %(no)s is rejected.", no=waiver.member.member_no))
        flash(message, "success")
    return redirect(url_for("ledger.waivers"))


# --- Settings -------------------------------------------------------------------------


@bp.route("/ledger/settings", methods=["GET", "POST"])
@permission_required("ledger.accounts")
def settings():
    """Ledger-wide choices: whether members owe monthly dues or give as they can."""
    form = SettingsForm()
    if not form.is_submitted():
        form.voluntary.data = _voluntary()
    if form.validate_on_submit():
        set_voluntary(bool(form.voluntary.data))
        flash(_("Voluntary contributions are on: no dues will be charged.")
              if form.voluntary.data else
              _("Voluntary contributions are off: monthly dues are charged."), "success")
        return redirect(url_for("ledger.settings"))
    return render_template("ledger/settings.html", form=form)
