"""M-Pesa forms (shape only; the rules are in stk.py and processing.py)."""

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from association.forms import BaseForm
from association.i18n import enum_choices
from association.mpesa.models import UnknownAccountAction

OTHER = "other"


class PayForm(BaseForm):
    """Pay by M-Pesa: the phone gets a prompt and the payer types their PIN there."""

    member = StringField(_l("Member number"), validators=[Optional(), Length(max=30)],
                         render_kw={"autocomplete": "off"})
    choice = RadioField(_l("What to pay"), validators=[DataRequired(_l("Choose what to pay."))])
    amount = StringField(_l("Other amount (KES, whole shillings)"),
                         validators=[Optional(), Length(max=20)],
                         render_kw={"inputmode": "numeric", "autocomplete": "off"})
    phone = StringField(_l("M-Pesa phone number"),
                        validators=[DataRequired(_l("Enter the phone that will pay.")),
                                    Length(max=30)],
                        render_kw={"inputmode": "tel", "autocomplete": "tel"})


class AllowPhoneForm(BaseForm):
    """An official lets a member send payment prompts to another number."""

    phone = StringField(_l("Another phone this member may send payment prompts to"),
                        validators=[DataRequired(_l("Enter the phone to allow.")),
                                    Length(max=30)],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})


class SettingsForm(BaseForm):
    unknown_account = SelectField(
        _l("Paybill payments whose account number matches no member"),
        choices=enum_choices(UnknownAccountAction),
        validators=[DataRequired()],
    )


class ActionForm(BaseForm):
    """A button that only needs its CSRF token."""


class RejectForm(BaseForm):
    reason = StringField(_l("Why it is rejected"),
                         validators=[DataRequired(_l("Give the reason for rejecting this "
                                                     "payment.")),
                                    Length(min=5, max=300, message=_l(
                                        "Give the reason in 5 to 300 characters."))])
