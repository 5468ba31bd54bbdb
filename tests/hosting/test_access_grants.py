"""A chair's time-limited grant of access to a host administrator (issue 22 item 3)."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from association.audit.models import AuditEvent
from association.auth.models import Role, User
from association.core.time import utcnow
from association.extensions import db
from association.hosting.models import AccessGrant
from association.hosting.services import catalogue_session

GRANT = {"host_admin": "hostadmin", "hours": "2", "reason": "Help find a missing payment"}


def _grants(app):
    with catalogue_session(app) as session:
        return list(session.scalars(sa.select(AccessGrant)))


def _trail(app, prefix="hosting.access"):
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action)
                                       .where(AuditEvent.action.like(prefix + "%"))
                                       .order_by(AuditEvent.seq)))


def _host_user(app):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "host-hostadmin"))
        return (user.active, user.roles) if user else None


@pytest.fixture
def granted(app, web, host_admin, setup_association):
    web.login("chair")
    assert 'href="/access-grants"' in web.get("/association").get_data(as_text=True)
    response = web.post("/access-grants", GRANT, follow_redirects=True)
    assert "hostadmin may look at this association" in response.get_data(as_text=True)
    web.logout()
    return _grants(app)[0]


def _open(signed_in):
    """The dashboard's Open: the token the association's address takes."""
    signed_in.token = None
    response = signed_in.post("/hosting/associations/TEST/open")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "//localhost/hosting-access/" in response.location
    return response.location.rsplit("/", 1)[1]


def test_chair_grants_access_and_the_host_opens_it_read_only(app, client, granted, signed_in):
    assert granted.reason == GRANT["reason"] and granted.granted_by == "chair"
    assert timedelta(minutes=119) < granted.expires_at - utcnow() <= timedelta(hours=2)
    assert _host_user(app) == (True, {Role.AUDITOR})
    assert "Open</button>" in signed_in.get("/hosting/").get_data(as_text=True)
    token = _open(signed_in)
    entered = client.get(f"/hosting-access/{token}")
    assert entered.status_code == 302 and entered.location.endswith("/")
    assert client.get("/members").status_code == 200  # an auditor reads
    assert client.get("/members/new").status_code == 403  # and writes nothing
    assert _trail(app) == ["hosting.access_granted", "hosting.access_opened"]


def test_expired_grant_ends_the_host_login(app, client, granted, signed_in):
    token = _open(signed_in)
    client.get(f"/hosting-access/{token}")
    with catalogue_session(app) as session:
        session.execute(sa.update(AccessGrant).values(expires_at=utcnow() - timedelta(minutes=1)))
        session.commit()
    response = client.get("/members")
    assert response.status_code == 302 and "/login" in response.location
    assert client.get("/members").status_code == 302  # logged out, and stays so
    assert _host_user(app) == (False, {Role.AUDITOR})
    assert "hosting.access_ended" in _trail(app)
    # The dashboard offers no Open, and a token for the ended grant is refused.
    assert "Open</button>" not in signed_in.get("/hosting/").get_data(as_text=True)
    assert client.get(f"/hosting-access/{token}").status_code == 404
    assert client.get("/members").status_code == 302


def test_chair_revokes_access(app, web, client, granted, signed_in):
    token = _open(signed_in)
    web.login("chair")
    response = web.post(f"/access-grants/{granted.id}/revoke", follow_redirects=True)
    assert "The access is ended." in response.get_data(as_text=True)
    assert _grants(app)[0].revoked_at is not None
    assert _host_user(app) == (False, {Role.AUDITOR})
    web.logout()
    assert client.get(f"/hosting-access/{token}").status_code == 404
    assert client.get("/members").status_code == 302
    again = web.post(f"/access-grants/{granted.id}/revoke", follow_redirects=True)
    assert again.status_code == 200  # the chair is logged out: the login page, nothing done
    assert _trail(app) == ["hosting.access_granted", "hosting.access_revoked"]


def test_host_admin_without_a_grant_cannot_open(app, client, signed_in, setup_association):
    signed_in.token = None
    response = signed_in.post("/hosting/associations/TEST/open", follow_redirects=True)
    assert "No access to TEST has been granted to you" in response.get_data(as_text=True)
    assert client.get("/members").status_code == 302


@pytest.mark.parametrize("token", ["nonsense", "eyJnIjoxfQ.aaaa.bbbb"])
def test_a_bad_token_opens_nothing(app, client, granted, token):
    assert client.get(f"/hosting-access/{token}").status_code == 404
    assert client.get("/members").status_code == 302


def test_a_token_signed_for_another_association_opens_nothing(app, client, granted):
    other = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="hosting-access/other")
    response = client.get(f"/hosting-access/{other.dumps({'g': granted.id})}")
    assert response.status_code == 404
    assert client.get("/members").status_code == 302


@pytest.mark.parametrize("values, message", [
    ({**GRANT, "host_admin": "nobody"}, "There is no host administrator called nobody."),
    ({**GRANT, "hours": "0"}, "Access lasts 1 hour to 7 days"),
    ({**GRANT, "hours": "169"}, "Access lasts 1 hour to 7 days"),
    ({**GRANT, "hours": "two"}, "Access lasts 1 hour to 7 days"),
    ({**GRANT, "reason": ""}, "Give the reason"),
])
def test_grant_refuses_bad_input_and_changes_nothing(app, web, host_admin, setup_association,
                                                     values, message):
    web.login("chair")
    response = web.post("/access-grants", values)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _grants(app) == [] and _host_user(app) is None and _trail(app) == []


def test_grant_needs_csrf_and_the_chair(app, web, make_user, host_admin):
    make_user("treasurer", Role.TREASURER)
    web.login("treasurer")
    assert web.get("/access-grants").status_code == 403
    assert web.post("/access-grants", GRANT).status_code == 403
    web.login("chair")
    assert web.client.post("/access-grants", data=GRANT).status_code == 400
    assert _grants(app) == []
