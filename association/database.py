"""Database engine settings that the ORM does not set for us."""

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

#: How long a transaction waits for SQLite's write lock before giving up.
SQLITE_WAIT_SECONDS = 30

#: Methods whose requests only read: their transactions begin deferred on SQLite.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Set inside :func:`writing`: the transactions begun there take the write lock at once.
_writing: ContextVar[bool] = ContextVar("database_writing", default=False)
#: Set inside :func:`reading`: the transactions begun there only read.
_reading: ContextVar[bool] = ContextVar("database_reading", default=False)


def reads_only() -> bool:
    """True when transactions begun now only read: in a GET or HEAD request or inside
    :func:`reading`, and not inside :func:`writing`. The CLI, the worker process and form
    posts write."""
    if _writing.get():
        return False
    return _reading.get() or (has_request_context() and request.method in READ_METHODS)


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Transactions begun inside only read (a command's long export): on SQLite they take
    no write lock. End the transaction before writing (its audit, say)."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Transactions begun inside take SQLite's write lock at their start, even in a GET."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def engine_options(url: str, options: dict) -> dict:
    """``options`` with the connection arguments this app needs for the database at ``url``.

    - PostgreSQL: psycopg prepares repeated statements, and PostgreSQL then plans them
      generically: a member's statement went from 1 ms to 700 ms. Each query is planned
      for its values (a keyed lookup may opt in: :func:`execute_prepared`).
    - SQLite: writers queue for the write lock in the app, not in SQLite's sleeps
      (:class:`WriterQueueConnection`).
    - Every database: an error names its statement, never the row's values (a member's
      phone or ID number would reach the log, the inbox's error column, the reconcile output).
    """
    options = {**options, "hide_parameters": True}
    if url.startswith("postgresql"):
        extra = {"prepare_threshold": None}
    elif url.startswith("sqlite"):
        extra = {"factory": WriterQueueConnection}
    else:
        return options
    return {**options, "connect_args": {**options.get("connect_args", {}), **extra}}


def configure_sqlite(engine: Engine) -> None:
    """Real transactions on SQLite, as the SQLAlchemy docs recommend for pysqlite.

    pysqlite's own transaction handling breaks SAVEPOINT, so it is switched off
    and the app begins its transactions itself:

    - A transaction that may write starts with ``BEGIN IMMEDIATE``: it takes the
      write lock at once, so two writers queue instead of failing when one read
      before the other wrote (WAL's ``SQLITE_BUSY_SNAPSHOT``: a transaction that
      has read cannot take the lock once another writer has committed): in the
      app's :class:`WriterQueueConnection` (see :func:`engine_options`), else in
      SQLite's busy wait. The CLI, the worker process and form posts write.
    - A GET or HEAD request's transaction, or a command's long export (:func:`reading`),
      starts with a plain ``BEGIN`` (:func:`reads_only`): no write lock, no place in the
      writers' queue; WAL gives it a snapshot while the writers go on, however long it
      reads. Its one write, the audit of what
      it read, is made after it in a transaction of its own (:func:`writing`, used by
      :mod:`association.transaction`).

    Foreign keys are enforced.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_WAIT_SECONDS * 1000}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        dbapi_connection = conn.connection.dbapi_connection
        if reads_only():
            conn.exec_driver_sql("BEGIN")
        elif isinstance(dbapi_connection, WriterQueueConnection):
            dbapi_connection.begin_immediate()
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class _WriterQueue:
    """The app's writers to one SQLite file, one at a time, handed on without SQLite's sleeps.

    SQLite's own wait for its write lock (the busy timeout) sleeps 1, 2, 5, 10,
    then up to 100 ms between tries: with a dozen threads writing (M-Pesa's
    callbacks in a burst), the lock often stood free while its waiters slept, and
    the two cores were half idle (bench/mpesa_callbacks.py: 150 a second; 190 with
    this queue, the lock then held 89% of the time). Here the threads of a process
    queue on a lock of their own (the next one woken at once), and the one at the
    front of each process takes a file lock (``flock``, beside the database)
    before ``BEGIN IMMEDIATE``, trying every half millisecond: SQLite's wait is
    then only for writers outside the app.
    """

    def __init__(self, path: str):
        self.path = path + "-writers"
        self.pid = os.getpid()
        self.threads = threading.Lock()
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self) -> None:
        deadline = time.monotonic() + SQLITE_WAIT_SECONDS
        if not self.threads.acquire(timeout=SQLITE_WAIT_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        try:
            while True:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise sqlite3.OperationalError("database is locked") from None
                    time.sleep(0.0005)
        except BaseException:
            self.threads.release()
            raise

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.threads.release()


_queues: dict[str, _WriterQueue] = {}
_queues_lock = threading.Lock()


def _writer_queue(path: str) -> _WriterQueue:
    """The process's queue for the database file at ``path``: a forked process (a gunicorn
    worker) opens its own, since a lock held on an inherited file would be the parent's."""
    with _queues_lock:
        queue = _queues.get(path)
        if queue is None or queue.pid != os.getpid():
            queue = _queues[path] = _WriterQueue(path)
        return queue


class WriterQueueConnection(sqlite3.Connection):
    """A pysqlite connection whose transactions queue for the write lock (see
    :class:`_WriterQueue`) and let the next one go as soon as they end, however they end."""

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        path = os.fspath(database)
        self._queue = None if path == ":memory:" or path.startswith("file:") \
            else _writer_queue(os.path.realpath(path))
        self._queued = False

    def begin_immediate(self) -> None:
        if self._queue is not None:
            self._queue.acquire()
            self._queued = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._let_go()
            raise

    def _let_go(self) -> None:
        if self._queued:
            self._queued = False
            self._queue.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._let_go()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._let_go()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._let_go()


def execute_prepared(session, statement, params: dict):
    """``session.execute``, with PostgreSQL keeping the query's plan for the connection.

    The app has PostgreSQL plan every query for its values (:func:`engine_options`: a
    member's statement planned once for all members took 700 ms). A query that
    only follows keys (a receipt, its payment, its member) has one best plan
    whatever the values, and planning its joins took longer than running them:
    such a query is run here as a prepared statement, which PostgreSQL plans for
    its values for five runs, then once for good. SQLite plans cheaply: nothing to do.
    """
    driver = session.connection().connection.driver_connection
    if not hasattr(driver, "prepare_threshold"):
        return session.execute(statement, params)
    before, driver.prepare_threshold = driver.prepare_threshold, 0
    try:
        return session.execute(statement, params)
    finally:
        driver.prepare_threshold = before


