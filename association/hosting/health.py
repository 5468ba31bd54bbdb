"""The host dashboard's figures: each association's health, as aggregates only.

Every figure is read inside :func:`~association.hosting.tenancy.use` (that association's
own database, nothing else) and is a count, a date, a size or a state: no name, phone or
ID number leaves an association here.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from association.hosting.models import HostWorkerHeartbeat
from association.hosting.services import catalogue_session
from association.hosting.tenancy import Tenant, tenancy, use

log = logging.getLogger(__name__)


@dataclass
class Health:
    tenant: Tenant
    #: False when its database could not be read (the other figures are then empty).
    reachable: bool = True
    set_up: bool = False
    last_login_at: datetime | None = None
    last_payment_on: date | None = None
    members: int = 0
    storage_bytes: int | None = None
    #: Compliance checks by state (ok, due, missing), as the chair's compliance page counts.
    compliance: dict[str, int] = field(default_factory=dict)
    worker_beat_at: datetime | None = None


def storage_bytes(app: Flask, tenant: Tenant, conn: sa.Connection) -> int | None:
    """The size of its database: its SQLite file (with its write-ahead log), or the sum of
    pg_total_relation_size over its schema's tables."""
    url, schema = tenancy(app).location(tenant)
    if conn.dialect.name == "sqlite":
        path = url.removeprefix("sqlite:///")
        return sum(p.stat().st_size for p in (Path(path), Path(path + "-wal")) if p.exists())
    return conn.execute(sa.text(
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'm')"),
        {"schema": schema}).scalar_one()


def health_of(app: Flask, tenant: Tenant) -> Health:
    from association.auth.models import User
    from association.extensions import db
    from association.ledger.models import Payment
    from association.meetings.governance import compliance
    from association.members.models import Member
    from association.profile.services import get_profile
    from association.worker import WorkerHeartbeat

    health = Health(tenant)
    try:
        with use(tenant, app):
            session = db.session
            health.set_up = get_profile() is not None
            health.last_login_at = session.scalar(sa.select(sa.func.max(User.last_login_at)))
            health.last_payment_on = session.scalar(sa.select(sa.func.max(Payment.paid_on)))
            health.members = session.scalar(sa.select(sa.func.count(Member.id))) or 0
            health.worker_beat_at = session.scalar(
                sa.select(sa.func.max(WorkerHeartbeat.beat_at)))
            if health.set_up:
                health.compliance = dict(Counter(check.state for check in compliance()))
            health.storage_bytes = storage_bytes(app, tenant, session.connection())
            session.rollback()
    except sa.exc.SQLAlchemyError as error:
        # One association's database down does not take the dashboard with it.
        log.warning("association %s unreachable for the dashboard: %s", tenant.short,
                    type(error).__name__)
        health.reachable = False
    return health


def host_worker_beat(app: Flask) -> datetime | None:
    with catalogue_session(app) as session:
        return session.scalar(sa.select(sa.func.max(HostWorkerHeartbeat.beat_at)))
