"""Meetings and governance forms (shape only; the rules are in the services)."""

import re
from datetime import time

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from association.core.money import AmountError, to_cents
from association.forms import BaseForm, DayField, optional_int
from association.i18n import choices, enum_choices
from association.ledger.dues import RateInput
from association.meetings.models import (
    ActionStatus,
    AttendanceStatus,
    MajorityRule,
    MeetingType,
    Office,
    QuorumKind,
    ResolutionKind,
)
from association.members.models import Category

_UPLOAD_ACCEPT = {"accept": "image/jpeg,image/png,image/webp,application/pdf"}


class StoredTimeField(TimeField):
    """A time of day that the model keeps as "HH:MM" text (``Meeting.starts_at``).

    The stored text becomes a :class:`~datetime.time` when the form is filled from the
    model, so the field renders the same whether its value came from the meeting or from
    the request (a POST that leaves the field out keeps the meeting's value, and that value
    used to stay text, which the time input cannot format).
    """

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("invalid_value_message", _l("Write the time as HH:MM, e.g. 14:30."))
        super().__init__(label, validators, **kwargs)

    def process_data(self, value):
        if isinstance(value, str):
            try:
                value = time.fromisoformat(value)
            except ValueError:
                value = None
        super().process_data(value)


class EmptyForm(BaseForm):
    """Only the CSRF token."""


class MeetingForm(BaseForm):
    type = SelectField(_l("Type of meeting"), choices=enum_choices(MeetingType),
                       validators=[DataRequired(_l("Choose the type of meeting."))])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=160)])
    held_on = DayField(_l("Date"), validators=[InputRequired(_l("Enter the date of the "
                                                                 "meeting."))])
    starts_at = StoredTimeField(_l("Time (optional)"), validators=[Optional()])
    venue = StringField(_l("Venue"), validators=[DataRequired(), Length(max=160)])
    convener = StringField(_l("Convened by"), validators=[DataRequired(), Length(max=120)])
    notice_on = DayField(_l("Notice given on (optional)"), validators=[Optional()])
    agenda = TextAreaField(_l("Agenda: one item per line"), validators=[Length(max=10_000)])


class AgendaItemForm(BaseForm):
    title = StringField(_l("New agenda item"), validators=[DataRequired(), Length(max=200)])


class MoveForm(BaseForm):
    direction = HiddenField(validators=[DataRequired()])


class MarkForm(BaseForm):
    member_id = HiddenField(validators=[DataRequired()])
    status = SelectField(_l("Attendance"), choices=enum_choices(AttendanceStatus),
                         validators=[DataRequired()])


class GuestForm(BaseForm):
    name = StringField(_l("Guest's name"), validators=[DataRequired(), Length(max=120)])
    role = StringField(_l("Role (e.g. OCS, chief, partner officer)"),
                       validators=[DataRequired(), Length(max=120)])
    organisation = StringField(_l("Organisation (optional)"), validators=[Length(max=120)])


class HeadcountForm(BaseForm):
    headcount = IntegerField(_l("People present (headcount)"),
                             validators=[Optional(), NumberRange(min=0, max=100_000)])
    sheet = FileField(_l("Photo of the sign-in sheet (optional)"), render_kw=_UPLOAD_ACCEPT)


class MinutesForm(BaseForm):
    language = SelectField(_l("Language of the minutes"),
                           choices=choices((("en", "English"), ("sw", "Kiswahili"))),
                           validators=[DataRequired()])


class TextForm(BaseForm):
    text = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=4000)])


class PublishForm(BaseForm):
    members_may_read = BooleanField(_l("Members may read these committee minutes"))


_RATE_LINE = re.compile(
    r"^\s*(?P<cat>[a-z_]+)(?:\s+(?P<lo>\d{1,4})\s*(?:-\s*(?P<hi>\d{1,4})|(?P<plus>\+))?)?"
    r"\s+(?P<amount>\S+)\s*$", re.IGNORECASE)


class RatesError(ValueError):
    pass


def parse_rates(text: str) -> list[RateInput]:
    """Rates typed one per line: "resident 50", "landlord 1-2 300", "landlord 11+ 1500".

    Raises:
        RatesError: with a translated message naming the line.
    """
    rates = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = _RATE_LINE.match(line)
        if not match:
            raise RatesError(_l("Line %(n)d: write a category, a premises range if any, then "
                                "the amount, e.g. \"landlord 1-2 300\".", n=number))
        try:
            category = Category(match["cat"].lower())
        except ValueError:
            raise RatesError(_l("Line %(n)d: %(cat)s is not a category (resident, landlord, "
                                "business, other).", n=number, cat=match["cat"][:20])) from None
        try:
            amount = to_cents(match["amount"])
        except AmountError as error:
            raise RatesError(_l("Line %(n)d: %(error)s", n=number, error=str(error))) from None
        low = int(match["lo"]) if match["lo"] else 0
        high = int(match["hi"]) if match["hi"] else None
        if match["lo"] and not match["hi"] and not match["plus"]:
            high = low
        rates.append(RateInput(category, amount, low, high))
    return rates


