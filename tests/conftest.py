"""Fixtures shared by every test: a migrated real database, the app, a browser-like client.

The database is SQLite in a temporary file, or PostgreSQL when TEST_DATABASE_URL
is set. It is migrated once per run (so the migrations are tested too) and
emptied after every test.
"""

import os
import re
import shutil
import tempfile
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException

from association import create_app
from association.audit.services import acting_as
from association.auth.models import Role
from association.auth.services import create_user
from association.extensions import db
from association.members.models import Category, Gender
from association.members.services import MemberData, register_member, save_zone
from association.profile.models import MpesaKind, RegistrationBody
from association.profile.services import ProfileData, save_profile
from association.worker import run_steps
from config import TestingConfig

PASSWORD = "mtaani-demo"
CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def _database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return TestingConfig.SQLALCHEMY_DATABASE_URI
    path = Path(tempfile.mkdtemp(prefix="association-test-")) / "test.sqlite3"
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def database_url():
    """A freshly migrated database for the whole run."""
    url = _database_url()
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    yield url
    if url.startswith("sqlite:///"):
        shutil.rmtree(Path(url.removeprefix("sqlite:///")).parent, ignore_errors=True)


def _empty_database() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def upload_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("uploads")


class ClosingClient(FlaskClient):
    """Closes each response as a server does once it is sent; after an M-Pesa callback,
    does what the worker process (``flask worker``) would do next: its steps, until
    nothing is waiting, so that the callback is processed when the request returns. A
    response not buffered gets its turn when it is closed."""

    def open(self, *args, buffered=True, **kwargs):
        response = super().open(*args, buffered=buffered, **kwargs)
        if self._stored_a_callback(response.request):
            if buffered:
                self._work()
            else:
                response.call_on_close(self._work)
        return response

    def _stored_a_callback(self, request) -> bool:
        """Whether ``request`` went to a callback the worker processes (a validation is
        answered, and processed, by its own request)."""
        from association.mpesa.views import CALLBACK_ENDPOINTS

        try:
            endpoint, _ = self.application.url_map.bind("localhost").match(
                request.path, method=request.method)
        except HTTPException:
            return False
        return endpoint in CALLBACK_ENDPOINTS and endpoint != "mpesa.c2b_validation"

    def _work(self) -> None:
        with self.application.app_context():
            run_steps()


@pytest.fixture
def app(database_url, upload_dir):
    """The app on the test database; CSRF is on unless a test turns it off."""
    app = create_app(
        TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "UPLOAD_DIR": upload_dir}
    )
    app.test_client_class = ClosingClient
    yield app
    with app.app_context():
        db.session.remove()
        _empty_database()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _push_request_context():
    """Override pytest-flask's: no context is left pushed between requests.

    With one pushed, Flask 3.1 lets every client request reuse it, so ``g``
    (and Flask-Login's cached user) would leak from one request to the next.
    """
    yield


@pytest.fixture
def client(app):
    """Override pytest-flask's, which keeps each request's context alive afterwards."""
    return app.test_client()


@pytest.fixture
def ctx(app):
    """An app context for calling services directly."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Web:
    """A test client that behaves like a browser: it sends the page's CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def _refresh_token(self, page: str = "/login") -> str:
        response = self.client.get(page, follow_redirects=True)
        match = CSRF_RE.search(response.get_data(as_text=True))
        assert match, f"no CSRF token on {page}"
        self.token = match.group(1) or match.group(2)
        return self.token

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token or self._refresh_token())
        return self.client.post(url, data=data, **kwargs)

    def login(self, username: str, password: str = PASSWORD):
        self.token = None
        response = self.post("/login", {"login": username, "password": password})
        self.token = None
        return response

    def logout(self):
        response = self.post("/logout")
        self.token = None
        return response


@pytest.fixture
def web(client):
    return Web(client)


def make_profile(**overrides):
    data = dict(
        name="Mlango Kubwa Landlords and Tenants Association",
        short_code="MLK",
        registration_body=RegistrationBody.SOCIAL_DEVELOPMENT,
        registration_number="DSD/NRB/2019/0457",
        county="Nairobi",
        sub_county="Mathare",
        ward="Mlango Kubwa",
        estate="Mabatini",
        contact_phone="0722000457",
        mpesa_kind=MpesaKind.PAYBILL,
        mpesa_number="174379",
        fiscal_year_start_month=1,
    )
    data.update(overrides)
    return save_profile(ProfileData(**data))


_phone_counter = iter(range(10_000, 99_999))


def member_data(zone_id: int, /, **overrides) -> MemberData:
    values = dict(
        first_name="Amina",
        other_names="Wanjiku",
        phone=f"07{next(_phone_counter):08d}",
        gender=Gender.FEMALE,
        year_of_birth=1994,
        category=Category.RESIDENT,
        zone_id=zone_id,
        plot="Plot 12",
        house="H4",
        joined_on=date(2025, 1, 15),
    )
    values.update(overrides)
    return MemberData(**values)


@pytest.fixture
def setup_association(app):
    """A profile, two zones and a chair; returns a namespace of what was made."""

    class Made:
        pass

    with app.app_context(), acting_as("test"):
        made = Made()
        make_profile()
        made.zone = save_zone("Mabatini", None)
        made.zone2 = save_zone("Kosovo", None)
        made.chair = create_user("chair", "Wanjiru Kamau", PASSWORD, {Role.CHAIR},
                                 must_change_password=False)
        db.session.commit()
        made.zone_id, made.zone2_id = made.zone.id, made.zone2.id
    return made


@pytest.fixture
def make_member(app, setup_association):
    """Register a member (committed) and return its id and number."""

    def make(**overrides):
        with app.app_context(), acting_as("test"):
            member = register_member(member_data(setup_association.zone_id, **overrides))
            db.session.commit()
            return member.id, member.member_no

    return make


@pytest.fixture
def make_user(app, setup_association):
    """Create a login with the given roles (committed); returns its id."""

    def make(username, *roles, member_id=None, must_change_password=False, phone=None):
        with app.app_context(), acting_as("test"):
            user = create_user(username, username.title(), PASSWORD, set(roles),
                               member_id=member_id, phone=phone,
                               must_change_password=must_change_password)
            db.session.commit()
            return user.id

    return make


@pytest.fixture
def people(make_member, make_user):
    """One login per role, as in the demo; the member login is linked to member one."""
    own_id, own_no = make_member(first_name="Baraka", other_names="Otieno")
    other_id, other_no = make_member(first_name="Chebet", other_names="Kiprono",
                                     national_id="23456789")

    class People:
        pass

    p = People()
    p.own_member_id, p.own_member_no = own_id, own_no
    p.other_member_id, p.other_member_no = other_id, other_no
    for role in (Role.TREASURER, Role.SECRETARY, Role.COORDINATOR, Role.AUDITOR):
        make_user(role.value, role)
    make_user("member", Role.MEMBER, member_id=own_id)
    return p


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))
