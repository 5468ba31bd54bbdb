"""The full check of the books and their trail: ``flask audit verify`` and the ``/audit``
page's "Verify everything".

1. every checkpoint (stored, and any given) carries this installation's MAC, and no
   checkpoint signs an earlier event than one made before it;
2. the chain recomputes from the first event to the head and passes through every
   checkpoint, and every event after the keyed checkpoint carries its MAC;
3. every journal entry's postings match the seal the chain holds for it;
4. every account-month total equals the sum of its postings.

The quick check of the ``/audit`` page recomputes only the events after the last
checkpoint (whose MAC it checks), with their MACs.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from association.audit.checkpoints import (
    Mark,
    checkpoints_going_back,
    last_checkpoint,
    stored_marks,
)
from association.audit.models import AuditEvent, CheckpointReason
from association.audit.services import VerifyResult, log_event, verify_chain
from association.core import dates
from association.extensions import db

#: The audit event that records a full verification's result.
VERIFIED = ("verify", "audit_trail")


@dataclass
class FullResult:
    """What :func:`verify_everything` found."""

    problems: list[str] = field(default_factory=list)
    events: int = 0
    head_hash: str = ""
    entries: int = 0
    checkpoints: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_everything(given: list[Mark] | None = None) -> FullResult:
    """Check the chain against every checkpoint, every entry against its seal and every
    month total against the postings; each problem names the first place it was found.

    Args:
        given: checkpoints kept outside the database (``--checkpoint``), checked too.
    """
    # The books are the ledger's: the audit area reaches into them here only.
    from association.ledger.journal import month_totals_differences, verify_entries

    result = FullResult()
    marks = [*stored_marks(), *(given or [])]
    result.checkpoints = len(marks)
    for mark in marks:
        if not mark.signed():
            result.problems.append(_(
                "Checkpoint at event %(seq)d does not carry this installation's signature: it "
                "was made up or changed, or the checkpoint key is not the one it was made with.",
                seq=mark.seq))
    for newer, older in checkpoints_going_back():
        result.problems.append(_(
            "A checkpoint at event %(seq)d was made after one at event %(newer)d: an older "
            "checkpoint was put back in place of a newer one.", seq=older.seq, newer=newer.seq))
    chain = verify_chain(marks=[mark for mark in marks if mark.signed()])
    result.events, result.head_hash = chain.checked, chain.head_hash
    if not chain.ok:
        result.problems.append(_("Audit trail BROKEN at event %(seq)d: %(reason)s",
                                 seq=chain.bad_seq, reason=chain.reason))
        if chain.later_bad:
            result.problems.append(_(
                "%(count)d more events after event %(seq)d fail their own check too (a hash, "
                "a link or a MAC): a known old break does not hide them.",
                count=chain.later_bad, seq=chain.bad_seq))
    entries = verify_entries()
    result.entries = entries.checked
    if not entries.ok:
        result.problems.append(_("Journal entry %(id)d: %(reason)s", id=entries.entry_id,
                                 reason=entries.problem))
    totals = month_totals_differences()
    if totals:
        account_id, month = totals[0]
        result.problems.append(_(
            "The month totals of account %(account)d for %(month)s differ from its postings "
            "(%(count)d account-months differ).",
            account=account_id, month=dates.month(month), count=len(totals)))
    return result


def record(result: FullResult) -> None:
    """Keep a full verification's result in the trail (the page shows the last one)."""
    log_event(*VERIFIED, details={"ok": result.ok, "events": result.events,
                                  "entries": result.entries, "checkpoints": result.checkpoints,
                                  "problems": result.problems[:10]})


@dataclass
class LastVerification:
    at: datetime
    actor: str
    ok: bool
    problems: list[str]


def last_verification() -> LastVerification | None:
    """The last full verification recorded, if any."""
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == VERIFIED[0],
                                    AuditEvent.object_type == VERIFIED[1])
        .order_by(AuditEvent.seq.desc()).limit(1))
    if event is None:
        return None
    details = json.loads(event.after or "{}")
    return LastVerification(event.occurred_at, event.actor, bool(details.get("ok")),
                            list(details.get("problems") or []))


@dataclass
class QuickResult:
    chain: VerifyResult
    checkpoint_made_at: datetime | None
    checkpoint_value: str | None
    checkpoint_forged: bool = False


def verify_since_last_checkpoint() -> QuickResult:
    """The events after the last checkpoint (whose MAC is checked first); from the first
    event when there is none or it is not signed."""
    checkpoint = last_checkpoint()
    if checkpoint is None:
        return QuickResult(verify_chain(), None, None)
    mark = Mark(checkpoint.seq, checkpoint.chain_hash, checkpoint.mac,
                checkpoint.why == CheckpointReason.KEYED)
    if not mark.signed():
        return QuickResult(verify_chain(), checkpoint.made_at, checkpoint.value,
                           checkpoint_forged=True)
    return QuickResult(verify_chain(since=mark), checkpoint.made_at, checkpoint.value)
