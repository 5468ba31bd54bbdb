"""English and Swahili: every string the app can show has a Swahili translation."""

import re
from datetime import datetime
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import render_template_string, session
from flask_babel import force_locale, gettext, refresh

from association.members.models import ConsentPurpose
from association.members.services import consent_wording

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "translations" / "sw" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2),
            "lazy_pgettext": ((1, "c"), 2)}
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")


def _extracted() -> dict[tuple[str, str | None], str]:
    """Every (msgid, context) in the app's code and templates (as `make extract` finds
    them) -> where."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault((msgid, _context), f"{filename}:{lineno}")
    return found


def _catalogue():
    with open(CATALOGUE, "rb") as po:
        return read_po(po, locale="sw")


def test_every_string_has_a_swahili_translation():
    catalogue = _catalogue()
    missing = []
    for (msgid, context), where in _extracted().items():
        message = catalogue.get(msgid, context=context)
        strings = () if message is None else (
            message.string if isinstance(message.string, tuple) else (message.string,))
        if message is None or message.fuzzy or not all(strings):
            missing.append(f"{where}: {msgid!r}")
    assert missing == [], "run `make extract` and translate:\n" + "\n".join(missing)


def test_translations_keep_their_placeholders():
    wrong = []
    for message in _catalogue():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(" ".join(ids)))
        for text in strings:
            if not set(PLACEHOLDER.findall(text)) <= wanted:
                wrong.append(ids[0])
    assert wrong == []


def test_pages_speak_swahili_when_chosen(web, people):
    web.post("/language", {"language": "sw"})
    login = web.get("/login").get_data(as_text=True)
    assert 'lang="sw"' in login and "Ingia" in login
    web.login("chair")
    page = web.get("/members").get_data(as_text=True)
    assert "Wanachama" in page and "Members</a>" not in page


def test_wrong_login_message_in_swahili(web, setup_association):
    web.post("/language", {"language": "sw"})
    response = web.login_with_password("chair", "wrong-password")
    assert "havilingani" in response.get_data(as_text=True)


@pytest.mark.parametrize("data,english", [
    ({"first_name": ""}, "The first name is missing."),
    ({"year_of_birth": "abc"}, "Not a valid integer value."),
])
def test_form_errors_come_in_swahili(web, setup_association, data, english):
    web.login("chair")
    web.post("/language", {"language": "sw"})
    form = {"first_name": "Amina", "other_names": "Wanjiku", "category": "resident",
            "zone_id": str(setup_association.zone_id), "joined_on": "2025-01-01", **data}
    page = web.post("/members/new", form).get_data(as_text=True)
    assert english not in page
    assert 'class="error"' in page


def test_consent_words_are_recorded_in_the_language_used(app):
    with app.app_context():
        english = consent_wording(ConsentPurpose.SMS, "en")
        swahili = consent_wording(ConsentPurpose.SMS, "sw")
    assert "SMS" in english and english != swahili


def test_command_line_messages_stay_english(app):
    with app.test_request_context(), force_locale("sw"):
        assert consent_wording(ConsentPurpose.REGISTER, "en").startswith("I agree")


@pytest.mark.parametrize("language,expected", [
    ("en", "03/11/2026, 23:07 · 3 Nov 2026"),  # not "11/3/26, 11:07 PM · Nov 3, 2026"
    ("sw", "03/11/2026 23:07 · 3 Nov 2026"),
])
def test_dates_are_written_day_first_in_nairobi_time(app, language, expected):
    with app.test_request_context(headers={"Accept-Language": language}):
        text = render_template_string(
            "{{ when|datetimeformat('short') }} · {{ when|dateformat('medium') }}",
            when=datetime(2026, 11, 3, 20, 7))  # UTC, as stored
    assert text == expected


def test_a_language_switch_within_a_request_takes_effect_at_once(app):
    """The catalogue is found once a request, yet follows the locale when it changes."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert gettext("Members") == "Members"
        with force_locale("sw_KE"):
            assert gettext("Members") == "Wanachama"
            assert render_template_string("{{ _('Members') }}") == "Wanachama"
        assert render_template_string("{{ _('Members') }}") == "Members"
        session["lang"] = "sw"
        refresh()
        assert gettext("Members") == "Wanachama"
