"""Exporting the register as CSV or Excel: the members matching the register's filters,
streamed from one query, with national IDs masked unless the reader may see them, text
made safe against formula injection and dates kept as dates. The import is in
:mod:`association.members.importing`.
"""

import csv
import io
import re
from collections.abc import Iterator

from flask_babel import gettext as _

from association.core.tabular import formula_safe
from association.core.time import today_in_nairobi
from association.extensions import db
from association.i18n import enum_label
from association.members.models import YOUTH_AGES, Member, Zone
from association.members.services import MemberFilters, mask_national_id, member_query

#: Control characters an .xlsx file cannot hold (openpyxl refuses them).
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"


def export_header() -> list[str]:
    return [
        _("Member number"), _("First name"), _("Other names"), _("Phone"), _("National ID"),
        _("Gender"), _("Year of birth"), _("Youth (18-35)"), _("Category"),
        _("Rental premises"), _("Zone"), _("Plot"), _("House"), _("Joined"), _("Status"),
        _("Status since"),
    ]


def export_rows(filters: MemberFilters, show_ids: bool) -> Iterator[list]:
    """The header, then one list of cells per member matching ``filters``, by number.

    One query, streamed, so a register of tens of thousands of members stays cheap.
    Text cells are made safe against formula injection; dates stay dates.
    """
    yield export_header()
    stmt = (
        member_query(filters)
        .with_only_columns(
            Member.member_no, Member.first_name, Member.other_names, Member.phone,
            Member.national_id, Member.gender, Member.year_of_birth, Member.category,
            Member.rental_premises, Zone.name, Member.plot, Member.house, Member.joined_on,
            Member.status, Member.status_since,
        )
        .join(Zone, Member.zone_id == Zone.id)
        .execution_options(yield_per=1000)
    )
    this_year = today_in_nairobi().year
    yes, no = _("Yes"), _("No")
    labels: dict = {}

    def label(value):
        if value not in labels:
            labels[value] = enum_label(value)
        return labels[value]

    for r in db.session.execute(stmt):
        youth = ""
        if r.year_of_birth is not None:
            youth = yes if YOUTH_AGES[0] <= this_year - r.year_of_birth <= YOUTH_AGES[1] else no
        national_id = r.national_id if show_ids else mask_national_id(r.national_id)
        safe = formula_safe
        yield [
            safe(r.member_no), safe(r.first_name), safe(r.other_names), safe(r.phone or ""),
            safe(national_id or ""), label(r.gender), r.year_of_birth, youth,
            label(r.category), r.rental_premises, safe(r.name), safe(r.plot or ""),
            safe(r.house or ""), r.joined_on, label(r.status), r.status_since,
        ]


def _csv_bytes(rows: Iterator[list]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    for row in rows:
        writer.writerow("" if value is None else value for value in row)
    # The BOM makes Excel read UTF-8 (names with accents, the • of masked IDs) right.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx_bytes(rows: Iterator[list]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Members"))
    sheet.freeze_panes = "A2"
    header = next(rows)
    for index, width in enumerate((12, 16, 20, 16, 14, 10, 8, 8, 18, 8, 16, 10, 10, 12, 11, 12),
                                  start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    cells = []
    for label in header:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    for row in rows:
        sheet.append(
            [_ILLEGAL_XLSX.sub("", value) if isinstance(value, str) else value for value in row]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_register(filters: MemberFilters, show_ids: bool, fmt: str) -> tuple[bytes, int]:
    """The register in ``fmt`` ("csv" or "xlsx") and the number of members in it.

    Raises:
        ValueError: an unknown format (the view answers 400 before calling this).
    """
    writers = {"csv": _csv_bytes, "xlsx": _xlsx_bytes}
    if fmt not in writers:
        raise ValueError(fmt)
    counted = {"rows": -1}  # the header is not a member

    def counting(rows):
        for row in rows:
            counted["rows"] += 1
            yield row

    content = writers[fmt](counting(export_rows(filters, show_ids)))
    return content, counted["rows"]


EXPORT_MIMETYPES = {"csv": CSV_MIMETYPE, "xlsx": XLSX_MIMETYPE}
