"""Which association a request, a command or a worker's turn works on, and its database.

:func:`use` chooses an association for the block inside it (a fresh app context, so a
fresh ``db.session`` whose identity map holds no other association's rows); a request's
is chosen by :mod:`association.hosting.routing`. :class:`Tenancy` keeps, per app, the
engine of each association's database:

- SQLite: an engine per file (one writer queue per file, as before).
- PostgreSQL: one engine (one pool) per server, shared by the associations placed on it.
  Each association's connections carry its schema as an execution option, and every
  transaction begins with ``SET LOCAL search_path`` to that schema, so the app's
  statements (the ORM's and its few literal SQL ones alike) name no schema and reach only
  that association's tables; the setting ends with the transaction, so a pooled
  connection never carries it to the next association. Outside a transaction begun so,
  the search path is a schema that does not exist: a statement fails, it does not reach
  a default.

With no association chosen, ``db.engine`` and every association's table raise
:class:`NoAssociationChosen`: nothing falls back to a default association.
"""

import contextlib
import re
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context
from sqlalchemy import event

from association.database import configure_sqlite, engine_options
from association.hosting.models import CATALOGUE, AssociationStatus

#: An association's address part and the stem of its file or schema: lower case.
SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
#: PostgreSQL: the search path outside an association's transaction (no such schema).
NO_ASSOCIATION_SCHEMA = "no_association_chosen"
#: PostgreSQL: the catalogue's schema in the host's database.
CATALOGUE_SCHEMA = "hosting"


class NoAssociationChosen(RuntimeError):
    """An association's data was asked for where no association was chosen."""

    def __init__(self):
        super().__init__("no association is chosen here: an association's data cannot "
                         "be reached (choose one with association.hosting.tenancy.use)")


@dataclass(frozen=True)
class Tenant:
    """A catalogue row as plain values: kept per request and per process, never a row
    bound to a session."""

    id: int
    short: str
    slug: str
    name: str
    host: str | None
    status: AssociationStatus
    database_url: str | None
    schema_name: str | None
    uploads_dir: str | None
    mpesa_shortcode: str | None
    account_prefix: str | None

    @classmethod
    def of(cls, row) -> "Tenant":
        """From a catalogue row (an ORM object or a row of its table)."""
        return cls(id=row.id, short=row.short, slug=row.slug, name=row.name, host=row.host,
                   status=AssociationStatus(row.status), database_url=row.database_url,
                   schema_name=row.schema_name, uploads_dir=row.uploads_dir,
                   mpesa_shortcode=row.mpesa_shortcode, account_prefix=row.account_prefix)

    @property
    def is_active(self) -> bool:
        return self.status == AssociationStatus.ACTIVE


# --- The association chosen ---------------------------------------------------------------


def current_or_none() -> Tenant | None:
    """The association chosen here, or None (the host's own pages and commands)."""
    return g.get("association") if has_app_context() else None


def current() -> Tenant:
    """The association chosen here; :class:`NoAssociationChosen` when there is none."""
    tenant = current_or_none()
    if tenant is None:
        raise NoAssociationChosen
    return tenant


def choose(tenant: Tenant | None) -> None:
    """Choose ``tenant`` for the app context under way (a request's, at its start)."""
    g.association = tenant


@contextlib.contextmanager
def use(tenant: Tenant, app: Flask | None = None) -> Iterator[Tenant]:
    """Work on ``tenant`` inside the block: a fresh app context (and so a fresh session)
    with the association chosen. The caller commits; what is left uncommitted is rolled
    back at the block's end."""
    app = app or current_app._get_current_object()
    with app.app_context():
        choose(tenant)
        yield tenant


def cache_key() -> str:
    """The key of what a process keeps per association (a member index, the day's audit
    checkpoint): the association chosen, and where its data lives. Never the engine's URL
    alone: on PostgreSQL the associations of a server share it."""
    tenant = current()
    url, schema = tenancy().location(tenant)
    return f"{tenant.id}:{tenant.slug}:{url}:{schema or ''}"


def uploads_dir() -> Path:
    """The folder of the chosen association's uploads: its catalogue's folder, relative to
    UPLOAD_DIR (its slug by default)."""
    tenant = current()
    return Path(current_app.config["UPLOAD_DIR"]) / (tenant.uploads_dir or tenant.slug)


# --- Where each association's data lives -------------------------------------------------


def is_postgresql(url: str) -> bool:
    return url.startswith("postgresql")


