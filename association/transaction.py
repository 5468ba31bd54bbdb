"""The request's transaction: committed once, at its end, or rolled back, here alone.

The rule, for every view (as Indico's request handler does it):

- A view that returns normally with a status below 400 has its work committed when the
  response is made (:func:`_finish`), before the client can follow a redirect.
- An exception, or a response with a status of 400 or more, rolls everything back.
- A view that catches a :class:`~association.errors.DomainError` (or another refusal) and
  reports it on a page or by a flash calls :func:`discard`: what the request wrote so far
  is rolled back at once (so the page it renders reads the database as it stands) and
  nothing more is committed at the end.
- A commit that fails at the end (a unique key taken meanwhile, SQLite's write lock not
  had in time, PostgreSQL's serialisation failure) is rolled back and answered with the
  error page (409 or 503, "nothing was saved"), not a traceback.

Services flush and never commit. The one exception is :func:`commit_now`, for a request
that must have its work on record before it calls another system or answers one (an STK
push: Daraja may call back before it answers, and no transaction may be held while we wait;
a paybill validation's outcome, on record before Daraja gets the answer); each caller says
why. CLI commands, the worker process (``association.worker``) and the M-Pesa inbox's
group commit (``association.mpesa.inbox``: a callback is stored before it is acknowledged)
are boundaries of their own.

Reads do not write: a GET or HEAD request begins its transactions deferred on SQLite
(plain ``BEGIN``: no write lock, no place in the writers' queue, see
:mod:`association.database`), so page views and long exports run beside the writers. The
one write a GET may make is the audit of what was read or exported (``log_event``): its
events are written at the end in a fresh transaction of their own that takes the write lock
at once (:func:`writing`), after the read transaction ended, so a writer that committed
meanwhile cannot make it fail (SQLite WAL's ``SQLITE_BUSY_SNAPSHOT``). Nothing else: work a
page view would set off (a pending STK prompt asked about at Daraja) is the worker's, and
the page shows what it recorded.
"""

import contextlib
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, render_template, request
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from association.audit.services import take_waiting_events, write_events
from association.database import reads_only, writing
from association.extensions import db

__all__ = ["after_commit", "commit_now", "discard", "end_read", "install", "own_transaction",
           "reads_only", "writing"]


def discard() -> None:
    """Undo what this request wrote: a view calls it when it reports a refusal instead of
    doing the work. Nothing more is committed at the end of the request."""
    db.session.rollback()
    if has_request_context():
        g.transaction_discarded = True


def commit_now() -> None:
    """Commit before the request ends: only for work that must be on record before another
    system is called (the caller says why). The rest of the request commits at its end."""
    db.session.commit()
    if has_request_context():
        g.pop("transaction_discarded", None)


def after_commit(work: Callable[[], object]) -> None:
    """Run ``work`` once the request's work is committed (not at all if it is rolled back):
    for what must not happen unless the database has it (a staged upload removed once its
    rows are in). Outside a request, at once: the caller commits first."""
    if has_request_context():
        g.setdefault("transaction_after_commit", []).append(work)
    else:
        work()


def end_read() -> None:
    """End the request's transaction before a write that must not share its fate (a login
    attempt's counter, kept although the failed login is discarded), when it has only read:
    on SQLite a form post's transaction holds the write lock from its first query, and the
    other transaction would wait for it until it gave up. Refuses after a write: that work
    is the request's, to commit or discard at its end."""
    session = db.session()
    if not session.in_transaction():
        return
    if _wrote(session):
        raise RuntimeError("the request has written: its transaction cannot end here")
    session.rollback()


@contextlib.contextmanager
def own_transaction() -> Iterator[sa.Connection]:
    """A connection in a transaction of its own, committed at once, for what must stay
    although the request's work is discarded or has ended (a login attempt counted, a
    wrong second-factor code counted, a session's "last seen"). The request's transaction
    ends first when it has only read (:func:`end_read`)."""
    if has_request_context():
        end_read()
    with writing(), db.engine.begin() as conn:
        yield conn


# --- What a request wrote ---------------------------------------------------------------


def _mark_written(session: Session) -> None:
    session.info["transaction_wrote"] = True


def _after_flush(session: Session, flush_context) -> None:
    if session.new or session.dirty or session.deleted:
        _mark_written(session)


def _on_execute(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _mark_written(state.session)


def _transaction_ended(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("transaction_wrote", None)


def _wrote(session: Session) -> bool:
    return bool(session.info.get("transaction_wrote") or session.new or session.dirty
                or session.deleted)


def _audit_only(session: Session) -> list[tuple] | None:
    """The waiting audit events of a transaction that wrote nothing else (a GET's read
    audit), taken out of it; None when it wrote rows (they commit with it)."""
    if _wrote(session):
        return None
    return take_waiting_events(session) or None


# --- The boundary -----------------------------------------------------------------------


def _failure_page(error: Exception):
    """The error page for a commit that failed: nothing was saved; the user tries again."""
    current_app.logger.warning("commit failed at the end of %s %s: %s", request.method,
                               request.path, type(error).__name__)
    code = 409 if isinstance(error, IntegrityError) else 503
    return current_app.make_response((render_template("errors/error.html", code=code), code))


def _commit(session: Session) -> None:
    if not reads_only():
        session.commit()
        return
    events = _audit_only(session)
    if events is None:
        if _wrote(session):  # not meant to happen: a GET that wrote (see the docstring)
            session.commit()
        else:
            session.rollback()  # it only read: nothing to commit
        return
    # A read's audit: the read transaction ends first, then the events are chained in a
    # transaction that holds the write lock from its start.
    session.rollback()
    with writing():
        write_events(session.connection(), events)
        session.commit()


def _finish(response):
    session = db.session()
    then = g.pop("transaction_after_commit", [])
    if response.status_code >= 400 or g.pop("transaction_discarded", False):
        session.rollback()
        return response
    if session.in_transaction():
        try:
            _commit(session)
        except DBAPIError as error:  # IntegrityError, OperationalError (locked, serialisation)
            session.rollback()
            return _failure_page(error)
    for work in then:
        work()
    return response


def _end(error: BaseException | None) -> None:
    if error is not None:
        db.session.rollback()


def install(app: Flask) -> None:
    """Commit each request at its end, or roll it back (see the module's docstring)."""
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)
        event.listen(session_class, "do_orm_execute", _on_execute)
        event.listen(session_class, "after_transaction_end", _transaction_ended)
    # Flask runs the after_request hooks in the reverse order of their registration:
    # registered after the others (create_app calls this last), the commit runs before
    # them, so the error page of a failed commit still gets the security headers.
    app.after_request(_finish)
    app.teardown_request(_end)
