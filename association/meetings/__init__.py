"""Barazas, AGMs and committee meetings, minutes, resolutions, officials (its own issue)."""
