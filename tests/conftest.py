"""Fixtures shared by every test: a migrated real database, the app, a browser-like client.

The database is SQLite in a temporary file, or PostgreSQL when TEST_DATABASE_URL
is set; under pytest-xdist each worker has its own (a file of its own, or a
database named after TEST_DATABASE_URL's with the worker's suffix, ``_gw0``...).
It is migrated once per run (so the migrations are tested too), and the app is
built once per run.

Each test runs inside one transaction on one connection, rolled back at its end
(as Indico's ``db`` fixture does): every session the app opens joins it with a
savepoint (``join_transaction_mode="create_savepoint"``), so the app's commits
only release savepoints. A test that needs real commits (other connections,
threads or processes, the database's own locking) is marked
``@pytest.mark.committed(reason=...)``: it commits for real, and the tables are
emptied after it.
"""

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import appcontext_pushed, g
from flask.testing import FlaskClient
from flask_login.utils import _create_identifier
from werkzeug.exceptions import HTTPException

from association import create_app
from association.audit.services import acting_as
from association.auth.models import Role, User
from association.auth.services import create_user
from association.auth.sessions import TOKEN_KEY, open_session
from association.extensions import db, limiter
from association.hosting import catalogue
from association.hosting.migrating import upgrade_association, upgrade_catalogue
from association.hosting.models import AssociationStatus, HostedAssociation
from association.hosting.services import catalogue_session, remove_association
from association.hosting.tenancy import CATALOGUE_SCHEMA, Tenant, catalogue_engine, tenancy, use
from association.members.models import Category, Gender
from association.members.services import MemberData, register_member, save_zone
from association.mpesa import matching
from association.profile.models import MpesaKind, RegistrationBody
from association.profile.services import ProfileData, save_profile
from association.worker import run_steps
from config import Config, TestingConfig

PASSWORD = "mtaani-demo"
CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)
#: pytest-xdist's worker name ("gw0", ...), empty when the run is not spread.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _postgresql_database(url: str) -> str:
    """This worker's own database beside TEST_DATABASE_URL's, made afresh (empty)."""
    base = sa.engine.make_url(url)
    mine = base.set(database=f"{base.database}_{WORKER}")
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{mine.database}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{mine.database}"')
    finally:
        admin.dispose()
    return mine.render_as_string(hide_password=False)


def _drop_postgresql_database(url: str) -> None:
    mine = sa.engine.make_url(url)
    admin = sa.create_engine(mine.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{mine.database}" WITH (FORCE)')
    finally:
        admin.dispose()


def _database_url() -> str:
    """The install's database (the catalogue's): PostgreSQL's database, or a SQLite file."""
    if os.environ.get("TEST_DATABASE_URL"):
        url = TestingConfig.SQLALCHEMY_DATABASE_URI
        return _postgresql_database(url) if WORKER else url
    path = Path(tempfile.mkdtemp(prefix=f"association-test-{WORKER}")) / "catalogue.sqlite3"
    return f"sqlite:///{path}"


#: The association every test works on (unless it chooses another): host "localhost" (the
#: test client's), its tables in PostgreSQL's public schema or in a SQLite file of its own.
TEST_SHORT = "TEST"
_test_tenant: Tenant | None = None
#: Off inside :func:`no_association`: app contexts then start with none chosen.
_choose_on_push = True


def _register_test_association(app, url: str) -> Tenant:
    sqlite = url.startswith("sqlite:///")
    database_url = (f"sqlite:///{Path(url.removeprefix('sqlite:///')).parent / 'test.sqlite3'}"
                    if sqlite else None)
    with catalogue_session(app) as session:
        row = HostedAssociation(short=TEST_SHORT, slug="test", name="Test Association",
                                host="localhost 127.0.0.1",
                                status=AssociationStatus.ACTIVE, database_url=database_url,
                                schema_name=None if sqlite else "public",
                                uploads_dir=".")  # UPLOAD_DIR itself
        session.add(row)
        session.commit()
        return Tenant.of(row)


@appcontext_pushed.connect
def _choose_test_association(sender, **extra):
    """The tests' app contexts work on the test association of their app's catalogue (as a
    command run on the only association does), unless they choose another, or none
    (:func:`no_association`)."""
    if not _choose_on_push or g.get("association") is not None:
        return
    tenants = sender.extensions.get("test_association")
    if tenants is None:  # read once per app: its catalogue's own test association
        try:
            found = next((t for t in catalogue.every(sender) if t.short == TEST_SHORT), None)
        except sa.exc.OperationalError:  # no catalogue yet
            found = None
        except sa.exc.ProgrammingError:
            found = None
        if found is None:
            return
        tenants = sender.extensions["test_association"] = found
    g.association = tenants


def standalone_app(folder: Path, **overrides):
    """An app of its own whose only association's database is a new SQLite file in
    ``folder`` (not migrated): for tests of the migrations themselves."""
    app = create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'catalogue.sqlite3'}", **overrides})
    upgrade_catalogue(app)
    with catalogue_session(app) as session:
        session.add(HostedAssociation(
            short=TEST_SHORT, slug="test", name="Test Association", host="localhost",
            status=AssociationStatus.ACTIVE, uploads_dir=".",
            database_url=f"sqlite:///{folder / 'association.sqlite3'}"))
        session.commit()
    return app


