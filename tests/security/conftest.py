"""The world the security suite attacks, and ways to derive what to attack from the app itself.

Everything here is read from the running app: its URL map, the access each view declares, the
forms its pages render. A route or form added later is attacked without anyone editing a list.
"""

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from association.extensions import db
from tests.test_access import walk_values

#: Daraja's callbacks: public, exempt from CSRF, guarded by the secret token in their path.
CALLBACKS = {"mpesa.stk_callback", "mpesa.c2b_validation", "mpesa.c2b_confirmation",
             "mpesa.status_result", "mpesa.status_timeout",
             # Issue 22: the host's addresses for a paybill associations share.
             "mpesa.shared_c2b_confirmation", "mpesa.shared_c2b_validation"}

#: The other member's name: it must never reach the member who is not them.
OTHER_FIRST, OTHER_LAST = "Chebet", "Kiprono"


@dataclass
class World:
    app: object
    values: dict
    names: dict = field(default_factory=dict)  # what identifies the other member's data


@pytest.fixture
def world(app, people, make_user, setup_association):
    """Another member with a receipt, a consent, a waiver, an STK request, patrol duty and
    meeting records; an expense, a suspense transaction, a spare user. CSRF stays on."""
    values = walk_values(app, people, make_user, setup_association)
    values["ical_token"] = values.pop("token")
    # The suite logs in and out many times a minute: not a brute-force attack.
    app.config.update(LOGIN_RATE_LIMIT="1000 per minute",
                      LOGIN_RATE_LIMIT_PER_ACCOUNT="1000 per minute")
    return World(app, values, {"member_no": people.other_member_no,
                               "receipt": values["number"]})


def rules(app, *, methods=None):
    """(rule, method) for every route but static files, in a stable order."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if methods is None or method in methods:
                yield rule, method


def access_of(app, endpoint: str) -> str:
    return app.view_functions[endpoint].access


def token_value(endpoint: str, values: dict) -> str:
    """Which secret a ``<token>`` means: the callback token, a calendar key, an import."""
    if endpoint in CALLBACKS:
        return values["callback_token"]
    if endpoint == "patrols.calendar":
        return values["ical_token"]
    return "no-such-import-0123456789"


def build_url(rule, values: dict, **overrides) -> str:
    """The rule's address with its arguments filled from ``values`` (or ``overrides``)."""
    args = {}
    for name in rule.arguments:
        if name in overrides:
            args[name] = overrides[name]
        elif name == "token":
            args[name] = token_value(rule.endpoint, values)
        else:
            args[name] = values[name]
    url = rule.rule
    for name, value in args.items():
        url = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), url)
    return url


def counts() -> dict:
    """Row counts of every table (call inside an app context): a refused request moves none,
    and every write is audited, so the audit trail's count catches updates too. The
    rate-limit counters are left out: a refused request is still counted against its limit."""
    db.session.expire_all()
    tables = [t for t in db.metadata.sorted_tables if t.name != "rate_limit_counter"]
    row = db.session.execute(sa.select(*(
        sa.select(sa.func.count()).select_from(t).scalar_subquery().label(t.name)
        for t in tables))).one()
    return dict(zip((t.name for t in tables), row, strict=True))


def snapshot(app) -> dict:
    with app.app_context():
        result = counts()
        db.session.remove()
        return result


# --- Forms, read from the rendered pages -------------------------------------------------


@dataclass
class Field:
    name: str
    kind: str  # text, textarea, select, checkbox, radio, hidden, file, number, date, ...
    value: str = ""
    options: list = field(default_factory=list)
    required: bool = False
    maxlength: int | None = None


@dataclass
class Form:
    page: str
    action: str
    method: str
    enctype: str
    fields: dict = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self, page):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.form = None
        self.select = None
        self.option = None
        self.textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.form = Form(self.page, a.get("action") or self.page,
                             (a.get("method") or "get").lower(),
                             a.get("enctype") or "application/x-www-form-urlencoded")
            self.forms.append(self.form)
            return
        if self.form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "reset", "image"):
                return
            maxlength = int(a["maxlength"]) if a.get("maxlength", "").isdigit() else None
            existing = self.form.fields.get(name)
            if kind in ("radio", "checkbox") and existing is not None:
                existing.options.append(a.get("value", "on"))
                if "checked" in a and kind == "radio":
                    existing.value = a.get("value", "on")
                return
            self.form.fields[name] = Field(
                name, kind, a.get("value", "") if kind not in ("radio", "checkbox") or
                "checked" in a else "", [a.get("value", "on")] if kind in ("radio", "checkbox")
                else [], "required" in a, maxlength)
        elif tag == "textarea" and name:
            maxlength = int(a["maxlength"]) if a.get("maxlength", "").isdigit() else None
            self.textarea = Field(name, "textarea", "", [], "required" in a, maxlength)
            self.form.fields[name] = self.textarea
        elif tag == "select" and name:
            self.select = Field(name, "select", "", [], "required" in a)
            self.select.multiple = "multiple" in a
            self.form.fields[name] = self.select
        elif tag == "option" and self.select is not None:
            self.option = a.get("value")
            if self.option is not None:
                self.select.options.append(self.option)
                if "selected" in a:
                    self.select.value = self.option

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea.value += data
        elif self.select is not None and self.option is None and data.strip():
            pass

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "select":
            self.select = None
        elif tag == "option":
            self.option = None


