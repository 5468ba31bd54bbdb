"""What the patrols views share: reading a month or a night from the address, the
association's name for printed pages and feeds, and a shift template or a 404."""

from datetime import date

from flask import abort, flash

from association.core.time import month_start, parse_month, today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.patrols.models import ShiftTemplate
from association.profile.services import get_profile


def month_arg(value: str | None) -> date:
    """The month in ``value`` (YYYY-MM), the current month when absent or malformed."""
    if value:
        try:
            return parse_month(value)
        except DomainError as error:
            flash(str(error), "error")
    return month_start(today_in_nairobi())


def night_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        abort(404)


def association_name() -> str:
    profile = get_profile()
    return profile.name if profile else ""


def template_or_404(template_id: int) -> ShiftTemplate:
    return db.get_or_404(ShiftTemplate, template_id)
