"""Expense, decision and chart-of-accounts forms.

Shape only: the rules are in ``ledger.expenses`` and ``ledger.accounts``.
"""


from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from association.core.money import AmountError, to_cents
from association.core.time import today_in_nairobi
from association.forms import BaseForm, DayField, optional_int
from association.i18n import enum_choices
from association.ledger.models import AccountType, ExpenseStatus, PaymentMethod

#: The chart's headings, one per kind of account.
ACCOUNT_TYPE_HEADINGS = {
    AccountType.ASSET: _l("Assets"),
    AccountType.LIABILITY: _l("Liabilities"),
    AccountType.EQUITY: _l("Funds (equity)"),
    AccountType.INCOME: _l("Income"),
    AccountType.EXPENSE: _l("Expenditure"),
}


#: Commas only as thousands separators ("1,500", "12,000.50").


def amount_check(form, field) -> None:
    """The amount must parse as money."""
    try:
        to_cents(field.data)
    except AmountError as error:
        raise ValidationError(str(error)) from None


class ExpenseForm(BaseForm):
    account_id = SelectField(
        _l("Expense account"), coerce=optional_int,
        validators=[DataRequired(_l("Choose the expense account."))],
    )
    payee = StringField(
        _l("Paid to"), validators=[DataRequired(_l("Enter who was paid.")), Length(max=120)]
    )
    amount = StringField(_l("Amount (KES)"), validators=[amount_check],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    method = SelectField(
        _l("Paid from"), choices=enum_choices(PaymentMethod),
        validators=[DataRequired(_l("Choose how the money was paid."))],
    )
    paid_on = DayField(
        _l("Date paid"), default=today_in_nairobi,
        validators=[InputRequired(_l("Enter the date the money was paid."))],
    )
    description = TextAreaField(
        _l("What it was for"),
        validators=[DataRequired(_l("Describe what the money was for.")), Length(max=500)],
    )
    document = FileField(
        _l("Receipt or invoice (photo or PDF, optional)"),
        render_kw={"accept": "image/jpeg,image/png,image/webp,application/pdf"},
    )


class ApproveForm(BaseForm):
    """Approving needs nothing but the CSRF token."""


class RejectForm(BaseForm):
    reason = StringField(
        _l("Reason for rejecting"),
        validators=[DataRequired(_l("Give the reason for rejecting the expense.")),
                    Length(min=3, max=300)],
    )


class ReverseForm(BaseForm):
    reason = StringField(
        _l("Reason for reversing"),
        validators=[DataRequired(_l("Give the reason for reversing the expense.")),
                    Length(min=3, max=300)],
    )


class ExpenseFilterForm(BaseForm):
    """The list's filters, sent by GET (so no CSRF token)."""

    class Meta(BaseForm.Meta):
        csrf = False

    status = SelectField(
        _l("Status"), choices=enum_choices(ExpenseStatus, blank=_l("All statuses")),
        validators=[Optional()],
    )
    month = StringField(_l("Month paid (YYYY-MM)"), validators=[Optional(), Length(max=7)])


class AccountForm(BaseForm):
    code = StringField(
        _l("Code"), validators=[DataRequired(_l("Give the account a code.")), Length(max=10)]
    )
    name = StringField(
        _l("Name in English"),
        validators=[DataRequired(_l("Give the account a name.")), Length(max=100)],
    )
    name_sw = StringField(_l("Name in Kiswahili"), validators=[Optional(), Length(max=100)])
    type = SelectField(_l("Type"), choices=enum_choices(AccountType))
    active = BooleanField(_l("In use"), default=True)
