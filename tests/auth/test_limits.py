"""Login limits that hold: one limit per account however it is spelled, counters in the
database (shared by every worker, kept although the failed login's work is discarded), and
a lock-out that spares the owner's trusted device."""

import time

import pytest
import sqlalchemy as sa

from association.auth.limits import RateLimitCounter
from association.auth.models import Role
from association.extensions import db, limiter
from tests.conftest import PASSWORD, Web

SPELLINGS = ["0712345678", "+254 712 345 678", "712345678"]


@pytest.fixture
def only_account_limit(app):
    """The per-address limit out of the way, so the per-account one is what is tested."""
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"


def test_the_phone_spellings_and_the_username_share_one_limit(web, make_user,
                                                               only_account_limit):
    make_user("treasurer", Role.TREASURER, phone="0712345678")
    for n in range(10):
        response = web.login_with_password((SPELLINGS + ["treasurer"])[n % 4], "wrong-password")
        assert response.status_code == 200
    for typed in [*SPELLINGS, "TREASURER "]:
        refused = web.login_with_password(typed, PASSWORD)
        assert refused.status_code == 429, typed
        assert "Too many login attempts" in refused.get_data(as_text=True)
    assert web.get("/members").status_code in (302, 303)


def test_unknown_logins_are_keyed_on_the_normalised_text(web, setup_association,
                                                         only_account_limit):
    for n in range(10):
        assert web.login_with_password(["0799 999 999", "+254799999999", "799999999"][n % 3],
                                       "wrong").status_code == 200
    assert web.login_with_password("0799999999", "wrong").status_code == 429
    # Another unknown login has a limit of its own.
    assert web.login_with_password("0788888888", "wrong").status_code == 200


def test_the_counter_is_a_database_row_kept_although_the_login_is_discarded(
        app, web, setup_association, only_account_limit):
    web.login_with_password("chair", "wrong-password")
    with app.app_context():
        rows = db.session.execute(sa.select(RateLimitCounter.key, RateLimitCounter.count)).all()
    assert sorted(count for key, count in rows if "account:" in key) == [1]
    assert sorted(count for key, count in rows if "127.0.0.1" in key) == [1]  # per address


CARRIER_NAT = "41.90.64.7"  # many phones behind one address


def _owner_and_attacker(app, make_user):
    """The owner logged in once (at home), then an attacker on the owner's carrier's shared
    address tried 10 passwords; the owner is now on that address too."""
    make_user("treasurer", Role.TREASURER, phone="0712345678")
    owner = Web(app.test_client())
    owner.client.environ_base["REMOTE_ADDR"] = "10.1.1.20"
    assert owner.login_with_password("0712345678").status_code in (302, 303)
    assert owner.client.get_cookie("device") is not None
    owner.logout()
    owner.client.environ_base["REMOTE_ADDR"] = CARRIER_NAT
    attacker = Web(app.test_client())
    attacker.client.environ_base["REMOTE_ADDR"] = CARRIER_NAT
    for _ in range(10):
        assert attacker.login_with_password("treasurer", "guess").status_code == 200
    return owner, attacker


def test_the_owner_with_a_device_cookie_still_logs_in_after_an_attack(app, make_user):
    owner, attacker = _owner_and_attacker(app, make_user)
    refused = attacker.login_with_password("treasurer", PASSWORD)
    assert refused.status_code == 429
    assert "Too many login attempts" in refused.get_data(as_text=True)
    assert owner.login_with_password("+254712345678").status_code in (302, 303)
    assert owner.get("/members").status_code == 200
    assert attacker.get("/members").status_code in (302, 303)


def test_the_refusal_is_in_swahili_too(app, make_user):
    _, attacker = _owner_and_attacker(app, make_user)
    attacker.post("/language", {"language": "sw"})
    attacker.token = None
    refused = attacker.post("/login", {"login": "treasurer", "password": PASSWORD})
    assert refused.status_code == 429
    assert "Majaribio mengi mno ya kuingia" in refused.get_data(as_text=True)


def test_a_device_cookie_is_limited_per_device(app, make_user, only_account_limit):
    owner, _ = _owner_and_attacker(app, make_user)
    for _ in range(10):
        assert owner.login_with_password("treasurer", "typo").status_code == 200
    assert owner.login_with_password("treasurer", PASSWORD).status_code == 429


def test_a_device_cookie_of_another_account_or_forged_does_not_help(app, make_user):
    make_user("auditor", Role.AUDITOR)
    other = Web(app.test_client())
    assert other.login_with_password("auditor").status_code in (302, 303)
    their_cookie = other.client.get_cookie("device").value
    other.logout()
    _, attacker = _owner_and_attacker(app, make_user)
    for value in (their_cookie, their_cookie[:-3] + "abc", "not-a-cookie"):
        attacker.client.set_cookie("device", value)
        assert attacker.login_with_password("treasurer", PASSWORD).status_code == 429, value


def test_the_window_passes(app, web, setup_association, only_account_limit, monkeypatch):
    for _ in range(10):
        web.login_with_password("chair", "wrong-password")
    assert web.login_with_password("chair").status_code == 429
    later = time.time() + 15 * 60 + 1
    monkeypatch.setattr("association.auth.limits.time.time", lambda: later)
    assert web.login_with_password("chair").status_code in (302, 303)