@contextmanager
def no_association():
    """App contexts pushed inside start with no association chosen (as a host's own)."""
    global _choose_on_push
    _choose_on_push = False
    try:
        yield
    finally:
        _choose_on_push = True


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
def database_url():
    """A freshly migrated, empty database for the whole run (this worker's)."""
    global _test_tenant
    url = _database_url()
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url})
    if url.startswith("postgresql"):
        with catalogue_engine(app).begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {CATALOGUE_SCHEMA} CASCADE")
    upgrade_catalogue(app)
    _test_tenant = _register_test_association(app, url)
    upgrade_association(app, _test_tenant)
    with use(_test_tenant, app):
        _empty_database()  # what the migrations seeded: every test starts from empty tables
    tenancy(app).dispose()
    catalogue_engine(app).dispose()
    yield url
    if url.startswith("sqlite:///"):
        shutil.rmtree(Path(url.removeprefix("sqlite:///")).parent, ignore_errors=True)
    elif WORKER:
        _drop_postgresql_database(url)


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
                self._work(response.request)
            else:
                response.call_on_close(lambda: self._work(response.request))
        return response

    def _split(self, request) -> tuple[str | None, str]:
        """The association's address name in the request's path prefix (None without one),
        and the path the app's routes see (the prefix taken off, as routing.PathPrefix
        does)."""
        prefix = (self.application.config["ASSOCIATION_PATH_PREFIX"] or "").rstrip("/")
        if prefix and request.path.startswith(prefix + "/"):
            slug, _, rest = request.path[len(prefix) + 1:].partition("/")
            return slug, "/" + rest
        return None, request.path

    def _stored_a_callback(self, request) -> bool:
        """Whether ``request`` went to a callback the worker processes (a validation is
        answered, and processed, by its own request)."""
        from association.mpesa.views import CALLBACK_ENDPOINTS

        try:
            endpoint, _ = self.application.url_map.bind("localhost").match(
                self._split(request)[1], method=request.method)
        except HTTPException:
            return False
        return endpoint in CALLBACK_ENDPOINTS and endpoint != "mpesa.c2b_validation"

    def _work(self, request) -> None:
        """The worker's steps in the association the request went to: its prefix's, or its
        host name's (as routing chose it), else the app's test association."""
        app = self.application
        slug = self._split(request)[0]
        with app.app_context():
            tenant = (catalogue.by_slug(slug) if slug is not None
                      else catalogue.by_host(request.host.split(":")[0]))
            if tenant is None:
                if slug is None:
                    run_steps()
                return  # no such association: the request stored nothing
        with use(tenant, app):
            run_steps()


@pytest.fixture(scope="session")
def app(database_url, upload_dir):
    """The app on the test database, built once; CSRF is on unless a test turns it off.

    A test may change ``app.config`` and ``app.extensions``: both are put back after it
    (:func:`_isolated`)."""
    app = create_app(
        TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "UPLOAD_DIR": upload_dir}
    )
    app.test_client_class = ClosingClient
    # Sessions given a connection (the test's, below) join its transaction with a
    # savepoint: their commits release it, their rollbacks return to it.
    db.session.session_factory.kw["join_transaction_mode"] = "create_savepoint"
    yield app
    with app.app_context():
        db.session.remove()
    tenancy(app).dispose()
    catalogue_engine(app).dispose()


