"""What a host administrator does from the host's pages: an association's status, and the
inbox of callbacks nobody could be credited with. Each change is committed in the catalogue
and recorded in the association's own audit trail (as ``host:<username>``); the host's log
names the association and the administrator, never a member.
"""

import logging
import re

import sqlalchemy as sa
from flask import Flask
from flask_babel import lazy_gettext as _l

from association.core.time import utcnow
from association.hosting import catalogue
from association.hosting.models import AssociationStatus, HostedAssociation, HostInboxItem
from association.hosting.services import HostingError, catalogue_session
from association.hosting.tenancy import Tenant, use

log = logging.getLogger(__name__)

#: action -> (the statuses it may start from, the status it leaves).
TRANSITIONS = {
    "suspend": ({AssociationStatus.ACTIVE}, AssociationStatus.SUSPENDED),
    "reactivate": ({AssociationStatus.SUSPENDED}, AssociationStatus.ACTIVE),
    "archive": ({AssociationStatus.ACTIVE, AssociationStatus.SUSPENDED},
                AssociationStatus.ARCHIVED),
}


def change_status(app: Flask, short: str, action: str, admin: str) -> Tenant:
    """Suspend, reactivate or archive the association ``short``.

    Raises:
        HostingError: no such association, or the change does not apply to its status.
    """
    from association.audit.services import acting_as, log_event
    from association.extensions import db

    if action not in TRANSITIONS:
        raise HostingError(_l("Choose suspend, reactivate or archive."))
    starts, status = TRANSITIONS[action]
    with catalogue_session(app) as session:
        row = session.scalar(sa.select(HostedAssociation)
                             .where(HostedAssociation.short == (short or "").upper()))
        if row is None:
            raise HostingError(_l("No association is called %(short)s.", short=short))
        if row.status not in starts:
            raise HostingError(_l("%(short)s is %(status)s: it cannot be changed so.",
                                  short=row.short, status=row.status.value))
        before = row.status
        row.status, row.status_changed_at = status, utcnow()
        tenant = Tenant.of(row)
        # Its own trail first: a change the association cannot record is not made.
        with use(tenant, app), acting_as(f"host:{admin}"):
            log_event(f"hosting.{action}", "association", tenant.short,
                      {"from": before.value, "to": status.value, "by": f"host:{admin}"})
            db.session.commit()
        session.commit()
    catalogue.forget(app)
    log.info("host %s: %s %s -> %s", admin, tenant.short, before.value, status.value)
    return tenant


def granted_to(app: Flask, admin_id: int) -> set[int]:
    """The associations whose chairs' grants of access to ``admin_id`` still last."""
    from association.hosting.models import AccessGrant

    with catalogue_session(app) as session:
        return set(session.scalars(sa.select(AccessGrant.association_id).where(
            AccessGrant.host_admin_id == admin_id, AccessGrant.revoked_at.is_(None),
            AccessGrant.expires_at > utcnow())))


def inbox(limit: int = 200) -> list[HostInboxItem]:
    from association.extensions import db

    return list(db.session.scalars(sa.select(HostInboxItem).order_by(
        HostInboxItem.reviewed_at.is_not(None), HostInboxItem.received_at.desc())
        .limit(limit)))


def mark_reviewed(app: Flask, item_id: int, admin: str) -> None:
    """The host looked at an inbox item (it stays uncredited, as every item does).

    Raises:
        HostingError: no such item, or it was reviewed already.
    """
    with catalogue_session(app) as session:
        item = session.get(HostInboxItem, item_id)
        if item is None:
            raise HostingError(_l("That inbox item does not exist."))
        if item.reviewed_at is not None:
            raise HostingError(_l("That inbox item was already reviewed."))
        item.reviewed_at, item.reviewed_by = utcnow(), admin
        session.commit()
    log.info("host %s: inbox item %s reviewed", admin, item_id)


def mask_phone_like(text: str | None) -> str | None:
    """An account as typed, with every run of five digits or more (a phone number, an ID
    number) shown only by its last three digits."""
    if not text:
        return text
    return _LONG_DIGITS.sub(lambda m: "•" * (len(m.group()) - 3) + m.group()[-3:], text)


_LONG_DIGITS = re.compile(r"\d[\d ]{3,}\d")
