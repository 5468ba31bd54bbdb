"""Enums whose members carry the label a user sees, translated lazily.

    class Category(LabelledEnum):
        RESIDENT = "resident", _l("Resident / tenant")

``Category.RESIDENT`` is still the string "resident" (stored, compared, put in URLs as
before); ``Category.RESIDENT.label`` is its label in the page's language.
"""

import enum


class LabelledEnum(enum.StrEnum):
    """A StrEnum whose members are declared as ``value, label``."""

    def __new__(cls, value: str, label=None):
        member = str.__new__(cls, value)
        member._value_ = value
        member._label = label
        return member

    @property
    def label(self):
        """The lazily translated label (its value when it has none)."""
        return self._label if self._label is not None else self.value
