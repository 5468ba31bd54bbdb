"""CSV and XLSX: uploads read and staged the same way by every import, and
spreadsheet safety for every export (nothing we write runs as a formula).

An XLSX is a ZIP of XML parts, so a small upload can unpack to gigabytes (a "zip
bomb") or expand XML entities without end (an "XML bomb"). Every workbook is checked
from its ZIP's central directory before openpyxl sees it (number of parts, total
unpacked size, compression ratio: :func:`check_zip`), every part is then read through
a stream that counts what it really unpacks (a ZIP's declared sizes can lie), and
openpyxl parses XML with ``defusedxml``, which refuses entity declarations.

Bytes are not memory: even in read-only mode openpyxl parses the shared strings, the
styles and the workbook's small parts whole into Python objects, several hundred bytes an
element. So a part is capped by its role (:func:`part_cap`): the worksheets, streamed row
by row, only by the workbook's total; the shared strings and the styles by their own
size and number of elements; every other part openpyxl reads (content types, relations,
workbook, document properties, theme) at 1 MiB and 10,000 elements.
"""

import csv
import io
import re
import secrets
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from association.hosting.tenancy import uploads_dir

#: The most parts (files) a workbook's ZIP may hold; a real register has a dozen.
MAX_ZIP_ENTRIES = 1000
#: The most a workbook may unpack to, all parts together (and so any one part).
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
#: The most a part may be compressed (unpacked size / packed size), and the whole ZIP:
#: spreadsheets XML packs 5 to 30 times; bombs pack hundreds to a thousand times.
MAX_COMPRESSION_RATIO = 100
#: Parts (or a whole ZIP) unpacking to less than this are not held to the ratio: tiny
#: parts of repeated XML pack very well and are harmless.
RATIO_FREE_BYTES = 1024 * 1024

#: The shared strings (every distinct text of the workbook, held in a list): a
#: 20,000-row register saved by Excel has ~120,000 (3.1 MiB, 240,000 elements), an
#: M-Pesa statement of 20,000 rows ~100,000 (3.8 MiB). Each element costs ~100 bytes.
MAX_SHARED_STRINGS_BYTES = 16 * 1024 * 1024
MAX_SHARED_STRINGS_ELEMENTS = 500_000
#: The styles (xl/styles.xml, parsed whole): a workbook Excel or openpyxl saves has a
#: few KiB and ~100 elements, a heavily formatted one a few thousand. Each cell format
#: costs ~1 KiB once parsed.
MAX_STYLES_BYTES = 4 * 1024 * 1024
MAX_STYLES_ELEMENTS = 20_000
#: Every other part openpyxl parses whole (content types, relations, the workbook,
#: document properties, theme): a real one has a few KiB and some hundred elements.
MAX_PART_BYTES = 1024 * 1024
MAX_PART_ELEMENTS = 10_000
#: Where openpyxl always reads the styles; the shared strings' usual place.
STYLES_PART = "xl/styles.xml"
SHARED_STRINGS_PART = "xl/sharedStrings.xml"

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
    #: A workbook (or ZIP) over the caps, or XML with entities: the importer's exception
    #: carries :func:`too_big_message`, the same words for every import.
    too_big: Callable[[str], Exception]


class ZipBombError(Exception):
    """A ZIP over the caps (parts, unpacked size, ratio), or XML with entities."""


@dataclass(frozen=True)
class PartCap:
    """What one part may unpack to, and how many XML elements it may hold (None: not
    counted, the part is streamed)."""

    role: str
    bytes: int
    elements: int | None


#: Worksheets, read as a stream: held only to the workbook's total.
STREAMED = PartCap("worksheet", MAX_UNCOMPRESSED_BYTES, None)
SHARED_STRINGS = PartCap("shared strings", MAX_SHARED_STRINGS_BYTES,
                         MAX_SHARED_STRINGS_ELEMENTS)
STYLES = PartCap("styles", MAX_STYLES_BYTES, MAX_STYLES_ELEMENTS)
OTHER_PART = PartCap("part", MAX_PART_BYTES, MAX_PART_ELEMENTS)
#: The parts every workbook has, by name: checked from the ZIP's directory already.
_NAMED_PARTS = {STYLES_PART: STYLES, SHARED_STRINGS_PART: SHARED_STRINGS,
                "[Content_Types].xml": OTHER_PART, "_rels/.rels": OTHER_PART,
                "xl/workbook.xml": OTHER_PART, "xl/_rels/workbook.xml.rels": OTHER_PART}


