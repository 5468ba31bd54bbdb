"""Moved to :mod:`association.core.money`; kept only for mpesa/callbacks.py, which another
branch rewrites to import core (remove this file when it does)."""

from association.core.money import MAX_CENTS

__all__ = ["MAX_CENTS"]
