"""Demo data for mpesa."""


def seed_mpesa(members, today, rng) -> dict:
    """Add mpesa demo records for the demo association; return counts of what was made."""
    return {}
