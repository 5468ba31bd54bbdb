"""The host's own site: a browser on the host's address (no association chosen)."""

import pytest
import sqlalchemy as sa

from association.hosting.host_auth import create_admin
from association.hosting.models import AccessGrant, HostAdmin, HostInboxItem, HostRateLimitCounter
from association.hosting.services import catalogue_session
from tests.conftest import CSRF_RE

HOST = "http://host.test"
ADMIN_PASSWORD = "host-admin-password-1"


class HostWeb:
    """A browser on the host's own address that sends each page's CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def get(self, path, **kwargs):
        return self.client.get(path, base_url=HOST, **kwargs)

    def refresh_token(self, page="/hosting/login"):
        text = self.get(page, follow_redirects=True).get_data(as_text=True)
        match = CSRF_RE.search(text)
        assert match, f"no CSRF token on {page}"
        self.token = match.group(1) or match.group(2)
        return self.token

    def post(self, path, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token or self.refresh_token())
        return self.client.post(path, data=data, base_url=HOST, **kwargs)

    def login(self, username="hostadmin", password=ADMIN_PASSWORD):
        self.token = None
        response = self.post("/hosting/login", {"username": username, "password": password})
        self.token = None
        return response


@pytest.fixture(autouse=True)
def _clean_catalogue(app):
    """The host's own rows (committed in the catalogue, which no test rolls back) go."""
    yield
    with catalogue_session(app) as session:
        for model in (AccessGrant, HostAdmin, HostInboxItem, HostRateLimitCounter):
            session.execute(sa.delete(model))
        session.commit()


@pytest.fixture
def host_admin(app):
    return create_admin(app, "hostadmin", ADMIN_PASSWORD).username


@pytest.fixture
def host(client):
    return HostWeb(client)


@pytest.fixture
def signed_in(host, host_admin):
    response = host.login()
    assert response.status_code == 302, response.get_data(as_text=True)
    return host
