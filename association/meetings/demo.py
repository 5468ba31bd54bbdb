"""Demo data for meetings."""


def seed_meetings(members, today, rng) -> dict:
    """Add meetings demo records for the demo association; return counts of what was made."""
    return {}
