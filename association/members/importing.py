"""Importing a whole register from CSV or Excel.

An import is read and checked in full first (:func:`parse_register`), shown to
the user as a preview, and written only when they confirm
(:func:`confirm_import`): every row, or none. Each row is checked by
``services.clean_member_data``, the one place for member rules; this module
adds only the checks that are about the file itself (unknown zone or category
names, text that is not a date or a number, the same phone or ID twice). The
upload is kept between the preview and the confirmation by ``core.tabular``'s
staging. The export is in :mod:`association.members.exporting`.
"""

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from association.core.tabular import FORMULA_START, ReadErrors, Staging, csv_rows, xlsx_rows
from association.errors import DomainError
from association.members.models import Category, Gender, Member, Zone
from association.members.services import (
    MemberData,
    MemberDataError,
    clean_member_data,
    load_taken_keys,
    register_members,
    zone_by_name,
)

EXTENSIONS = ("csv", "xlsx")
#: Columns beyond this are not read (a register has about fifteen).
MAX_COLUMNS = 200
#: Longest cell text shown back in the preview.
DISPLAY_CHARS = 80

#: The fields of a row, in the order they are shown.
FIELDS = (
    "first_name", "other_names", "phone", "national_id", "gender", "year_of_birth",
    "category", "rental_premises", "zone_id", "plot", "house", "joined_on", "notes",
)

#: Column headers (normalised: lower case, words separated by one space) per field.
HEADERS = {
    "first_name": ("first name", "firstname", "given name", "jina la kwanza"),
    "other_names": ("other names", "other name", "othernames", "surname", "last name",
                    "family name", "jina la ukoo", "majina mengine"),
    "full_name": ("name", "full name", "names", "member name", "jina", "majina",
                  "jina kamili"),
    "phone": ("phone", "phone number", "phone no", "telephone", "tel", "mobile",
              "mobile number", "simu", "namba ya simu", "nambari ya simu"),
    "national_id": ("national id", "national id number", "national id no", "id number",
                    "id no", "id", "kitambulisho", "namba ya kitambulisho"),
    "gender": ("gender", "sex", "jinsia"),
    "year_of_birth": ("year of birth", "yob", "birth year", "date of birth", "dob",
                      "mwaka wa kuzaliwa"),
    "category": ("category", "type", "member type", "aina"),
    "rental_premises": ("rental premises", "premises", "number of premises",
                        "nyumba za kupangisha"),
    "zone_id": ("zone", "eneo", "mtaa"),
    "plot": ("plot", "plot no", "plot number", "ploti"),
    "house": ("house", "house no", "house number", "nyumba"),
    "joined_on": ("joined", "join date", "date joined", "joined on", "alijiunga",
                  "tarehe ya kujiunga"),
    "notes": ("notes", "note", "remarks", "maelezo"),
}
_HEADER_FIELD = {alias: name for name, aliases in HEADERS.items() for alias in aliases}

GENDERS = {
    Gender.FEMALE: ("female", "f", "woman", "women", "mwanamke", "kike", "ke"),
    Gender.MALE: ("male", "m", "man", "men", "mwanaume", "kiume", "me"),
    Gender.OTHER: ("other", "nyingine", "mengine"),
}
CATEGORIES = {
    Category.RESIDENT: ("resident", "tenant", "resident tenant", "mpangaji", "mkazi",
                        "mkazi mpangaji"),
    Category.LANDLORD: ("landlord", "mwenye nyumba", "mwenye nyumba ya kupangisha",
                        "mwenye nyumba za kupangisha"),
    Category.BUSINESS: ("business", "biashara", "mfanyabiashara"),
    Category.OTHER: ("other", "nyingine"),
}
_GENDER = {alias: g for g, aliases in GENDERS.items() for alias in aliases}
_CATEGORY = {alias: c for c, aliases in CATEGORIES.items() for alias in aliases}
#: Cell texts that mean "nothing here" in number, date and choice columns.
_NOTHING = {"-", "–", "—", "n a", "na", "none", "nil", "hakuna"}

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T][\d:.]*)?$")
_DMY_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


