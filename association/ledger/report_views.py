"""Reports and the auditor's pack."""

from flask import Blueprint

bp = Blueprint("reports", __name__)
