"""Moved to :mod:`association.core.time` and :mod:`association.core.db`; kept only for
mpesa/callbacks.py, which another branch rewrites to import core (remove this file when
it does)."""

from association.core.time import NAIROBI, utcnow

__all__ = ["NAIROBI", "utcnow"]
