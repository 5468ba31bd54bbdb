"""Logging, configured in one place: ``configure_logging(app)`` from ``create_app()``.

- The level comes from ``LOG_LEVEL`` (the app's config or the environment; default INFO).
- One handler on the root logger (stderr, where gunicorn, systemd and docker collect it),
  so the app's, the libraries' and the development server's lines share one format.
- One line per request, with a request id: generated, or the proxy's ``X-Request-ID``
  when the app trusts a proxy (``TRUSTED_PROXIES``); echoed in the response header, so a
  complaint and its log line can be matched. The path is logged without its query string.
- Personal data and secrets never reach the log: ``RedactFilter`` replaces Kenyan phone
  numbers, 8-digit ID numbers, the M-Pesa callback token (it is part of the callback
  paths) and import tokens in every line the handler writes, tracebacks included.
"""

import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler

#: The logger of the one-line-per-request records.
REQUEST_LOGGER = "association.request"
REQUEST_ID_HEADER = "X-Request-ID"
FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"

#: A request id a proxy may hand us: short, and nothing a log line could be forged with.
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

#: (pattern, replacement), applied in order to each formatted line.
_REDACTIONS = (
    # The callback token is the last part of every M-Pesa callback path (/hooks/stk/callback/
    # TOKEN, /mpesa/c2b/validation/TOKEN, ...): whatever it is, even a wrong one tried.
    (re.compile(r"(/(?:hooks|mpesa)/(?:stk|c2b|status)/[a-z]+/)[^\s/?#\"']+"), r"\1[token]"),
    # An upload staged for review is addressed by its token (/mpesa/imports/TOKEN).
    (re.compile(r"(/imports/)(?!sms\b|statement\b)[A-Za-z0-9_-]{16,}"), r"\1[token]"),
    # Kenyan phone numbers: 07.., 01.., 2547.., 2541.., +254..., spaced or not.
    (re.compile(r"(?<![\w+])(?:\+?254[ -]?|0)[17]\d{2}[ -]?\d{3}[ -]?\d{3}(?!\w)"), "[phone]"),
    # National ID numbers: 8 digits on their own.
    (re.compile(r"(?<!\w)\d{8}(?!\w)"), "[id-number]"),
)

#: Secrets that must never appear as they are (the callback token from the config).
_SECRETS: set[str] = set()


def redact(text: str) -> str:
    """``text`` without phone numbers, ID numbers and tokens."""
    for secret in _SECRETS:
        text = text.replace(secret, "[token]")
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactFilter(logging.Filter):
    """Redacts each record's message (its arguments merged in) and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request it was logged in (``-`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = (g.get("request_id", "-") if has_request_context() else "-")
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (a test's capture, gunicorn's redirect)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ sets it; the property decides
        pass


def _level(app: Flask) -> int:
    name = str(app.config.get("LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO").upper()
    level = logging.getLevelName(name)
    if not isinstance(level, int):
        raise ValueError(f"LOG_LEVEL={name!r} is not a level: use DEBUG, INFO, WARNING or ERROR")
    return level


def configure_logging(app: Flask) -> None:
    """Set the level, install the one handler (once per process) and log each request."""
    root = logging.getLogger()
    root.setLevel(_level(app))
    if not any(isinstance(h, StderrHandler) for h in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RequestIdFilter())
        handler.addFilter(RedactFilter())
        root.addHandler(handler)
    # httpx names every request to Daraja at INFO: the app logs what it does with them.
    logging.getLogger("httpx").setLevel(max(root.level, logging.WARNING))
    # Flask's own handler would write app.logger's lines a second time, unredacted.
    app.logger.removeHandler(default_handler)
    token = app.config.get("MPESA_CALLBACK_TOKEN")
    if token and len(token) >= 8:  # a real token; a letter or two would blank out words
        _SECRETS.add(token)
    request_log = logging.getLogger(REQUEST_LOGGER)

    @app.before_request
    def start_request_log():
        behind_proxy = bool(app.config.get("TRUSTED_PROXIES"))
        incoming = request.headers.get(REQUEST_ID_HEADER, "") if behind_proxy else ""
        g.request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    # Registered before the other extensions' hooks, so it runs after them: the status
    # and headers logged are the ones sent.
    @app.after_request
    def finish_request_log(response):
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers.setdefault(REQUEST_ID_HEADER, request_id)
        started = g.get("request_started")
        duration = (time.perf_counter() - started) * 1000 if started else 0.0
        path = request.script_root + request.path  # with its association's prefix
        token = (request.view_args or {}).get("token")
        if isinstance(token, str) and token:  # a route's token, whatever the filter knows
            path = path.replace(token, "[token]")
        request_log.info("%s %s %s %.1fms", request.method, path, response.status_code,
                         duration)
        return response

