"""What every form shares: our translations for WTForms' own messages."""

from flask_wtf import FlaskForm

from association.i18n import BabelTranslations

_translations = BabelTranslations()


class BaseForm(FlaskForm):
    """A CSRF-protected form whose built-in messages come from our catalogue."""

    class Meta:
        def get_translations(self, form):
            return _translations


def optional_int(value) -> int | None:
    """Coerce a select's value to int, the blank "choose one" option to None."""
    if value in ("", None):
        return None
    return int(value)
