"""Logging: one line per request with its id, the level from LOG_LEVEL, and no phone
numbers, ID numbers or tokens in what is written."""

import logging
import re

import pytest
from flask import Flask

from association.logging import REQUEST_ID_HEADER, configure_logging, redact
from association.mpesa.inbox import MAX_BODY

PHONE_FORMS = ("0712345678", "0112 345 678", "254712345678", "+254 712 345 678", "254112345678")


def request_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if " association.request: " in line]


def test_each_request_writes_one_line_with_its_request_id(client, capsys):
    capsys.readouterr()
    response = client.get("/login?next=%2Fmembers&phone=0712345678")
    request_id = response.headers[REQUEST_ID_HEADER]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    [line] = request_lines(capsys.readouterr().err)
    assert f" INFO [{request_id}] association.request: GET /login 200 " in line
    assert re.search(r" \d+\.\dms$", line), line
    # The path alone: the query string (here a phone number) is not written.
    assert "next=" not in line and "phone" not in line and "0712345678" not in line
    assert client.get("/login").headers[REQUEST_ID_HEADER] != request_id


def test_the_proxys_request_id_is_used_only_behind_a_trusted_proxy(app, client, capsys,
                                                                    monkeypatch):
    sent = {REQUEST_ID_HEADER: "nginx-4f1c2d"}
    response = client.get("/login", headers=sent)
    assert response.headers[REQUEST_ID_HEADER] != "nginx-4f1c2d"
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", 1)
    capsys.readouterr()
    response = client.get("/no-such-page", headers=sent)
    assert response.status_code == 404
    assert response.headers[REQUEST_ID_HEADER] == "nginx-4f1c2d"
    [line] = request_lines(capsys.readouterr().err)
    assert "[nginx-4f1c2d] association.request: GET /no-such-page 404 " in line
    # Not a header a log line could be forged with: a fresh id instead.
    forged = client.get("/login", headers={REQUEST_ID_HEADER: "x] GET /admin 200"})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers[REQUEST_ID_HEADER])


def test_a_callback_address_is_logged_without_its_token(app, client, capsys):
    token = app.config["MPESA_CALLBACK_TOKEN"]
    capsys.readouterr()
    # Too large a body: refused before it is stored, so the test writes nothing.
    response = client.post(f"/hooks/stk/callback/{token}", data=b"x" * (MAX_BODY + 1),
                           content_type="application/json")
    assert response.status_code == 413
    wrong = client.post("/mpesa/c2b/validation/a-guessed-token", json={})
    assert wrong.status_code == 404
    err = capsys.readouterr().err
    assert token not in err
    assert "a-guessed-token" not in err
    lines = request_lines(err)
    assert any("POST /hooks/stk/callback/[token] 413 " in line for line in lines), lines
    assert any("POST /mpesa/c2b/validation/[token] 404 " in line for line in lines), lines
    # Wherever else it turns up (a library's message), the configured token is replaced.
    logging.getLogger("association.test").warning("Daraja called %s", f"https://x/{token}")
    assert token not in capsys.readouterr().err


def test_phone_and_id_numbers_in_a_message_are_redacted(app, capsys):
    log = logging.getLogger("association.test")
    capsys.readouterr()
    for phone in PHONE_FORMS:
        log.warning("SMS to %s failed", phone)
    log.warning("Member with ID 12345678 imported")
    try:
        raise ValueError("no member has the phone 0722000111")
    except ValueError:
        log.exception("Import failed for 0733444555")
    err = capsys.readouterr().err
    for secret in (*PHONE_FORMS, "12345678", "0722000111", "0733444555"):
        assert secret not in err, secret
    assert err.count("SMS to [phone] failed") == len(PHONE_FORMS)
    assert "Member with ID [id-number] imported" in err
    assert "ValueError: no member has the phone [phone]" in err


def test_redaction_keeps_what_is_not_personal():
    text = "receipt RKT4AB1234 of 2026-12-07 for KES 1,500 (MLK-0042), request 1f2e3d4c12345678"
    assert redact(text) == text
    assert redact("/mpesa/imports/statement") == "/mpesa/imports/statement"
    assert redact("GET /mpesa/imports/Zx81_kq0Pl2mN3bV4cX5/confirm") == \
        "GET /mpesa/imports/[token]/confirm"


def test_the_level_comes_from_log_level(monkeypatch):
    root = logging.getLogger()
    before = root.level
    try:
        monkeypatch.setenv("LOG_LEVEL", "warning")
        configure_logging(Flask("level-test"))
        assert root.level == logging.WARNING
        monkeypatch.delenv("LOG_LEVEL")
        configure_logging(Flask("level-test"))
        assert root.level == logging.INFO
        monkeypatch.setenv("LOG_LEVEL", "chatty")
        with pytest.raises(ValueError, match="LOG_LEVEL='CHATTY'"):
            configure_logging(Flask("level-test"))
    finally:
        root.setLevel(before)
