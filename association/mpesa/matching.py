"""Which member an M-Pesa payment belongs to: account number, phone, or hashed phone.

Members type their member number as the paybill account (``MLK-0042``) in every
way a phone keyboard allows: ``mlk 42``, ``MLK0042``, ``Mlk-042``, ``42``,
``0042``, even ``MLKO42`` (a letter O for a zero). Some type their phone number
instead, and Daraja now sends the payer's number only as a SHA-256 hash of its
``2547XXXXXXXX`` form. The rules, in order:

1. **A member number in the account reference decides.** With the association's
   prefix (``MLK 42``) it names that member whatever the payer's phone (people
   pay for a spouse or a tenant). A number with our prefix that no member has
   matches nobody: the money waits in suspense rather than being guessed onto
   the payer. Two different member numbers in one reference match nobody.
2. **Bare digits** (``42``) name member 42, unless the payer's phone belongs to a
   *different* member: that is two members, and we never guess between two.
3. **A phone number as the account** names the member with that phone.
4. Otherwise the **payer's phone**, then the **hashed MSISDN**.

Members who have left are matched by their member number (they may be clearing
arrears, and numbers are never reused) but never by phone: Safaricom recycles
lines, so a left member's old number may now be someone else's. Active and
suspended members are matched every way.

Matching uses an in-memory index of every member's number and phone hashes,
built once and reused while the register is unchanged (a count/max query
checks), so a callback or a 10,000-row statement costs no per-row query.
"""

import enum
import hashlib
import re
import threading
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.core.phones import InvalidPhoneError, normalise_phone
from association.extensions import db
from association.hosting.tenancy import cache_key
from association.members.models import Member, MemberStatus

#: Member numbers as people type them, once spaces, dashes and dots are gone.
_NUMBER_RE = re.compile(r"^([A-Z]{2,6})?(\d{1,7})$")
_SEPARATORS_RE = re.compile(r"[\s\-_./#:]+")
_O_DIGITS_RE = re.compile(r"^[O0-9]*[0-9]$")
_HASH_RE = re.compile(r"^[0-9a-fA-F]{64}$")
#: A phone typed as an account: digits, maybe a plus, 9 to 13 digits long.
_PHONE_RE = re.compile(r"^\+?\d{9,13}$")
_KENYAN_MOBILE_RE = re.compile(r"^(?:\+?254|0)?([17]\d{8})$")
#: Longest account reference read (Daraja allows 20, an SMS or statement may hold more).
MAX_REFERENCE = 60


class MatchedBy(enum.StrEnum):
    """How a payment was tied to its member."""

    ACCOUNT_NUMBER = "account_number"  # the member number typed as the account
    ACCOUNT_PHONE = "account_phone"  # the member's phone typed as the account
    PAYER_PHONE = "payer_phone"  # the phone the money came from
    PAYER_HASH = "payer_hash"  # the hashed phone Daraja sends
    TREASURER = "treasurer"  # chosen by hand in a preview or the suspense queue


@dataclass(frozen=True)
class Match:
    """The outcome of matching: a member id and how, or why there is none."""

    member_id: int | None
    by: MatchedBy | None = None
    #: Why nothing matched when something was named (a lazy translated message).
    problem: object | None = None

    def __bool__(self) -> bool:
        return self.member_id is not None


NO_MATCH = Match(None)


def msisdn_hash(phone_e164: str) -> str:
    """The hash Daraja sends for a payer: SHA-256 hex of ``2547XXXXXXXX`` (no plus)."""
    return hashlib.sha256(phone_e164.lstrip("+").encode("ascii")).hexdigest()


def _phone_hashes(phone_e164: str) -> set[str]:
    """Hashes of the forms the payer's number might have been hashed in.

    Safaricom's form is ``2547XXXXXXXX``; ``+2547...`` and ``07...`` are also
    indexed, defensively, since the exact form is documented only by third parties.
    """
    digits = phone_e164.lstrip("+")
    forms = {digits, phone_e164}
    if digits.startswith("254"):
        forms.add("0" + digits[3:])
    return {hashlib.sha256(form.encode("ascii")).hexdigest() for form in forms}


def payer_phone(text: str | None) -> str | None:
    """A payer's phone in E.164, or None when absent, masked or not a phone."""
    text = (text or "").strip()
    compact = _SEPARATORS_RE.sub("", text)
    if not text or not _PHONE_RE.match(compact):
        return None
    fast = _KENYAN_MOBILE_RE.match(compact)
    if fast:  # the common case, without the cost of a full parse (statements have thousands)
        return "+254" + fast.group(1)
    try:
        return normalise_phone(text)
    except InvalidPhoneError:
        return None


