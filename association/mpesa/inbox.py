"""The M-Pesa inbox: Daraja's callbacks stored raw, durably, before they are acknowledged.

Every body that reaches a callback address with the right token (:func:`token_ok`;
a sender outside ``MPESA_ALLOWED_IPS`` is stored as refused) is written to the
append-only :class:`CallbackInbox` and committed (:func:`keep`, which groups the bodies
a process's threads store at the same moment into one transaction) before anything
else, so a crash after the acknowledgement (:func:`acknowledgement`) never loses a
payment. The inbox guard refuses any change to, or deletion of, a stored body. What
the bodies say is processed later, by :mod:`association.mpesa.processing`.
"""

import os
import threading
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm.attributes import get_history

from association.audit.services import insert_audited
from association.core.time import utcnow
from association.errors import DomainError
from association.extensions import db
from association.hosting.addresses import public_base_url
from association.hosting.tenancy import cache_key, current
from association.mpesa.models import CallbackInbox, CallbackKind
from association.mpesa.provider import allowed_callback_ips
from association.mpesa.settings import mpesa_settings, sharing
from association.mpesa.settings import token_ok as settings_token_ok

#: The largest callback body kept; Daraja's are under 2 KB.
MAX_BODY = 64 * 1024

#: Our callback paths, without "mpesa" (Daraja refuses URLs containing it) for the URLs
#: we give Daraja; the /mpesa/... spellings route to the same views.
HOOK_PATHS = {
    CallbackKind.STK: "/hooks/stk/callback/",
    CallbackKind.C2B_VALIDATION: "/hooks/c2b/validation/",
    CallbackKind.C2B_CONFIRMATION: "/hooks/c2b/confirmation/",
    CallbackKind.STATUS_RESULT: "/hooks/status/result/",
    CallbackKind.STATUS_TIMEOUT: "/hooks/status/timeout/",
}


class InboxChangeError(DomainError):
    """Someone tried to change what a stored callback said, or to delete it."""


#: What a stored callback said: never changed once written.
_INBOX_FROZEN = ("kind", "raw_body", "remote_addr", "received_at")


def _refuse_inbox_rewrites(session, flush_context, instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, CallbackInbox):
            raise InboxChangeError(_l("Stored M-Pesa callbacks are never deleted."))
    for obj in session.dirty:
        # get_history, not inspect(obj).attrs: that builds every attribute's state first,
        # and this runs for each body a batch marks processed (a tenth of a batch's time).
        if isinstance(obj, CallbackInbox) and any(
                get_history(obj, name).has_changes() for name in _INBOX_FROZEN):
            raise InboxChangeError(_l("A stored M-Pesa callback is never changed."))


def install_inbox_guard() -> None:
    """Keep the inbox append-only at every flush of the app's sessions (idempotent)."""
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "before_flush", _refuse_inbox_rewrites):
        event.listen(session_class, "before_flush", _refuse_inbox_rewrites)


install_inbox_guard()

def callback_url(kind: CallbackKind) -> str:
    """The full URL Daraja should call for ``kind``: in the chosen association's public
    site, with its own callback token."""
    return (public_base_url(from_request=False) + HOOK_PATHS[kind]
            + (mpesa_settings()["MPESA_CALLBACK_TOKEN"] or ""))


def c2b_urls() -> tuple[str, str]:
    """The (confirmation, validation) URLs to register for the chosen association's
    paybill: its own, or the host's when it shares the paybill with another association
    (Safaricom registers one pair of URLs per shortcode)."""
    from association.hosting import mpesa_routing

    if len(sharing(current())) > 1:
        return mpesa_routing.shared_urls()
    return (callback_url(CallbackKind.C2B_CONFIRMATION),
            callback_url(CallbackKind.C2B_VALIDATION))


def token_ok(token: str) -> bool:
    """Whether ``token`` is the chosen association's callback secret (constant time)."""
    return settings_token_ok(token)


def address_allowed(remote_addr: str | None) -> bool:
    allowed = allowed_callback_ips()
    return allowed is None or (remote_addr or "") in allowed


@dataclass(frozen=True)
class Stored:
    """A body just stored in the inbox: its row, and whether its sender was refused."""

    id: int
    refused: bool


def store(kind: CallbackKind, raw: bytes, remote_addr: str | None) -> Stored:
    """Keep the body exactly as it came, in one audited INSERT (the caller commits at once).

    A plain INSERT, not the ORM's unit of work: this runs for every callback before
    it is acknowledged, and the unit of work cost more than the write itself.
    """
    return _store_many([(kind, raw, remote_addr)])[0]