class RegisterFileError(DomainError):
    """The file cannot be read as a register at all (nothing in it was checked)."""


class RegisterImportError(DomainError):
    """Some rows have problems, so nothing was imported; ``preview`` shows them."""

    def __init__(self, preview: "ImportPreview"):
        n = preview.problem_count
        super().__init__(
            lazy_ngettext(
                "Nothing was imported: %(num)d row has a problem.",
                "Nothing was imported: %(num)d rows have problems.",
                n,
            ),
            rows=n,
        )
        self.preview = preview


@dataclass
class ImportRow:
    """One row of the file: where it is, what it will become, and what is wrong."""

    number: int
    data: MemberData
    #: field name -> message (translated lazily); empty when the row is fine.
    problems: dict = field(default_factory=dict)
    #: field name -> the cell text as in the file, shortened for display.
    values: dict = field(default_factory=dict)
    #: Things worth saying that are not problems (a join date filled in, say).
    remarks: list = field(default_factory=list)


@dataclass
class ImportPreview:
    """A whole file, read and checked, not yet written."""

    filename: str
    rows: list[ImportRow]
    #: field name -> the header that was used for it.
    columns: dict = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def problem_count(self) -> int:
        return sum(1 for row in self.rows if row.problems)

    @property
    def ok_count(self) -> int:
        return self.count - self.problem_count

    @property
    def ok(self) -> bool:
        return bool(self.rows) and self.problem_count == 0


# --- Reading files -------------------------------------------------------------------


def _extension(filename: str) -> str:
    return Path(filename or "").suffix.lower().lstrip(".")


def _check_extension(filename: str) -> str:
    ext = _extension(filename)
    if ext == "xls":
        raise RegisterFileError(
            _l("Old Excel files (.xls) cannot be read. In Excel, save the register as "
               "Excel Workbook (.xlsx) or CSV, then upload it again.")
        )
    if ext not in EXTENSIONS:
        raise RegisterFileError(_l("Only CSV and Excel (.xlsx) files can be imported."))
    return ext


#: The register's words for a file that cannot be read.
_READ_ERRORS = ReadErrors(
    not_text=lambda: RegisterFileError(
        _l("This file is not a CSV text file. Save the register as CSV or Excel (.xlsx) "
           "and upload it again.")
    ),
    bad_csv=lambda row: RegisterFileError(
        _l("The file could not be read as CSV (near row %(row)d). Save it again as "
           "CSV or Excel (.xlsx).", row=row)
    ),
    bad_xlsx=lambda: RegisterFileError(
        _l("This file is not a readable Excel (.xlsx) file. Open it in Excel and save it "
           "again as Excel Workbook (.xlsx) or CSV.")
    ),
    too_big=RegisterFileError,
)


def _raw_rows(filename: str, content: bytes) -> Iterator[tuple[int, list]]:
    ext = _check_extension(filename)
    if not content or not content.strip():
        raise RegisterFileError(_l("The file is empty."))
    read = csv_rows if ext == "csv" else xlsx_rows
    return read(content, MAX_COLUMNS, _READ_ERRORS)


def _is_blank(row: list) -> bool:
    return all(_text(value) == "" for value in row)


