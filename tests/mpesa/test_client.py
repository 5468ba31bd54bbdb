"""The Daraja client (mpesakit behind our provider interface) against the local sandbox."""

import socket
import threading
import time
from datetime import UTC, datetime

import pytest

from association.mpesa import daraja
from association.mpesa.daraja import DarajaProvider
from association.mpesa.provider import (
    MpesaDisabled,
    ProviderError,
    ProviderUnavailable,
    config_problems,
    get_provider,
    nairobi_timestamp,
)
from devtools.daraja_sandbox import PUBLIC_PASSKEY
from tests.mpesa.daraja_helpers import sandbox  # noqa: F401 - fixture


def provider(url: str, **overrides) -> DarajaProvider:
    values = dict(base_url=url, consumer_key="key", consumer_secret="secret",
                  shortcode="174379", passkey=PUBLIC_PASSKEY, timeout=2, attempts=2,
                  backoff=0.01)
    values.update(overrides)
    return DarajaProvider(**values)


@pytest.fixture(autouse=True)
def _fresh_tokens():
    daraja._TOKENS.clear()
    yield
    daraja._TOKENS.clear()


def test_token_is_fetched_once_and_shared(sandbox):  # noqa: F811
    one, two = provider(sandbox.url), provider(sandbox.url)
    first = one.tokens.get_token()
    assert two.tokens.get_token() == first
    assert len(sandbox.state.tokens) == 1
    one.register_c2b_urls(confirmation_url="http://127.0.0.1:1/c",
                          validation_url="http://127.0.0.1:1/v")
    assert len(sandbox.state.tokens) == 1


def test_an_invalid_token_is_replaced_once(sandbox):  # noqa: F811
    client = provider(sandbox.url)
    client.tokens.get_token()
    sandbox.state.tokens.clear()  # Daraja forgot it (expired, or a new one was issued)
    answer = client.register_c2b_urls(confirmation_url="http://127.0.0.1:1/c",
                                      validation_url="http://127.0.0.1:1/v")
    assert answer["ResponseCode"] == "0"
    assert len(sandbox.state.tokens) == 1


def test_wrong_consumer_secret_is_a_clear_error():
    from devtools.daraja_sandbox import DarajaSandbox

    server = DarajaSandbox("127.0.0.1", 0, consumer_key="key", consumer_secret="right")
    server.start_in_thread()
    try:
        with pytest.raises(ProviderError) as caught:
            provider(server.url, consumer_secret="wrong").stk_query("ws_CO_1")
        assert caught.value.code == "400.008.01"
    finally:
        server.stop()


def test_stk_push_uses_nairobi_time_and_whole_shillings(sandbox):  # noqa: F811
    accepted = provider(sandbox.url).stk_push(
        phone="254712345678", amount=50, account_reference="MLK-0001", description="Dues",
        callback_url="http://127.0.0.1:1/hooks/stk/callback/x")
    assert accepted.checkout_request_id.startswith("ws_CO_")
    prompt = sandbox.state.prompts[accepted.checkout_request_id]
    assert prompt["amount"] == 50 and prompt["reference"] == "MLK-0001"
    # The sandbox refuses a timestamp more than ten minutes from Nairobi's clock, as
    # Daraja answers "Wrong credentials" to a UTC one.
    stamp = datetime.strptime(nairobi_timestamp(), "%Y%m%d%H%M%S")
    utc = datetime.now(UTC).replace(tzinfo=None)
    assert round((stamp - utc).total_seconds() / 3600) == 3


def test_a_utc_timestamp_is_refused_like_daraja(sandbox, monkeypatch):  # noqa: F811
    monkeypatch.setattr(daraja, "nairobi_timestamp",
                        lambda: datetime.now(UTC).strftime("%Y%m%d%H%M%S"))
    with pytest.raises(ProviderError) as caught:
        provider(sandbox.url).stk_push(phone="254712345678", amount=50,
                                       account_reference="MLK-0001", description="Dues",
                                       callback_url="http://127.0.0.1:1/cb")
    assert caught.value.code == "500.001.1001"
    assert "Wrong credentials" in caught.value.detail


