"""``GET /healthz``: whether this install can do its work, for a load balancer or a monitor.

Three checks: the database answers, its schema is at the migrations' head, and a
worker (``flask worker``) wrote its heartbeat less than ``WORKER_HEARTBEAT_MAX_AGE``
seconds ago. 200 when all hold, 503 with the reasons otherwise. No login, and nothing
personal in the answer: only the checks' names and their state.
"""

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify

from association.auth.permissions import public
from association.core.time import utcnow
from association.database import reading
from association.extensions import db, limiter
from association.hosting.tenancy import current_or_none
from association.worker import WorkerHeartbeat

bp = Blueprint("health", __name__)


def _script_heads() -> set[str]:
    """The migrations' heads (read from the scripts once per process: they do not change)."""
    heads = current_app.extensions.get("health_script_heads")
    if heads is None:
        config = current_app.extensions["migrate"].migrate.get_config()
        heads = frozenset(ScriptDirectory.from_config(config).get_heads())
        current_app.extensions["health_script_heads"] = heads
    return heads


def _worker_state(last) -> str:
    max_age = current_app.config["WORKER_HEARTBEAT_MAX_AGE"]
    if last is None:
        return "no heartbeat"
    if (age := (utcnow() - last).total_seconds()) > max_age:
        return f"heartbeat {int(age)} s old (more than {max_age})"
    return "ok"


def host_problems() -> dict[str, str]:
    """The host's own checks (its address, no association's): the catalogue's database,
    its migrations, and the worker's heartbeat there."""
    from association.hosting.migrating import catalogue_at_head
    from association.hosting.models import HostWorkerHeartbeat
    from association.hosting.tenancy import catalogue_engine

    app = current_app._get_current_object()
    try:
        with reading(), catalogue_engine(app).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return {"database": "unreachable", "migrations": "unknown", "worker": "unknown"}
    checks = {"database": "ok"}
    try:
        checks["migrations"] = "ok" if catalogue_at_head(app) else "not at head"
        with catalogue_engine(app).connect() as conn:
            last = conn.scalar(sa.select(sa.func.max(HostWorkerHeartbeat.beat_at)))
    except sa.exc.SQLAlchemyError:  # the tables themselves are missing
        checks["migrations"] = "not at head"
        last = None
    checks["worker"] = _worker_state(last)
    return checks


def problems() -> dict[str, str]:
    """Each check's state ("ok", or what is wrong), by name: the association's on its
    address, the host's on the host's."""
    if current_or_none() is None:
        return host_problems()
    checks = {}
    try:
        connection = db.session.connection()
        connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return {"database": "unreachable", "migrations": "unknown", "worker": "unknown"}
    checks["database"] = "ok"
    current = set(MigrationContext.configure(connection).get_current_heads())
    checks["migrations"] = "ok" if current == _script_heads() else "not at head"
    try:
        last = db.session.scalar(sa.select(sa.func.max(WorkerHeartbeat.beat_at)))
    except sa.exc.SQLAlchemyError:  # the table itself is missing: migrations not run
        db.session.rollback()
        last = None
    checks["worker"] = _worker_state(last)
    db.session.rollback()  # end the read: no lock kept
    return checks


@bp.route("/healthz")
@limiter.exempt
@public
def healthz():
    """200 {"status": "ok", ...} when every check holds, else 503 with the failing ones."""
    checks = problems()
    healthy = all(state == "ok" for state in checks.values())
    response = jsonify(status="ok" if healthy else "unavailable", checks=checks)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


# No user is loaded for it (nobody logs in here) and it never waits for setup; it answers
# on the host's own address too (for the host's checks).
healthz.without_user = True
healthz.host_site = True
