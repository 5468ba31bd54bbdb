"""The worker's daily checkpoint of the audit chain."""

import logging
from datetime import date

from association.audit.checkpoints import (
    REFUSED,
    TrailBroken,
    daily_checkpoint,
    has_daily_checkpoint,
)
from association.audit.services import acting_as, log_event
from association.core.time import today_in_nairobi
from association.extensions import db
from association.hosting.tenancy import cache_key

#: The Nairobi day whose checkpoint this process knows is made, per association: an idle
#: worker looks for work five times a second, and need not ask the database each time.
_made: dict[str, date] = {}

log = logging.getLogger(__name__)


def checkpoint_step() -> int:
    """Make the day's checkpoint if no worker has yet (committed).

    Returns:
        0 always: a checkpoint is not work waiting (the heartbeat counts payments
        processed, and the loop need not come straight back for more).
    """
    today = today_in_nairobi()
    where = cache_key()  # not the engine's URL: PostgreSQL's associations share one
    if _made.get(where) == today:
        return 0
    if has_daily_checkpoint(today):
        _made[where] = today
        return 0
    with acting_as("worker"):
        try:
            daily_checkpoint(today)
        except TrailBroken as error:
            # Not signed: a checkpoint over a rewritten tail would vouch for it. Once a day
            # a process (not five times a second): the event says so in the trail itself.
            db.session.rollback()
            log.error("daily audit checkpoint refused, the trail failed its check: %s",
                      error.reason)
            log_event(*REFUSED, today.isoformat(), {"reason": error.reason})
    db.session.commit()
    _made[where] = today
    return 0
