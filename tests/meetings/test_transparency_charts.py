"""Charts on the transparency page and the reports (inline SVG, JavaScript off), and the
month's summary as a WhatsApp picture and an A4 poster: figures equal to the services',
both languages, bad months, and never a person."""

import html as html_lib
import io
import re
from datetime import date

import pytest
from PIL import Image

from association.audit.services import acting_as
from association.core import dates
from association.core.charts import bar_chart
from association.core.money import format_kes
from association.core.time import month_start, today_in_nairobi
from association.extensions import db
from association.ledger import report_charts, reports
from association.ledger.accounts import account
from association.ledger.dues import add_rate_schedule, bill_month
from association.ledger.journal import Line, post_entry
from association.ledger.models import EntrySource, PaymentMethod, Side
from association.ledger.payments import record_payment
from association.meetings import transparency
from association.members.models import Category, Member
from tests.ledger.conftest import EXAMPLE_RATES
from tests.meetings.conftest import pdf_text

NAMES = ("Zawadi", "Achieng", "Muthoni", "Kerubo", "Landlady")


@pytest.fixture
def money(app, setup_association, make_member):
    """This month: four residents and a landlord billed; three residents and the landlord
    pay; a patrol stipend is spent. Returns the month and the members' personal data."""
    today = today_in_nairobi()
    secrets = []
    ids = []
    for i, name in enumerate(NAMES):
        member_id, number = make_member(
            first_name=name, other_names="Wairimu", national_id=f"3456789{i}",
            category=Category.LANDLORD if i == 4 else Category.RESIDENT,
            **({"rental_premises": 2} if i == 4 else {}))
        ids.append(member_id)
    with app.app_context(), acting_as("test"):
        add_rate_schedule(date(2025, 1, 1), EXAMPLE_RATES, "AGM 2025, resolution 4", None)
        bill_month(month_start(today), None)
        for member_id in ids[:3] + ids[4:]:
            member = db.session.get(Member, member_id)
            record_payment(member, 30000 if member.category == Category.LANDLORD else 5000,
                           PaymentMethod.CASH, today, None)
        post_entry(today, "Patrol stipends", EntrySource.EXPENSE, [
            Line(account("patrol_stipends").id, Side.DEBIT, 12000),
            Line(account("bank").id, Side.CREDIT, 12000)], None, reference="EXP-9")
        db.session.commit()
        for member_id in ids:
            member = db.session.get(Member, member_id)
            secrets += [member.full_name, member.first_name + " Wairimu", member.phone,
                        member.national_id, member.member_no, "0" + member.phone[4:]]
    return month_start(today), secrets


