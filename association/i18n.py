"""Languages: which one a request uses, and select choices with translated labels
(each enum's labels are on the enum: :class:`association.core.enums.LabelledEnum`).

Every label a user sees goes through gettext, so the Swahili catalogue holds it.
"""

from flask import has_request_context, request, session
from flask_babel import get_locale, get_translations, lazy_ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili"}

#: WTForms' own messages, listed so that they are extracted into our catalogue.
WTFORMS_MESSAGES = (
    _l("This field is required."),
    _l("Not a valid integer value."),
    _l("Not a valid date value."),
    _l("Not a valid choice."),
    _l("Invalid Choice: could not coerce."),
    _l("The CSRF token is missing."),
    _l("The CSRF token is invalid."),
    _l("The CSRF token has expired."),
    _l("The CSRF tokens do not match."),
    _l("The CSRF session token is missing."),
    _l("Invalid email address."),
    _l("Field must be equal to %(other_name)s."),
    _l("Number must be at least %(min)s."),
    _l("Number must be at most %(max)s."),
    _l("Number must be between %(min)s and %(max)s."),
    lazy_ngettext(
        "Field must be at least %(min)d character long.",
        "Field must be at least %(min)d characters long.",
        1,
    ),
    lazy_ngettext(
        "Field cannot be longer than %(max)d character.",
        "Field cannot be longer than %(max)d characters.",
        1,
    ),
    _l("Field must be between %(min)d and %(max)d characters long."),
    _l("Invalid input."),
    lazy_ngettext(
        "'%(value)s' is not a valid choice for this field.",
        "'%(value)s' are not valid choices for this field.",
        1,
    ),
)


#: Dates and times are written as in Kenya in both languages: day first, 24-hour clock
#: ("03/11/2026, 23:07", "3 Nov 2026"), not plain English's "11/3/26, 11:07 PM".
TERRITORY = "KE"


def select_locale() -> str:
    """The user's language, as spoken in Kenya (``en_KE`` or ``sw_KE``)."""
    return f"{_chosen_language()}_{TERRITORY}"


def _chosen_language() -> str:
    """The user's saved choice, else this browser's choice, else its Accept-Language."""
    if not has_request_context():
        return "en"  # command-line output
    if current_user and current_user.is_authenticated and current_user.language:
        return current_user.language
    if session.get("lang") in LANGUAGE_NAMES:
        return session["lang"]
    return request.accept_languages.best_match(list(LANGUAGE_NAMES)) or "en"


def current_language() -> str:
    """``en`` or ``sw``: the language of the page (its territory aside)."""
    locale = get_locale()
    return locale.language if locale is not None else "en"


def enum_label(value) -> str:
    """The translated label of an enum member (its value when it has none): a Jinja
    helper for ``value.label``."""
    if value is None:
        return ""
    return str(getattr(value, "label", value.value))


def role_label(role) -> str:
    return enum_label(role)


def choices(pairs, blank: str | None = None) -> list[SelectChoice]:
    """Select-field choices from (value, label) pairs, with an optional blank first."""
    items = [SelectChoice(value, label) for value, label in pairs]
    return ([SelectChoice("", blank)] if blank is not None else []) + items


def enum_choices(enum_cls, blank: str | None = None) -> list[SelectChoice]:
    """Choices for a select field from an enum, labels translated lazily."""
    return choices(
        ((m.value, getattr(m, "label", m.value)) for m in enum_cls),
        blank,
    )


def language_choices() -> list[SelectChoice]:
    return choices(LANGUAGE_NAMES.items())


class BabelTranslations:
    """Gives WTForms our catalogue, so its built-in messages speak Swahili too."""

    def gettext(self, string: str) -> str:
        return get_translations().gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ngettext(singular, plural, n)
