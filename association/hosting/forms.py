"""The host's own forms."""

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional

from association.forms import BaseForm


class HostLoginForm(BaseForm):
    username = StringField(_l("Username"), validators=[
        DataRequired(_l("Enter your username.")), Length(max=60)])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter your password.")), Length(max=128)])


class NewAssociationForm(BaseForm):
    short = StringField(_l("Short name (2 to 6 capital letters)"), validators=[
        DataRequired(_l("Give the short name.")), Length(max=6)])
    name = StringField(_l("Name"), validators=[
        DataRequired(_l("Give the association's name.")), Length(max=200)])
    admin_phone = StringField(_l("First chair's phone number"), validators=[
        DataRequired(_l("Give the first chair's phone number.")), Length(max=20)])
    slug = StringField(_l("Address name (/a/NAME/)"), validators=[Optional(), Length(max=40)])
    host = StringField(_l("Host name of its own"), validators=[Optional(), Length(max=253)])
    mpesa_shortcode = StringField(_l("M-Pesa paybill or till"),
                                  validators=[Optional(), Length(max=10)])
    account_prefix = StringField(_l("Account-number prefix"),
                                 validators=[Optional(), Length(max=10)])


class StatusForm(BaseForm):
    action = HiddenField(validators=[AnyOf(("suspend", "reactivate", "archive"),
                                           message=_l("Choose suspend, reactivate or "
                                                      "archive."))])


class ConfirmForm(BaseForm):
    """A POST with its CSRF token and nothing else."""


class GrantForm(BaseForm):
    host_admin = StringField(_l("Host administrator's username"), validators=[
        DataRequired(_l("Name the host administrator.")), Length(max=60)])
    hours = IntegerField(_l("For how many hours (at most 168, 7 days)"), validators=[
        InputRequired(_l("Say for how many hours.")),
        NumberRange(1, 168, _l("Access lasts 1 hour to 7 days (168 hours)."))])
    reason = TextAreaField(_l("Reason"), validators=[
        DataRequired(_l("Give the reason (3 to 300 characters).")),
        Length(3, 300, _l("Give the reason (3 to 300 characters)."))])
