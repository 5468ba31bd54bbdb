"""The incident register: what happened, what the patrol did, and the hand-over to the police.

Who reported an incident is optional and seen only by the coordinator and the
chair. What a report says about a person is always shown as an unverified
allegation, never to members and never on a public page. A correction keeps the
earlier version (with who corrected it and why). Every view and every export of
an incident is written to the audit trail. Members and the public see only
counts by zone, month and category.
"""

import csv
import io
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.audit.services import log_event
from association.core.phones import InvalidPhoneError, normalise_phone
from association.core.time import now_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.members.models import Zone
from association.patrols.models import (
    Incident,
    IncidentAction,
    IncidentCategory,
    IncidentRevision,
)

#: Categories that are always major crimes (violence, sexual offences).
MAJOR_CATEGORIES = frozenset({IncidentCategory.ASSAULT, IncidentCategory.GBV})
EARLIEST = datetime(2000, 1, 1)


class IncidentError(DomainError):
    """An incident cannot be saved as given; nothing was written."""


@dataclass
class IncidentData:
    occurred_at: datetime | None
    zone_id: int | None
    place: str
    category: IncidentCategory | None
    description: str
    actions: list
    action_notes: str | None = None
    weapon_involved: bool = False
    sexual_offence: bool = False
    police_station: str | None = None
    ob_number: str | None = None
    police_officer: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    person_description: str | None = None


def clean(data: IncidentData) -> dict:
    """Checked column values for ``data``.

    Raises:
        IncidentError: anything missing, malformed, too long or in the future.
    """
    if data.occurred_at is None:
        raise IncidentError(_l("Give the date and time of the incident."))
    if data.occurred_at > now_in_nairobi():
        raise IncidentError(_l("The incident cannot be in the future."))
    if data.occurred_at < EARLIEST:
        raise IncidentError(_l("Check the date of the incident."))
    if data.zone_id is None or db.session.get(Zone, data.zone_id) is None:
        raise IncidentError(_l("Choose the zone."))
    try:
        category = IncidentCategory(data.category)
    except ValueError:
        raise IncidentError(_l("Choose the category.")) from None
    place = " ".join((data.place or "").split())
    if not place:
        raise IncidentError(_l("Say where it happened (plot, lane, landmark)."))
    if len(place) > 200:
        raise IncidentError(_l("The place is too long (at most 200 characters)."))
    description = (data.description or "").strip()
    if len(description) < 5:
        raise IncidentError(_l("Describe what happened."))
    if len(description) > 5000:
        raise IncidentError(_l("The description is too long (at most 5,000 characters)."))
    try:
        actions = sorted({IncidentAction(a).value for a in (data.actions or [])})
    except ValueError:
        raise IncidentError(_l("Choose what the patrol did from the list.")) from None
    values = {"occurred_at": data.occurred_at.replace(second=0, microsecond=0),
              "zone_id": data.zone_id, "place": place, "category": category,
              "description": description, "actions": actions,
              "weapon_involved": bool(data.weapon_involved),
              "sexual_offence": bool(data.sexual_offence)}
    for key, limit in (("action_notes", 2000), ("police_station", 120), ("ob_number", 60),
                       ("police_officer", 120), ("reporter_name", 120),
                       ("person_description", 2000)):
        raw = " ".join((getattr(data, key) or "").split())
        if len(raw) > limit:
            raise IncidentError(_l("%(field)s is too long (at most %(n)d characters).",
                                   field=FIELD_LABELS[key], n=limit))
        values[key] = raw or None
    phone = (data.reporter_phone or "").strip()
    if phone:
        try:
            values["reporter_phone"] = normalise_phone(phone)
        except InvalidPhoneError as error:
            raise IncidentError(str(error)) from None
    else:
        values["reporter_phone"] = None
    if IncidentAction.TO_POLICE.value in actions and not values["police_station"]:
        raise IncidentError(_l("Handed to the police: give the police station."))
    if (values["ob_number"] or values["police_officer"]) and \
            IncidentAction.TO_POLICE.value not in actions:
        raise IncidentError(_l("An OB number or officer is given: tick \"handed to the "
                               "police\" and give the station."))
    values["major"] = is_major(category, values["weapon_involved"], values["sexual_offence"])
    return values


FIELD_LABELS = {
    "action_notes": _l("Notes on what the patrol did"),
    "police_station": _l("Police station"),
    "ob_number": _l("OB number"),
    "police_officer": _l("Police officer"),
    "reporter_name": _l("Reported by"),
    "person_description": _l("About a person"),
}


def is_major(category: IncidentCategory, weapon: bool, sexual: bool) -> bool:
    """Violence, weapons or a sexual offence: a major crime for the police."""
    return category in MAJOR_CATEGORIES or bool(weapon) or bool(sexual)


def needs_police(incident: Incident) -> bool:
    """A major crime not yet handed to the police (or without its OB number)."""
    return incident.major and (IncidentAction.TO_POLICE.value not in (incident.actions or [])
                               or not incident.ob_number)


