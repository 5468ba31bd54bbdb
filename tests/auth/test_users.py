"""The chair administers logins: create, change roles, reset passwords, deactivate."""

import re

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.orm import selectinload

from association.auth.models import Role, User
from association.auth.services import hash_password
from association.extensions import db
from config import Config, ProductionConfig
from tests.conftest import PASSWORD, count


def _user(app, username):
    """The user as stored now (roles loaded, usable after the context closes)."""
    with app.app_context():
        return db.session.scalar(
            sa.select(User).options(selectinload(User.role_rows)).where(User.username == username)
        )


def test_chair_creates_a_treasurer_who_must_change_the_password(app, web, setup_association):
    web.login("chair")
    response = web.post("/users/new", {
        "username": "Otieno", "full_name": "Otieno Ochieng", "phone": "0712 000 111",
        "roles": ["treasurer"], "password": "temporary-pass-1",
    })
    assert response.status_code in (302, 303)
    user = _user(app, "otieno")
    assert user.roles == {Role.TREASURER}
    assert user.phone == "+254712000111"
    assert user.must_change_password
    assert user.password_hash.startswith("$argon2")
    web.logout()
    web.login_with_password("0712000111", "temporary-pass-1")
    assert web.get("/members").headers["Location"].endswith("/account/password")


def test_a_user_can_hold_several_roles(app, web, setup_association):
    web.login("chair")
    web.post("/users/new", {"username": "akinyi", "full_name": "Akinyi", "roles":
                            ["secretary", "coordinator"], "password": "temporary-pass-1"})
    assert _user(app, "akinyi").roles == {Role.SECRETARY, Role.COORDINATOR}