# --- The storage itself -----------------------------------------------------------------


def test_storage_counts_expires_clears_and_cleans_up(app, monkeypatch):
    storage = limiter.storage
    with app.app_context():
        assert storage.check()
        assert storage.get("k") == 0
        assert storage.incr("k", 60) == 1
        assert storage.incr("k", 60, amount=2) == 3
        assert storage.get("k") == 3
        assert time.time() < storage.get_expiry("k") <= time.time() + 60
        storage.clear("k")
        assert storage.get("k") == 0
        assert storage.incr("old", 1) == 1
        now = time.time() + 3600
        monkeypatch.setattr("association.auth.limits.time.time", lambda: now)
        assert storage.get("old") == 0
        assert storage.incr("old", 1) == 1  # a new window
        monkeypatch.setattr("association.auth.limits.time.time", lambda: now + 3600)
        storage.incr("fresh", 60)  # an hour on: the cleanup removes the expired ones
        keys = db.session.scalars(sa.select(RateLimitCounter.key)).all()
        assert not [k for k in keys if k.endswith("old")]
        assert storage.reset() >= 1
        assert storage.get("fresh") == 0


def test_a_long_key_is_stored_hashed(app):
    with app.app_context():
        key = "login:" + "x" * 500
        assert limiter.storage.incr(key, 60) == 1
        assert limiter.storage.incr(key, 60) == 2
        assert limiter.storage.get(key) == 2


def test_the_default_storage_is_the_database_and_redis_when_configured():
    from config import Config, TestingConfig

    assert Config.RATELIMIT_STORAGE_URI == "database://"
    assert TestingConfig.RATELIMIT_STORAGE_URI == "database://"


@pytest.mark.committed(reason="the request's own transaction and the counter's are two "
                              "connections: on SQLite the first holds the write lock")
def test_a_logged_in_post_to_login_does_not_wait_for_its_own_lock(app, web, setup_association):
    """Loading the user begins the form post's transaction (on SQLite: BEGIN IMMEDIATE) before
    the counter is written in a transaction of its own: the first ends, having only read."""
    web.login_with_password("chair")
    started = time.monotonic()
    response = web.post("/login", {"login": "chair", "password": PASSWORD})
    assert response.status_code in (302, 303)
    assert time.monotonic() - started < 5
    assert web.get("/members").status_code == 200


def test_the_request_transaction_is_not_ended_once_it_wrote(app):
    from association.auth.sessions import UserSession
    from association.transaction import end_read

    with app.test_request_context("/login", method="POST"):
        db.session.add(UserSession(user_id=1, token_hash="x" * 64, created_at=None,
                                   last_seen_at=None))
        with pytest.raises(RuntimeError):
            end_read()
        db.session.rollback()


# --- The security review's fixes (issue 20, item 2) ---------------------------------------

NEW_PASSWORD = "kijani mbuzi ndefu sana"


def test_a_login_completed_at_the_code_step_clears_the_password_steps_count(
        app, make_user, only_account_limit):
    """The code step's own limits are not the password step's: the account's count of the
    password step is cleared once the code passes, as a login without one clears it."""
    import pyotp

    from tests.auth.test_second_factor import _start

    make_user("treasurer", Role.TREASURER)
    owner = Web(app.test_client())
    owner.login("treasurer")
    secret = _start(owner)
    owner.post("/account/second-factor/confirm", {"code": pyotp.TOTP(secret).now()})
    owner.token = None
    owner.logout()
    for _ in range(9):  # the owner's own typos, from a browser without a device cookie
        assert owner.login_with_password("treasurer", "typo").status_code == 200
    assert owner.login_with_password("treasurer").headers["Location"].endswith("/login/code")
    owner.token = None
    code = pyotp.TOTP(secret).at(time.time() + 30)
    assert owner.post("/login/code", {"code": code}).headers["Location"] == "/"
    with app.app_context():
        keys = db.session.scalars(sa.select(RateLimitCounter.key)).all()
    assert not [key for key in keys if "account:" in key]
    # Another browser of the owner's, without a device cookie: the account is not locked.
    other = Web(app.test_client())
    assert other.login_with_password("treasurer").headers["Location"].endswith("/login/code")


def _change_password(app, owner: Web, how: str) -> None:
    if how == "own":
        owner.login_with_password("treasurer")
        response = owner.post("/account/password", {"current": PASSWORD, "new": NEW_PASSWORD,
                                                     "confirm": NEW_PASSWORD})
        assert response.status_code in (302, 303)
        owner.token = None
        owner.logout()
    else:  # the chair's reset
        from association.audit.services import acting_as
        from association.auth.models import User
        from association.auth.services import reset_password

        with app.app_context(), acting_as("test"):
            user = db.session.scalar(sa.select(User).where(User.username == "treasurer"))
            reset_password(user, NEW_PASSWORD)
            db.session.commit()


