"""Property-based attacks (hypothesis): random values at every form and at Daraja's callbacks.

Forms are read from the rendered pages, so every form the app has, now or later, gets random
values for each of its fields: no response is a 500, and a refused submission changes no row
of any table. Callbacks get random bodies of Daraja's shape: never a 500, never a crash while
processing, the books stay balanced, and money moves only for a body that names it.

``SECURITY_EXAMPLES`` (environment) sets the examples per form or callback (default 5).
"""

import json
import os
import re
import string

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from association.extensions import db
from association.ledger.models import Posting, Side
from association.mpesa.models import CallbackInbox
from tests.conftest import Web
from tests.security.conftest import (
    CALLBACKS,
    build_url,
    post_forms,
    rules,
    snapshot,
    valid_value,
)

EXAMPLES = int(os.environ.get("SECURITY_EXAMPLES", "5"))
SUITE = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow, HealthCheck.data_too_large])

NASTY = ["", " ", "0", "-1", "1e309", "NaN", "9" * 40, "2025-02-30", "2025-13", "25:61",
         "' OR 1=1 --", "<script>alert(1)</script>", "=1+1", "\u202e", "\U0001f600",
         "x" * 5000, "%00", "../../etc/passwd", "null", "[]", "{}", "１２３", "Ⅻ", "٣"]
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


def field_values(f) -> st.SearchStrategy:
    """Random values for one field: anything, its own choices, a valid value, nasty ones."""
    choices = [o for o in f.options if o is not None]
    options = [st.sampled_from(choices)] if choices else []
    return st.one_of(text, st.sampled_from(NASTY), st.just(valid_value(f)),
                     st.integers(-10**12, 10**12).map(str), *options)


def form_data(form) -> st.SearchStrategy:
    fields = {f.name: st.one_of(st.none(), field_values(f))
              for f in form.fields.values() if f.kind != "file" and f.name != "csrf_token"}
    return st.fixed_dictionaries(fields).map(
        lambda values: {k: v for k, v in values.items() if v is not None})


def _flashed(web, clear=False) -> set[str]:
    """The categories of the messages waiting in the session (read before a page shows them)."""
    with web.client.session_transaction() as session:
        found = {category for category, _ in session.get("_flashes", [])}
        if clear:
            session.pop("_flashes", None)
        return found


def _refused(web, response) -> bool:
    """The app said no: an error status, the form again with a field's error, or an error
    message flashed (and no success)."""
    if 400 <= response.status_code < 500:
        return True
    flashed = _flashed(web)
    if "error" in flashed and "success" not in flashed:
        return True
    return response.status_code == 200 and 'class="error"' in response.get_data(as_text=True)


def test_random_values_at_every_form(world, client):
    app, values = world.app, world.values
    web = Web(client)
    forms = list(post_forms(web, app, values, roles=("chair", "member")))
    assert len(forms) > 40
    failures = []
    current = None
    for role, form in forms:
        if form.action in ("/account/password",):
            continue  # a random success would lock the suite out; its rules are tested apart
        if role != current:
            web.login(role)
            current = role

        _attack_form(web, app, form, failures)
        assert failures == [], "\n".join(failures[:10])


def _attack_form(web, app, form, failures) -> None:
    @SUITE
    @given(data=form_data(form))
    def attack(data):
        _flashed(web, clear=True)
        before = snapshot(app)
        response = web.post(form.action, data)
        after = snapshot(app)
        if response.status_code >= 500:
            failures.append(f"{form.action} {data!r}: {response.status_code}")
        elif after != before and _refused(web, response):
            changed = sorted(t for t in after if after[t] != before[t])
            failures.append(f"{form.action} {data!r}: refused, yet {changed} changed")

    attack()


# --- Daraja's callbacks -------------------------------------------------------------------

amounts = st.one_of(st.integers(-10**6, 10**9), st.floats(allow_nan=True),
                    st.sampled_from(["500.00", "0", "-1", "1e3", "abc", "", None, "9" * 30]))
codes = st.one_of(st.from_regex(r"\A[A-Z0-9]{10}\Z"), text, st.none(), st.integers())
scalars = st.one_of(text, st.integers(), st.floats(), st.booleans(), st.none())


def stk_body():
    item = st.fixed_dictionaries({"Name": st.sampled_from(
        ["Amount", "MpesaReceiptNumber", "Balance", "TransactionDate", "PhoneNumber", "X"])},
        optional={"Value": st.one_of(amounts, codes, scalars)})
    callback = st.fixed_dictionaries(
        {"MerchantRequestID": codes, "CheckoutRequestID": st.one_of(
            st.just("ws_CO_WALK"), codes), "ResultCode": st.one_of(st.just(0), scalars),
         "ResultDesc": scalars},
        optional={"CallbackMetadata": st.fixed_dictionaries(
            {"Item": st.one_of(st.lists(item, max_size=6), scalars)})})
    return st.fixed_dictionaries({"Body": st.one_of(
        st.fixed_dictionaries({"stkCallback": st.one_of(callback, scalars)}), scalars)})


