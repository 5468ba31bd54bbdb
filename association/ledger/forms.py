"""The treasurer's forms: payments, dues runs, periods, rates, waivers, settings.

Forms check shape only: an amount is an amount, a month is a month, a member
number names a member. The rules of the books are in the ledger's modules named
after them (``ledger.payments``, ``ledger.dues``, ``ledger.periods``...).
"""

from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from association.core.money import AmountError, to_cents
from association.core.time import MonthError, month_start, parse_month, today_in_nairobi
from association.errors import DomainError
from association.forms import BaseForm, DayField
from association.i18n import BabelTranslations, choices, enum_choices
from association.ledger.models import PaymentMethod
from association.members.services import get_member_by_number

#: Digits with commas only between groups of three ("1,500", "12,000.50").


def _current_month() -> str:
    return today_in_nairobi().strftime("%Y-%m")


def _last_month() -> str:
    return (month_start(today_in_nairobi()) - timedelta(days=1)).strftime("%Y-%m")


class _MemberField:
    """Mixin: a ``member`` field holding a member number, resolved to ``self.found_member``."""

    found_member = None

    def validate_member(self, field) -> None:
        try:
            self.found_member = get_member_by_number(field.data)
        except DomainError as error:
            raise ValidationError(str(error)) from None


class _MonthCheck:
    """Validators for YYYY-MM text fields."""

    @staticmethod
    def check(field) -> date | None:
        if not (field.data or "").strip():
            return None
        try:
            return parse_month(field.data)
        except MonthError as error:
            raise ValidationError(str(error)) from None


class PaymentForm(_MemberField, BaseForm):
    member = StringField(
        _l("Member number"),
        validators=[DataRequired(_l("Enter the member number.")), Length(max=30)],
    )
    amount = StringField(_l("Amount (KES)"), validators=[Length(max=30)])
    method = SelectField(_l("How it was paid"), choices=enum_choices(PaymentMethod), default="cash")
    reference = StringField(
        _l("M-Pesa code or bank reference"), validators=[Optional(), Length(max=40)]
    )
    paid_on = DayField(
        _l("Date paid"), default=today_in_nairobi,
        validators=[InputRequired(_l("Enter the date the money was paid."))],
    )

    amount_cents: int | None = None

    def validate_amount(self, field) -> None:
        try:
            self.amount_cents = to_cents(field.data)
        except AmountError as error:
            raise ValidationError(str(error)) from None


class DuesRunForm(BaseForm):
    month = StringField(
        _l("Month (YYYY-MM)"), default=_current_month,
        validators=[DataRequired(_l("Enter the month, e.g. 2026-03.")), Length(max=20)],
    )

    run_month: date | None = None

    def validate_month(self, field) -> None:
        try:
            self.run_month = parse_month(field.data)
        except MonthError as error:
            raise ValidationError(str(error)) from None


class CloseMonthForm(BaseForm):
    month = StringField(
        _l("Month to close (YYYY-MM)"), default=_last_month,
        validators=[DataRequired(_l("Enter the month, e.g. 2026-03.")), Length(max=20)],
    )

    def validate_month(self, field) -> None:
        _MonthCheck.check(field)


class ReopenMonthForm(BaseForm):
    month = StringField(
        _l("Month to reopen (YYYY-MM)"),
        validators=[DataRequired(_l("Enter the month, e.g. 2026-03.")), Length(max=20)],
    )
    reason = TextAreaField(
        _l("Reason for reopening"),
        validators=[DataRequired(_l("Give the reason for reopening the month.")),
                    Length(max=1000)],
    )

    def validate_month(self, field) -> None:
        _MonthCheck.check(field)


