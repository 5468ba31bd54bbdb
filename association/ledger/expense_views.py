"""Expenses, recorded by one official and approved by another; the chart of accounts."""

import io

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from association import transaction
from association.auth.permissions import permission_required
from association.core.money import format_kes, to_cents
from association.core.time import MonthError, parse_month
from association.core.uploads import DOCUMENT_EXTENSIONS, document_limit, read_upload
from association.errors import DomainError
from association.extensions import db
from association.i18n import choices, current_language, enum_label
from association.ledger import expenses as services
from association.ledger.accounts import (
    account_balances,
    account_locked,
    chart,
    create_account,
    expense_accounts,
    update_account,
)
from association.ledger.expense_forms import (
    ACCOUNT_TYPE_HEADINGS,
    AccountForm,
    ApproveForm,
    ExpenseFilterForm,
    ExpenseForm,
    RejectForm,
    ReverseForm,
)
from association.ledger.models import (
    Account,
    AccountType,
    Expense,
    ExpenseStatus,
    JournalEntry,
    PaymentMethod,
)
from association.web import flash_form_errors

bp = Blueprint("expenses", __name__)


def account_name(acct: Account | None) -> str:
    """The account's name in the reader's language (English when no Swahili name is set)."""
    if acct is None:
        return ""
    if current_language() == "sw" and acct.name_sw:
        return acct.name_sw
    return acct.name


def _expense_or_404(expense_id: int) -> Expense:
    return db.get_or_404(Expense, expense_id)


# --- Expenses -------------------------------------------------------------


@bp.route("/expenses")
@permission_required("ledger.view")
def index():
    """Expenses: those waiting for approval first, then approved and rejected ones."""
    form = ExpenseFilterForm(request.args)
    filters = services.ExpenseFilters()
    if form.validate():
        month = None
        if form.month.data:
            try:
                month = parse_month(form.month.data)
            except MonthError as error:
                form.month.errors = [str(error)]
        filters = services.ExpenseFilters(
            status=ExpenseStatus(form.status.data) if form.status.data else None, month=month
        )
    page = db.paginate(
        services.expense_query(filters).options(
            selectinload(Expense.account), selectinload(Expense.recorded_by),
            selectinload(Expense.decided_by),
        ),
        per_page=50, max_per_page=100, error_out=False,
    )
    return render_template(
        "expenses/index.html", form=form, page=page, totals=services.expense_totals(filters),
        reversed_ids=services.reversed_expense_ids(page.items),
        ExpenseStatus=ExpenseStatus, account_name=account_name, ref=services.expense_reference,
    )


@bp.route("/expenses/new", methods=["GET", "POST"])
@permission_required("ledger.expense_record")
def new():
    """Record money paid out; it is posted only when a second official approves it."""
    form = ExpenseForm()
    accounts = expense_accounts()
    form.account_id.choices = choices(
        ((a.id, f"{a.code} {account_name(a)}") for a in accounts), _("Choose an account")
    )
    if form.validate_on_submit():
        try:
            expense = services.record_expense(
                db.session.get(Account, form.account_id.data),
                form.payee.data,
                to_cents(form.amount.data),
                PaymentMethod(form.method.data),
                form.paid_on.data,
                form.description.data,
                read_upload(form.document.data),
                recorded_by_id=current_user.id,
            )
        except services.DocumentError as error:
            transaction.discard()
            form.document.errors = [str(error)]
            flash(str(error), "error")
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("%(ref)s is recorded: %(amount)s to %(payee)s. It will be posted when "
                    "another official approves it.", ref=services.expense_reference(expense),
                    amount=format_kes(expense.amount_cents), payee=expense.payee),
                  "success")
            if current_user.can("ledger.view"):
                return redirect(url_for("expenses.detail", expense_id=expense.id))
            return redirect(url_for("expenses.new"))
    return render_template("expenses/form.html", form=form, no_accounts=not accounts,
                           limit_mb=f"{document_limit() / 1048576:g}")


@bp.route("/expenses/<int:expense_id>")
@permission_required("ledger.view")
def detail(expense_id: int):
    """One expense: what, who recorded and decided it, its entry and its document."""
    expense = _expense_or_404(expense_id)
    return render_template(
        "expenses/detail.html",
        expense=expense,
        ref=services.expense_reference(expense),
        account_name=account_name,
        entry=db.session.get(JournalEntry, expense.entry_id) if expense.entry_id else None,
        reversal=services.expense_reversal(expense),
        has_document=services.document_path(expense) is not None,
        approve_form=ApproveForm(),
        reject_form=RejectForm(),
        reverse_form=ReverseForm(),
        own=expense.recorded_by_id == current_user.id,
        paid_from=services.paid_from(expense) if expense.status == ExpenseStatus.PENDING
        else None,
    )


