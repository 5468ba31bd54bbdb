"""The association profile: read once per request, written at setup and by the chair."""

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask import g, has_request_context
from flask_babel import lazy_gettext as _l

from association.core.phones import InvalidPhoneError, normalise_phone
from association.errors import DomainError
from association.extensions import db
from association.hosting.tenancy import current_or_none
from association.members.models import Member
from association.profile.models import AssociationProfile, MpesaKind, RegistrationBody

SHORT_CODE_RE = re.compile(r"^[A-Z]{2,6}$")
MPESA_NUMBER_RE = re.compile(r"^\d{5,7}$")


class ProfileError(DomainError):
    """Profile details that cannot be saved; ``problems`` maps field to message."""

    def __init__(self, problems: dict):
        super().__init__(_l("Some details need correcting."), problems=problems)
        self.problems = problems


@dataclass
class ProfileData:
    name: str
    short_code: str
    registration_body: RegistrationBody
    registration_number: str | None
    county: str
    sub_county: str
    ward: str
    estate: str
    contact_phone: str
    mpesa_kind: MpesaKind | None
    mpesa_number: str | None
    fiscal_year_start_month: int


def _first_profile_id():
    """The association is the profile table's first row (its only one, once set up)."""
    return sa.select(sa.func.min(AssociationProfile.id)).scalar_subquery()


def with_profile(stmt: sa.Select) -> sa.Select:
    """``stmt`` with the association's profile (None before setup) as its last column.

    Every page shows the profile: a request's first query brings it (see
    :func:`remember_profile`), which saves each request a round trip to the database.
    """
    return stmt.add_columns(AssociationProfile).outerjoin(
        AssociationProfile, AssociationProfile.id == _first_profile_id()
    )


def remember_profile(profile: AssociationProfile | None) -> None:
    """Keep ``profile``, just read or written, for the rest of the request."""
    if has_request_context():
        g.profile = profile


def get_profile() -> AssociationProfile | None:
    """The association's profile, or None before setup and on the host's own pages (cached
    for the request)."""
    if has_request_context() and "profile" in g:
        return g.profile
    if current_or_none() is None:
        return None
    profile = db.session.scalar(
        sa.select(AssociationProfile).where(AssociationProfile.id == _first_profile_id())
    )
    remember_profile(profile)
    return profile


def fiscal_year_start_month() -> int:
    """The month the association's financial year starts (January before setup)."""
    profile = get_profile()
    return profile.fiscal_year_start_month if profile else 1


def save_profile(data: ProfileData) -> AssociationProfile:
    """Create the profile at setup, or update it.

    Raises:
        ProfileError: a detail is wrong, or the short code would change after
            member numbers were issued with it.
    """
    problems = {}
    short_code = (data.short_code or "").strip().upper()
    if not SHORT_CODE_RE.match(short_code):
        problems["short_code"] = _l("The short code has 2 to 6 letters, e.g. MLK.")
    try:
        phone = normalise_phone(data.contact_phone)
    except InvalidPhoneError as error:
        problems["contact_phone"] = error.message
        phone = None
    mpesa_number = (data.mpesa_number or "").strip() or None
    if data.mpesa_kind and not mpesa_number:
        problems["mpesa_number"] = _l("Enter the paybill or till number.")
    elif mpesa_number and not MPESA_NUMBER_RE.match(mpesa_number):
        problems["mpesa_number"] = _l("A paybill or till number has 5 to 7 digits.")
    elif mpesa_number and not data.mpesa_kind:
        problems["mpesa_kind"] = _l("Say whether the number is a paybill or a till.")
    if not 1 <= data.fiscal_year_start_month <= 12:
        problems["fiscal_year_start_month"] = _l("Choose the month the financial year starts.")

    profile = get_profile()
    if profile is not None and short_code != profile.short_code:
        if db.session.scalar(sa.select(sa.func.count(Member.id))):
            problems["short_code"] = _l(
                "The short code cannot change: member numbers have already been issued with it."
            )
    if problems:
        raise ProfileError(problems)

    first = profile is None
    if first:
        profile = AssociationProfile()
        db.session.add(profile)
    profile.name = " ".join(data.name.split())
    profile.short_code = short_code
    profile.registration_body = data.registration_body
    profile.registration_number = (data.registration_number or "").strip() or None
    profile.county = data.county.strip()
    profile.sub_county = data.sub_county.strip()
    profile.ward = data.ward.strip()
    profile.estate = data.estate.strip()
    profile.contact_phone = phone
    profile.mpesa_kind = data.mpesa_kind if mpesa_number else None
    profile.mpesa_number = mpesa_number
    profile.fiscal_year_start_month = data.fiscal_year_start_month
    db.session.flush()
    if first:  # the chart of accounts comes with the setup: no page view has to write it
        from association.ledger.accounts import ensure_chart

        ensure_chart()
    remember_profile(profile)
    return profile