class TierForm(Form):
    """One landlords' tier: a range of rental premises and its monthly amount."""

    class Meta:
        def get_translations(self, form):
            return BabelTranslations()

    min_premises = IntegerField(
        _l("From (premises)"),
        validators=[Optional(), NumberRange(0, 10_000, _l("Enter a number from 0 to 10,000."))],
    )
    max_premises = IntegerField(
        _l("To (premises; blank = no limit)"),
        validators=[Optional(), NumberRange(0, 10_000, _l("Enter a number from 0 to 10,000."))],
    )
    amount = StringField(_l("Monthly amount (KES)"), validators=[Length(max=30)])

    amount_cents: int | None = None

    def is_blank(self) -> bool:
        return (self.min_premises.raw_data in (None, [], [""])
                and self.max_premises.raw_data in (None, [], [""])
                and not (self.amount.data or "").strip())

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.is_blank():
            return ok
        if not (self.amount.data or "").strip():
            self.amount.errors = [*self.amount.errors,
                                  str(_l("Enter this tier's monthly amount."))]
            ok = False
        else:
            try:
                self.amount_cents = to_cents(self.amount.data)
            except AmountError as error:
                self.amount.errors = [*self.amount.errors, str(error)]
                ok = False
        if self.min_premises.data is None and not self.min_premises.errors:
            self.min_premises.errors = [*self.min_premises.errors,
                                        str(_l("Enter the smallest number of premises."))]
            ok = False
        return ok


#: The issue's example schedule: landlords by number of rental premises.
EXAMPLE_TIERS = ((1, 2, "300"), (3, 5, "600"), (6, 10, "1,000"), (11, None, "1,500"))
TIER_ROWS = 5


class RateScheduleForm(BaseForm):
    effective = StringField(
        _l("Applies from the month (YYYY-MM)"), default=_current_month,
        validators=[DataRequired(_l("Enter the month, e.g. 2026-03.")), Length(max=20)],
    )
    resolution_ref = StringField(
        _l("Meeting resolution that decided it"),
        validators=[DataRequired(_l("Name the meeting resolution that decided these rates.")),
                    Length(max=120)],
    )
    resident = StringField(_l("Residents / tenants (KES a month)"), default="50",
                           validators=[Length(max=30)])
    business = StringField(_l("Businesses (KES a month)"), validators=[Length(max=30)])
    other = StringField(_l("Other members (KES a month)"), validators=[Length(max=30)])
    tiers = FieldList(FormField(TierForm), min_entries=TIER_ROWS, max_entries=TIER_ROWS)

    effective_month: date | None = None
    cents: dict

    def validate_effective(self, field) -> None:
        self.effective_month = _MonthCheck.check(field)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        self.cents = {}
        for name in ("resident", "business", "other"):
            field = getattr(self, name)
            if not (field.data or "").strip():
                continue
            try:
                self.cents[name] = to_cents(field.data)
            except AmountError as error:
                field.errors = [*field.errors, str(error)]
                ok = False
        return ok


class WaiverForm(_MemberField, BaseForm):
    member = StringField(
        _l("Member number"),
        validators=[DataRequired(_l("Enter the member number.")), Length(max=30)],
    )
    from_month = StringField(
        _l("From the month (YYYY-MM)"), default=_current_month,
        validators=[DataRequired(_l("Enter the first month, e.g. 2026-03.")), Length(max=20)],
    )
    to_month = StringField(
        _l("To the month (YYYY-MM; blank = until further notice)"),
        validators=[Optional(), Length(max=20)],
    )
    amount = StringField(
        _l("Reduced monthly amount (KES; 0 = waived entirely)"),
        validators=[DataRequired(_l("Enter the reduced monthly amount (0 to waive the dues "
                                    "entirely).")), Length(max=30)],
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(_l("Give the reason for the waiver.")), Length(max=300)],
    )

    first: date | None = None
    last: date | None = None
    amount_cents: int | None = None

    def validate_from_month(self, field) -> None:
        self.first = _MonthCheck.check(field)

    def validate_to_month(self, field) -> None:
        self.last = _MonthCheck.check(field)

    def validate_amount(self, field) -> None:
        try:
            self.amount_cents = to_cents(field.data, allow_zero=True)
        except AmountError as error:
            raise ValidationError(str(error)) from None


class WaiverDecisionForm(BaseForm):
    decision = SelectField(
        _l("Decision"),
        choices=choices((("approve", _l("Approve")), ("reject", _l("Reject")))),
        validators=[DataRequired(_l("Choose approve or reject."))],
    )


class SettingsForm(BaseForm):
    voluntary = BooleanField(_l("Voluntary contributions (no monthly dues, no arrears)"))
