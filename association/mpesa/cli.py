"""``flask mpesa ...``: mpesa from the command line."""

from flask.cli import AppGroup

mpesa_cli = AppGroup("mpesa", help="M-Pesa: STK push, reconciliation, the local Daraja sandbox.")
