"""Small helpers shared by views."""

from flask import flash


def flash_form_errors(form) -> None:
    """Flash every field error, for forms posted from another page (no form to redisplay)."""
    for errors in form.errors.values():
        for message in errors:
            flash(message, "error")