@bp.route("/expenses/<int:expense_id>/approve", methods=["POST"])
@permission_required("ledger.expense_approve")
def approve(expense_id: int):
    """A second official approves an expense: it is posted to the books."""
    expense = _expense_or_404(expense_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("expenses.detail", expense_id=expense.id))
    try:
        services.approve_expense(expense, current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("%(ref)s is approved and posted to the books.",
                ref=services.expense_reference(expense)), "success")
    return redirect(url_for("expenses.detail", expense_id=expense_id))


@bp.route("/expenses/<int:expense_id>/reject", methods=["POST"])
@permission_required("ledger.expense_approve")
def reject(expense_id: int):
    """Reject an expense with a reason; it stays on the list, never posted."""
    expense = _expense_or_404(expense_id)
    form = RejectForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("expenses.detail", expense_id=expense.id))
    try:
        services.reject_expense(expense, current_user.id, form.reason.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("%(ref)s is rejected.", ref=services.expense_reference(expense)), "success")
    return redirect(url_for("expenses.detail", expense_id=expense_id))


@bp.route("/expenses/<int:expense_id>/reverse", methods=["POST"])
@permission_required("ledger.expense_approve")
def reverse(expense_id: int):
    """Correct an approved expense with a reversing entry dated today."""
    expense = _expense_or_404(expense_id)
    form = ReverseForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("expenses.detail", expense_id=expense.id))
    try:
        services.reverse_expense(expense, form.reason.data, current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("%(ref)s is reversed.", ref=services.expense_reference(expense)), "success")
    return redirect(url_for("expenses.detail", expense_id=expense_id))


@bp.route("/expenses/<int:expense_id>/document")
@permission_required("ledger.view")
def document(expense_id: int):
    """Download an expense's supporting document, as the type its content showed."""
    expense = _expense_or_404(expense_id)
    path = services.document_path(expense)
    if path is None or expense.document_type not in DOCUMENT_EXTENSIONS:
        abort(404)
    response = send_file(
        io.BytesIO(path.read_bytes()),
        mimetype=expense.document_type,
        as_attachment=True,
        download_name=f"{services.expense_reference(expense)}"
                      f"{DOCUMENT_EXTENSIONS[expense.document_type]}",
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- The chart of accounts ------------------------------------------------


@bp.route("/accounts")
@permission_required("ledger.view")
def accounts():
    """The chart of accounts by type, with each account's balance."""
    rows = chart()
    by_type = {t: [a for a in rows if a.type == t] for t in AccountType}
    return render_template(
        "expenses/accounts.html", by_type=by_type, balances=account_balances(),
        headings=ACCOUNT_TYPE_HEADINGS,
    )


@bp.route("/accounts/new", methods=["GET", "POST"])
@permission_required("ledger.accounts")
def account_new():
    """Add an account to the chart (the chair)."""
    form = AccountForm()
    del form.active
    if form.validate_on_submit():
        try:
            created = create_account(form.code.data, form.name.data, form.name_sw.data,
                                              AccountType(form.type.data))
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("Account %(code)s %(name)s added.", code=created.code, name=created.name),
                  "success")
            return redirect(url_for("expenses.accounts"))
    return render_template("expenses/account_form.html", form=form, account=None, locked=False)


@bp.route("/accounts/<int:account_id>", methods=["GET", "POST"])
@permission_required("ledger.accounts")
def account_edit(account_id: int):
    """Rename an account or take it out of use; code and type only while it is unused."""
    acct = db.get_or_404(Account, account_id)
    locked = account_locked(acct) or acct.key is not None
    form = AccountForm(obj=acct)
    if not form.is_submitted():
        form.type.data = acct.type.value
    if locked:
        del form.type
        if account_locked(acct):
            del form.code
    if acct.key is not None:
        del form.active  # the system posts to it: it stays in use
    if form.validate_on_submit():
        try:
            update_account(
                acct, form.name.data, form.name_sw.data,
                form.active.data if "active" in form else acct.active,
                code=form.code.data if "code" in form else None,
                type_=AccountType(form.type.data) if "type" in form else None,
            )
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("Account %(code)s saved.", code=acct.code), "success")
            return redirect(url_for("expenses.accounts"))
    return render_template(
        "expenses/account_form.html", form=form, account=acct, locked=locked,
        type_label=enum_label(acct.type),
    )
