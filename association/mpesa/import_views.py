"""The treasurer's M-Pesa desk: pasted SMS, statement imports and the suspense queue."""

from flask import Blueprint

bp = Blueprint("mpesa_imports", __name__)