class Tenancy:
    """Per app: the catalogue's engine and each association's engine."""

    def __init__(self, app: Flask):
        # Weakly: the app's finaliser closes these engines (association.create_app).
        self._app = weakref.ref(app)
        self._lock = threading.Lock()
        self._servers: dict[str, sa.Engine] = {}
        self._engines: dict[tuple[str, str | None], sa.Engine] = {}
        #: Engines (or a test's connection) standing in for an association's: the tests.
        self.overrides: dict[str, sa.Engine | sa.Connection] = {}
        self._bound: BoundEngines | None = None

    @property
    def app(self) -> Flask:
        return self._app()

    @property
    def host_url(self) -> str:
        return self.app.config["SQLALCHEMY_DATABASE_URI"]

    def location(self, tenant: Tenant) -> tuple[str, str | None]:
        """The database URL and (PostgreSQL) schema of ``tenant``'s data."""
        url = tenant.database_url or self.host_url
        if is_postgresql(url):
            return url, tenant.schema_name or f"association_{tenant.slug.replace('-', '_')}"
        if tenant.database_url is None:
            folder = Path(self.app.config["ASSOCIATIONS_DIR"])
            return f"sqlite:///{folder / (tenant.slug + '.sqlite3')}", None
        return url, None

    def engine(self, tenant: Tenant) -> sa.Engine | sa.Connection:
        """The engine of ``tenant``'s database (made once per app)."""
        override = self.overrides.get(tenant.slug)
        if override is not None:
            return override
        # Keyed by where the data lives, not by the association: once the catalogue says it
        # moved (hosting move), every process reaches the new place at its next reading.
        where = self.location(tenant)
        engine = self._engines.get(where)
        if engine is None:
            with self._lock:
                engine = self._engines.get(where)
                if engine is None:
                    engine = self._engines[where] = self._make(*where)
        return engine

    def _make(self, url: str, schema: str | None) -> sa.Engine:
        if schema is None:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, **self._options(url))
            if engine.dialect.name == "sqlite":
                configure_sqlite(engine)
            return engine
        server = self._servers.get(url)
        if server is None:
            options = self._options(url)
            connect_args = options.setdefault("connect_args", {})
            connect_args["options"] = f"-c search_path={NO_ASSOCIATION_SCHEMA}"
            server = self._servers[url] = sa.create_engine(url, **options)
            event.listen(server, "begin", _enter_schema)
        return server.execution_options(association_schema=schema)

    def _options(self, url: str) -> dict:
        options = dict(self.app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options.pop("connect_args", None)
        return engine_options(url, options)

    def bound_engines(self, fixed: dict) -> "BoundEngines":
        engines = self._bound
        if engines is None or engines._fixed is not fixed:
            engines = self._bound = BoundEngines(fixed, self)
        return engines

    def forget(self, tenant: Tenant) -> None:
        """Close ``tenant``'s engine (its file moved, deleted, or placed elsewhere)."""
        with self._lock:
            engine = self._engines.pop(self.location(tenant), None)
        if engine is not None and engine.url.get_backend_name() == "sqlite":
            engine.dispose()

    def dispose(self) -> None:
        with self._lock:
            for engine in [*self._engines.values(), *self._servers.values()]:
                engine.dispose()
            self._engines.clear()
            self._servers.clear()


def _enter_schema(conn: sa.Connection) -> None:
    """PostgreSQL: every transaction of an association's connection runs in its schema."""
    schema = conn.get_execution_options().get("association_schema")
    if schema is not None:
        conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')


def tenancy(app: Flask | None = None) -> Tenancy:
    return (app or current_app).extensions["tenancy"]


class BoundEngines(Mapping):
    """``db.engines`` of an app with many associations: the catalogue's engine under its
    bind key, and under ``None`` (every association's table, every literal statement)
    the engine of the association chosen, or :class:`NoAssociationChosen`."""

    __slots__ = ("_fixed", "_tenancy")

    def __init__(self, fixed: dict, tenancy: "Tenancy"):
        self._fixed = fixed
        self._tenancy = tenancy

    def __getitem__(self, key):
        if key is None:
            return self._tenancy.engine(current())
        if key == CATALOGUE:
            return self._fixed[None]
        return self._fixed[key]

    def __contains__(self, key) -> bool:
        return key is None or key == CATALOGUE or key in self._fixed

    def __iter__(self):
        return iter((None, CATALOGUE))

    def __len__(self) -> int:
        return 2

    def __setitem__(self, key, value):
        raise TypeError("set an association's engine with Tenancy.overrides")


def catalogue_options(url: str, options: dict) -> dict:
    """The catalogue engine's options: the app's, and on PostgreSQL the catalogue's schema
    as the search path."""
    options = engine_options(url, options)
    if is_postgresql(url):
        connect_args = options.setdefault("connect_args", {})
        connect_args["options"] = f"-c search_path={CATALOGUE_SCHEMA}"
    return options


def catalogue_engine(app: Flask | None = None) -> sa.Engine:
    """The host's database, holding the catalogue."""
    from association.extensions import db

    app = app or current_app._get_current_object()
    return db._app_engines[app][None]
