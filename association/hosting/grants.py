"""PostgreSQL: what the app's own role (not the tables' owner) may do, schema by schema.

The owner migrates; the app and the worker run as a role that owns nothing, cannot disable
the books' triggers, and holds no UPDATE or DELETE on the books and the trail. With many
associations there is a schema per association and the catalogue's: :func:`grants_sql`
gives each its grants, and the owner's commands (``db upgrade``, ``hosting create``) apply
them when DATABASE_APP_ROLE names the role (``hosting grants ROLE`` prints or applies them).
"""

import re

import sqlalchemy as sa
from flask import Flask

from association.hosting import catalogue
from association.hosting.tenancy import CATALOGUE_SCHEMA, Tenant, is_postgresql, tenancy

#: Append-only on PostgreSQL (their triggers refuse UPDATE and DELETE; the role may not try).
APPEND_ONLY = ("journal_entry", "posting", "audit_event", "audit_checkpoint")
ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def schema_grants(schema: str, role: str, *, books: bool = True) -> list[str]:
    """The grants of one schema (an association's, or the catalogue's without ``books``)."""
    lines = [
        f'GRANT USAGE ON SCHEMA "{schema}" TO {role};',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role};',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role};',
    ]
    if books:
        tables = ", ".join(f'"{schema}".{table}' for table in APPEND_ONLY)
        lines.append(f"REVOKE UPDATE, DELETE ON {tables} FROM {role};")
    return lines


def grants_sql(app: Flask, role: str, tenants: list[Tenant] | None = None) -> list[str]:
    """Every grant the role needs on this server: the catalogue's and each association's
    placed on the host's database (one on another server gets its grants there)."""
    if not ROLE_RE.fullmatch(role):
        raise ValueError(f"{role!r} is not a role name")
    lines = schema_grants(CATALOGUE_SCHEMA, role, books=False)
    for tenant in catalogue.served(app) if tenants is None else tenants:
        url, schema = tenancy(app).location(tenant)
        if schema is not None and url == app.config["SQLALCHEMY_DATABASE_URI"]:
            lines += schema_grants(schema, role)
    return lines


def apply_grants(app: Flask, role: str | None = None, tenants: list[Tenant] | None = None) -> int:
    """Give DATABASE_APP_ROLE (or ``role``) its grants; returns how many statements ran
    (none on SQLite, or with no role set)."""
    role = role or app.config.get("DATABASE_APP_ROLE")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not role or not is_postgresql(url):
        return 0
    lines = grants_sql(app, role, tenants)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for line in lines:
                conn.exec_driver_sql(line)
    finally:
        engine.dispose()
    return len(lines)
