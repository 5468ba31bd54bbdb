"""The worker process: background work, out of the web workers.

``flask --app wsgi worker`` goes through every association not archived (issue 22), and
for each loops over its steps: today the M-Pesa inbox
(:func:`association.mpesa.processing.worker_step`), the STK prompts whose callback
is late (:func:`association.mpesa.stk.query_step`), the audit chain's daily
checkpoint (:func:`association.audit.worker.checkpoint_step`) and, once an hour, the rows
of sessions over for 90 days (:func:`association.auth.sessions.worker_step`); the SMS
outbox is to be one more entry in :data:`STEPS`. Each step takes the work waiting,
does it and commits per batch; when no step found anything the worker sleeps
``--poll`` seconds (0.2 by default) and looks again. SIGTERM or SIGINT stops it once
the batch under way is committed; a SIGKILL loses nothing either: the work stays
stored and is found again by the next start (or by ``flask mpesa reconcile``).

Several workers may run on PostgreSQL: a batch claims its rows with ``FOR UPDATE
SKIP LOCKED``, so two never process the same row. On SQLite run one worker (the
database has one writer at a time anyway).

Each worker writes a heartbeat row (:class:`WorkerHeartbeat`) that ``/healthz``
reads: when it last looked for work, when it last did some, and how much.
"""

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from association.core.time import utcnow
from association.extensions import Base, db

log = logging.getLogger(__name__)

#: How long an idle worker sleeps before it looks for work again (seconds).
POLL_SECONDS = 0.2
#: How often an idle worker still writes its heartbeat (seconds).
HEARTBEAT_SECONDS = 5.0
#: The longest an association without work waits for the worker's next look (seconds).
IDLE_MAX_SECONDS = 2.0
#: How long the worker waits after a step failed (the database away, say) before it tries again.
RETRY_SECONDS = 2.0


class HeartbeatColumns:
    """A heartbeat row's columns: an association's (below) and the host's
    (association.hosting.models.HostWorkerHeartbeat) are the same."""

    name: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    pid: Mapped[int]
    host: Mapped[str] = mapped_column(sa.String(255))
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    last_batch_at: Mapped[datetime | None]
    processed: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class WorkerHeartbeat(HeartbeatColumns, Base):
    """A worker's sign of life, one row per worker name (a restart takes its row over)."""

    __tablename__ = "worker_heartbeat"
    # Written every few seconds and no one's record: the audit trail would fill with it.
    __audited__ = False


def _mpesa_step(stop: Callable[[], bool]) -> int:
    from association.mpesa.processing import worker_step

    return worker_step(stop)


def _stk_query_step(stop: Callable[[], bool]) -> int:
    from association.mpesa.stk import query_step

    return query_step(stop)


def _checkpoint_step(stop: Callable[[], bool]) -> int:
    from association.audit.worker import checkpoint_step

    return checkpoint_step()


def _sessions_step(_stop: Callable[[], bool]) -> int:
    from association.auth.sessions import worker_step

    return worker_step()  # one statement: nothing to stop between


#: The worker's steps, in order: each does the work waiting (committing per batch, and
#: stopping between batches once ``stop()`` is true) and returns how much it did.
STEPS: list[tuple[str, Callable[[Callable[[], bool]], int]]] = [
    ("mpesa", _mpesa_step), ("stk-query", _stk_query_step),
    ("audit-checkpoint", _checkpoint_step), ("sessions", _sessions_step)]


def run_steps(stop: Callable[[], bool] = lambda: False) -> int:
    """Run every step once until it finds no more work (in an app context); returns how
    much work was done. The worker's loop calls this, and so do the tests' clients after
    each request, so that what a request stored is processed as the worker would."""
    done = 0
    for _name, step in STEPS:
        if stop():
            break
        done += step(stop)
    return done


def beat(name: str, started_at: datetime, processed: int, worked: bool,
         model: type = WorkerHeartbeat) -> None:
    """Write the heartbeat (and commit it): the association's, or with ``model`` the
    host's (association.hosting.models.HostWorkerHeartbeat)."""
    now = utcnow()
    values = {"pid": os.getpid(), "host": socket.gethostname()[:255], "beat_at": now}
    if worked:
        values["last_batch_at"] = now
    row = db.session.get(model, name, populate_existing=True)
    if row is None or row.started_at != started_at:
        # Ours from a previous start, or new: taken over, counted afresh.
        values.update(started_at=started_at, processed=processed)
        if not worked:
            values["last_batch_at"] = None
    else:
        values["processed"] = processed
    if row is None:
        row = model(name=name, **values)
        db.session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    try:
        db.session.commit()
    except IntegrityError:  # another worker of the same name wrote it first
        db.session.rollback()


