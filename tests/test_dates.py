"""Dates the Kenyan way: shown as "30 Nov 2026" and "Nov 2026" with 24-hour times in both
languages, typed day first in a text box a phone set to US English cannot turn around, and
the app's own English (weekday headings, journal memos) shown in the reader's language."""

import re
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from association.core import dates
from association.core.time import today_in_nairobi
from association.extensions import db
from association.forms import BaseForm, DayField, DayTimeField
from association.ledger import memos
from association.meetings.models import Meeting
from tests.conftest import count
from tests.i18n_scan import bad_dates_in, english_in

SW_MONTHS = ("Januari", "Februari", "Machi", "Aprili", "Mei", "Juni", "Julai", "Agosti",
             "Septemba", "Oktoba", "Novemba", "Desemba")


def test_dates_are_shown_the_kenyan_way_in_both_languages(app):
    with app.test_request_context():
        with force_locale("en_KE"):
            assert dates.day(date(2026, 11, 30)) == "30 Nov 2026"
            assert dates.month(date(2026, 12, 1)) == "Dec 2026"
            assert dates.month("2026-03") == "Mar 2026"
            assert dates.time(time(23, 7)) == "23:07"
            # Stored moments are UTC: 20:07 UTC is 23:07 in Nairobi.
            assert dates.moment(datetime(2026, 11, 30, 20, 7)) == "30 Nov 2026, 23:07"
            assert dates.wall_moment(datetime(2026, 11, 30, 23, 7)) == "30 Nov 2026, 23:07"
            assert dates.day("2026-01-05") == "5 Jan 2026"
        with force_locale("sw_KE"):
            assert dates.day(date(2026, 12, 7)) == "7 Des 2026"
            assert dates.month(date(2026, 3, 1)) == "Mac 2026"
            assert dates.moment(datetime(2026, 12, 7, 9, 30)) == "7 Des 2026, 12:30"
            shown = " ".join(dates.day(date(2026, m, 1)) for m in range(1, 13))
            assert english_in(shown) == [] and bad_dates_in(shown) == []


def test_weekday_headings_are_told_apart_in_swahili(app):
    with app.test_request_context(), force_locale("sw_KE"):
        short = [dates.weekday_short(d) for d in range(7)]
    with app.test_request_context(), force_locale("en_KE"):
        english = [dates.weekday_short(d) for d in range(7)]
    assert short == ["Jtt", "Jnn", "Jtn", "Alh", "Ijm", "Jms", "Jpl"]
    assert english == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


@pytest.mark.parametrize("text", ["7 Dec 2026", "7 December 2026", "7 Desemba 2026",
                                  "7 des 2026", "7th Dec, 2026", "7/12/2026", "07/12/2026",
                                  "7-12-2026", "7.12.2026", "2026-12-07", " 7  Dec  2026 "])
def test_day_first_dates_are_read_in_both_languages(app, text):
    with app.test_request_context():
        assert dates.parse_day(text) == date(2026, 12, 7)


@pytest.mark.parametrize(("text", "english", "swahili"), [
    ("11/30/2026", "11/30/2026 reads month first. Write the day first, e.g. 30/11/2026.",
     "11/30/2026 imeanza na mwezi. Andika siku kwanza, k.m. 30/11/2026."),
    ("31/02/2026", "31/02/2026 is not a day of the calendar.",
     "31/02/2026 si siku iliyopo kwenye kalenda."),
    ("kesho", "kesho is not a date. Write the day first, e.g. 7 Dec 2026 or 7/12/2026.",
     "kesho si tarehe. Andika siku kwanza, k.m. 7 Des 2026 au 7/12/2026."),
    ("7 Smarch 2026", "7 Smarch 2026 is not a date.", "7 Smarch 2026 si tarehe."),
    ("1/1/1066", "1/1/1066 is outside the years", "1/1/1066 iko nje ya miaka"),
    ("07-12-26", "07-12-26: write the year in full, e.g. 07/12/2026.",
     "07-12-26: andika mwaka wote, k.m. 07/12/2026."),
    ("2026/12/07", "2026/12/07 is not a date.", "2026/12/07 si tarehe."),
])
def test_dates_that_read_two_ways_or_none_are_refused_with_a_clear_message(
        app, text, english, swahili):
    for locale, message in (("en_KE", english), ("sw_KE", swahili)):
        # One request per language: the app reads the catalogue once per request.
        with app.test_request_context(), force_locale(locale):
            with pytest.raises(dates.DayError) as refused:
                dates.parse_day(text)
            assert str(refused.value).startswith(message), locale


class _Form(BaseForm):
    class Meta:
        csrf = False

    on = DayField("On")
    at = DayTimeField("At")


