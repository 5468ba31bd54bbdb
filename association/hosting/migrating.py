"""Migrations for the catalogue and for every association (``flask --app wsgi db upgrade``).

The catalogue is upgraded first, then each association in the catalogue's order, each as
a whole: on PostgreSQL its migrations run in one transaction (DDL is transactional
there), on SQLite its file is copied first and put back if a migration fails. The first
failure stops the run: the associations before it are upgraded, it and those after it
are as they were.
"""

import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from association.hosting import catalogue
from association.hosting.tenancy import (
    CATALOGUE_SCHEMA,
    Tenant,
    catalogue_engine,
    is_postgresql,
    tenancy,
    use,
)
from config import BASE_DIR

CATALOGUE_MIGRATIONS = BASE_DIR / "migrations" / "catalogue"


class MigrationFailed(RuntimeError):
    """An association's migrations failed; it is left as it was."""

    def __init__(self, tenant: Tenant, error: BaseException):
        super().__init__(f"{tenant.short}: {type(error).__name__}: {error}")
        self.tenant = tenant


def _catalogue_config() -> AlembicConfig:
    config = AlembicConfig(str(CATALOGUE_MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(CATALOGUE_MIGRATIONS))
    return config


def upgrade_catalogue(app: Flask) -> None:
    """The catalogue's tables at their head (made on a fresh install)."""
    engine = catalogue_engine(app)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{CATALOGUE_SCHEMA}"')
    config = _catalogue_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    catalogue.forget(app)


def catalogue_at_head(app: Flask) -> bool:
    with catalogue_engine(app).connect() as conn:
        current = set(MigrationContext.configure(
            conn, opts={"version_table": "catalogue_version"}).get_current_heads())
    return current == set(ScriptDirectory.from_config(_catalogue_config()).get_heads())


def _association_config(app: Flask) -> AlembicConfig:
    return app.extensions["migrate"].migrate.get_config()


def association_heads(app: Flask) -> set[str]:
    with app.app_context():
        return set(ScriptDirectory.from_config(_association_config(app)).get_heads())


def association_revision(app: Flask, tenant: Tenant) -> set[str]:
    """The migrations ``tenant``'s database is at (empty for a database never migrated)."""
    with use(tenant, app):
        from association.extensions import db

        with db.engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())


def prepare_schema(app: Flask, tenant: Tenant) -> None:
    """PostgreSQL: make the association's schema if it is not there yet."""
    url, schema = tenancy(app).location(tenant)
    if schema is None or not is_postgresql(url):
        return
    engine = sa.create_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        engine.dispose()


def upgrade_association(app: Flask, tenant: Tenant, revision: str = "head") -> None:
    """``tenant``'s database at ``revision``, all of it or none of it."""
    url, schema = tenancy(app).location(tenant)
    backup = None
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if path.exists():
            tenancy(app).forget(tenant)  # no connection of ours holds it while it is copied
            backup = path.with_name(path.name + ".before-upgrade")
            shutil.copy2(path, backup)
    prepare_schema(app, tenant)
    try:
        with use(tenant, app):
            command.upgrade(_association_config(app), revision)
    except BaseException as error:
        if backup is not None:
            tenancy(app).forget(tenant)
            for suffix in ("-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            shutil.move(backup, path)
        raise MigrationFailed(tenant, error) from error
    if backup is not None:
        backup.unlink(missing_ok=True)


def _single_install(app: Flask) -> tuple[str, str | None] | None:
    """An install from before issue 22 (one association, its tables in the database itself):
    its database URL and PostgreSQL schema, when there is one to adopt."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if is_postgresql(url):
        with catalogue_engine(app).connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_name = 'alembic_version'").first()
        return (url, "public") if found else None
    legacy = Path(app.config["INSTANCE_DIR"]) / "association.sqlite3"
    if legacy.exists() and f"sqlite:///{legacy}" != url:
        return f"sqlite:///{legacy}", None
    return None


def adopt_single_install(app: Flask, report: Callable[[str], None]) -> None:
    """Register an install's one association of before issue 22 in its new, empty catalogue:
    its data stays where it is (the SQLite file, PostgreSQL's public schema), its uploads in
    UPLOAD_DIR itself, its short name from its profile."""
    from association.hosting.models import AssociationStatus, HostedAssociation
    from association.hosting.services import catalogue_session

    if catalogue.every(app):
        return
    found = _single_install(app)
    if found is None:
        return
    url, schema = found
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if schema:
                conn.exec_driver_sql(f'SET search_path TO "{schema}"')
            try:
                row = conn.exec_driver_sql(
                    "SELECT short_code, name FROM association_profile ORDER BY id LIMIT 1"
                ).first()
            except sa.exc.DBAPIError:
                row = None
    finally:
        engine.dispose()
    short, name = (row[0], row[1]) if row else ("MAIN", "Association")
    # Its printed receipts' QR codes and the callback addresses registered with Daraja name
    # the install's own address: it keeps answering there.
    public = urlsplit(app.config.get("PUBLIC_BASE_URL") or "").hostname
    with catalogue_session(app) as session:
        session.add(HostedAssociation(
            short=short, slug=short.lower(), name=name, status=AssociationStatus.ACTIVE,
            host=public, database_url=None if schema else url, schema_name=schema,
            uploads_dir="."))
        session.commit()
    catalogue.forget(app)
    report(f"adopted this install's association {short} ({name}): its data stays where it is")


def upgrade_all(app: Flask, report: Callable[[str], None] = print,
                revision: str = "head") -> int:
    """The catalogue (adopting an install's single association of before issue 22), then
    every association not archived; returns how many associations were upgraded. Raises
    :class:`MigrationFailed` at the first failure."""
    upgrade_catalogue(app)
    report("catalogue: at head")
    adopt_single_install(app, report)
    tenants = catalogue.served(app)
    heads = association_heads(app)
    for number, tenant in enumerate(tenants, start=1):
        before = association_revision(app, tenant)
        if before == heads and revision == "head":
            report(f"[{number}/{len(tenants)}] {tenant.short}: already at head")
            continue
        upgrade_association(app, tenant, revision)
        report(f"[{number}/{len(tenants)}] {tenant.short}: upgraded")
    from association.hosting.grants import apply_grants

    if apply_grants(app, tenants=tenants):
        report(f"grants given to {app.config['DATABASE_APP_ROLE']}")
    return len(tenants)


