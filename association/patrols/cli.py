"""``flask patrols ...``: patrols from the command line."""

from flask.cli import AppGroup

patrols_cli = AppGroup("patrols", help="Night patrols: rosters and their exports.")
