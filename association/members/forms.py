"""Member, status, consent, search and zone forms (shape only; rules are in services)."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from association.core.time import today_in_nairobi
from association.forms import BaseForm, DayField, optional_int
from association.i18n import enum_choices, language_choices
from association.members.models import (
    Category,
    ConsentChannel,
    ConsentPurpose,
    Gender,
    MemberStatus,
)


class MemberForm(BaseForm):
    first_name = StringField(
        _l("First name"),
        validators=[DataRequired(_l("The first name is missing.")), Length(max=60)],
    )
    other_names = StringField(
        _l("Other names (surname)"),
        validators=[DataRequired(_l("The other names (surname) are missing.")), Length(max=120)],
    )
    phone = StringField(_l("Phone number"), validators=[Optional(), Length(max=30)])
    national_id = StringField(_l("National ID number"), validators=[Optional(), Length(max=20)])
    gender = SelectField(
        _l("Gender"), choices=enum_choices(Gender, blank=_l("Not recorded")),
        validators=[Optional()],
    )
    year_of_birth = IntegerField(
        _l("Year of birth"),
        validators=[
            Optional(), NumberRange(1900, 2100, _l("The year of birth is not a real year."))
        ],
    )
    category = SelectField(
        _l("Category"), choices=enum_choices(Category),
        validators=[DataRequired(_l("Choose a category."))],
    )
    rental_premises = IntegerField(
        _l("Number of rental premises (landlords)"),
        validators=[Optional(), NumberRange(1, 500, _l("Enter a number from 1 to 500."))],
    )
    zone_id = SelectField(
        _l("Zone"), coerce=optional_int,
        validators=[DataRequired(_l("Choose the member's zone."))],
    )
    plot = StringField(_l("Plot"), validators=[Optional(), Length(max=60)])
    house = StringField(_l("House"), validators=[Optional(), Length(max=60)])
    joined_on = DayField(
        _l("Date joined"), default=today_in_nairobi,
        validators=[InputRequired(_l("Enter the date the member joined."))],
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])


class StatusForm(BaseForm):
    status = SelectField(_l("New status"), choices=enum_choices(MemberStatus))
    effective_on = DayField(
        _l("From"), default=today_in_nairobi,
        validators=[InputRequired(_l("Enter the date of the change."))],
    )
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=300)])


class ConsentForm(BaseForm):
    purpose = SelectField(_l("Consent to"), choices=enum_choices(ConsentPurpose))
    channel = SelectField(_l("How it was given"), choices=enum_choices(ConsentChannel))
    language = SelectField(
        _l("Language of the words read or shown"),
        choices=language_choices(),
    )
    given_on = DayField(
        _l("Date given"), default=today_in_nairobi,
        validators=[InputRequired(_l("Enter the date consent was given."))],
    )


class WithdrawConsentForm(BaseForm):
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=300)])


class SearchForm(BaseForm):
    """The register's search and filters, sent by GET (so no CSRF token)."""

    class Meta(BaseForm.Meta):
        csrf = False

    q = StringField(_l("Name, number or phone"), validators=[Optional(), Length(max=100)])
    zone = SelectField(_l("Zone"), coerce=str, validators=[Optional()])
    category = SelectField(
        _l("Category"), choices=enum_choices(Category, blank=_l("All categories")),
        validators=[Optional()],
    )
    status = SelectField(
        _l("Status"), choices=enum_choices(MemberStatus, blank=_l("All statuses")),
        validators=[Optional()],
    )


class ZoneForm(BaseForm):
    name = StringField(
        _l("Zone name"), validators=[DataRequired(_l("Give the zone a name.")), Length(max=80)]
    )
    description = StringField(_l("Description"), validators=[Optional(), Length(max=300)])


class ImportForm(BaseForm):
    """A register file to check (and, after the preview, to import)."""

    file = FileField(
        _l("Register file (CSV or Excel .xlsx)"),
        validators=[
            FileRequired(_l("Choose the file to import.")),
            FileAllowed(["csv", "xlsx"], _l("Only CSV and Excel (.xlsx) files can be imported.")),
        ],
    )


class ImportConfirmForm(BaseForm):
    """Confirms the import of a file checked in the preview, named by its token."""

    token = HiddenField(
        validators=[
            DataRequired(_l("This upload has expired. Upload the file again.")),
            Regexp(r"^[A-Za-z0-9_-]{1,64}$",
                   message=_l("This upload has expired. Upload the file again.")),
        ]
    )
