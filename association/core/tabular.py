"""CSV and XLSX: uploads read and staged the same way by every import, and
spreadsheet safety for every export (nothing we write runs as a formula)."""

import csv
import io
import re
import secrets
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

#: A cell starting with one of these is run as a formula by Excel and LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"^\+\d{6,15}$")


def formula_safe(value):
    """Text a spreadsheet would run as a formula gets a leading apostrophe.

    A phone number in E.164 (``+`` and digits only) is left alone: it cannot be a
    formula, and the apostrophe would spoil it.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _E164.match(value):
        return "'" + value
    return value


# --- Reading uploads ------------------------------------------------------------------


@dataclass(frozen=True)
class ReadErrors:
    """What to raise, in the importer's words, when an upload cannot be read (each makes
    a new exception)."""

    #: The bytes are no text (NUL bytes outside UTF-16, or broken UTF-16).
    not_text: Callable[[], Exception]
    #: The CSV breaks near this row (a quote left open, say).
    bad_csv: Callable[[int], Exception]
    #: Not an Excel workbook openpyxl can read.
    bad_xlsx: Callable[[], Exception]


def decode_text(content: bytes) -> str | None:
    """CSV bytes as text: UTF-16 by its byte order mark, else UTF-8, else Windows-1252
    (Excel's "CSV" on Windows), else Latin-1; None when they are not text."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in content:
        return None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


def _delimiter(text: str) -> str:
    """Comma, semicolon or tab: whichever the first non-empty line has most of."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def csv_rows(content: bytes, max_columns: int, errors: ReadErrors) -> Iterator[tuple[int, list]]:
    """(row number from 1, cells) of a CSV file, at most ``max_columns`` cells a row."""
    text = decode_text(content)
    if text is None:
        raise errors.not_text()
    # strict: a quote left open would otherwise swallow every row after it, silently.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            yield number, row[:max_columns]
    except csv.Error:
        raise errors.bad_csv(number + 1) from None


def xlsx_rows(content: bytes, max_columns: int, errors: ReadErrors) -> Iterator[tuple[int, list]]:
    """(row number from 1, cell values) of the first sheet of an Excel workbook."""
    from openpyxl import load_workbook  # only imports read workbooks: keep start-up quick

    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise errors.bad_xlsx()
    try:
        with warnings.catch_warnings():
            # Real workbooks carry features openpyxl skips with a warning; we need values.
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # any malformed workbook: openpyxl raises many kinds
        raise errors.bad_xlsx() from None
    try:
        if not workbook.worksheets:
            raise errors.bad_xlsx()
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # trust the cells, not a stored (possibly huge) size
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for number, row in enumerate(
                    sheet.iter_rows(values_only=True, max_col=max_columns), start=1
                ):
                    yield number, list(row)
        except Exception:
            raise errors.bad_xlsx() from None
    finally:
        workbook.close()


# --- Keeping an upload between preview and confirmation --------------------------------


class Staging:
    """Uploads kept between their preview and the uploader's confirmation: files named
    by a random token in a folder of ``UPLOAD_DIR``, for their uploader only, a day."""

    SECONDS = 24 * 60 * 60
    TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

    def __init__(self, folder: str):
        self.name = folder

    def folder(self) -> Path:
        path = Path(current_app.config["UPLOAD_DIR"]) / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def new_token(self) -> str:
        """A new random token, after deleting what is older than a day."""
        folder, now = self.folder(), time.time()
        for path in folder.iterdir():
            try:
                if path.is_file() and now - path.stat().st_mtime > self.SECONDS:
                    path.unlink()
            except FileNotFoundError:  # another request purged it first
                continue
        return secrets.token_urlsafe(24)

    def path(self, token, suffix: str) -> Path | None:
        """The file of ``token`` with ``suffix``; None when ``token`` is not one of ours."""
        if not isinstance(token, str) or not self.TOKEN_RE.match(token):
            return None
        return self.folder() / f"{token}.{suffix}"

    @staticmethod
    def write(path: Path, data: bytes) -> None:
        path.write_bytes(data)
        path.chmod(0o600)

    @staticmethod
    def owner(user_id: int) -> dict:
        """What a staged upload records of who may load it, and since when."""
        return {"user_id": user_id, "staged_at": time.time()}

    def is_theirs(self, meta: dict, user_id: int) -> bool:
        """Whether ``user_id`` staged it, less than a day ago."""
        return meta["user_id"] == user_id and time.time() - meta["staged_at"] <= self.SECONDS
