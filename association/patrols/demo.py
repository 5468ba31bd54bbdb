"""Demo data for patrols."""


def seed_patrols(members, today, rng) -> dict:
    """Add patrols demo records for the demo association; return counts of what was made."""
    return {}
