"""Login, password and user administration forms (shape only; rules are in services)."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from association.auth.models import Role
from association.forms import BaseForm
from association.i18n import enum_choices, language_choices


class LoginForm(BaseForm):
    login = StringField(
        _l("Phone number or username"),
        validators=[DataRequired(_l("Enter your phone number or username.")), Length(max=60)],
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password.")), Length(max=128)],
    )


class PasswordChangeForm(BaseForm):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password.")), Length(max=128)],
    )
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Enter a new password.")), Length(max=128)],
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(_l("Type the new password again.")),
            EqualTo("new", _l("The two new passwords are not the same.")),
        ],
    )


class LanguageForm(BaseForm):
    language = SelectField(choices=language_choices())


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(BaseForm):
    username = StringField(
        _l("Username"),
        validators=[
            DataRequired(_l("Enter a username.")),
            Length(min=3, max=40, message=_l("A username has 3 to 40 characters.")),
            Regexp(
                r"^[A-Za-z0-9._-]+$",
                message=_l("A username may use only letters, digits, dots, dashes and _."),
            ),
        ],
    )
    full_name = StringField(
        _l("Full name"),
        validators=[DataRequired(_l("Enter the user's name.")), Length(max=120)],
    )
    phone = StringField(_l("Phone number"), validators=[Optional(), Length(max=30)])
    roles = MultiCheckboxField(
        _l("Roles"),
        choices=enum_choices(Role),
        validators=[DataRequired(_l("Give the user at least one role."))],
    )
    member_no = StringField(
        _l("Member number (for a member's own login)"),
        validators=[Optional(), Length(max=20)],
    )
    password = PasswordField(
        _l("Temporary password"),
        validators=[DataRequired(_l("Enter a temporary password.")), Length(max=128)],
    )


class UserEditForm(UserForm):
    username = None
    password = None


class PasswordResetForm(BaseForm):
    password = PasswordField(
        _l("Temporary password"),
        validators=[DataRequired(_l("Enter a temporary password.")), Length(max=128)],
    )


class ActiveForm(BaseForm):
    active = BooleanField()


class CodeForm(BaseForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(_l("Enter the code your app shows, or a recovery code.")),
                    Length(max=40)],
    )


class AppCodeForm(BaseForm):
    """The code the authenticator app shows now (changing one's own second factor)."""

    code = StringField(
        _l("Code from your app"),
        validators=[DataRequired(_l("Enter the 6-digit code your authenticator app shows.")),
                    Length(max=40)],
    )


class StartSecondFactorForm(BaseForm):
    """Setting up a second factor starts with one's password (not only a session)."""

    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(_l("Enter your password to set up the second factor.")),
                    Length(max=128)],
    )


class SecondFactorPolicyForm(BaseForm):
    """Which officials must use a second factor (none ticked: nobody must)."""

    roles = MultiCheckboxField(
        _l("Roles that must use a second factor"),
        choices=[c for c in enum_choices(Role) if c.value != Role.MEMBER.value],
    )


class ConfirmForm(BaseForm):
    """A button that only needs its CSRF token."""
