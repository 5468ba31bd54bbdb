"""The demo association: believable data, one working login per role, a whole audit chain."""

import re
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa

from association.auth.models import User
from association.extensions import db
from association.ledger.models import Expense, ExpenseStatus
from association.members.models import Category, Member, MemberStatus
from association.patrols.models import Assignment
from tests.audit.tamper import tamper
from tests.conftest import Web

ROLES = ("chair", "treasurer", "secretary", "coordinator", "auditor", "member")


def test_seed_demo_builds_the_association(app, runner):
    result = runner.invoke(args=["seed-demo", "--members", "120"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        members = db.session.scalars(sa.select(Member)).all()
        assert len(members) == 120
        categories = {m.category for m in members}
        assert {Category.RESIDENT, Category.LANDLORD, Category.BUSINESS} <= categories
        premises = [m.rental_premises for m in members if m.category == Category.LANDLORD]
        assert min(premises) >= 1 and max(premises) <= 15
        assert len({m.zone_id for m in members}) >= 4
        assert any(m.status == MemberStatus.LEFT for m in members)
        member_user = db.session.scalar(sa.select(User).where(User.username == "member"))
        assert member_user.member_id is not None
        # A year of spending: approved by a second official and posted; one rejected with
        # its reason; one waiting.
        statuses = [e.status for e in db.session.scalars(sa.select(Expense))]
        assert statuses.count(ExpenseStatus.REJECTED) == 1
        assert statuses.count(ExpenseStatus.PENDING) == 1
        approved = db.session.scalars(
            sa.select(Expense).where(Expense.status == ExpenseStatus.APPROVED)).all()
        assert len(approved) > 24 and all(e.entry_id and e.decided_by_id != e.recorded_by_id
                                          for e in approved)
        keys = {e.account.key for e in approved}
        assert {"patrol_stipends", "patrol_equipment", "meeting_costs", "transaction_charges",
                "police_support"} <= keys
        # A replacement was free that night: not rostered on it, not replacing twice.
        rostered, replacing = defaultdict(set), defaultdict(list)
        for night, patroller_id, replaced_by_id in db.session.execute(sa.select(
                Assignment.night, Assignment.patroller_id, Assignment.replaced_by_id)):
            rostered[night].add(patroller_id)
            if replaced_by_id is not None:
                replacing[night].append(replaced_by_id)
        assert any(replacing.values())
        for night, ids in replacing.items():
            assert len(ids) == len(set(ids)) and not set(ids) & rostered[night], night
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0 and "events checked" in verify.output
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code != 0
    assert runner.invoke(args=["seed-demo", "--if-empty"]).exit_code == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Member.id))) == 120


def test_every_demo_login_works_and_lands_on_its_page(app, runner):
    assert runner.invoke(args=["seed-demo", "--members", "30"]).exit_code == 0
    for role in ROLES:
        web = Web(app.test_client())
        response = web.login_with_password(role)
        assert response.status_code in (302, 303), role
        home = web.get("/", follow_redirects=True)
        assert home.status_code == 200, role
        page = home.get_data(as_text=True)
        # Issue 21: each lands on its home, in the sections of its role.
        section = {"chair": "treasurer"}.get(role, role)
        assert f'class="home-section home-{section}"' in page, role
        if role == "member":
            assert "My record" in page
            assert web.get("/members").status_code == 403
        else:
            assert "members found" in web.get("/members").get_data(as_text=True)


def test_every_demo_login_works_by_its_phone_as_people_type_it(app, runner):
    """The login page suggests a phone number (0712 345 678): each demo login has one, the
    README's table shows it, and it logs in however it is typed; the member's is also the
    demo member's number in the register."""
    from devtools.demo.seed import DEMO_PHONES

    result = runner.invoke(args=["seed-demo", "--members", "30"])
    assert result.exit_code == 0, result.output
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert len(set(DEMO_PHONES.values())) == len(ROLES)
    for role in ROLES:
        phone = DEMO_PHONES[role]
        assert re.search(rf"\| `{role}` +\| `{phone}` +\|", readme), role
        digits = phone.replace(" ", "")
        for typed in (phone, "+254" + digits[1:], "254" + digits[1:]):
            web = Web(app.test_client())
            response = web.login_with_password(typed)
            assert response.status_code in (302, 303), (role, typed)
            with app.app_context():
                user = db.session.scalar(sa.select(User).where(User.username == role))
                assert user.last_login_at is not None
            web.logout()
    with app.app_context():
        member_user = db.session.scalar(sa.select(User).where(User.username == "member"))
        assert member_user.member.phone == member_user.phone == "+254712345678"


def test_audit_verify_fails_after_a_raw_sql_change_to_demo_data(app, runner):
    runner.invoke(args=["seed-demo", "--members", "20"])
    with app.app_context():
        tamper("UPDATE audit_event SET actor = 'nobody' "
               "WHERE seq = (SELECT MAX(seq) / 2 FROM audit_event)")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at event" in result.output