@pytest.mark.parametrize("how", ["own", "reset"])
def test_a_password_change_makes_the_device_cookies_worthless(app, make_user, how):
    """A copy of a device cookie given before a password change (a stolen phone, a copied
    cookie) no longer spares its holder the per-address limit, nor keeps a budget of its
    own; a cookie given after the change does."""
    make_user("treasurer", Role.TREASURER, phone="0712345678")
    owner = Web(app.test_client())
    owner.client.environ_base["REMOTE_ADDR"] = "10.1.1.20"
    assert owner.login_with_password("treasurer").status_code in (302, 303)
    owner.logout()
    old_cookie = owner.client.get_cookie("device").value
    _change_password(app, owner, how)
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"  # per address
    thief = Web(app.test_client())
    thief.client.environ_base["REMOTE_ADDR"] = CARRIER_NAT
    thief.client.set_cookie("device", old_cookie)
    for _ in range(3):
        assert thief.login_with_password("treasurer", "guess").status_code == 200
    refused = thief.login_with_password("treasurer", NEW_PASSWORD)
    assert refused.status_code == 429  # not spared: the cookie is worthless
    with app.app_context():
        keys = {key: count for key, count in db.session.execute(
            sa.select(RateLimitCounter.key, RateLimitCounter.count))}
    assert not [key for key in keys if "device:" in key]
    assert [count for key, count in keys.items() if "account:" in key] == [4]  # the refused too
    # The owner logs in at home with the new password: a new cookie, trusted on the
    # carrier's address the thief has used up.
    assert owner.login_with_password("treasurer", NEW_PASSWORD).status_code in (302, 303)
    assert owner.client.get_cookie("device").value != old_cookie
    owner.logout()
    owner.client.environ_base["REMOTE_ADDR"] = CARRIER_NAT
    assert owner.login_with_password("treasurer", NEW_PASSWORD).status_code in (302, 303)


# --- A hall full of members behind one address (issue 21, item 6) --------------------------

HALL = "41.90.70.12"  # one carrier-grade NAT address for the whole baraza


def _at(app, address: str) -> Web:
    """A browser of its own (no device cookie) behind ``address``."""
    browser = Web(app.test_client())
    browser.client.environ_base["REMOTE_ADDR"] = address
    return browser


def _members_with_logins(app, make_member, make_user, n: int) -> list[str]:
    names = []
    for i in range(n):
        member_id, _ = make_member(phone=f"0722{i:06d}")
        make_user(f"member{i}", Role.MEMBER, member_id=member_id, phone=f"0733{i:06d}")
        names.append(f"member{i}")
    return names


def test_sixty_members_log_in_from_one_address(app, make_member, make_user):
    """The default limits: sixty members at one baraza, behind one mobile network address,
    each on a phone of their own (no device cookie), all log in; successful logins count
    nowhere."""
    names = _members_with_logins(app, make_member, make_user, 60)
    for i, name in enumerate(names):
        browser = _at(app, HALL)
        typed = (name, f"0733 {i:06d}", f"+254733{i:06d}")[i % 3]
        response = browser.login_with_password(typed)
        assert response.status_code in (302, 303), (i, typed)
    with app.app_context():
        counts = db.session.execute(sa.select(RateLimitCounter.key,
                                              RateLimitCounter.count)).all()
    # Each was counted as it came (atomically: many at once cannot slip past the limit) and
    # given back once it passed: the address and the accounts hold nothing.
    assert not [key for key, count in counts if HALL in key and count]
    assert not [key for key, count in counts if "account:" in key and count]


def test_failures_still_lock_an_account_behind_the_hall_address(app, make_member, make_user):
    """With the default limits, ten wrong passwords lock the account they name (whatever
    address they came from), while the other members in the hall still log in."""
    names = _members_with_logins(app, make_member, make_user, 2)
    guesser = _at(app, HALL)
    for _ in range(10):
        assert guesser.login_with_password(names[0], "guess").status_code == 200
    refused = _at(app, HALL).login_with_password(names[0])
    assert refused.status_code == 429
    assert "Too many login attempts" in refused.get_data(as_text=True)
    assert _at(app, "10.9.9.9").login_with_password(names[0]).status_code == 429
    assert _at(app, HALL).login_with_password(names[1]).status_code in (302, 303)


def test_a_flood_of_failures_from_one_address_is_stopped(app, make_user):
    """The default per-address budget (100 failures in 15 minutes): one address trying a
    different login each time is stopped at the 101st, even with a right password, while
    another address is not."""
    make_user("treasurer", Role.TREASURER)
    flood = _at(app, HALL)
    for n in range(100):
        assert flood.login_with_password(f"07{n:08d}", "guess").status_code == 200, n
    refused = _at(app, HALL).login_with_password("treasurer")
    assert refused.status_code == 429
    assert _at(app, "10.9.9.9").login_with_password("treasurer").status_code in (302, 303)


def test_guessing_the_current_password_is_limited_per_account(app, web, people):
    """The change-password page checks the current password: a stolen session cannot
    use it to guess without end (ten tries per account, then a 429)."""
    web.login("treasurer")
    statuses = [web.post("/account/password", {"current": f"wrong-{i}", "new": "x" * 12,
                                                "confirm": "x" * 12}).status_code
                for i in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429
