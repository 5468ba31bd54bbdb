"""Patrol forms: shape only; the rules are in the modules named after each job (shifts.py,
zones.py, patrollers.py, roster.py, assignments.py, swaps.py, attendance.py, stipends.py,
incidents.py)."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from association.core.money import AmountError, to_cents
from association.forms import BaseForm, DayField, DayTimeField, optional_int
from association.i18n import choices, enum_choices
from association.patrols.models import IncidentAction, IncidentCategory
from association.patrols.shifts import WEEKDAYS


def amount_or_zero(form, field) -> None:
    """The amount must parse as money (zero allowed)."""
    try:
        to_cents(field.data, allow_zero=True)
    except AmountError as error:
        raise ValidationError(str(error)) from None


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def weekday_choices():
    return choices((str(n), label) for n, label in enumerate(WEEKDAYS))


class GenerateForm(BaseForm):
    month = StringField(_l("Month"), validators=[DataRequired(_l("Choose the month.")),
                                                 Length(max=7)])
    replace_manual = BooleanField(_l("Also replace the assignments made by hand and by swaps"))


class StipendRateForm(BaseForm):
    stipend = StringField(_l("Stipend for one attended shift (KES)"),
                          validators=[DataRequired(_l("Enter the stipend for a shift.")),
                                      Length(max=20), amount_or_zero],
                          render_kw={"inputmode": "decimal", "autocomplete": "off"})


class ZoneSettingsForm(BaseForm):
    min_per_shift = IntegerField(
        _l("Minimum patrollers per shift"),
        validators=[InputRequired(_l("Enter the minimum per shift.")),
                    NumberRange(min=2, max=50, message=_l(
                        "At least two patrol together: nobody patrols alone."))])
    max_per_shift = IntegerField(_l("Maximum per shift (optional)"),
                                 validators=[Optional(), NumberRange(min=2, max=50)])
    active = BooleanField(_l("Patrolled"), default=True)


class TemplateForm(BaseForm):
    weekdays = MultiCheckboxField(_l("Nights"), choices=weekday_choices(),
                                  validators=[DataRequired(_l("Choose at least one night."))])
    start_time = TimeField(_l("Starts"), validators=[InputRequired(_l("Give the start time."))],
                           invalid_value_message=_l("Write the time as HH:MM, e.g. 14:30."))
    end_time = TimeField(_l("Ends"), validators=[InputRequired(_l("Give the end time."))],
                         invalid_value_message=_l("Write the time as HH:MM, e.g. 14:30."))


class EnrolForm(BaseForm):
    member_no = StringField(_l("Member number"),
                            validators=[DataRequired(_l("Enter the member number.")),
                                        Length(max=20)])
    weekly_limit = IntegerField(_l("Most shifts a week (optional)"),
                                validators=[Optional(), NumberRange(min=1, max=7)])
    back_to_back = BooleanField(_l("Accepts two nights in a row"))


class PatrollerForm(BaseForm):
    active = BooleanField(_l("Active volunteer"))
    weekly_limit = IntegerField(_l("Most shifts a week (optional)"),
                                validators=[Optional(), NumberRange(min=1, max=7)])
    back_to_back = BooleanField(_l("Accepts two nights in a row"))


class AvailabilityForm(BaseForm):
    """Checkboxes named "w<weekday>z<zone id>", read by the view."""


class AwayForm(BaseForm):
    start_date = DayField(_l("First night away"),
                           validators=[InputRequired(_l("Give the first night away."))])
    end_date = DayField(_l("Last night away"),
                         validators=[InputRequired(_l("Give the last night away."))])
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=200)])


class AssignForm(BaseForm):
    patroller_id = SelectField(_l("Patroller"), coerce=optional_int,
                               validators=[DataRequired(_l("Choose the patroller."))])


class OfferForm(BaseForm):
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=200)])


class ConfirmForm(BaseForm):
    """Only the CSRF token."""


class DecideForm(BaseForm):
    decision = SelectField(_l("Decision"), choices=choices([("approve", _l("Approve")),
                                                            ("reject", _l("Refuse"))]),
                           validators=[DataRequired()])


class StipendRunForm(BaseForm):
    month = StringField(_l("Month"), validators=[DataRequired(_l("Choose the month.")),
                                                 Length(max=7)])
    method = SelectField(_l("Paid from"), choices=choices([("cash", _l("Cash")),
                                                           ("mpesa", _l("M-Pesa"))]),
                         validators=[DataRequired(_l("Choose how the stipends are paid."))])


class RejectForm(BaseForm):
    reason = StringField(_l("Reason for rejecting"),
                         validators=[DataRequired(_l("Give the reason for rejecting.")),
                                     Length(min=3, max=300)])


class IncidentForm(BaseForm):
    occurred_at = DayTimeField(
        _l("Date and time"),
        validators=[InputRequired(_l("Give the date and time of the incident."))])
    zone_id = SelectField(_l("Zone"), coerce=optional_int,
                          validators=[DataRequired(_l("Choose the zone."))])
    place = StringField(_l("Place"), validators=[DataRequired(_l(
        "Say where it happened (plot, lane, landmark).")), Length(max=200)])
    category = SelectField(_l("Category"), choices=enum_choices(IncidentCategory),
                           validators=[DataRequired(_l("Choose the category."))])
    description = TextAreaField(_l("What happened"), validators=[
        DataRequired(_l("Describe what happened.")), Length(max=5000)])
    weapon_involved = BooleanField(_l("A weapon was involved"))
    sexual_offence = BooleanField(_l("A sexual offence"))
    actions = MultiCheckboxField(_l("What the patrol did"),
                                 choices=enum_choices(IncidentAction))
    action_notes = TextAreaField(_l("Notes on what the patrol did"),
                                 validators=[Optional(), Length(max=2000)])
    police_station = StringField(_l("Police station"), validators=[Optional(), Length(max=120)])
    ob_number = StringField(_l("OB number"), validators=[Optional(), Length(max=60)])
    police_officer = StringField(_l("Police officer"), validators=[Optional(), Length(max=120)])
    person_description = TextAreaField(
        _l("About a person (an unverified allegation)"),
        validators=[Optional(), Length(max=2000)])
    reporter_name = StringField(_l("Reported by (optional)"),
                                validators=[Optional(), Length(max=120)])
    reporter_phone = StringField(_l("Reporter's phone (optional)"),
                                 validators=[Optional(), Length(max=20)])
    reason = StringField(_l("Reason for the correction"), validators=[Optional(), Length(max=300)])


class IncidentFilterForm(BaseForm):
    class Meta:
        csrf = False

    zone_id = SelectField(_l("Zone"), coerce=optional_int, validators=[Optional()])
    category = SelectField(_l("Category"), validators=[Optional()])
    month = StringField(_l("Month"), validators=[Optional(), Length(max=7)])
    major = BooleanField(_l("Major crimes only"))