class ResolutionForm(BaseForm):
    kind = SelectField(_l("Kind"), choices=enum_choices(ResolutionKind),
                       validators=[DataRequired()])
    text = TextAreaField(_l("Resolution"), validators=[DataRequired(), Length(max=4000)])
    proposer = StringField(_l("Proposed by"), validators=[DataRequired(), Length(max=120)])
    seconder = StringField(_l("Seconded by"), validators=[DataRequired(), Length(max=120)])
    votes_for = IntegerField(_l("Votes for"), validators=[InputRequired(),
                                                          NumberRange(min=0, max=1_000_000)])
    votes_against = IntegerField(_l("Votes against"),
                                 validators=[InputRequired(), NumberRange(min=0, max=1_000_000)])
    votes_abstain = IntegerField(_l("Abstaining"),
                                 validators=[InputRequired(), NumberRange(min=0, max=1_000_000)])
    majority = SelectField(_l("Majority needed"), choices=enum_choices(MajorityRule),
                           validators=[DataRequired()])
    confirms_meeting_id = SelectField(_l("Minutes confirmed (for a confirming resolution)"),
                                      coerce=optional_int, validators=[Optional()])
    effective_from = StringField(_l("New rates start in (YYYY-MM)"),
                                 validators=[Optional(), Length(max=7)])
    rates = TextAreaField(_l("New rates, one per line (e.g. \"resident 50\", "
                             "\"landlord 1-2 300\", \"landlord 11+ 1500\")"),
                          validators=[Length(max=2000)])


class ActionForm(BaseForm):
    description = StringField(_l("Action"), validators=[DataRequired(), Length(max=300)])
    owner = StringField(_l("Who"), validators=[DataRequired(), Length(max=120)])
    due_on = DayField(_l("Due by (optional)"), validators=[Optional()])


class ActionStatusForm(BaseForm):
    status = SelectField(_l("Status"), choices=enum_choices(ActionStatus),
                         validators=[DataRequired()])


class QuorumForm(BaseForm):
    meeting_type = HiddenField(validators=[DataRequired()])
    kind = SelectField(_l("Rule"), choices=enum_choices(QuorumKind), validators=[DataRequired()])
    numerator = IntegerField(_l("Members (top of the fraction)"),
                             validators=[Optional(), NumberRange(min=0, max=100_000)])
    denominator = IntegerField(_l("Out of (bottom of the fraction)"),
                               validators=[Optional(), NumberRange(min=0, max=100_000)])
    fixed_count = IntegerField(_l("Fixed number of members"),
                               validators=[Optional(), NumberRange(min=0, max=1_000_000)])


class OfficialForm(BaseForm):
    office = SelectField(_l("Office"), choices=enum_choices(Office), validators=[DataRequired()])
    member_no = StringField(_l("Member number"), validators=[DataRequired(), Length(max=30)])
    term_start = DayField(_l("Term starts"), validators=[InputRequired()])
    term_end = DayField(_l("Term ends (optional)"), validators=[Optional()])
    elected_at_id = SelectField(_l("Elected at (optional)"), coerce=optional_int,
                                validators=[Optional()])
    resolution_id = SelectField(_l("By resolution (optional)"), coerce=optional_int,
                                validators=[Optional()])
    phone = StringField(_l("Phone (optional; the member's by default)"),
                        validators=[Length(max=30)])
    email = StringField(_l("E-mail (optional)"), validators=[Length(max=120)])


class EndTermForm(BaseForm):
    ended_on = DayField(_l("Left office on"), validators=[InputRequired()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])


class ElectionForm(BaseForm):
    office = SelectField(_l("Office"), choices=enum_choices(Office), validators=[DataRequired()])
    seats = IntegerField(_l("Seats"), default=1,
                         validators=[InputRequired(), NumberRange(min=1, max=30)])
    candidates = TextAreaField(_l("Candidates and votes, one per line (member number, then "
                                  "votes: \"MLK-0012 45\")"),
                               validators=[DataRequired(), Length(max=3000)])
    term_end = DayField(_l("Term ends (optional)"), validators=[Optional()])
    resolution_id = SelectField(_l("Resolution adopting the result"), coerce=optional_int,
                                validators=[Optional()])


class NoticeFiledForm(BaseForm):
    filed_on = DayField(_l("Filed with the registrar on"), validators=[InputRequired()])


class ConstitutionForm(BaseForm):
    label = StringField(_l("Version (e.g. 2024 amended)"),
                        validators=[DataRequired(), Length(max=60)])
    adopted_on = DayField(_l("Adopted on"), validators=[InputRequired()])
    adopted_at_id = SelectField(_l("Adopted at meeting (optional)"), coerce=optional_int,
                                validators=[Optional()])
    document = FileField(_l("The constitution (PDF)"), render_kw={"accept": "application/pdf"})
    notes = StringField(_l("Notes (optional)"), validators=[Length(max=300)])


class RecordForm(BaseForm):
    founded_on = DayField(_l("Association founded on"), validators=[Optional()])
    certificate_number = StringField(_l("Registration certificate number"),
                                     validators=[Length(max=60)])
    certificate_issued_on = DayField(_l("Certificate issued on"), validators=[Optional()])
    certificate_renewal_on = DayField(_l("Certificate renewal due on"), validators=[Optional()])
    kra_pin = StringField(_l("KRA PIN (optional)"), validators=[Length(max=20)])
    last_return_on = DayField(_l("Last annual return filed on"), validators=[Optional()])
    certificate = FileField(_l("Copy of the certificate (photo or PDF, optional)"),
                            render_kw=_UPLOAD_ACCEPT)
