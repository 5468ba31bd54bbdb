"""The meetings screens, one module per job: meetings, agenda, attendance, minutes,
resolutions, action items, elections, the quorum settings, officials, compliance and the
public transparency page. They all register on the one blueprint ``bp`` (defined in
:mod:`.base`); each module is imported here, explicitly, so that its routes exist when
``create_app`` registers ``bp``."""

from association.meetings.views import (  # noqa: F401  (imported for their routes)
    actions,
    agenda,
    attendance,
    compliance,
    elections,
    meetings,
    minutes,
    officials,
    quorum,
    resolutions,
    transparency,
)
from association.meetings.views.base import bp

__all__ = ["bp"]