def part_cap(name: str) -> PartCap:
    """The cap of a part openpyxl parses whole, by the name it reads it under (the
    styles are always at :data:`STYLES_PART`; the shared strings, wherever the workbook
    says, are read as :data:`SHARED_STRINGS` by :class:`_CappedReader`)."""
    return STYLES if name == STYLES_PART else OTHER_PART


def too_big_message():
    """What the uploader reads when a workbook is over the caps: the same words for every
    import, with the caps in them."""
    from flask_babel import lazy_gettext as _l

    return _l(
        "This workbook is too big to read safely: unpacked it would be more than %(mb)d MB, "
        "more than %(parts)d parts, or packed more than %(ratio)d times, or its styles or "
        "shared text are too large. Copy only the rows you need into a new workbook, or "
        "save the sheet as CSV, and upload it again.",
        mb=MAX_UNCOMPRESSED_BYTES // (1024 * 1024), parts=MAX_ZIP_ENTRIES,
        ratio=MAX_COMPRESSION_RATIO)


def _over_ratio(unpacked: int, packed: int) -> bool:
    return unpacked > RATIO_FREE_BYTES and unpacked > MAX_COMPRESSION_RATIO * packed


def check_zip(archive: zipfile.ZipFile) -> None:
    """Refuse a ZIP by its central directory: too many parts, too much unpacked in all,
    a part (or the whole) packed more than :data:`MAX_COMPRESSION_RATIO` times, or a
    workbook's usual part (styles, shared strings, workbook...) over its role's size.

    Raises:
        ZipBombError: which cap it is over.
    """
    entries = archive.infolist()
    if len(entries) > MAX_ZIP_ENTRIES:
        raise ZipBombError(f"{len(entries)} entries")
    unpacked = packed = 0
    for entry in entries:
        if _over_ratio(entry.file_size, entry.compress_size):
            raise ZipBombError(f"{entry.filename}: ratio")
        named = _NAMED_PARTS.get(entry.filename)
        if named is not None and entry.file_size > named.bytes:
            raise ZipBombError(f"{entry.filename}: {named.role} size")
        unpacked += entry.file_size
        packed += entry.compress_size
        if unpacked > MAX_UNCOMPRESSED_BYTES:
            raise ZipBombError("unpacked size")
    if _over_ratio(unpacked, packed):
        raise ZipBombError("overall ratio")


class _CappedStream(io.RawIOBase):
    """A ZIP part read through a count: no more than it declared, no more than what is
    left of the archive's :data:`MAX_UNCOMPRESSED_BYTES`, and no more than its role's
    :class:`PartCap` (bytes, and elements counted as the start tags read), whatever
    the part says."""

    def __init__(self, stream, declared: int, archive: "CappedZipFile | None", cap: PartCap):
        self._stream, self._left, self._archive, self._cap = stream, declared, archive, cap
        self._read = self._elements = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        self._left -= len(data)
        self._read += len(data)
        if self._archive is not None:  # None: a count before the part is parsed
            self._archive.unpacked += len(data)
        if self._left < 0 or (self._archive is not None
                              and self._archive.unpacked > MAX_UNCOMPRESSED_BYTES):
            raise ZipBombError("unpacked more than declared or allowed")
        if self._read > self._cap.bytes:
            raise ZipBombError(f"{self._cap.role}: more than {self._cap.bytes} bytes")
        if self._cap.elements is not None:
            # Every element has a start tag, "<" but not "</" (a comment, a CDATA or a
            # tag split between two reads counts too: never fewer than there are).
            self._elements += data.count(b"<") - data.count(b"</")
            if self._elements > self._cap.elements:
                raise ZipBombError(f"{self._cap.role}: more than {self._cap.elements} "
                                   "elements")
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


