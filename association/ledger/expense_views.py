"""Expenses, recorded by one official and approved by another."""

from flask import Blueprint

bp = Blueprint("expenses", __name__)