def _text(value) -> str:
    """A cell as text: numbers without a spurious ".0", dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).replace("\x00", "").strip()  # no database column can hold NUL
    # Our own export writes '=... for safety; read it back as it was typed.
    if text.startswith("'") and text[1:2] in FORMULA_START:
        text = text[1:]
    return text


def _key(text: str) -> str:
    """Lower case, every run of signs and spaces made one space: "ID_No." -> "id no"."""
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def _map_columns(header: list) -> tuple[dict, list[str]]:
    columns, ignored = {}, []
    for index, cell in enumerate(header):
        label = _text(cell)
        if not label:
            continue
        name = _HEADER_FIELD.get(_key(label))
        if name is None or name in columns:
            ignored.append(label)
        else:
            columns[name] = (index, label)
    if "first_name" in columns and "full_name" in columns:
        ignored.append(columns.pop("full_name")[1])  # separate name columns say more
    missing = []
    if not ({"first_name", "full_name"} & columns.keys()):
        missing.append(_("name (or first name and other names)"))
    if "zone_id" not in columns:
        missing.append(_("zone"))
    if missing:
        raise RegisterFileError(
            _l("The file has no column for: %(columns)s. The first row must name the "
               "columns, for example: first name, other names, phone, zone, category.",
               columns=", ".join(missing))
        )
    return columns, ignored


# --- Reading one row -----------------------------------------------------------------


def _nothing(value) -> bool:
    return isinstance(value, str) and _key(value) in _NOTHING


def _parse_date(value) -> date | None:
    """A date cell, or text as YYYY-MM-DD or DD/MM/YYYY; ValueError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if match := _ISO_DATE.match(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DMY_DATE.match(text):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise ValueError(text)
    return date(year, month, day)


def _parse_int(value) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(value)
    text = _text(value).replace(" ", "")
    if re.fullmatch(r"-?\d{1,9}(\.0+)?", text):
        return int(text.split(".")[0])
    raise ValueError(text)


def _parse_year(value) -> int:
    if isinstance(value, (date, datetime)):
        return value.year
    try:
        return _parse_int(value)
    except ValueError:
        return _parse_date(value).year


def _shown(value) -> str:
    text = _text(value)
    return text if len(text) <= DISPLAY_CHARS else text[: DISPLAY_CHARS - 1] + "…"


class _RowReader:
    """Turns one row of cells into MemberData and the problems that are about the file."""

    def __init__(self, columns: dict, today: date):
        self.columns = columns
        self.today = today
        self.taken = load_taken_keys()
        self._zones: dict[str, Zone | None] = {}

    def cell(self, row: list, name: str):
        if name not in self.columns:
            return None
        index = self.columns[name][0]
        value = row[index] if index < len(row) else None
        if isinstance(value, str):
            value = value.strip()
        if value == "" or (_nothing(value) and name not in _FREE_TEXT):
            return None
        return value

    def zone(self, name: str) -> Zone | None:
        key = _key(name)
        if key not in self._zones:
            self._zones[key] = zone_by_name(name)
        return self._zones[key]

    def read(self, number: int, row: list) -> ImportRow:
        problems, remarks = {}, []
        data = MemberData()

        for name in ("first_name", "other_names", "phone", "national_id", "plot", "house",
                     "notes"):
            setattr(data, name, _text(self.cell(row, name)))
        if "first_name" not in self.columns:
            words = _text(self.cell(row, "full_name")).split()
            data.first_name = words[0] if words else ""
            data.other_names = " ".join(words[1:])

        gender = self.cell(row, "gender")
        if gender is not None:
            data.gender = _GENDER.get(_key(_text(gender)))
            if data.gender is None:
                problems["gender"] = _l(
                    "Unknown gender: %(value)s. Use female, male or other.", value=_shown(gender)
                )

        year = self.cell(row, "year_of_birth")
        if year is not None:
            try:
                data.year_of_birth = _parse_year(year)
            except ValueError:
                problems["year_of_birth"] = _l(
                    "%(value)s is not a year of birth (such as 1990).", value=_shown(year)
                )

        category = self.cell(row, "category")
        if category is not None:
            data.category = _CATEGORY.get(_key(_text(category)))
            if data.category is None:
                problems["category"] = _l(
                    "Unknown category: %(value)s. Use resident, landlord, business or other.",
                    value=_shown(category),
                )

        premises = self.cell(row, "rental_premises")
        if premises is not None:
            try:
                data.rental_premises = _parse_int(premises)
            except ValueError:
                problems["rental_premises"] = _l(
                    "%(value)s is not a number of rental premises.", value=_shown(premises)
                )

        if category is None:
            problems["category"] = _l("The category is missing.")

        zone_name = _text(self.cell(row, "zone_id"))
        if not zone_name:
            problems["zone_id"] = _l("The zone is missing.")
        else:
            zone = self.zone(zone_name)
            if zone is None:
                problems["zone_id"] = _l("Unknown zone: %(name)s", name=_shown(zone_name))
            else:
                data.zone_id = zone.id

        joined = self.cell(row, "joined_on")
        if joined is None:
            data.joined_on = self.today
            remarks.append(_l("No join date: today's date will be used."))
        else:
            try:
                data.joined_on = _parse_date(joined)
            except ValueError:
                problems["joined_on"] = _l(
                    "%(value)s is not a date. Write dates as 2024-03-31 or 31/03/2024.",
                    value=_shown(joined),
                )

        values = {name: _shown(self.cell(row, name)) for name in FIELDS}
        if "first_name" not in self.columns:
            values["first_name"] = _shown(data.first_name)
            values["other_names"] = _shown(data.other_names)
        if joined is None:
            values["joined_on"] = self.today.isoformat()

        cleaned, rule_problems = clean_member_data(data, today=self.today, taken=self.taken)
        # The file's own findings say more than the form-worded rule ("Choose a zone.").
        merged = {**rule_problems, **problems}
        return ImportRow(
            number=number,
            data=cleaned,
            problems={name: merged[name] for name in FIELDS if name in merged},
            values=values,
            remarks=remarks,
        )


#: Fields where a dash or "n/a" is text to keep, not "nothing".
_FREE_TEXT = {"first_name", "other_names", "full_name", "plot", "house", "notes"}


def _mark_duplicates(rows: list[ImportRow]) -> None:
    """Second and later uses of a phone or ID number in the file point at the first."""
    first_phone: dict[str, int] = {}
    first_id: dict[str, int] = {}
    for row in rows:
        phone, national_id = row.data.phone, row.data.national_id
        if phone and "phone" not in row.problems:
            if phone in first_phone:
                row.problems["phone"] = _l(
                    "The phone number %(phone)s is also on row %(row)d.",
                    phone=phone, row=first_phone[phone],
                )
            else:
                first_phone[phone] = row.number
        if national_id and "national_id" not in row.problems:
            if national_id in first_id:
                row.problems["national_id"] = _l(
                    "The same ID number is also on row %(row)d.", row=first_id[national_id]
                )
            else:
                first_id[national_id] = row.number
        row.problems = {name: row.problems[name] for name in FIELDS if name in row.problems}


def parse_register(filename: str, content: bytes, today: date) -> ImportPreview:
    """Read a register file and check every row, writing nothing.

    Args:
        filename: the uploaded file's name; its extension says CSV or XLSX.
        content: the file's bytes.
        today: the date missing join dates become, and that rules are checked on.

    Returns:
        The preview: every non-blank row with its problems.

    Raises:
        RegisterFileError: not a CSV or XLSX register, no name or zone column, no rows,
            or more rows than ``IMPORT_MAX_ROWS``.
    """
    max_rows = current_app.config["IMPORT_MAX_ROWS"]
    reader, columns, ignored, rows = None, {}, [], []
    with contextlib.closing(_raw_rows(filename, content)) as raw_rows:
        for number, cells in raw_rows:
            if _is_blank(cells):
                continue
            if reader is None:
                columns, ignored = _map_columns(cells)
                reader = _RowReader(columns, today)
                continue
            if len(rows) >= max_rows:
                raise RegisterFileError(
                    _l("The file has more than %(max)d members. Split it into smaller files "
                       "and import them one after the other.", max=max_rows)
                )
            rows.append(reader.read(number, cells))
    if reader is None:
        raise RegisterFileError(_l("The file is empty."))
    if not rows:
        raise RegisterFileError(_l("The file has column names but no members under them."))
    _mark_duplicates(rows)
    return ImportPreview(
        filename=filename,
        rows=rows,
        columns={name: label for name, (_index, label) in columns.items()},
        ignored_columns=ignored,
    )


def confirm_import(
    filename: str, content: bytes, recorded_by_id: int | None, today: date
) -> list[Member]:
    """Check the file again and register every member in it, numbered in file order.

    The file is read and checked afresh because the register may have changed since
    the preview (someone else added a member with the same phone, say).

    Raises:
        RegisterFileError: the file cannot be read.
        RegisterImportError: any row has a problem; nothing is written.
    """
    preview = parse_register(filename, content, today)
    if not preview.ok:
        raise RegisterImportError(preview)
    try:
        return register_members([row.data for row in preview.rows], recorded_by_id)
    except MemberDataError as error:
        problems = error.problems if len(preview.rows) > 1 else {0: error.problems}
        for index, row_problems in problems.items():
            preview.rows[index].problems.update(row_problems)
        raise RegisterImportError(preview) from None


# --- Keeping the upload between preview and confirmation ---------------------------


_STAGING = Staging("imports")


def _staged_paths(token: str) -> tuple[Path, Path, Path]:
    """The data files and the sidecar of ``token``; only after the token is checked."""
    sidecar = _STAGING.path(token, "json")
    if sidecar is None:
        raise _staged_error()
    return _STAGING.path(token, "csv"), _STAGING.path(token, "xlsx"), sidecar


def _staged_error() -> RegisterFileError:
    return RegisterFileError(
        _l("This upload has expired or belongs to someone else. Upload the file again.")
    )


def stage_upload(filename: str, content: bytes, user_id: int) -> str:
    """Keep an uploaded file until its uploader confirms the import.

    Returns:
        A random token naming the file; only ``user_id`` can load it, for 24 hours.
    """
    ext = _check_extension(filename)
    token = _STAGING.new_token()
    _STAGING.write(_STAGING.path(token, ext), content)
    sidecar = {**_STAGING.owner(user_id), "filename": Path(filename).name[:200], "ext": ext}
    _STAGING.write(_STAGING.path(token, "json"), json.dumps(sidecar).encode())
    return token


def load_staged(token: str, user_id: int) -> tuple[str, bytes]:
    """The file ``user_id`` staged as ``token``: (original name, content).

    Raises:
        RegisterFileError: a malformed or unknown token, someone else's upload, or one
            older than 24 hours.
    """
    csv_path, xlsx_path, sidecar_path = _staged_paths(token)
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        ext = sidecar["ext"]
        data_path = {"csv": csv_path, "xlsx": xlsx_path}[ext]
        if not _STAGING.is_theirs(sidecar, user_id):
            raise _staged_error()
        content = data_path.read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        raise _staged_error() from None
    name = str(sidecar.get("filename") or f"register.{ext}")
    if _extension(name) != ext:
        name = f"register.{ext}"
    return name, content


def discard_staged(token: str) -> None:
    """Delete a staged upload (after the import, or when it failed)."""
    try:
        paths = _staged_paths(token)
    except RegisterFileError:
        return
    for path in paths:
        path.unlink(missing_ok=True)


def preview_upload(
    filename: str, content: bytes, user_id: int, today: date
) -> tuple[ImportPreview, str | None]:
    """Check an uploaded register; keep it for confirmation when every row is fine.

    Returns:
        The preview, and the token to confirm with (None when there are problems).

    Raises:
        RegisterFileError: the file cannot be read as a register.
    """
    preview = parse_register(filename, content, today)
    token = stage_upload(filename, content, user_id) if preview.ok else None
    return preview, token


def import_staged(token: str, user_id: int, today: date) -> list[Member]:
    """Import the file ``user_id`` staged as ``token``; call ``discard_staged`` after.

    Raises:
        RegisterFileError: the staged file is gone, someone else's or unreadable.
        RegisterImportError: any row has a problem now; nothing is written.
    """
    filename, content = load_staged(token, user_id)
    return confirm_import(filename, content, user_id, today)
