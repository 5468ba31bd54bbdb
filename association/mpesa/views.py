"""The mpesa screens."""

from flask import Blueprint

bp = Blueprint("mpesa", __name__)
