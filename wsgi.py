"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""

from association import create_app

app = create_app()