class CappedZipFile(zipfile.ZipFile):
    """A ZIP checked by :func:`check_zip` when opened, whose parts are read through
    :class:`_CappedStream`: the caps hold even when the central directory lies.

    Parts are streamed (held to the total only) unless read inside :meth:`whole_parts`,
    where each is held to its role's :class:`PartCap`."""

    def __init__(self, file, mode="r", *args, **kwargs):
        super().__init__(file, mode, *args, **kwargs)
        self.unpacked = 0
        self._whole = False
        self._role: PartCap | None = None
        self._parts: dict[str, PartCap] = {}
        try:
            check_zip(self)
        except ZipBombError:
            self.close()
            raise

    @contextmanager
    def whole_parts(self, role: PartCap | None = None, parts: dict | None = None):
        """Parts opened inside are parsed whole, each held to its cap: ``parts`` (name:
        cap), else ``role``, else :func:`part_cap` of its name."""
        outer = self._whole, self._role, self._parts
        self._whole, self._role, self._parts = True, role, parts or {}
        try:
            yield
        finally:
            self._whole, self._role, self._parts = outer

    def open(self, name, mode="r", pwd=None, **kwargs):
        if mode != "r":
            return super().open(name, mode, pwd=pwd, **kwargs)
        info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
        cap = STREAMED
        if self._whole:
            cap = self._parts.get(info.filename) or self._role or part_cap(info.filename)
        if cap.elements is not None:
            # Count first, parse after: refused in milliseconds, not when half parsed.
            with _CappedStream(super().open(info, pwd=pwd, **kwargs), info.file_size, None,
                               cap) as counted:
                while counted.read(1024 * 1024):
                    pass
        return io.BufferedReader(_CappedStream(super().open(info, pwd=pwd, **kwargs),
                                               info.file_size, self, cap))

    def read(self, name, pwd=None):
        with self.open(name, "r", pwd) as stream:
            return stream.read()


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


def _load_workbook(content: bytes):
    """openpyxl's read-only (streaming) workbook, reading its parts from a
    :class:`CappedZipFile` (checked before openpyxl reads a byte): every part it parses
    whole while loading is held to its role's cap, the worksheets it streams afterwards
    to the total."""
    # Only imports read workbooks: keep start-up quick.
    from openpyxl.reader.excel import ExcelReader

    class _CappedReader(ExcelReader):
        def read_strings(self):
            # Wherever the content types put them, the part read here is the strings.
            with self.archive.whole_parts(SHARED_STRINGS):
                super().read_strings()

        def read_worksheets(self):
            # A read-only sheet looks for its stored size when made: a stream, which
            # reads the whole sheet when it has none (so held to the total only). A
            # chart sheet is parsed whole.
            sheets = {rel.target: STREAMED for _sheet, rel in self.parser.find_sheets()
                      if "chartsheet" not in rel.Type}
            with self.archive.whole_parts(parts=sheets):
                super().read_worksheets()

    archive = CappedZipFile(io.BytesIO(content))
    try:
        # load_workbook(), but the reader's parts come from the capped archive.
        reader = _CappedReader(io.BytesIO(content), read_only=True, data_only=True,
                               keep_links=False)
        reader.archive.close()
        reader.archive = archive
        with archive.whole_parts():
            reader.read()
    except BaseException:
        archive.close()
        raise
    return reader.wb


def _bomb(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a cap or defusedxml's refusal."""
    from defusedxml import DefusedXmlException

    while exc is not None:
        if isinstance(exc, ZipBombError | DefusedXmlException):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def xlsx_rows(content: bytes, max_columns: int, errors: ReadErrors) -> Iterator[tuple[int, list]]:
    """(row number from 1, cell values) of the first sheet of an Excel workbook, read as a
    stream (openpyxl's read-only mode) within the caps of :func:`check_zip` and, part by
    part, of its role (:func:`_load_workbook`).

    Raises (what ``errors`` makes): ``too_big`` for a workbook over the caps or with XML
    entities, ``bad_xlsx`` for anything else openpyxl cannot read.
    """
    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise errors.bad_xlsx()
    try:
        with warnings.catch_warnings():
            # Real workbooks carry features openpyxl skips with a warning; we need values.
            warnings.simplefilter("ignore")
            workbook = _load_workbook(content)
    except Exception as exc:  # any malformed workbook: openpyxl raises many kinds
        if _bomb(exc):
            raise errors.too_big(too_big_message()) from None
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
        except Exception as exc:
            if _bomb(exc):
                raise errors.too_big(too_big_message()) from None
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
        path = uploads_dir() / self.name
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
