"""Every rule and every write of the members register.

``clean_member_data`` is the one place where a member's details are checked:
the member form and the register import both go through it.
"""

import re
from dataclasses import dataclass, field, replace
from datetime import date

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from association.core.phones import InvalidPhoneError, looks_like_phone, normalise_phone
from association.core.time import today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.i18n import current_language
from association.members.models import (
    Category,
    ConsentChannel,
    ConsentPurpose,
    Gender,
    Member,
    MemberConsent,
    MemberStatus,
    MemberStatusChange,
    Zone,
)

MIN_MEMBER_AGE = 18
MAX_PREMISES = 500
NATIONAL_ID_RE = re.compile(r"^[A-Z0-9]{4,20}$")
#: A member number as people type it: "MLK-0001", "mlk 1", "MLK0001", or "0001".
MEMBER_NO_RE = re.compile(r"^([A-Za-z]{2,6})?[- ]?(\d{1,7})$")

#: The words a member agrees to, per purpose; the version changes when the words do.
CONSENT_VERSION = "2026-1"
CONSENT_WORDING = {
    ConsentPurpose.REGISTER: _l(
        "I agree that the association keeps my name, phone number, ID number, zone and "
        "house in its members register, to run my membership and my contributions. Only "
        "officials see them, and I can ask to see, correct or remove them."
    ),
    ConsentPurpose.SMS: _l(
        "I agree to receive SMS messages from the association about meetings, receipts "
        "and patrols. I can stop them at any time."
    ),
    ConsentPurpose.PATROL: _l(
        "I agree that the association keeps my availability and patrol attendance, and "
        "shares my name and phone with the patrol coordinator and my patrol team."
    ),
    ConsentPurpose.PHOTOS: _l(
        "I agree that photos of me taken at association events may be shown in "
        "association reports and on its noticeboard."
    ),
}


class MemberDataError(DomainError):
    """One or more details of a member are wrong; ``problems`` maps field to message."""

    def __init__(self, problems: dict):
        super().__init__(_l("Some details need correcting."), problems=problems)
        self.problems = problems


class MemberNotFoundError(DomainError):
    """No member has that number."""


class MemberStatusError(DomainError):
    """A status change that cannot happen."""


class ConsentError(DomainError):
    """A consent that cannot be recorded or withdrawn."""


class ZoneError(DomainError):
    """A zone name that is empty or already used."""


class ProfileMissingError(DomainError):
    """Members cannot be numbered before the association has a short code."""


@dataclass
class MemberData:
    """A member's details as typed in a form or read from an import row."""

    first_name: str = ""
    other_names: str = ""
    phone: str | None = None
    national_id: str | None = None
    gender: Gender | None = None
    year_of_birth: int | None = None
    category: Category | None = None
    rental_premises: int | None = None
    zone_id: int | None = None
    plot: str | None = None
    house: str | None = None
    joined_on: date | None = None
    notes: str | None = None
    extra: dict = field(default_factory=dict)


def _blank_to_none(value):
    if isinstance(value, str):
        value = " ".join(value.split())
        return value or None
    return value


@dataclass
class TakenKeys:
    """Phones and ID numbers already on the register (value -> member id).

    Loaded once for a large batch, so checking each row costs no query.
    """

    phone: dict[str, int]
    national_id: dict[str, int]


def load_taken_keys() -> TakenKeys:
    rows = db.session.execute(sa.select(Member.id, Member.phone, Member.national_id)).all()
    return TakenKeys(
        phone={r.phone: r.id for r in rows if r.phone},
        national_id={r.national_id: r.id for r in rows if r.national_id},
    )


