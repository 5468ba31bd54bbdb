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


def upgrade_all(app: Flask, report: Callable[[str], None] = print,
                revision: str = "head") -> int:
    """The catalogue, then every association not archived; returns how many associations
    were upgraded. Raises :class:`MigrationFailed` at the first failure."""
    upgrade_catalogue(app)
    report("catalogue: at head")
    tenants = catalogue.served(app)
    heads = association_heads(app)
    for number, tenant in enumerate(tenants, start=1):
        before = association_revision(app, tenant)
        if before == heads and revision == "head":
            report(f"[{number}/{len(tenants)}] {tenant.short}: already at head")
            continue
        upgrade_association(app, tenant, revision)
        report(f"[{number}/{len(tenants)}] {tenant.short}: upgraded")
    return len(tenants)