def c2b_body(member_no):
    return st.fixed_dictionaries({
        "TransactionType": st.sampled_from(["Pay Bill", "Buy Goods", "", "x"]),
        "TransID": codes, "TransTime": st.one_of(st.just("20250305183012"), codes),
        "TransAmount": amounts, "BusinessShortCode": st.one_of(st.just("174379"), codes),
        "BillRefNumber": st.one_of(st.just(member_no), text, st.none()),
        "MSISDN": st.one_of(st.just("254708374149"), codes, st.from_regex(r"\A[0-9a-f]{64}\Z")),
        "FirstName": scalars}, optional={"OrgAccountBalance": scalars, "InvoiceNumber": scalars})


def status_body():
    return st.fixed_dictionaries({"Result": st.one_of(st.fixed_dictionaries({
        "ResultType": scalars, "ResultCode": scalars, "ResultDesc": scalars,
        "OriginatorConversationID": codes, "ConversationID": codes, "TransactionID": codes},
        optional={"ResultParameters": st.fixed_dictionaries({"ResultParameter": st.lists(
            st.fixed_dictionaries({"Key": text, "Value": scalars}), max_size=5)})}), scalars)})


def bodies(member_no):
    json_like = st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)), max_leaves=8)
    return st.one_of(stk_body().map(json.dumps), c2b_body(member_no).map(json.dumps),
                     status_body().map(json.dumps), json_like.map(json.dumps),
                     st.binary(max_size=200).map(lambda b: b.decode("latin-1")))


CRASH = re.compile(r"^[A-Z][A-Za-z]*(Error|Exception|Warning)\b")


def _books(app):
    with app.app_context():
        debits, credits = (db.session.scalar(sa.select(sa.func.coalesce(
            sa.func.sum(Posting.amount_cents), 0)).where(Posting.side == side))
            for side in (Side.DEBIT, Side.CREDIT))
        crashes = db.session.scalars(sa.select(CallbackInbox.error).where(
            CallbackInbox.outcome == "error")).all()
        db.session.remove()
    return debits, credits, [e for e in crashes if e and CRASH.match(e)]


def test_random_daraja_bodies_at_every_callback(world, client):
    app, values = world.app, world.values
    app.config["MPESA_ALLOWED_IPS"] = "*"
    urls = [build_url(rule, values) for rule, _ in rules(app, methods={"POST"})
            if rule.endpoint in CALLBACKS]
    assert len(urls) >= len(CALLBACKS)
    failures = []

    @settings(SUITE, max_examples=EXAMPLES * 20)
    @given(url=st.sampled_from(urls), body=bodies(world.names["member_no"]))
    def attack(url, body):
        response = client.post(url, data=body.encode("utf-8", "surrogatepass"),
                               content_type="application/json")
        if response.status_code >= 500:
            failures.append(f"{url} {body[:200]!r}: {response.status_code}")
        debits, credits, crashes = _books(app)
        if debits != credits:
            failures.append(f"{url} {body[:200]!r}: books off by {debits - credits}")
        if crashes:
            failures.append(f"{url} {body[:200]!r}: processing crashed: {crashes[0]}")

    attack()
    assert failures == [], "\n".join(failures[:10])


def test_random_bodies_with_a_wrong_token_store_nothing(world, client):
    app, values = world.app, world.values
    urls = [build_url(rule, values, token="".join(reversed(values["callback_token"])))
            for rule, _ in rules(app, methods={"POST"}) if rule.endpoint in CALLBACKS]
    before = snapshot(app)

    @SUITE
    @given(url=st.sampled_from(urls), body=bodies(world.names["member_no"]))
    def attack(url, body):
        response = client.post(url, data=body.encode("utf-8", "surrogatepass"),
                               content_type="application/json")
        assert response.status_code == 404

    attack()
    assert snapshot(app) == before


def test_random_query_strings_at_every_page(world, client):
    """Random names and values in every GET route's query string: never a 500."""
    app, values = world.app, world.values
    web = Web(client)
    web.login("chair")
    urls = [build_url(rule, values) for rule, _ in rules(app, methods={"GET"})]
    keys = st.one_of(st.sampled_from(["q", "month", "page", "format", "status", "zone",
                                      "from", "to", "year", "member", "type", "sort"]),
                     st.text(alphabet=string.ascii_letters + "_[]", min_size=1, max_size=12))
    failures = []

    @settings(SUITE, max_examples=EXAMPLES * 20)
    @given(url=st.sampled_from(urls), query=st.dictionaries(keys, st.one_of(
        text, st.sampled_from(NASTY)), max_size=4))
    def attack(url, query):
        response = web.get(url, query_string=query)
        if response.status_code >= 500:
            failures.append(f"{url} {query!r}: {response.status_code}")

    attack()
    assert failures == [], "\n".join(failures[:10])
