"""``flask meetings ...``: meetings and governance from the command line."""

from flask.cli import AppGroup

meetings_cli = AppGroup("meetings", help="Meetings, minutes and the registration pack.")
