"""Ledger fixtures: the issue's example rate schedule, and a context to call services in."""

from datetime import date

import pytest

from association.audit.services import acting_as
from association.extensions import db
from association.ledger.dues import RateInput, add_rate_schedule
from association.members.models import Category

#: Residents 50; landlords 300 / 600 / 1,000 / 1,500 by premises; businesses 200 (cents).
EXAMPLE_RATES = [
    RateInput(Category.RESIDENT, 5_000),
    RateInput(Category.LANDLORD, 30_000, 1, 2),
    RateInput(Category.LANDLORD, 60_000, 3, 5),
    RateInput(Category.LANDLORD, 100_000, 6, 10),
    RateInput(Category.LANDLORD, 150_000, 11, None),
    RateInput(Category.BUSINESS, 20_000),
    RateInput(Category.OTHER, 5_000),
]


@pytest.fixture
def books(app, setup_association):
    """An app context with the association set up and the example rates from January 2025."""
    with app.app_context(), acting_as("test"):
        add_rate_schedule(date(2025, 1, 1), EXAMPLE_RATES, "AGM 2025-01-18, resolution 4", None)
        db.session.flush()
        yield setup_association
        db.session.rollback()