class MemberIndex:
    """Every member's number, sequence, phone and phone hashes, for matching in memory."""

    def __init__(self, rows):
        self.by_number: dict[str, int] = {}
        self.by_seq: dict[int, int] = {}
        self.by_phone: dict[str, int] = {}
        self.by_hash: dict[str, int] = {}
        self.prefixes: set[str] = set()
        for member_id, seq, member_no, phone, status in rows:
            self.by_number[member_no.upper()] = member_id
            self.by_seq[seq] = member_id
            prefix = member_no.rsplit("-", 1)[0].upper()
            if prefix.isalpha():
                self.prefixes.add(prefix)
            if phone and status != MemberStatus.LEFT:
                self.by_phone[phone] = member_id
                for digest in _phone_hashes(phone):
                    self.by_hash[digest] = member_id
        self._compile_prefixes()

    def _compile_prefixes(self) -> None:
        self._prefix_re = None
        if self.prefixes:
            alternatives = "|".join(sorted(map(re.escape, self.prefixes), key=len, reverse=True))
            self._prefix_re = re.compile(
                rf"(?<![A-Z0-9])({alternatives})[\s\-_./#:]*([O0-9]{{1,8}})(?![A-Z0-9])")

    @classmethod
    def load(cls) -> "MemberIndex":
        rows = db.session.execute(
            sa.select(Member.id, Member.seq, Member.member_no, Member.phone, Member.status)
        ).all()
        return cls(rows)

    # --- lookups (in memory here; LiveLookup asks the database) ----------------------

    def number_id(self, member_no: str) -> int | None:
        return self.by_number.get(member_no)

    def seq_id(self, seq: int) -> int | None:
        return self.by_seq.get(seq)

    def phone_id(self, phone_e164: str) -> int | None:
        return self.by_phone.get(phone_e164)

    def hash_id(self, digest: str) -> int | None:
        return self.by_hash.get(digest)

    # --- the account reference -------------------------------------------------------

    def _number(self, prefix: str | None, digits: str) -> int | None:
        seq = int(digits)
        if prefix:
            return self.number_id(f"{prefix}-{seq:04d}")
        return self.seq_id(seq)

    def _fix_letter_o(self, compact: str) -> str:
        """"MLKO42" and "MLK0O42": the letter O typed for a zero after our prefix."""
        for prefix in sorted(self.prefixes, key=len, reverse=True):
            if compact.startswith(prefix):
                rest = compact[len(prefix):]
                if _O_DIGITS_RE.match(rest):
                    return prefix + rest.replace("O", "0")
                break
        return compact

    def from_reference(self, reference: str) -> tuple[Match | None, bool]:
        """Match the account reference alone.

        Returns:
            (match, bare): ``match`` is None when the reference names nothing we
            can use (empty, free text, a foreign prefix, an unknown phone), a
            ``Match`` without a member when it names something that does not exist
            or is ambiguous; ``bare`` says it was bare digits (rule 2).
        """
        text = " ".join(reference.split()).upper()[:MAX_REFERENCE]
        if not text:
            return None, False
        compact = self._fix_letter_o(_SEPARATORS_RE.sub("", text))
        whole = _NUMBER_RE.match(compact)
        if whole is not None:
            prefix, digits = whole.groups()
            if prefix is None:
                member_id = self._number(None, digits)
                if member_id is not None:
                    return Match(member_id, MatchedBy.ACCOUNT_NUMBER), True
                return None, True  # a house number, a month...: not ours to decide
            if prefix in self.prefixes:
                member_id = self._number(prefix, digits)
                if member_id is not None:
                    return Match(member_id, MatchedBy.ACCOUNT_NUMBER), False
                return Match(None, problem=_l(
                    "No member has the number %(number)s typed as the account.",
                    number=reference.strip()[:MAX_REFERENCE])), False
            return None, False  # another prefix ("HSE 12"): not a member number
        if _PHONE_RE.match(compact):
            phone = payer_phone(compact)
            member_id = self.phone_id(phone) if phone else None
            if member_id is not None:
                return Match(member_id, MatchedBy.ACCOUNT_PHONE), False
            return None, False
        return self._from_free_text(text, reference), False

    def _from_free_text(self, text: str, reference: str) -> Match | None:
        """Member numbers written inside other words: "MLK 42 NOV", "dues mlk-0042"."""
        if self._prefix_re is None:
            return None
        found = set()
        for prefix, digits in self._prefix_re.findall(text):
            if not _O_DIGITS_RE.match(digits):
                continue
            digits = digits.replace("O", "0")
            found.add((prefix, int(digits), self._number(prefix, digits)))
        if not found:
            return None
        members = {member_id for _, _, member_id in found}
        if len(found) == 1 or len(members) == 1:
            member_id = members.pop()
            if member_id is None:
                return Match(None, problem=_l(
                    "No member has the number %(number)s typed as the account.",
                    number=reference.strip()[:MAX_REFERENCE]))
            return Match(member_id, MatchedBy.ACCOUNT_NUMBER)
        return Match(None, problem=_l(
            "The account %(account)s names more than one member number.",
            account=reference.strip()[:MAX_REFERENCE]))

    # --- the whole rule ----------------------------------------------------------------

    def payer(self, phone: str | None, hashed: str | None) -> Match:
        """The member whose phone paid: by the number when shown, else by its hash."""
        phone_e164 = payer_phone(phone)
        if phone_e164 and (member_id := self.phone_id(phone_e164)) is not None:
            return Match(member_id, MatchedBy.PAYER_PHONE)
        hashed = (hashed or "").strip()
        if _HASH_RE.match(hashed):
            member_id = self.hash_id(hashed.lower())
            if member_id is not None:
                return Match(member_id, MatchedBy.PAYER_HASH)
        else:
            # Some payloads (the sandbox, older shortcodes) carry the plain number.
            phone_e164 = payer_phone(hashed)
            if phone_e164 and (member_id := self.phone_id(phone_e164)) is not None:
                return Match(member_id, MatchedBy.PAYER_PHONE)
        return NO_MATCH

    def match(self, account_reference: str | None, phone: str | None = None,
              msisdn_hash: str | None = None) -> Match:
        """Apply the module's rules; see its docstring."""
        named, bare = self.from_reference(str(account_reference or ""))
        if named is not None and not bare:
            return named
        payer = self.payer(phone, msisdn_hash)
        if named is not None:  # bare digits naming a member
            if payer and payer.member_id != named.member_id:
                return Match(None, problem=_l(
                    "The account %(account)s and the payer's phone belong to two different "
                    "members.", account=str(account_reference).strip()[:MAX_REFERENCE]))
            return named
        return payer