@pytest.mark.parametrize("form,message", [
    ({"username": "chair"}, "is taken"),
    ({"username": "a b"}, "only letters, digits"),
    ({"username": "ab"}, "3 to 40 characters"),
    ({"username": "x" * 41}, "3 to 40 characters"),
    ({"full_name": ""}, "Enter the user"),
    ({"roles": []}, "at least one role"),
    ({"roles": ["emperor"]}, "not a valid choice"),
    ({"phone": "12"}, "not a"),
    ({"password": "short"}, "at least 10"),  # an auditor is an official (issue 20)
    ({"password": "password123"}, "too easy"),
    ({"roles": ["member"]}, "linked to a member"),
    ({"roles": ["member"], "member_no": "MLK-9999"}, "No member has the number"),
])
def test_bad_new_users_are_refused_and_nothing_is_written(app, web, setup_association,
                                                          form, message):
    web.login("chair")
    data = {"username": "newperson", "full_name": "New Person", "roles": ["auditor"],
            "password": "temporary-pass-1", "phone": ""}
    data.update(form)
    with app.app_context():
        before = count(User)
    response = web.post("/users/new", data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert count(User) == before


def test_member_login_links_to_the_register(app, web, make_member):
    member_id, member_no = make_member()
    web.login("chair")
    response = web.post("/users/new", {"username": "baraka", "full_name": "Baraka",
                                       "roles": ["member"], "member_no": member_no.lower(),
                                       "password": "temporary-pass-1"})
    assert response.status_code in (302, 303)
    assert _user(app, "baraka").member_id == member_id
    again = web.post("/users/new", {"username": "baraka2", "full_name": "Baraka",
                                    "roles": ["member"], "member_no": member_no,
                                    "password": "temporary-pass-1"})
    assert "already has a login" in again.get_data(as_text=True)


def test_reset_password_ends_the_users_sessions(app, web, client, make_user):
    from tests.conftest import Web

    make_user("treasurer", Role.TREASURER)
    treasurer = Web(app.test_client())
    treasurer.login("treasurer")
    assert treasurer.get("/members").status_code == 200
    web.login("chair")
    user_id = _user(app, "treasurer").id
    web.post(f"/users/{user_id}/password", {"password": "brand-new-temp-1"})
    assert treasurer.get("/members").status_code in (302, 303)  # logged out
    old_password = treasurer.login_with_password("treasurer", PASSWORD)
    assert old_password.status_code == 200  # old password gone
    treasurer.login_with_password("treasurer", "brand-new-temp-1")
    assert treasurer.get("/members").headers["Location"].endswith("/account/password")


def test_weak_reset_password_is_refused(app, web, make_user):
    make_user("treasurer", Role.TREASURER)
    web.login("chair")
    user_id = _user(app, "treasurer").id
    old_hash = _user(app, "treasurer").password_hash
    response = web.post(f"/users/{user_id}/password", {"password": "1234567890"},
                        follow_redirects=True)
    assert "too easy" in response.get_data(as_text=True)
    assert _user(app, "treasurer").password_hash == old_hash


def test_deactivate_ends_sessions_and_reactivate_restores(app, web, make_user):
    from tests.conftest import Web

    make_user("auditor", Role.AUDITOR)
    auditor = Web(app.test_client())
    auditor.login("auditor")
    web.login("chair")
    user_id = _user(app, "auditor").id
    web.post(f"/users/{user_id}/active", {})
    assert not _user(app, "auditor").active
    assert auditor.get("/audit").status_code in (302, 303)
    web.post(f"/users/{user_id}/active", {"active": "y"})
    assert _user(app, "auditor").active
    assert auditor.login_with_password("auditor").status_code in (302, 303)
    with app.app_context():
        assert db.session.get(User, user_id) is not None  # never deleted


def test_chair_cannot_deactivate_self_or_the_last_chair(app, web, setup_association):
    web.login("chair")
    chair_id = _user(app, "chair").id
    response = web.post(f"/users/{chair_id}/active", {}, follow_redirects=True)
    assert "your own account" in response.get_data(as_text=True)
    response = web.post(f"/users/{chair_id}", {"full_name": "Chair", "roles": ["treasurer"]},
                        follow_redirects=True)
    assert "at least one active chair" in response.get_data(as_text=True)
    assert _user(app, "chair").active and Role.CHAIR in _user(app, "chair").roles


def test_edit_roles(app, web, make_user):
    make_user("coordinator", Role.COORDINATOR)
    web.login("chair")
    user_id = _user(app, "coordinator").id
    assert web.get(f"/users/{user_id}").status_code == 200
    web.post(f"/users/{user_id}", {"full_name": "Mwangi", "roles": ["coordinator", "auditor"],
                                   "phone": ""})
    assert _user(app, "coordinator").roles == {Role.COORDINATOR, Role.AUDITOR}


def test_create_admin_cli(app, runner):
    result = runner.invoke(args=["create-admin", "--username", "Wanjiru", "--password",
                                 "a-long-passphrase", "--full-name", "Wanjiru Kamau",
                                 "--phone", "0722000001"])
    assert result.exit_code == 0, result.output
    user = _user(app, "wanjiru")
    assert user.roles == {Role.CHAIR} and not user.must_change_password
    again = runner.invoke(args=["create-admin", "--username", "wanjiru", "--password",
                                "a-long-passphrase"])
    assert again.exit_code != 0 and "taken" in again.output
    weak = runner.invoke(args=["create-admin", "--username", "other", "--password", "123"])
    assert weak.exit_code != 0 and "at least 10" in weak.output  # a chair is an official
    missing = runner.invoke(args=["create-admin", "--username", "third"],
                            env={"ADMIN_PASSWORD": ""})
    assert missing.exit_code != 0
    from_env = runner.invoke(args=["create-admin", "--username", "fourth"],
                             env={"ADMIN_PASSWORD": "another-long-passphrase"})
    assert from_env.exit_code == 0, from_env.output


def _argon2_cost(password_hash: str) -> tuple[int, int, int]:
    """(memory KiB, passes, lanes) that an argon2id hash carries."""
    match = re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", password_hash)
    assert match, password_hash
    return tuple(map(int, match.groups()))


@pytest.mark.parametrize("cost", [(8, 1, 1), (19 * 1024, 2, 1), (65536, 3, 4)])
def test_a_new_hash_carries_the_configured_cost(app, monkeypatch, cost):
    memory, passes, lanes = cost
    monkeypatch.setitem(app.config, "PASSWORD_HASH_MEMORY_COST", memory)
    monkeypatch.setitem(app.config, "PASSWORD_HASH_TIME_COST", passes)
    monkeypatch.setitem(app.config, "PASSWORD_HASH_PARALLELISM", lanes)
    with app.app_context():
        assert _argon2_cost(hash_password("Mathare-2026-x")) == cost


def test_production_hashes_meet_owasp_and_tests_hash_at_the_least_cost(app):
    assert (Config.PASSWORD_HASH_MEMORY_COST, Config.PASSWORD_HASH_TIME_COST,
            Config.PASSWORD_HASH_PARALLELISM) == (65536, 3, 4)  # argon2-cffi's defaults
    assert (ProductionConfig.PASSWORD_HASH_MEMORY_COST, ProductionConfig.PASSWORD_HASH_TIME_COST
            ) == (Config.PASSWORD_HASH_MEMORY_COST, Config.PASSWORD_HASH_TIME_COST)
    assert Config.PASSWORD_HASH_MEMORY_COST >= 19 * 1024 and Config.PASSWORD_HASH_TIME_COST >= 2
    assert (app.config["PASSWORD_HASH_MEMORY_COST"], app.config["PASSWORD_HASH_TIME_COST"],
            app.config["PASSWORD_HASH_PARALLELISM"]) == (8, 1, 1)


def test_a_hash_made_at_another_cost_still_logs_in_and_is_hashed_again(app, web, make_user,
                                                                        monkeypatch):
    """A hash from before the cost changed (production's, here) still verifies; the
    login stores it again at the configured cost."""
    user_id = make_user("treasurer", Role.TREASURER)
    with app.app_context():
        user = db.session.get(User, user_id)
        user.password_hash = PasswordHasher().hash(PASSWORD)  # argon2-cffi's defaults
        db.session.commit()
    assert _argon2_cost(_user(app, "treasurer").password_hash) == (65536, 3, 4)
    assert web.login_with_password("treasurer").status_code in (302, 303)
    assert _argon2_cost(_user(app, "treasurer").password_hash) == (8, 1, 1)
    web.logout()
    assert web.login_with_password("treasurer").status_code in (302, 303)