def record_incident(data: IncidentData, user_id: int | None) -> Incident:
    """Add an incident to the register.

    Raises:
        IncidentError: see :func:`clean`.
    """
    incident = Incident(recorded_by_id=user_id, **clean(data))
    db.session.add(incident)
    db.session.flush()
    return incident


def _snapshot(incident: Incident) -> dict:
    snap = {}
    for key in ("occurred_at", "zone_id", "place", "category", "description", "actions",
                "action_notes", "weapon_involved", "sexual_offence", "major", "police_station",
                "ob_number", "police_officer", "reporter_name", "reporter_phone",
                "person_description"):
        value = getattr(incident, key)
        if isinstance(value, datetime):
            value = value.isoformat(timespec="minutes")
        elif hasattr(value, "value"):
            value = value.value
        snap[key] = value
    return snap


def correct_incident(incident: Incident, data: IncidentData, reason: str,
                     user_id: int | None) -> Incident:
    """Correct an incident; the earlier version is kept with the reason.

    Raises:
        IncidentError: no reason, nothing changed, or bad values.
    """
    reason = " ".join((reason or "").split())
    if len(reason) < 3:
        raise IncidentError(_l("Give the reason for the correction."))
    if len(reason) > 300:
        raise IncidentError(_l("The reason is too long (at most 300 characters)."))
    values = clean(data)
    before = _snapshot(incident)
    for key, value in values.items():
        setattr(incident, key, value)
    if _snapshot(incident) == before:
        db.session.expire(incident)  # drop the unchanged values
        raise IncidentError(_l("Nothing was changed."))
    db.session.add(IncidentRevision(incident_id=incident.id, snapshot=before, reason=reason,
                                    changed_by_id=user_id))
    db.session.flush()
    return incident


@dataclass
class IncidentFilters:
    zone_id: int | None = None
    category: IncidentCategory | None = None
    month: date | None = None
    major_only: bool = False


def incident_query(filters: IncidentFilters) -> sa.Select:
    stmt = sa.select(Incident)
    if filters.zone_id:
        stmt = stmt.where(Incident.zone_id == filters.zone_id)
    if filters.category:
        stmt = stmt.where(Incident.category == filters.category)
    if filters.month:
        start = datetime.combine(filters.month.replace(day=1), datetime.min.time())
        nxt = filters.month.replace(day=28).toordinal() + 4
        end = date.fromordinal(nxt).replace(day=1)
        stmt = stmt.where(Incident.occurred_at >= start,
                          Incident.occurred_at < datetime.combine(end, datetime.min.time()))
    if filters.major_only:
        stmt = stmt.where(Incident.major.is_(True))
    return stmt.order_by(Incident.occurred_at.desc(), Incident.id.desc())


def view_incident(incident_id: int, shows_reporter: bool) -> Incident | None:
    """Load an incident to show it, logging that it was viewed (and whether with the
    reporter's identity)."""
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        return None
    log_event("view", "incident", incident.id, {"reporter_shown": bool(shows_reporter)})
    return incident


def counts(start: date | None = None, end: date | None = None) -> list[tuple]:
    """(month "YYYY-MM", zone name, category, count): all that members may see."""
    stmt = sa.select(Incident.occurred_at, Zone.name, Incident.category).join(
        Zone, Zone.id == Incident.zone_id)
    if start:
        stmt = stmt.where(Incident.occurred_at >= datetime.combine(start, datetime.min.time()))
    if end:
        stmt = stmt.where(Incident.occurred_at < datetime.combine(
            date.fromordinal(end.toordinal() + 1), datetime.min.time()))
    tally = Counter((at.strftime("%Y-%m"), zone, category) for at, zone, category in
                    db.session.execute(stmt))
    return sorted(((*key, n) for key, n in tally.items()), key=lambda r: (r[0], r[1], r[2]),
                  reverse=False)


def export_csv(filters: IncidentFilters, headers: list[str], labels, with_reporter: bool) -> str:
    """The register as CSV for the police or the committee; the export is logged.

    Args:
        headers: column headings in the reader's language.
        labels: ``labels(enum_member) -> str`` for categories and actions.
        with_reporter: include who reported (coordinator and chair only).
    """
    rows = db.session.scalars(incident_query(filters)).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for i in rows:
        line = [f"INC-{i.id}", i.occurred_at.strftime("%Y-%m-%d %H:%M"), i.zone.name, i.place,
                labels(i.category), i.description,
                "; ".join(labels(IncidentAction(a)) for a in i.actions or []),
                "yes" if i.major else "", i.police_station or "", i.ob_number or "",
                i.police_officer or "",
                f"UNVERIFIED: {i.person_description}" if i.person_description else ""]
        if with_reporter:
            line += [i.reporter_name or "", i.reporter_phone or ""]
        writer.writerow([_safe_cell(v) for v in line])
    log_event("export", "incident", None, {"count": len(rows), "reporter": with_reporter,
                                           **{k: str(v) for k, v in asdict(filters).items()
                                              if v}})
    return out.getvalue()


def _safe_cell(value: str) -> str:
    """Keep spreadsheets from running a cell as a formula."""
    value = str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