class LiveLookup(MemberIndex):
    """One payment's matching (a callback): indexed queries, plus the cached hash index.

    Member numbers and phones are unique, indexed columns: asking the database
    costs less than checking that a cached index is still current. Only the
    hashed MSISDN needs every member's hash; a hit in the cached index is checked
    against the member's current phone, and a miss rebuilds the index when the
    register changed since it was built.
    """

    def __init__(self, prefixes: set[str]):
        self.prefixes = set(prefixes)
        self._compile_prefixes()

    def number_id(self, member_no: str) -> int | None:
        return db.session.scalar(sa.select(Member.id).where(Member.member_no == member_no))

    def seq_id(self, seq: int) -> int | None:
        return db.session.scalar(sa.select(Member.id).where(Member.seq == seq))

    def phone_id(self, phone_e164: str) -> int | None:
        return db.session.scalar(sa.select(Member.id).where(
            Member.phone == phone_e164, Member.status != MemberStatus.LEFT))

    def hash_id(self, digest: str) -> int | None:
        cached = _cache.get(_cache_key())
        if cached is not None:
            member_id = cached[1].by_hash.get(digest)
            if member_id is not None and self._still_hashes_to(member_id, digest):
                return member_id
        member_id = current_index().by_hash.get(digest)
        if member_id is not None and self._still_hashes_to(member_id, digest):
            return member_id
        return None

    @staticmethod
    def _still_hashes_to(member_id: int, digest: str) -> bool:
        row = db.session.execute(
            sa.select(Member.phone, Member.status).where(Member.id == member_id)).first()
        return (row is not None and row.phone is not None and row.status != MemberStatus.LEFT
                and digest in _phone_hashes(row.phone))


_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple, MemberIndex]] = {}


def clear_cache() -> None:
    """Forget every member index built so far (a test's or a benchmark's fresh database)."""
    with _cache_lock:
        _cache.clear()


def _cache_key() -> str:
    """One index per association (PostgreSQL's associations share an engine URL)."""
    return cache_key()


def _fingerprint() -> tuple:
    """Changes whenever a member is added, removed, or edited (phone, status)."""
    row = db.session.execute(
        sa.select(sa.func.count(Member.id), sa.func.max(Member.id), sa.func.max(Member.updated_at))
    ).one()
    return tuple(str(value) for value in row)


def current_index() -> MemberIndex:
    """The whole member index for this database, rebuilt only when the register changed.

    For batches (a statement, a preview): one fingerprint query, then no query per row.
    """
    key = _cache_key()
    fingerprint = _fingerprint()
    cached = _cache.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    index = MemberIndex.load()
    with _cache_lock:
        _cache[key] = (fingerprint, index)
    return index


def _live_lookup() -> LiveLookup:
    from association.profile.services import get_profile

    prefixes = set()
    cached = _cache.get(_cache_key())
    if cached is not None:
        prefixes |= cached[1].prefixes
    profile = get_profile()
    if profile is not None and profile.short_code:
        prefixes.add(profile.short_code.upper())
    return LiveLookup(prefixes)


def find_match(account_reference: str | None, phone: str | None = None,
               msisdn_hash: str | None = None) -> Match:
    """Match one payment to a member id, saying how (or why not)."""
    return _live_lookup().match(account_reference, phone, msisdn_hash)


def match_member(account_reference: str | None, phone: str | None = None,
                 msisdn_hash: str | None = None) -> Member | None:
    """The member an M-Pesa payment belongs to, or None (never a guess between two).

    Args:
        account_reference: what the payer typed as the account (BillRefNumber,
            AccountReference, the SMS's "Account Number", the statement's "A/C No.").
        phone: the payer's phone as shown (any Kenyan form); masked numbers are ignored.
        msisdn_hash: Daraja's hashed MSISDN (SHA-256 hex); a plain number also works.
    """
    found = find_match(account_reference, phone, msisdn_hash)
    return db.session.get(Member, found.member_id) if found else None
