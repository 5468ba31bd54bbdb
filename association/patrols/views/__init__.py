"""The patrols screens: one blueprint, ``patrols``, whose views live in one module per
job (the coordinator's roster, settings, patrollers, a patroller's own page, swaps,
attendance, stipends, incidents). Each module is imported below, so that its routes
exist when the app registers the blueprint.
"""

from flask import Blueprint

from association.patrols import models  # noqa: F401  (the app and migrations see the tables)

bp = Blueprint("patrols", __name__, url_prefix="/patrols")

# The view modules register their routes on ``bp``; they import it, so they come after it.
from association.patrols.views import (  # noqa: E402, F401
    attendance,
    incidents,
    me,
    patrollers,
    roster,
    settings,
    stipends,
    swaps,
)