def test_stk_query_is_pending_then_answers(sandbox):  # noqa: F811
    # Long enough for the push and the first query on a busy machine (xdist's other worker).
    sandbox.state.delay = 3
    client = provider(sandbox.url)
    accepted = client.stk_push(phone="254712341032", amount=10, account_reference="MLK-0001",
                               description="Dues", callback_url="http://127.0.0.1:1/cb")
    first = client.stk_query(accepted.checkout_request_id)
    assert first.pending and not first.paid
    time.sleep(3.2)
    answer = client.stk_query(accepted.checkout_request_id)
    assert not answer.pending and answer.result_code == "1032" and not answer.paid


def test_bad_phone_is_refused_by_daraja(sandbox):  # noqa: F811
    with pytest.raises(ProviderError):
        provider(sandbox.url).stk_push(phone="255712345678", amount=10,
                                       account_reference="MLK-1", description="Dues",
                                       callback_url="http://127.0.0.1:1/cb")


def test_transaction_status_needs_initiator_credentials(sandbox):  # noqa: F811
    with pytest.raises(ProviderError):
        provider(sandbox.url).transaction_status(receipt_code="TC57ABC9XY",
                                                 result_url="http://x/r", timeout_url="http://x/t")
    accepted = provider(sandbox.url, initiator_name="api", security_credential="cred") \
        .transaction_status(receipt_code="TC57ABC9XY", result_url="http://127.0.0.1:1/r",
                            timeout_url="http://127.0.0.1:1/t")
    assert accepted.conversation_id


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_daraja_is_retried_with_backoff_then_a_clear_error():
    client = provider(f"http://127.0.0.1:{_closed_port()}", attempts=3, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as caught:
        client.stk_query("ws_CO_1")
    assert time.monotonic() - started >= 0.05 + 0.1  # two pauses: 0.05 s, then 0.1 s
    assert "could not be reached" in str(caught.value)


class SilentServer:
    """Accepts connections and never answers: Daraja timing out."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted = 0
        self.conns = []
        self.stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            self.conns.append(conn)

    def close(self):
        self.stop = True
        time.sleep(0.15)
        for conn in self.conns:
            conn.close()
        self.sock.close()


def test_a_timed_out_prompt_is_never_sent_twice_but_queries_are_retried(sandbox):  # noqa: F811
    silent = SilentServer()
    try:
        url = f"http://127.0.0.1:{silent.sock.getsockname()[1]}"
        client = provider(url, timeout=0.3, attempts=3, backoff=0.01)
        daraja._TOKENS[(url, "key")] = ("cached-token", time.monotonic() + 600)
        with pytest.raises(ProviderUnavailable):
            client.stk_push(phone="254712345678", amount=10, account_reference="MLK-1",
                            description="Dues", callback_url="http://127.0.0.1:1/cb")
        assert silent.accepted == 1  # Daraja may have received it: no second prompt
        with pytest.raises(ProviderUnavailable):
            client.stk_query("ws_CO_1")
        assert silent.accepted == 4  # a query is safe to repeat
    finally:
        silent.close()


def test_missing_settings_disable_mpesa(app):
    app.config.update(MPESA_PASSKEY=None, MPESA_CALLBACK_TOKEN="short")
    with app.app_context():
        problems = " ".join(str(p) for p in config_problems())
        assert "MPESA_PASSKEY" in problems and "MPESA_CALLBACK_TOKEN" in problems
        with pytest.raises(MpesaDisabled):
            get_provider()
    app.config.update(MPESA_PASSKEY="x", MPESA_CALLBACK_TOKEN="y" * 30,
                      MPESA_SHORTCODE_TYPE="till")
    with app.app_context():
        assert "MPESA_TILL_NUMBER" in " ".join(str(p) for p in config_problems())


def test_a_till_pays_buy_goods_to_the_till_number(sandbox):  # noqa: F811
    client = provider(sandbox.url, shortcode_type="till", till_number="5123456")
    accepted = client.stk_push(phone="254712345678", amount=20, account_reference="MLK-0001",
                               description="Dues", callback_url="http://127.0.0.1:1/cb")
    assert sandbox.state.prompts[accepted.checkout_request_id]["shortcode"] == "5123456"


def test_long_references_are_cut_to_darajas_limits(sandbox):  # noqa: F811
    accepted = provider(sandbox.url).stk_push(
        phone="254712345678", amount=20, account_reference="MLK-0001-EXTRA-LONG",
        description="Monthly security dues", callback_url="http://127.0.0.1:1/cb")
    assert sandbox.state.prompts[accepted.checkout_request_id]["reference"] == "MLK-0001-EXT"