def _figure(html: str, chart_id: str) -> tuple[str, list[list[str]]]:
    """The chart's SVG and its table of figures (rows of cell texts), from the page."""
    start = html.index(f'<figure class="chart" id="{chart_id}">')
    figure = html[start:html.index("</figure>", start)]
    svg = figure[figure.index("<svg"):figure.index("</svg>") + 6]
    table = figure[figure.index("<tbody>"):figure.index("</tbody>")]
    rows = [[html_lib.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<t[hd][^>]*>.*?</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    return svg, rows


def _no_personal_data(text: str, secrets) -> None:
    flat = re.sub(r"\s+", " ", text)
    for secret in secrets:
        if secret:
            assert secret not in flat, secret


def test_the_transparency_page_draws_its_figures_as_charts_without_javascript(
        app, web, money):
    month, secrets = money
    page = web.get("/transparency")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script" not in html.split("<main", 1)[-1].split("</main>", 1)[0]
    svg, rows = _figure(html, "money-by-month")
    assert 'role="img"' in svg and 'aria-labelledby="money-by-month-t money-by-month-d"' in svg
    assert '<title id="money-by-month-t">Money in and out, by month</title>' in svg
    assert 'viewBox="0 0 360 ' in svg and 'width="100%"' in svg
    with app.test_request_context("/"):
        summaries = sorted(transparency.summaries(), key=lambda s: s.month)
        this = transparency.month_summary(month)
        labels = [dates.month(s.month) for s in summaries]
    # One row a month, oldest first, the Kenyan way ("Nov 2026"), each equal to the page's
    # own figures.
    assert all(re.fullmatch(r"[A-Z][a-z]{2,3} \d{4}", label) for label in labels)
    assert rows == [[label, format_kes(s.income_cents), format_kes(s.expense_cents)]
                    for label, s in zip(labels, summaries, strict=True)]
    assert rows[-1] == [labels[-1], "KES 450.00", "KES 120.00"]
    assert this.income_cents == 45000 and this.expense_cents == 12000
    # The month's money by category: the landlord alone is folded into "Other categories".
    _svg, collected = _figure(html, f"collected-{month:%Y-%m}")
    assert collected == [[name, format_kes(cents)] for name, cents in this.income]
    assert collected == [["Resident / tenant", "KES 150.00"], ["Other categories", "KES 300.00"]]
    _svg, spent = _figure(html, f"spent-{month:%Y-%m}")
    assert spent == [["Patrol stipends", "KES 120.00"]]
    # A month with nothing spent or collected says so, with no empty drawing.
    earlier = [s for s in summaries if not s.income][0].month
    empty = html[html.index(f'id="collected-{earlier:%Y-%m}"'):]
    empty = empty[:empty.index("</figure>")]
    assert "Nothing to draw yet" in empty and "<svg" not in empty
    # The picture and the poster are linked from the page.
    assert f"/transparency/{month:%Y-%m}/summary.png" in html
    assert f"/transparency/{month:%Y-%m}/poster.pdf" in html
    _no_personal_data(html, secrets)


def test_the_charts_speak_kiswahili_on_a_kiswahili_page(app, web, money):
    month, _secrets = money
    html = web.get("/transparency", headers={"Accept-Language": "sw"}).get_data(as_text=True)
    svg, rows = _figure(html, "money-by-month")
    assert "Money in and out" not in svg and "<title" in svg
    assert rows[-1][1:] == ["KES 450.00", "KES 120.00"]
    with app.test_request_context("/", headers={"Accept-Language": "sw"}):
        assert rows[-1][0] == dates.month(month)
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{4}", rows[-1][0])


def test_the_whatsapp_picture_is_one_portrait_png_in_either_language(app, web, money):
    month, _secrets = money
    shown = {}
    for lang in ("en", "sw"):
        response = web.get(f"/transparency/{month:%Y-%m}/summary.png?lang={lang}")
        assert response.status_code == 200 and response.mimetype == "image/png"
        image = Image.open(io.BytesIO(response.data))
        image.load()
        assert image.format == "PNG" and image.width == 1080
        assert image.height >= 1350
        shown[lang] = response.data
    assert shown["en"] != shown["sw"]


def test_the_poster_holds_the_month_and_its_figures_in_both_languages(
        app, web, money, tmp_path):
    month, secrets = money
    english = pdf_text(web.get(f"/transparency/{month:%Y-%m}/poster.pdf?lang=en").data,
                       tmp_path)
    swahili = pdf_text(web.get(f"/transparency/{month:%Y-%m}/poster.pdf?lang=sw").data,
                       tmp_path)
    flat_en, flat_sw = (re.sub(r"\s+", " ", t) for t in (english, swahili))
    assert month.strftime("%B %Y") in flat_en
    assert "Money collected" in flat_en and "Patrol stipends" in flat_en
    assert "Money collected" not in flat_sw and str(month.year) in flat_sw
    # Category and account names in the language asked for, not the browser's.
    assert "Patrol stipends" not in flat_sw and "Resident" not in flat_sw
    assert month.strftime("%B") not in flat_sw or month.month in (4, 11)  # Aprili, Novemba
    for flat in (flat_en, flat_sw):
        assert "KES 450.00" in flat and "KES 120.00" in flat and "KES 150.00" in flat
        assert "/transparency" in flat
        _no_personal_data(flat, secrets)


@pytest.mark.parametrize("month", ["garbage", "2026-13", "2026-00", "2099-01", "1999-12",
                                   "20261", "2026-1x"])
def test_bad_months_are_a_clear_404_never_a_500(app, web, setup_association, month):
    for path in (f"/transparency/{month}/summary.png", f"/transparency/{month}/poster.pdf"):
        response = web.get(path)
        assert response.status_code == 404, path
        assert "text/html" in response.content_type


def test_the_reports_draw_income_expenditure_and_dues_charged_against_collected(
        app, web, money, make_user):
    from association.auth.models import Role

    month, _secrets = money
    make_user("treasurer", Role.TREASURER)
    web.login("treasurer")
    args = f"from={month.isoformat()}&to={today_in_nairobi().isoformat()}"
    html = web.get(f"/reports/income-expenditure?{args}").get_data(as_text=True)
    period = reports.Period(month, today_in_nairobi())
    with app.app_context():
        report = reports.income_expenditure(period)
        dues = report_charts.dues_by_month(period)
    svg, rows = _figure(html, "ie-by-month")
    assert 'role="img"' in svg
    with app.test_request_context("/"):
        label = dates.month(month)
    assert rows == [[label, format_kes(report.figures["income"]),
                     format_kes(report.figures["expenditure"])]]
    _svg, spent = _figure(html, "ie-expenditure")
    assert spent == [["Patrol stipends", "KES 120.00"]]
    html = web.get(f"/reports/collections?{args}").get_data(as_text=True)
    _svg, rows = _figure(html, "dues-charged-paid")
    # Charged: four residents at 50 and a landlord at 300; paid: three residents and the
    # landlord.
    assert dues == [(month, 50000, 45000)]
    assert rows == [[label, "KES 500.00", "KES 450.00"]]
    # The treasurer's dues page draws the same figures.
    html = web.get("/ledger/dues").get_data(as_text=True)
    _svg, on_dues_page = _figure(html, "dues-charged-paid")
    assert on_dues_page == rows
    # A download is the report alone, with no chart in it.
    csv = web.get(f"/reports/collections?{args}&format=csv").get_data(as_text=True)
    assert "svg" not in csv


def test_a_chart_escapes_its_labels_and_says_nothing_yet_when_empty(app):
    from flask import render_template_string

    with app.test_request_context("/"):
        hostile = bar_chart("c1", "<b>Title</b>", ['<script>alert("x")</script>'],
                            [("Series & co", [5])])
        empty = bar_chart("c2", "Nothing", ["a", "b"], [("s", [0, 0])])
        none = bar_chart("c3", "None", [], [("s", [])])
        out = render_template_string(
            '{% from "_charts.html" import chart %}{{ chart(a) }}{{ chart(b) }}{{ chart(c) }}',
            a=hostile, b=empty, c=none)
    assert "<script>" not in out and "&lt;script&gt;" in out and "<b>" not in out
    assert out.count("<svg") == 1
    assert out.count("Nothing to draw yet") == 2
    with pytest.raises(ValueError):
        bar_chart("c4", "Bad", ["a"], [("s", [1, 2])])


def test_a_chart_stays_inside_its_360_unit_drawing_whatever_its_labels_and_amounts(app):
    from association.core.charts import WIDTH, _text_width

    long_name = "Landlord with eleven or more rental premises along the river road"
    with app.test_request_context("/"):
        chart = bar_chart("c5", "Wide", [long_name, "Resident"],
                          [("In", [9_999_999_999, 1]), ("Out", [5, 0])], money=True)
    assert chart.rows()[0] == (long_name, ["KES 99,999,999.99", "KES 0.05"])
    drawn = [t.text for t in chart.texts]
    assert long_name not in drawn and any(t.endswith("…") for t in drawn)
    for rect in chart.rects:
        assert 0 <= rect.x and rect.x + rect.width <= WIDTH
    for text in chart.texts:
        assert text.x + _text_width(text.text) <= WIDTH + 1, text.text
        assert 0 < text.y <= chart.height


def test_the_month_files_are_cached_briefly_and_limited_per_address(app, web, setup_association):
    """Each is drawn per request: a copy may be kept five minutes, and one address cannot
    ask for them without end (a 429, not a server drawing pictures all day)."""
    month = f"{today_in_nairobi():%Y-%m}"
    first = web.get(f"/transparency/{month}.pdf")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "public, max-age=300"
    assert "Accept-Language" in first.headers["Vary"]  # its language may come from there
    statuses = [web.get(f"/transparency/{month}.pdf").status_code for _ in range(20)]
    assert statuses[:19] == [200] * 19 and statuses[19] == 429