def clean_member_data(
    data: MemberData,
    member_id: int | None = None,
    today: date | None = None,
    taken: TakenKeys | None = None,
) -> tuple[MemberData, dict]:
    """Check and normalise a member's details.

    Args:
        data: the details as typed.
        member_id: the member being edited, so their own phone and ID are not "taken".
        today: for tests; defaults to today.
        taken: the register's phones and IDs, preloaded for a batch; else queried.

    Returns:
        The cleaned details and a dict of problems (field name -> message), empty
        when all is well.
    """
    today = today or today_in_nairobi()
    problems: dict = {}
    d = replace(
        data,
        first_name=_blank_to_none(data.first_name) or "",
        other_names=_blank_to_none(data.other_names) or "",
        phone=_blank_to_none(data.phone),
        national_id=_blank_to_none(data.national_id),
        plot=_blank_to_none(data.plot),
        house=_blank_to_none(data.house),
        notes=(data.notes or "").strip() or None,
    )
    if not d.first_name:
        problems["first_name"] = _l("The first name is missing.")
    elif len(d.first_name) > 60:
        problems["first_name"] = _l("The first name is too long (60 characters at most).")
    if not d.other_names:
        problems["other_names"] = _l("The other names (surname) are missing.")
    elif len(d.other_names) > 120:
        problems["other_names"] = _l("The other names are too long (120 characters at most).")

    if d.phone:
        try:
            d.phone = normalise_phone(d.phone)
        except InvalidPhoneError as error:
            problems["phone"] = error.message
        else:
            if _taken("phone", d.phone, member_id, taken):
                problems["phone"] = _l(
                    "Another member already has the phone number %(phone)s.", phone=d.phone
                )

    if d.national_id:
        d.national_id = d.national_id.replace(" ", "").upper()
        if not NATIONAL_ID_RE.match(d.national_id):
            problems["national_id"] = _l(
                "An ID number has 4 to 20 letters or digits, without other signs."
            )
        elif _taken("national_id", d.national_id, member_id, taken):
            problems["national_id"] = _l("Another member already has that ID number.")

    if d.year_of_birth is not None:
        if not (1900 <= d.year_of_birth <= today.year):
            problems["year_of_birth"] = _l("The year of birth is not a real year.")
        elif today.year - d.year_of_birth < MIN_MEMBER_AGE:
            problems["year_of_birth"] = _l(
                "Members must be at least %(age)d years old.", age=MIN_MEMBER_AGE
            )

    if d.category is None:
        problems["category"] = _l("Choose a category.")
    elif d.category == Category.LANDLORD:
        if not d.rental_premises or d.rental_premises < 1:
            problems["rental_premises"] = _l(
                "Enter how many rental premises this landlord has (1 or more)."
            )
        elif d.rental_premises > MAX_PREMISES:
            problems["rental_premises"] = _l(
                "That is more rental premises than one landlord can have here (%(n)d at most).",
                n=MAX_PREMISES,
            )
    else:
        d.rental_premises = None

    if d.zone_id is None or db.session.get(Zone, d.zone_id) is None:
        problems["zone_id"] = _l("Choose the member's zone.")

    if d.joined_on is None:
        problems["joined_on"] = _l("Enter the date the member joined.")
    elif d.joined_on > today:
        problems["joined_on"] = _l("The join date cannot be in the future.")
    elif d.joined_on.year < 1950:
        problems["joined_on"] = _l("The join date is too far in the past.")

    for name, limit in (("plot", 60), ("house", 60), ("notes", 2000)):
        value = getattr(d, name)
        if value and len(value) > limit:
            problems[name] = _l("Too long (%(n)d characters at most).", n=limit)
    return d, problems


def _taken(field_name: str, value, member_id: int | None, taken: TakenKeys | None) -> bool:
    """Whether another member already has this phone or ID number."""
    if taken is not None:
        owner = getattr(taken, field_name).get(value)
    else:
        owner = db.session.scalar(
            sa.select(Member.id).where(getattr(Member, field_name) == value).limit(1)
        )
    return owner is not None and owner != member_id


def _short_code() -> str:
    from association.profile.models import AssociationProfile

    code = db.session.scalar(sa.select(AssociationProfile.short_code))
    if not code:
        raise ProfileMissingError(_l("Set up the association (its short code) first."))
    return code


def format_member_no(short_code: str, seq: int) -> str:
    return f"{short_code}-{seq:04d}"


def _next_seq() -> int:
    return (db.session.scalar(sa.select(sa.func.max(Member.seq))) or 0) + 1


