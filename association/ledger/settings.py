"""The ledger's settings: the one row that says whether the association charges
dues or records voluntary contributions.
"""

from association.database import reads_only
from association.extensions import db
from association.ledger.accounts import insert_once
from association.ledger.models import LedgerSettings


def settings() -> LedgerSettings:
    """The one settings row (id 1), created on first use."""
    found = db.session.get(LedgerSettings, 1)
    if found is None and reads_only():  # a page view does not write: the defaults
        return LedgerSettings(id=1, voluntary_contributions=False)
    if found is None:
        insert_once(LedgerSettings, {"id": 1, "voluntary_contributions": False})
        found = db.session.get(LedgerSettings, 1)
    return found


def set_voluntary(voluntary: bool) -> None:
    settings().voluntary_contributions = voluntary
    db.session.flush()
