import os
import re

from tests import test_swahili_pages as t
from tests.conftest import Web
from tests.i18n_scan import bad_dates_in, english_in


def test_probe(app, runner):
    t._seed_and_speak_swahili(app, runner)
    with app.app_context():
        typed = t._typed_text()
    for spec in os.environ["PROBE"].split(","):
        role, url = spec.split(" ")
        web = Web(app.test_client())
        web.login(role)
        r = web.get(url)
        if r.mimetype == "application/pdf":
            text = t._pdf_text(r.data)
        else:
            p = t._Text()
            p.feed(r.get_data(as_text=True))
            text = " ".join(p.parts)
        text = t._without(text, typed)
        for w in sorted(set(english_in(text) + bad_dates_in(text)))[:6]:
            for m in list(re.finditer(re.escape(w), text))[:2]:
                print(f"## {role} {url} [{w}]:", text[max(0, m.start()-150):m.end()+60])