class Worker:
    """The loop of ``flask worker``."""

    def __init__(self, app: Flask, name: str, poll: float = POLL_SECONDS,
                 heartbeat: float = HEARTBEAT_SECONDS, only: str | None = None):
        self.app = app
        #: The short name of the one association to work for; None for all.
        self.only = only
        self.name = name
        self.poll = poll
        self.heartbeat = heartbeat
        self.stopping = threading.Event()
        self.started_at = utcnow().replace(microsecond=0)
        self.processed = 0
        self._host_beat_at = 0.0

    def stop(self, *_signal) -> None:
        """Finish the batch under way, then end (SIGTERM, SIGINT)."""
        self.stopping.set()

    def run(self) -> None:
        """Until :meth:`stop`: each association's steps and heartbeat in turn, then a
        sleep when none of them had work."""
        log.info("worker %s started (pid %d, polling every %.2f s)", self.name,
                 os.getpid(), self.poll)
        last_beat: dict[str, float] = {}
        # An association without work is looked at less often, up to IDLE_MAX_SECONDS
        # apart (doubling from the poll): two hundred idle associations cost the database
        # two hundred looks every few seconds, not every fifth of a second.
        due: dict[str, float] = {}
        pause: dict[str, float] = {}
        while not self.stopping.is_set():
            done, failed = 0, False
            for tenant in self.tenants():
                if self.stopping.is_set():
                    break
                if due.get(tenant.slug, 0.0) > time.monotonic():
                    continue
                worked, broke = self.turn(tenant, last_beat)
                done += worked
                failed = failed or broke
                pause[tenant.slug] = 0.0 if worked else min(
                    max(pause.get(tenant.slug, 0.0) * 2, self.poll), IDLE_MAX_SECONDS)
                due[tenant.slug] = time.monotonic() + pause[tenant.slug]
            self.host_beat(bool(done))
            if failed:
                self.stopping.wait(RETRY_SECONDS)
            elif not done:
                self.stopping.wait(self.poll)
        log.info("worker %s stopped (%d processed)", self.name, self.processed)

    def host_beat(self, worked: bool) -> None:
        """The host's heartbeat (for its /healthz), at most every ``heartbeat`` seconds."""
        from association.hosting.models import HostWorkerHeartbeat

        if not worked and time.monotonic() - self._host_beat_at < self.heartbeat:
            return
        with self.app.app_context():
            try:
                beat(self.name, self.started_at, self.processed, worked, HostWorkerHeartbeat)
                self._host_beat_at = time.monotonic()
            except Exception:  # noqa: BLE001 - no heartbeat: /healthz says so
                db.session.rollback()
                log.exception("worker %s: the host's heartbeat not written", self.name)

    def tenants(self) -> list:
        """The associations served (not archived), or the one it was started for."""
        from association.hosting import catalogue

        with self.app.app_context():
            try:
                served = catalogue.served(self.app)
            except Exception:  # noqa: BLE001 - the catalogue away: tried again
                log.exception("worker %s: the catalogue could not be read", self.name)
                return []
        if self.only is not None:
            served = [t for t in served if t.short == self.only]
        return served

    def turn(self, tenant, last_beat: dict[str, float]) -> tuple[int, bool]:
        """One association's steps and heartbeat; returns the work done and whether a
        step failed."""
        from association.hosting.tenancy import use

        done, failed = 0, False
        with use(tenant, self.app):
            try:
                done = run_steps(self.stopping.is_set)
            except Exception:  # noqa: BLE001 - the work stays stored: tried again
                db.session.rollback()
                log.exception("worker %s: a step failed in %s", self.name, tenant.short)
                failed = True
            self.processed += done
            if done or time.monotonic() - last_beat.get(tenant.slug, 0.0) >= self.heartbeat:
                try:
                    beat(self.name, self.started_at, self.processed, worked=bool(done))
                    last_beat[tenant.slug] = time.monotonic()
                except Exception:  # noqa: BLE001 - no heartbeat: /healthz says so
                    db.session.rollback()
                    log.exception("worker %s: heartbeat not written in %s", self.name,
                                  tenant.short)
        return done, failed


@click.command("worker")
@click.option("--name", default="worker", show_default=True,
              help="The heartbeat's name: give each worker running at once its own.")
@click.option("--poll", default=POLL_SECONDS, show_default=True, type=click.FloatRange(0.01, 60),
              help="Seconds an idle worker sleeps before it looks for work again.")
@click.option("--association", "only", metavar="SHORT", default=None,
              help="Work for this association only (by default: every one not archived).")
@with_appcontext
def worker_command(name, poll, only):
    """Process background work (the M-Pesa callbacks stored by the app, the STK prompts
    whose callback is late) until stopped.

    Run it beside the app (``make run`` does; in production as a service). SIGTERM or
    Ctrl-C stops it once the batch under way is committed.
    """
    worker = Worker(current_app._get_current_object(), name[:60], poll,
                    only=only.upper() if only else None)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()