def _member_fields(d: MemberData) -> dict:
    return {
        "first_name": d.first_name,
        "other_names": d.other_names,
        "phone": d.phone,
        "national_id": d.national_id,
        "gender": d.gender,
        "year_of_birth": d.year_of_birth,
        "category": d.category,
        "rental_premises": d.rental_premises,
        "zone_id": d.zone_id,
        "plot": d.plot,
        "house": d.house,
        "notes": d.notes,
    }


def register_member(data: MemberData, recorded_by_id: int | None = None) -> Member:
    """Add a member with the next member number and an "active" status record.

    Raises:
        MemberDataError: when any detail is wrong (nothing is written).
        ProfileMissingError: before the association is set up.
    """
    return register_members([data], recorded_by_id)[0]


def register_members(rows: list[MemberData], recorded_by_id: int | None = None) -> list[Member]:
    """Add many members at once, numbered in order: all of them, or none.

    Raises:
        MemberDataError: when any row is wrong; ``problems`` is keyed by row index
            for more than one row.
    """
    short_code = _short_code()
    taken = load_taken_keys() if len(rows) > 1 else None
    cleaned, all_problems = [], {}
    for index, row in enumerate(rows):
        d, problems = clean_member_data(row, taken=taken)
        cleaned.append(d)
        if taken is not None:  # later rows of the batch must not reuse this phone or ID
            for name in ("phone", "national_id"):
                if getattr(d, name) and name not in problems:
                    getattr(taken, name)[getattr(d, name)] = -1 - index
        if problems:
            all_problems[index] = problems
    if all_problems:
        raise MemberDataError(all_problems[0] if len(rows) == 1 else all_problems)

    for _attempt in range(5):
        savepoint = db.session.begin_nested()
        try:
            members = _insert_numbered(cleaned, short_code, recorded_by_id)
            savepoint.commit()
            return members
        except IntegrityError:
            # Another registration took these numbers, or a phone or ID, meanwhile.
            savepoint.rollback()
            problems = {i: clean_member_data(d)[1] for i, d in enumerate(cleaned)}
            problems = {i: p for i, p in problems.items() if p}
            if problems:
                raise MemberDataError(problems[0] if len(rows) == 1 else problems) from None
    raise DomainError(_l("The register is busy. Try again in a moment."))


def _insert_numbered(
    cleaned: list[MemberData], short_code: str, recorded_by_id: int | None
) -> list[Member]:
    seq = _next_seq()
    members = []
    for offset, d in enumerate(cleaned):
        member = Member(
            seq=seq + offset,
            member_no=format_member_no(short_code, seq + offset),
            joined_on=d.joined_on,
            status=MemberStatus.ACTIVE,
            status_since=d.joined_on,
            **_member_fields(d),
        )
        member.status_history.append(
            MemberStatusChange(
                status=MemberStatus.ACTIVE, effective_on=d.joined_on,
                recorded_by_id=recorded_by_id,
            )
        )
        members.append(member)
    db.session.add_all(members)
    db.session.flush()
    return members


def update_member(member: Member, data: MemberData) -> Member:
    """Change a member's details (not their number, join status or history).

    Raises:
        MemberDataError: when any detail is wrong (nothing is changed).
    """
    d, problems = clean_member_data(data, member_id=member.id)
    if problems:
        raise MemberDataError(problems)
    for key, value in _member_fields(d).items():
        setattr(member, key, value)
    member.joined_on = d.joined_on
    db.session.flush()
    return member


