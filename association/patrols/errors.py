"""The patrols' errors: a rule was broken and nothing was written.

Every patrols module raises :class:`PatrolError` (a :class:`DomainError`, shown to
the user in their language); :class:`IneligibleError` says that the patroller may
not take that shift under the hard rules.
"""

from association.errors import DomainError


class PatrolError(DomainError):
    """A patrol rule was broken; nothing was written."""


class IneligibleError(PatrolError):
    """The patroller cannot take that shift under the hard rules."""
