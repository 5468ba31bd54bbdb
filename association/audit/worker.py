"""The worker's daily checkpoint of the audit chain."""

from datetime import date

from association.audit.checkpoints import daily_checkpoint, has_daily_checkpoint
from association.audit.services import acting_as
from association.core.time import today_in_nairobi
from association.extensions import db

#: The Nairobi day whose checkpoint this process knows is made, per database: an idle
#: worker looks for work five times a second, and need not ask the database each time.
_made: dict[str, date] = {}


def checkpoint_step() -> int:
    """Make the day's checkpoint if no worker has yet (committed).

    Returns:
        0 always: a checkpoint is not work waiting (the heartbeat counts payments
        processed, and the loop need not come straight back for more).
    """
    today = today_in_nairobi()
    where = str(db.engine.url)
    if _made.get(where) == today:
        return 0
    if has_daily_checkpoint(today):
        _made[where] = today
        return 0
    with acting_as("worker"):
        daily_checkpoint(today)
    db.session.commit()
    _made[where] = today
    return 0
