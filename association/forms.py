"""What every form shares: our translations for WTForms' own messages, and date fields
that read and show dates the Kenyan way."""

import re
from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields import Field
from wtforms.widgets import TextInput

from association.core import dates
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


class DayField(Field):
    """A date typed as people in Kenya write it, shown as "7 Dec 2026" (Swahili "7 Des
    2026"): a text box, not ``<input type="date">``, which a phone set to US English shows as
    12/07/2026. Reads day-first forms in both languages and ISO dates
    (:func:`association.core.dates.parse_day`); refuses month-first ones with a clear message.
    """

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.raw = ""

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return dates.day(self.data) if isinstance(self.data, date) else ""

    def process_formdata(self, valuelist):
        self.raw = " ".join(valuelist or ()).strip()
        if valuelist:
            # What was typed, trimmed: a box of spaces is blank to InputRequired and Optional
            # too, not a date of None that a service would compare with today.
            self.raw_data = [self.raw]
        if not self.raw:
            self.data = None
            return
        try:
            self.data = dates.parse_day(self.raw)
        except dates.DayError as error:
            self.data = None
            raise ValueError(str(error)) from None

    def __call__(self, **kwargs):
        kwargs.setdefault("placeholder", dates.day_example())
        kwargs.setdefault("autocomplete", "off")
        return super().__call__(**kwargs)


class DayTimeField(DayField):
    """A day and a 24-hour time, "7 Dec 2026 23:07" (or as a browser sends it,
    2026-12-07T23:07): shown and read the Kenyan way, like :class:`DayField`."""

    _TIME = re.compile(r"^(?P<day>.+?)[ T,]+(?P<hour>\d{1,2})[:.](?P<minute>\d{2})$")

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return (f"{dates.day(self.data.date())} {self.data:%H:%M}"
                if isinstance(self.data, datetime) else "")

    def process_formdata(self, valuelist):
        self.raw = " ".join(valuelist or ()).strip()
        if valuelist:
            self.raw_data = [self.raw]  # as DayField: spaces alone are blank
        if not self.raw:
            self.data = None
            return
        match = self._TIME.match(self.raw)
        try:
            if match is None:
                raise dates.DayError(_l(
                    "%(value)s is not a date and time. Write the day, then the time on the "
                    "24-hour clock, e.g. %(example)s.", value=self.raw[:30],
                    example=f"{dates.day(date(2026, 12, 7))} 23:07"))
            day = dates.parse_day(match["day"])
            hour, minute = int(match["hour"]), int(match["minute"])
            if hour > 23 or minute > 59:
                raise dates.DayError(_l(
                    "%(value)s is not a time of day. Use the 24-hour clock, e.g. 23:07.",
                    value=f"{match['hour']}:{match['minute']}"))
            self.data = datetime.combine(day, time(hour, minute))
        except dates.DayError as error:
            self.data = None
            raise ValueError(str(error)) from None

    def __call__(self, **kwargs):
        kwargs.setdefault("placeholder", f"{dates.day_example()} 23:07")
        return super().__call__(**kwargs)
