"""Night patrols: zones' shifts, rosters, attendance, stipends, incidents (its own issue)."""