def change_status(
    member: Member,
    status: MemberStatus,
    effective_on: date,
    reason: str | None,
    recorded_by_id: int | None,
    today: date | None = None,
) -> MemberStatusChange:
    """Suspend, reinstate or record that a member left, keeping the dated history.

    Raises:
        MemberStatusError: same status, no reason, or a date out of order.
    """
    today = today or today_in_nairobi()
    reason = (reason or "").strip() or None
    if status == member.status:
        raise MemberStatusError(_l("The member's status is already %(status)s.",
                                   status=_status_label(status)))
    if status != MemberStatus.ACTIVE and not reason:
        raise MemberStatusError(_l("Give the reason for this change."))
    if reason and len(reason) > 300:
        raise MemberStatusError(_l("The reason is too long (300 characters at most)."))
    if effective_on > today:
        raise MemberStatusError(_l("The date of the change cannot be in the future."))
    if effective_on < member.status_since:
        raise MemberStatusError(
            _l("The date cannot be before the current status began (%(date)s).",
               date=member.status_since.isoformat())
        )
    change = MemberStatusChange(
        member=member, status=status, effective_on=effective_on, reason=reason,
        recorded_by_id=recorded_by_id,
    )
    member.status = status
    member.status_since = effective_on
    db.session.add(change)
    db.session.flush()
    return change


def _status_label(status: MemberStatus) -> str:
    from association.i18n import enum_label

    return enum_label(status)


def consent_wording(purpose: ConsentPurpose, language: str) -> str:
    """The consent words for ``purpose`` in ``language`` ("en" or "sw")."""
    with force_locale(language):
        return str(CONSENT_WORDING[purpose])


def consent_text(consent: MemberConsent) -> str:
    """The words of a recorded consent in the reader's language: the stored words are those
    the member agreed to, in the language they chose; when they are this version's words in
    English or Swahili, the same words are shown in the page's language."""
    if consent.wording in (consent_wording(consent.purpose, "en"),
                           consent_wording(consent.purpose, "sw")):
        return consent_wording(consent.purpose, current_language())
    return consent.wording


def record_consent(
    member: Member,
    purpose: ConsentPurpose,
    channel: ConsentChannel,
    given_on: date,
    language: str,
    recorded_by_id: int | None,
    today: date | None = None,
) -> MemberConsent:
    """Record that a member gave consent, with the exact words they agreed to.

    Raises:
        ConsentError: already given and not withdrawn, or dated in the future.
    """
    today = today or today_in_nairobi()
    if given_on > today:
        raise ConsentError(_l("Consent cannot be dated in the future."))
    if any(c.purpose == purpose and c.is_active for c in member.consents):
        raise ConsentError(_l("This consent is already recorded for the member."))
    consent = MemberConsent(
        member=member,
        purpose=purpose,
        wording=consent_wording(purpose, language),
        wording_version=CONSENT_VERSION,
        language=language,
        channel=channel,
        given_on=given_on,
        recorded_by_id=recorded_by_id,
    )
    db.session.add(consent)
    db.session.flush()
    return consent


def withdraw_consent(
    consent: MemberConsent, withdrawn_on: date, reason: str | None, withdrawn_by_id: int | None,
    today: date | None = None,
) -> MemberConsent:
    """Record that consent was withdrawn; the record stays as proof of both.

    Raises:
        ConsentError: already withdrawn, or a date out of order.
    """
    today = today or today_in_nairobi()
    if not consent.is_active:
        raise ConsentError(_l("This consent was already withdrawn."))
    if withdrawn_on > today or withdrawn_on < consent.given_on:
        raise ConsentError(_l("The withdrawal date must be between the consent date and today."))
    consent.withdrawn_on = withdrawn_on
    consent.withdrawn_reason = (reason or "").strip()[:300] or None
    consent.withdrawn_by_id = withdrawn_by_id
    db.session.flush()
    return consent


def statuses_on(day: date) -> dict[int, MemberStatus]:
    """Each member's status in force on ``day``, from the dated status history."""
    rows = db.session.execute(
        sa.select(MemberStatusChange.member_id, MemberStatusChange.status)
        .where(MemberStatusChange.effective_on <= day)
        .order_by(MemberStatusChange.member_id, MemberStatusChange.effective_on,
                  MemberStatusChange.id)
    )
    return {member_id: status for member_id, status in rows}


def mask_national_id(value: str | None) -> str:
    """Show only the last 3 characters of an ID number."""
    if not value:
        return ""
    return "•" * max(len(value) - 3, 3) + value[-3:]


def member_visible_to(user, member: Member) -> bool:
    """Officials see every member; a member sees only their own record."""
    return user.can("members.view") or (user.member_id is not None and user.member_id == member.id)