def test_the_fields_show_kenyan_dates_as_text_and_read_them_back(app):
    with app.test_request_context():
        with force_locale("sw_KE"):
            form = _Form(data={"on": date(2026, 12, 7), "at": datetime(2026, 12, 7, 23, 7)})
            html = form.on() + form.at()
            assert 'type="text"' in html and 'type="date"' not in html
            assert 'value="7 Des 2026"' in html and 'value="7 Des 2026 23:07"' in html
            assert 'placeholder="7 Des 2026"' in html
    from werkzeug.datastructures import MultiDict
    with app.test_request_context(method="POST"):
        form = _Form(formdata=MultiDict({"on": "7 Desemba 2026", "at": "7/12/2026 23:07"}))
        assert form.validate(), form.errors
        assert form.on.data == date(2026, 12, 7)
        assert form.at.data == datetime(2026, 12, 7, 23, 7)
        # The browser's own format still reads.
        form = _Form(formdata=MultiDict({"on": "2026-12-07", "at": "2026-12-07T23:07"}))
        assert form.validate() and form.at.data == datetime(2026, 12, 7, 23, 7)
        for bad, message in (("7 Dec 2026 11:07 PM", "24-hour clock"),
                             ("7 Dec 2026 25:00", "not a time of day"),
                             ("12/30/2026 10:00", "reads month first")):
            form = _Form(formdata=MultiDict({"at": bad}))
            assert not form.validate()
            assert message in " ".join(form.at.errors), bad
            # What was typed stays in the box, to be corrected.
            assert f'value="{bad}"' in form.at()


def _meeting(**kw):
    data = {"type": "general", "title": "Baraza la mwezi", "starts_at": "10:00",
            "venue": "Ofisi", "convener": "Mwenyekiti", "agenda": "Usalama"}
    data.update(kw)
    return data


def test_a_meeting_date_typed_day_first_in_swahili_is_saved(app, web, people):
    day = today_in_nairobi() - timedelta(days=2)
    web.login("secretary")
    with web.client.session_transaction() as session:
        session["lang"] = "sw"
    typed = f"{day.day} {SW_MONTHS[day.month - 1]} {day.year}"
    response = web.post("/meetings/new", _meeting(held_on=typed))
    assert response.status_code in (302, 303), response.get_data(as_text=True)[-2000:]
    with app.app_context():
        meeting = db.session.scalar(sa.select(Meeting))
        assert meeting.held_on == day
        meeting_id = meeting.id
    page = web.get(f"/meetings/{meeting_id}/edit").get_data(as_text=True)
    with app.test_request_context(), force_locale("sw_KE"):
        shown = dates.day(day)
    assert re.search(rf'name="held_on"[^>]*value="{shown}"', page)
    assert day.isoformat() not in page


@pytest.mark.parametrize(("lang", "message"), [
    ("en", "reads month first. Write the day first"),
    ("sw", "imeanza na mwezi. Andika siku kwanza"),
])
def test_a_month_first_meeting_date_is_refused_and_nothing_is_saved(
        app, web, people, lang, message):
    web.login("secretary")
    with web.client.session_transaction() as session:
        session["lang"] = lang
    response = web.post("/meetings/new", _meeting(held_on="11/30/2025"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page
    assert 'value="11/30/2025"' in page  # kept for the user to correct
    with app.app_context():
        assert count(Meeting) == 0


def test_report_filters_read_kenyan_dates_and_refuse_month_first_ones(app, web, people):
    web.login("treasurer")
    page = web.get("/reports/income-expenditure?from=1%20Jan%202026&to=31/3/2026")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "1 Jan 2026 to 31 Mar 2026" in text
    assert 'type="date"' not in text
    bad = web.get("/reports/income-expenditure?from=3/31/2026&to=2026-04-30")
    assert bad.status_code == 400
    assert "reads month first" in bad.get_data(as_text=True)


def test_memos_the_app_writes_are_read_in_swahili(app):
    with app.test_request_context(), force_locale("sw_KE"):
        assert memos.describe("cash payment from MLK-0008") == \
            "Malipo ya pesa taslimu kutoka MLK-0008"
        assert memos.describe("Dues for 2026-11") == "Michango ya Nov 2026"
        assert memos.describe("Void of receipt MLK-2026-000004: typed twice") == \
            "Kubatilishwa kwa risiti MLK-2026-000004: typed twice"
        assert memos.describe("EXP-3 Duka: torches") == "EXP-3 Duka: torches"
    with app.test_request_context(), force_locale("en_KE"):
        assert memos.describe("Dues for 2026-11") == "Dues for Nov 2026"


@pytest.mark.parametrize("url,data,model", [
    ("/ledger/payments/new", {"member": "{member_no}", "amount": "50", "method": "cash",
                              "paid_on": "   "}, "Payment"),
    ("/members/{member}/status", {"status": "suspended", "reason": "Moved away",
                                  "effective_on": "   "}, "MemberStatusChange"),
    ("/members/{member}/consents", {"purpose": "sms", "channel": "paper",
                                    "language": "en", "given_on": " \t "}, "MemberConsent"),
])
def test_a_required_date_of_spaces_alone_is_refused_with_a_message(
        app, web, people, url, data, model):
    """Spaces alone are a blank date box: the form says the date is needed, nothing is
    written, and no service ever compares "no date" with today (a 500 before)."""
    from association.ledger.models import Payment
    from association.members.models import MemberConsent, MemberStatusChange

    table = {"Payment": Payment, "MemberStatusChange": MemberStatusChange,
             "MemberConsent": MemberConsent}[model]
    with app.app_context():
        before = count(table)
    web.login("chair")
    data = {k: v.format(member_no=people.own_member_no) for k, v in data.items()}
    response = web.post(url.format(member=people.own_member_id), data, follow_redirects=True)
    assert response.status_code == 200, response.status_code
    page = response.get_data(as_text=True)
    assert "error" in page and ("Enter the date" in page), page[-3000:]
    with app.app_context():
        assert count(table) == before
