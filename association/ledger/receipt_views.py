"""Receipts: download, void, the register, and the public verification page."""

from flask import Blueprint

bp = Blueprint("receipts", __name__)
