"""The base of every named domain error; views turn them into flash messages."""


class DomainError(Exception):
    """A rule was broken; ``message`` is already in the user's language (a lazy string)."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return str(self.message)