def _store_many(bodies: list[tuple[CallbackKind, bytes, str | None]]) -> list[Stored]:
    now = utcnow()
    rows = []
    for kind, raw, remote_addr in bodies:
        refused = not address_allowed(remote_addr)
        rows.append({
            "kind": kind, "raw_body": raw, "remote_addr": (remote_addr or "")[:64] or None,
            "received_at": now, "key": None, "attempts": 0,
            "processed_at": now if refused else None,
            "outcome": "refused_address" if refused else None,
            "error": "address not in MPESA_ALLOWED_IPS" if refused else None})
    ids = insert_audited(CallbackInbox, rows)
    return [Stored(row_id, refused=row["outcome"] is not None)
            for row_id, row in zip(ids, rows, strict=True)]


def keep(kind: CallbackKind, raw: bytes, remote_addr: str | None) -> Stored:
    """Store the body and commit it, with the bodies this process's other threads are
    keeping at the same moment: one transaction (and one sync to disk) for them all.

    Raises:
        InboxWriteError: the transaction holding this body failed; nothing of it is kept.
    """
    if db.session().in_transaction():
        # Holding a transaction (on SQLite, the write lock) while waiting for another
        # thread's could deadlock: stored in it, alone.
        stored = store(kind, raw, remote_addr)
        db.session.commit()
        return stored
    return _inbox_writer(current_app).keep((kind, raw, remote_addr))


class InboxWriteError(RuntimeError):
    """The transaction storing a batch of callback bodies failed (none of them is kept)."""


@dataclass
class _Keeping:
    """A body waiting to be stored, and once ``done``, where (None: it was not)."""

    body: tuple
    stored: Stored | None = None
    done: bool = False


class _InboxWriter:
    """Group commit for the inbox, one per association and process.

    A thread that finds no write under way takes every body waiting and commits them
    in its own transaction; the threads whose bodies it took wait for that commit
    rather than begin their own. On SQLite, where every writer waits for the one
    write lock, a burst of callbacks then pays one lock, one audit head and one
    sync to disk for several bodies, not one each.
    """

    def __init__(self):
        self.cond = threading.Condition()
        self.waiting: list[_Keeping] = []
        self.writing = False

    def keep(self, body: tuple) -> Stored:
        mine = _Keeping(body)
        with self.cond:
            self.waiting.append(mine)
            self.cond.wait_for(lambda: mine.done or not self.writing)
            batch = []
            if not mine.done:
                self.writing = True
                batch, self.waiting = self.waiting, []
        if batch:
            self._write(batch)  # raises its own error for this thread
        if mine.stored is None:
            raise InboxWriteError("the callback was not stored: its transaction failed")
        return mine.stored

    def _write(self, batch: list[_Keeping]) -> None:
        stored: list[Stored | None] = [None] * len(batch)
        try:
            stored = _store_many([each.body for each in batch])
            db.session.commit()
        except BaseException:
            db.session.rollback()
            stored = [None] * len(batch)
            raise
        finally:
            with self.cond:
                for each, result in zip(batch, stored, strict=True):
                    each.stored, each.done = result, True
                self.writing = False
                self.cond.notify_all()


_INBOX_WRITERS_LOCK = threading.Lock()


def _inbox_writer(app) -> _InboxWriter:
    """This process's writer for ``app``'s chosen association (a forked worker makes its
    own). One per association: a thread writes the bodies it takes in its own
    association's transaction, so it must only ever take that association's."""
    key = cache_key()
    pid, writers = app.extensions.get("mpesa_inbox_writers", (None, {}))
    writer = writers.get(key) if pid == os.getpid() else None
    if writer is None:
        with _INBOX_WRITERS_LOCK:
            pid, writers = app.extensions.get("mpesa_inbox_writers", (None, {}))
            if pid != os.getpid():
                writers = {}
                app.extensions["mpesa_inbox_writers"] = (os.getpid(), writers)
            writer = writers.setdefault(key, _InboxWriter())
    return writer


def acknowledgement(kind: CallbackKind) -> dict:
    """The answer Daraja expects for a stored body (validation answers on its own)."""
    if kind == CallbackKind.C2B_CONFIRMATION:
        return {"ResultCode": 0, "ResultDesc": "Success"}
    return {"ResultCode": 0, "ResultDesc": "Accepted"}

