"""The named errors of the books: each says which rule was broken, and nothing was written.

Views turn them into flash messages in the user's language.
"""

from association.errors import DomainError


class LedgerError(DomainError):
    """A rule of the books was broken; nothing was written."""


class UnbalancedEntryError(LedgerError):
    pass


class ClosedPeriodError(LedgerError):
    pass


class PostedEntryError(LedgerError):
    """Someone tried to change or delete a posted entry."""


class DuplicatePaymentError(LedgerError):
    pass


class AlreadyVoidedError(LedgerError):
    pass


class RateError(LedgerError):
    pass


class WaiverError(LedgerError):
    pass
