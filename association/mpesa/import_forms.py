"""Forms of the treasurer's M-Pesa desk (shape only; the rules are in import_parsing.py,
imports.py, suspense.py)."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from association.core.time import today_in_nairobi
from association.forms import BaseForm, DayField
from association.i18n import choices
from association.mpesa.import_parsing import MAX_SMS_CHARS
from association.mpesa.suspense import REASON_MAX, REASON_MIN


class SmsForm(BaseForm):
    text = TextAreaField(
        _l("Confirmation messages"),
        validators=[DataRequired(_l("Paste one or more M-Pesa confirmation messages.")),
                    Length(max=MAX_SMS_CHARS)],
        render_kw={"rows": 10, "autocomplete": "off", "spellcheck": "false"},
    )


class StatementForm(BaseForm):
    file = FileField(
        _l("Statement file"),
        render_kw={"accept": ".csv,.xlsx,text/csv,application/vnd.openxmlformats-"
                             "officedocument.spreadsheetml.sheet"},
    )


class ConfirmForm(BaseForm):
    """The preview's form; member boxes are named ``m-<receipt code>`` beside it."""

    expect = HiddenField(validators=[DataRequired(), Length(max=64)])
    check = SubmitField(_l("Check the member numbers"))
    submit = SubmitField(_l("Import"))


class AssignForm(BaseForm):
    member = StringField(
        _l("Member number or phone"),
        validators=[DataRequired(_l("Enter the member number (e.g. MLK-0042) or phone "
                                    "number.")), Length(max=60)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters"},
    )
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=REASON_MAX)])


class RefundForm(BaseForm):
    reason = StringField(
        _l("Reason for the refund"),
        validators=[DataRequired(_l("Give the reason for the refund.")),
                    Length(min=REASON_MIN, max=REASON_MAX)],
    )


class RefundSentForm(BaseForm):
    refund_code = StringField(
        _l("M-Pesa code of the refund"),
        validators=[DataRequired(_l("Enter the M-Pesa code of the refund (the reversal or the "
                                    "money sent back), e.g. TC57ABC9XY.")), Length(max=20)],
    )
    refunded_on = DayField(
        _l("Date sent"), default=today_in_nairobi,
        validators=[InputRequired(_l("Enter the date the refund was sent."))],
    )


class UndoAssignForm(BaseForm):
    reason = StringField(
        _l("Why the assignment was wrong"),
        validators=[DataRequired(_l("Give the reason for undoing the assignment.")),
                    Length(min=REASON_MIN, max=REASON_MAX)],
    )


class QueueFilterForm(BaseForm):
    class Meta:
        csrf = False

    queue = SelectField(_l("Show"), choices=choices((
        ("suspense", _l("Waiting in suspense")),
        ("refund", _l("Marked for refund")),
        ("refunded", _l("Refunds sent")),
        ("credited", _l("Credited by an official")),
    )), default="suspense", validators=[Optional()])
    q = StringField(_l("Search"), validators=[Optional(), Length(max=60)],
                    render_kw={"placeholder": _l("Code, account or name")})