class _TestConnection(sa.Connection):
    """The test's connection, standing in for the engine as ``db.engine``: code that asks
    the engine for its address still gets it."""

    @property
    def url(self):
        return self.engine.url

    def begin(self):
        """``db.engine.begin()``: this connection, in a savepoint released at the block's
        end (the fixture's own first call begins the test's transaction)."""
        return self.connect() if self.in_transaction() else super().begin()

    @contextmanager
    def connect(self):
        """``db.engine.connect()``: this connection, in a savepoint of its own."""
        with self.begin_nested():
            yield self


def _restart_sequences(connection) -> None:
    """Ids start at 1 in every test, as after the tables were emptied (PostgreSQL does not
    roll sequences back; SQLite's ids are rolled back with the rows)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "SELECT setval(c.oid, 1, false) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'S' AND n.nspname = current_schema()"
        )


@pytest.fixture(autouse=True)
def _isolated(request):
    """Each test that uses the app runs in a transaction rolled back at its end, or, marked
    ``committed``, commits for real and has the tables emptied after it. Either way the
    app's settings, extensions, rate-limit counters and the M-Pesa matching cache are as
    they were before it."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    marker = request.node.get_closest_marker("committed")
    if marker is not None and not (marker.kwargs.get("reason") or marker.args):
        pytest.fail("@pytest.mark.committed needs a reason: say why the test commits")
    config, extensions = dict(app.config), dict(app.extensions)
    with app.app_context():
        limiter.reset()  # the counters are rows of the database
    matching.clear_cache()
    try:
        if marker is not None:
            yield
        else:
            overrides = tenancy(app).overrides
            connection = _TestConnection(tenancy(app).engine(_test_tenant))
            transaction = connection.begin()
            _restart_sequences(connection)
            overrides[_test_tenant.slug] = connection  # db.engine and every session use it
            try:
                yield
            finally:
                with app.app_context():
                    db.session.remove()
                overrides.pop(_test_tenant.slug, None)
                transaction.rollback()
                connection.close()
    finally:
        if marker is not None:
            with app.app_context():
                db.session.remove()
                _empty_database()
        app.config.clear()
        app.config.update(config)
        app.extensions.clear()
        app.extensions.update(extensions)
        matching.clear_cache()
        _remove_other_associations(app)


def _remove_other_associations(app) -> None:
    """Associations a test made (with their databases) are gone after it."""
    catalogue.forget(app)
    for tenant in catalogue.every(app):
        if tenant.id != _test_tenant.id:
            remove_association(app, tenant)
    catalogue.forget(app)


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

    def login(self, username: str) -> None:
        """Log in as ``username`` without the password round trip: the session
        Flask-Login's ``login_user`` makes and its row on the server, as the login view
        leaves them (a fresh session, the user's language or the one chosen before). The
        tests of logging in itself use :meth:`login_with_password`."""
        app = self.client.application
        with app.app_context(), acting_as("test"):
            user = db.session.scalar(sa.select(User).where(User.username == username.lower()))
            assert user is not None and user.active, f"no active user {username!r} to log in"
            session_id, language = user.get_id(), user.language
            token = open_session(user, address="127.0.0.1")
            db.session.commit()
        with app.test_request_context(environ_base=self.client.environ_base):
            identifier = _create_identifier()
        with self.client.session_transaction() as session:
            chosen = session.get("lang")
            session.clear()
            session.update(_user_id=session_id, _fresh=True, _id=identifier,
                           **{TOKEN_KEY: token})
            if language or chosen:
                session["lang"] = language or chosen
        self.token = None

    def login_with_password(self, login: str, password: str = PASSWORD):
        """Log in through the login form (POST /login); returns its response."""
        self.token = None
        response = self.post("/login", {"login": login, "password": password})
        self.token = None
        return response

    def logout(self):
        response = self.post("/logout")
        self.token = None
        return response


@pytest.fixture
def web(client):
    return Web(client)


@pytest.fixture
def production_password_cost(app, monkeypatch):
    """New password hashes at the cost production uses (the tests use argon2's minimum)."""
    for name in ("PASSWORD_HASH_TIME_COST", "PASSWORD_HASH_MEMORY_COST",
                 "PASSWORD_HASH_PARALLELISM"):
        monkeypatch.setitem(app.config, name, getattr(Config, name))


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