def forms_on(page: str, html: str) -> list[Form]:
    parser = _FormParser(page)
    parser.feed(html)
    return parser.forms


def get_pages(app, values: dict):
    """Every GET address the app has, filled with the world's objects."""
    for rule, _ in rules(app, methods={"GET"}):
        yield rule.endpoint, build_url(rule, values)


#: Names of text inputs that take a format, not free text: given a valid value instead.
FORMATTED = re.compile(r"phone|msisdn|amount|cents|kes|year|date|month|night|time|count|"
                       r"number|_no$|^no$|_id$|code|pin|password|new|confirm|current|rate|"
                       r"percent|day|hour|minute|fee|quorum|premises|units|shortcode|till|"
                       r"token|login|username|email|url|ob$|^ob_|since|until|from|to$|"
                       r"start|end|size|limit|headcount|order|position|weekday|page|"
                       r"_on$|_at$", re.I)

_VALID_BY_TYPE = {"date": "2025-03-01", "month": "2025-03", "time": "21:00", "number": "1",
                  "email": "a@example.org", "tel": "0712345678", "url": "https://example.org",
                  "datetime-local": "2025-03-01T21:00", "password": "Mathare-2026-x"}


def valid_value(f: Field) -> str:
    """A plausible value for a formatted field (so the free-text fields can be stored)."""
    name = f.name.lower()
    if f.kind in _VALID_BY_TYPE:
        return f.value or _VALID_BY_TYPE[f.kind]
    if f.value:
        return f.value
    if "phone" in name or "msisdn" in name:
        return "0712345678"
    if name.endswith("_at"):  # a day and a time, in a text box (DayTimeField)
        return "2025-03-01T21:00"
    if "date" in name or name.endswith("_on") or name in (
            "since", "until", "from", "to", "start", "end", "night"):
        return "2025-03-01"  # date boxes are text boxes (DayField), ISO is still read
    if "month" in name:
        return "2025-03"
    if "time" in name:
        return "21:00"
    if "year" in name:
        return "1990"
    if "password" in name or name in ("new", "confirm", "current"):
        return "Mathare-2026-x"
    return "1"


#: Valid values for fields whose names say what they hold.
KNOWN = {"code": "X9001", "kra_pin": "P051234567X", "national_id": "34567890",
         "username": "newlogin", "ob_number": "OB/12/03/2025", "email": "a@example.org",
         "effective": "2025-03", "certificate_number": "DSD/NRB/2019/0457",
         "year_of_birth": "1990"}


def fill(form: Form, text, known: dict | None = None) -> dict:
    """Values for ``form``: ``text(field)`` in every free-text field, valid ones elsewhere
    (``known`` and :data:`KNOWN` name valid values by field name)."""
    known = {**KNOWN, **(known or {})}
    data = {}
    for f in form.fields.values():
        if f.kind in ("file", "submit"):
            continue
        if f.name == "csrf_token":
            continue
        if f.name in known and f.kind not in ("hidden", "select", "radio", "checkbox"):
            data[f.name] = known[f.name]
        elif f.kind == "hidden":
            data[f.name] = f.value
        elif f.kind == "select":
            choices = [o for o in f.options if o]
            data[f.name] = f.value or (choices[0] if choices else "")
        elif f.kind == "radio":
            data[f.name] = f.value or (f.options[0] if f.options else "")
        elif f.kind == "checkbox":
            if f.value:
                data[f.name] = f.value
        elif f.kind in ("text", "textarea", "search") and not FORMATTED.search(f.name):
            data[f.name] = text(f)
        else:
            data[f.name] = valid_value(f)
    return data


def post_forms(web, app, values, roles=("chair",)):
    """Every POST form on every page the given roles can see: (role, form), deduplicated."""
    seen = set()
    for role in roles:
        found = []
        web.login(role)
        for _endpoint, url in get_pages(app, values):
            response = web.get(url)
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            for form in forms_on(url, response.get_data(as_text=True)):
                key = (form.action, tuple(sorted(form.fields)))
                if form.method != "post" or key in seen or form.action in ("/logout",):
                    continue
                seen.add(key)
                found.append(form)
        web.logout()
        yield from ((role, form) for form in found)
