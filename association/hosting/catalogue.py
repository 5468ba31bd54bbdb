"""Reading the catalogue: which associations this install serves, found by address,
short name or M-Pesa shortcode.

Every request looks its association up here, so the catalogue is read into a
:class:`Directory` once per process and read again after ``CATALOGUE_CACHE_SECONDS``
(a suspension reaches every worker within that time), or at once in the process that
changed it (:func:`forget`).
"""

import threading
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask, current_app

from association.database import reading
from association.hosting.models import AssociationStatus, HostedAssociation
from association.hosting.tenancy import Tenant, catalogue_engine


@dataclass
class Directory:
    """The catalogue as it stood when read."""

    tenants: list[Tenant]
    read_at: float
    by_slug: dict[str, Tenant] = field(default_factory=dict)
    by_host: dict[str, Tenant] = field(default_factory=dict)
    by_short: dict[str, Tenant] = field(default_factory=dict)

    def __post_init__(self):
        for tenant in self.tenants:
            self.by_slug[tenant.slug] = tenant
            self.by_short[tenant.short.upper()] = tenant
            for name in (tenant.host or "").lower().split():
                self.by_host[name] = tenant


_lock = threading.Lock()


def _read(app: Flask) -> Directory:
    # Only a read, whatever the request (a form post too): on SQLite it takes no write lock
    # on the catalogue, so the associations' posts do not queue on the host's file.
    with reading(), catalogue_engine(app).connect() as conn:
        table = HostedAssociation.__table__
        tenants = [Tenant.of(row) for row in conn.execute(sa.select(table).order_by(table.c.id))]
    return Directory(tenants, time.monotonic())


def directory(app: Flask | None = None) -> Directory:
    """The catalogue, read at most ``CATALOGUE_CACHE_SECONDS`` ago."""
    app = app or current_app._get_current_object()
    cached = app.extensions.get("catalogue")
    if cached is None or time.monotonic() - cached.read_at > app.config["CATALOGUE_CACHE_SECONDS"]:
        with _lock:
            cached = app.extensions["catalogue"] = _read(app)
    return cached


def forget(app: Flask | None = None) -> None:
    """The catalogue changed: read it afresh at the next look."""
    (app or current_app).extensions.pop("catalogue", None)


def by_slug(slug: str) -> Tenant | None:
    return directory().by_slug.get(slug)


def by_host(host: str) -> Tenant | None:
    return directory().by_host.get(host.lower())


def by_short(short: str) -> Tenant | None:
    return directory().by_short.get(short.upper())


def served(app: Flask | None = None) -> list[Tenant]:
    """Every association not archived, oldest first: what the worker and `db upgrade` go
    through."""
    return [t for t in directory(app).tenants if t.status != AssociationStatus.ARCHIVED]


def every(app: Flask | None = None) -> list[Tenant]:
    return list(directory(app).tenants)
