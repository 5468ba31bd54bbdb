"""The registration pack: one ZIP of what a registrar asks for, with a cover page."""

import csv
import io
import zipfile

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from association.audit.services import log_event
from association.core import dates
from association.core.tabular import formula_safe as _safe
from association.core.time import today_in_nairobi
from association.extensions import db
from association.i18n import enum_label
from association.ledger.exports import report_pdf
from association.ledger.reports import Period, financial_position, income_expenditure
from association.meetings import files, governance, pdf
from association.meetings.models import MeetingType
from association.members.models import Member, MemberStatus
from association.members.services import mask_national_id


def members_register_csv(show_ids: bool) -> str:
    """Name, number, ID where held (masked unless the reader may see IDs), phone, join date."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Member number"), _("Name"), _("ID number"), _("Phone"), _("Gender"),
                     _("Joined on"), _("Status"), _("Zone")])
    members = db.session.scalars(sa.select(Member).order_by(Member.seq))
    for m in members:
        national_id = m.national_id if show_ids else mask_national_id(m.national_id)
        writer.writerow([_safe(m.member_no), _safe(m.full_name), _safe(national_id or ""),
                         _safe(m.phone or ""), enum_label(m.gender), m.joined_on.isoformat(),
                         enum_label(m.status), _safe(m.zone.name)])
    return "\ufeff" + out.getvalue()


def registration_pack(user, language: str) -> bytes:
    """Build the ZIP in ``language``; log the export in the audit trail."""
    today = today_in_nairobi()
    show_ids = user.can("members.national_id")
    with force_locale(language):
        buffer = io.BytesIO()
        lines: list[tuple[str, str]] = []
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            active = db.session.scalar(sa.select(sa.func.count(Member.id))
                                       .where(Member.status == MemberStatus.ACTIVE))
            zf.writestr("01-members-register.csv", members_register_csv(show_ids))
            lines.append(("01-members-register.csv",
                          _("Register of members (%(n)d active).", n=active or 0)))
            officials = governance.current_officials(today)
            zf.writestr("02-officials.pdf", pdf.officials_pdf(officials, language, today))
            lines.append(("02-officials.pdf", _("Officials in office, with their terms.")))
            versions = governance.constitutions()
            path = files.path_of(versions[0].file) if versions else None
            if path is not None:
                zf.writestr("03-constitution.pdf", path.read_bytes())
                lines.append(("03-constitution.pdf", _("Constitution, version %(label)s adopted "
                                                       "on %(date)s.", label=versions[0].label,
                                                       date=dates.day(versions[0].adopted_on))))
            else:
                lines.append(("—", _("MISSING: the constitution has not been uploaded.")))
            agm = governance.last_meeting(MeetingType.AGM, today)
            if agm is not None:
                name = f"04-minutes-agm-{agm.held_on.isoformat()}.pdf"
                zf.writestr(name, pdf.minutes_pdf(agm, language))
                lines.append((name, _("Minutes of the last AGM (%(date)s).",
                                      date=dates.day(agm.held_on))))
            else:
                lines.append(("—", _("MISSING: no AGM is recorded.")))
            elected = governance.election_meeting(today)
            if elected is not None and (agm is None or elected.id != agm.id):
                name = f"05-minutes-election-{elected.held_on.isoformat()}.pdf"
                zf.writestr(name, pdf.minutes_pdf(elected, language))
                lines.append((name, _("Minutes of the meeting that elected the officials "
                                      "(%(date)s).", date=dates.day(elected.held_on))))
            elif elected is not None:
                lines.append(("—", _("The officials were elected at the AGM above.")))
            else:
                lines.append(("—", _("MISSING: no election of the current officials is "
                                     "recorded.")))
            start, end = governance.last_financial_year(today)
            zf.writestr("06-income-and-expenditure.pdf",
                        report_pdf(income_expenditure(Period(start, end))))
            lines.append(("06-income-and-expenditure.pdf",
                          _("Income and expenditure, %(start)s to %(end)s.",
                            start=dates.day(start), end=dates.day(end))))
            zf.writestr("07-financial-position.pdf", report_pdf(financial_position(end)))
            lines.append(("07-financial-position.pdf",
                          _("Statement of financial position at %(date)s.",
                            date=dates.day(end))))
            cover = pdf.cover_pdf(_("Registration pack"), lines, language, user.full_name, today)
            zf.writestr("00-cover.pdf", cover)
    log_event("export", "registration_pack", None,
              {"files": [name for name, _what in lines if name != "—"], "ids": show_ids})
    return buffer.getvalue()
