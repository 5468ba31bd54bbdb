"""The association profile form."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from association.forms import BaseForm
from association.i18n import choices, enum_choices
from association.profile.models import MpesaKind, RegistrationBody

MONTHS = choices([
    (1, _l("January")), (2, _l("February")), (3, _l("March")), (4, _l("April")),
    (5, _l("May")), (6, _l("June")), (7, _l("July")), (8, _l("August")),
    (9, _l("September")), (10, _l("October")), (11, _l("November")), (12, _l("December")),
])


def _required(message):
    return [DataRequired(message)]


class ProfileForm(BaseForm):
    name = StringField(
        _l("Name of the association"),
        validators=_required(_l("Enter the association's name.")) + [Length(max=160)],
    )
    short_code = StringField(
        _l("Short code (letters used in member and receipt numbers, e.g. MLK)"),
        validators=_required(_l("Enter a short code.")) + [Length(max=6)],
    )
    registration_body = SelectField(
        _l("Registered with"), choices=enum_choices(RegistrationBody),
        validators=_required(_l("Choose where the association is registered.")),
    )
    registration_number = StringField(
        _l("Registration number"), validators=[Optional(), Length(max=60)]
    )
    county = StringField(
        _l("County"), validators=_required(_l("Enter the county.")) + [Length(max=60)]
    )
    sub_county = StringField(
        _l("Sub-county"), validators=_required(_l("Enter the sub-county.")) + [Length(max=60)]
    )
    ward = StringField(
        _l("Ward"), validators=_required(_l("Enter the ward.")) + [Length(max=60)]
    )
    estate = StringField(
        _l("Estate or village"),
        validators=_required(_l("Enter the estate or village.")) + [Length(max=80)],
    )
    contact_phone = StringField(
        _l("Contact phone"),
        validators=_required(_l("Enter a contact phone number.")) + [Length(max=30)],
    )
    mpesa_kind = SelectField(
        _l("M-Pesa number type"),
        # The blank choice is "no number yet"; anything else must be one of the kinds
        # (Optional() would let a space through to MpesaKind(" ")).
        choices=enum_choices(MpesaKind, blank=_l("No M-Pesa number yet")),
    )
    mpesa_number = StringField(
        _l("Paybill or till number"), validators=[Optional(), Length(max=10)]
    )
    fiscal_year_start_month = SelectField(
        _l("Financial year starts in"), choices=MONTHS, coerce=int,
        validators=[NumberRange(1, 12, _l("Choose the month the financial year starts."))],
    )
