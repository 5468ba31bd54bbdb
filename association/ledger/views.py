"""The treasurer's books: payments, dues runs, month close, rates, waivers, statements."""

from flask import Blueprint

bp = Blueprint("ledger", __name__)
