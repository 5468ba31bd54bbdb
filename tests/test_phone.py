"""Pages on a phone and by keyboard (issue 21 items 2 and 6): scroll regions reachable
and named, wide tables stacked as cards with each cell naming its column, checkbox labels
beside their boxes. The browser sweep (e2e/test_every_page.py) measures the pages; these
check the HTML it relies on."""

import re
from pathlib import Path

from wtforms import BooleanField, Form

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
WRAP_RE = re.compile(r'<div class="table-wrap"[^>]*>')


def test_every_scroll_region_is_reachable_by_keyboard_and_named():
    """A table that scrolls sideways must take the focus (arrow keys scroll it) and have a
    name a screen reader reads out."""
    found = []
    for path in TEMPLATES.rglob("*.html"):
        for tag in WRAP_RE.findall(path.read_text()):
            found.append(tag)
            assert 'tabindex="0"' in tag and 'role="region"' in tag, (path.name, tag)
            assert re.search(r'aria-label="\S[^"]*"', tag), (path.name, tag)
    assert len(found) > 30


def test_a_rendered_scroll_region_has_its_name(web, people):
    web.login("treasurer")
    page = web.get("/ledger").get_data(as_text=True)
    assert ('<div class="table-wrap" tabindex="0" role="region" aria-label="Recent payments">'
            in page)


def test_wide_tables_name_each_cell_for_phone_cards(web, people):
    """The M-Pesa desk's tables stack as cards on a phone: each cell carries its column's
    name, the amount too."""
    web.login("treasurer")
    page = web.get("/mpesa").get_data(as_text=True)
    assert page.count('<table class="cards">') == 4
    template = (TEMPLATES / "mpesa" / "index.html").read_text()
    assert 'class="num nowrap" data-label="{{ _("Amount") }}"' in template
    assert "<td>" not in template.split("<tbody>", 1)[1].split("</table>", 1)[0]


class _Consent(Form):
    agreed = BooleanField("I agree to be sent SMS")


def test_a_checkbox_label_sits_beside_its_box(app):
    """The field macro puts a checkbox first and its label right after it, on one line
    (class "check"), not the label above as for other fields."""
    with app.test_request_context():
        macro = app.jinja_env.get_template("_macros.html").module.field
        html = str(macro(_Consent()["agreed"]))
    assert 'class="field check"' in html
    assert re.search(r'<input id="agreed" name="agreed" type="checkbox" value="y">\s*'
                     r'<label for="agreed">I agree to be sent SMS</label>', html), html


def test_checkbox_lists_put_each_label_after_its_box(web, people):
    web.login("chair")
    page = web.get("/users/new").get_data(as_text=True)
    items = re.findall(r'<li>(<input[^>]*type="checkbox"[^>]*>)\s*(<label[^>]*>)', page)
    assert items, page[:500]
    for box, label in items:
        assert re.search(r'id="([^"]+)"', box).group(1) == re.search(r'for="([^"]+)"',
                                                                      label).group(1)