def get_member_for(user, member_id: int) -> Member | None:
    """The member ``user`` may open, or None (shown as 404 whether it exists or not)."""
    member = db.session.get(Member, member_id)
    if member is None or not member_visible_to(user, member):
        return None
    return member


def member_number_clause(text: str):
    """A WHERE clause for a member number as people type it, or None if it is not one.

    "MLK-0001", "mlk 1" and "MLK0001" match MLK-0001; bare digits match by position.
    """
    match = MEMBER_NO_RE.match(" ".join((text or "").split()))
    if match is None:
        return None
    prefix, digits = match.groups()
    if prefix:
        return Member.member_no == format_member_no(prefix.upper(), int(digits))
    return Member.seq == int(digits)


def get_member_by_number(text: str) -> Member:
    """The member whose number is ``text``, typed in any of the usual ways.

    Raises:
        MemberNotFoundError: no such member.
    """
    clause = member_number_clause(text)
    member = db.session.scalar(sa.select(Member).where(clause)) if clause is not None else None
    if member is None:
        raise MemberNotFoundError(_l("No member has the number %(no)s.", no=text))
    return member


@dataclass
class MemberFilters:
    q: str = ""
    zone_id: int | None = None
    category: Category | None = None
    status: MemberStatus | None = None


def member_query(filters: MemberFilters) -> sa.Select:
    """Members matching a search (name words, number or phone) and filters, by number."""
    stmt = sa.select(Member)
    q = " ".join((filters.q or "").split())[:100]
    number = member_number_clause(q)
    if q:
        if number is not None:
            stmt = stmt.where(number)  # exact and indexed, unlike a name search
        elif looks_like_phone(q):
            try:
                stmt = stmt.where(Member.phone == normalise_phone(q))
            except InvalidPhoneError:
                digits = re.sub(r"\D", "", q)
                stmt = stmt.where(Member.phone.contains(digits, autoescape=True))
        else:
            for word in q.split(" "):
                stmt = stmt.where(
                    sa.or_(
                        Member.first_name.icontains(word, autoescape=True),
                        Member.other_names.icontains(word, autoescape=True),
                        Member.member_no.icontains(word, autoescape=True),
                    )
                )
    if filters.zone_id:
        stmt = stmt.where(Member.zone_id == filters.zone_id)
    if filters.category:
        stmt = stmt.where(Member.category == filters.category)
    if filters.status:
        stmt = stmt.where(Member.status == filters.status)
    return stmt.order_by(Member.seq)


def list_zones() -> list[Zone]:
    return list(db.session.scalars(sa.select(Zone).order_by(Zone.name)))


def zone_counts() -> list[tuple[Zone, int]]:
    """Every zone with its number of active members."""
    active = sa.func.count(Member.id).filter(Member.status == MemberStatus.ACTIVE)
    stmt = (
        sa.select(Zone, active)
        .outerjoin(Member, Member.zone_id == Zone.id)
        .group_by(Zone.id)
        .order_by(Zone.name)
    )
    return [(zone, count) for zone, count in db.session.execute(stmt)]


def zone_by_name(name: str) -> Zone | None:
    """The zone called ``name``, ignoring case and extra spaces."""
    wanted = " ".join((name or "").split()).lower()
    if not wanted:
        return None
    return db.session.scalar(sa.select(Zone).where(sa.func.lower(Zone.name) == wanted))


def save_zone(name: str, description: str | None, zone: Zone | None = None) -> Zone:
    """Create a zone, or rename one.

    Raises:
        ZoneError: an empty or already used name.
    """
    name = " ".join((name or "").split())
    if not name:
        raise ZoneError(_l("Give the zone a name."))
    if len(name) > 80:
        raise ZoneError(_l("A zone name has at most 80 characters."))
    existing = zone_by_name(name)
    if existing is not None and existing is not zone:
        raise ZoneError(_l("There is already a zone called %(name)s.", name=name))
    if zone is None:
        zone = Zone(name=name)
        db.session.add(zone)
    zone.name = name
    zone.description = (description or "").strip()[:300] or None
    db.session.flush()
    return zone
