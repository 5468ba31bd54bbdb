"""The phones a member may send M-Pesa prompts to besides their own (issue 20).

A member paying for themselves prompts the phone on their record, or one an official
(``mpesa.phones``) allowed for them here; anything else could be used to pester or collect
from strangers. Officials at the desk prompt any number (stk.py).
"""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.core.time import utcnow
from association.errors import DomainError
from association.extensions import db
from association.members.models import Member
from association.mpesa.models import AllowedPhone


class AllowedPhoneError(DomainError):
    """The number cannot be allowed or revoked; nothing changed."""


def allowed_phones(member_id: int) -> list[AllowedPhone]:
    """The numbers allowed for the member now (not revoked), oldest first."""
    return list(db.session.scalars(
        sa.select(AllowedPhone).where(AllowedPhone.member_id == member_id,
                                      AllowedPhone.revoked_at.is_(None))
        .order_by(AllowedPhone.id)))


def phones_for(member: Member) -> set[str]:
    """Every E.164 number the member may prompt when paying for themselves."""
    phones = {allowed.phone for allowed in allowed_phones(member.id)}
    if member.phone:
        phones.add(member.phone)
    return phones


def allow_phone(member: Member, phone_text: str, user_id: int | None) -> AllowedPhone:
    """Let the member send payment prompts to ``phone_text`` too.

    Raises:
        StkError: not a Safaricom number (the check every prompt makes).
        AllowedPhoneError: already the member's own or already allowed.
    """
    from association.mpesa.stk import mpesa_phone  # stk imports this module

    phone = mpesa_phone(phone_text)
    if phone == member.phone or phone in phones_for(member):
        raise AllowedPhoneError(_l("%(phone)s can already get %(no)s's payment prompts.",
                                   phone=phone_text, no=member.member_no))
    allowed = AllowedPhone(member_id=member.id, phone=phone, allowed_by_id=user_id)
    db.session.add(allowed)
    db.session.flush()
    return allowed


def revoke_phone(member: Member, allowed_id: int, user_id: int | None) -> AllowedPhone:
    """Stop the member prompting a number allowed before; the row stays, stamped.

    Raises:
        AllowedPhoneError: no such number allowed for this member now.
    """
    allowed = db.session.get(AllowedPhone, allowed_id)
    if allowed is None or allowed.member_id != member.id or allowed.revoked_at is not None:
        raise AllowedPhoneError(_l("That number is not allowed for %(no)s (any more).",
                                   no=member.member_no))
    allowed.revoked_at = utcnow()
    allowed.revoked_by_id = user_id
    db.session.flush()
    return allowed
