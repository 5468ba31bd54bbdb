"""The caps every workbook upload is held to, from its ZIP's directory and while reading;
defusedxml under openpyxl. The imports' own pages are tested in tests/members and
tests/mpesa (with the 100 MiB bomb, in another process, for its memory)."""

import io
import zipfile

import openpyxl
import pytest

from association.core import tabular
from association.core.tabular import (
    MAX_COMPRESSION_RATIO,
    MAX_UNCOMPRESSED_BYTES,
    MAX_ZIP_ENTRIES,
    RATIO_FREE_BYTES,
    CappedZipFile,
    ReadErrors,
    ZipBombError,
    check_zip,
    xlsx_rows,
)
from tests.core import zipbombs


class Refused(Exception):
    pass


ERRORS = ReadErrors(not_text=lambda: Refused("not text"), bad_csv=lambda row: Refused("csv"),
                    bad_xlsx=lambda: Refused("bad xlsx"), too_big=lambda m: Refused(str(m)))


def zip_of(parts: dict, method=zipfile.ZIP_DEFLATED) -> zipfile.ZipFile:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


def test_openpyxl_parses_with_defusedxml():
    assert openpyxl.DEFUSEDXML is True
    from openpyxl.xml import functions

    assert functions.iterparse.__module__.startswith("defusedxml")


def test_the_number_of_parts_is_capped():
    check_zip(zip_of({f"p{n}": b"x" for n in range(MAX_ZIP_ENTRIES)}))
    with pytest.raises(ZipBombError, match="entries"):
        check_zip(zip_of({f"p{n}": b"x" for n in range(MAX_ZIP_ENTRIES + 1)}))


def test_the_unpacked_size_is_capped_all_parts_together():
    half = MAX_UNCOMPRESSED_BYTES // 2
    stored = zipfile.ZIP_STORED  # no ratio at all: only the size counts
    check_zip(zip_of({"a": b"\0" * half, "b": b"\0" * half}, stored))
    with pytest.raises(ZipBombError, match="unpacked size"):
        check_zip(zip_of({"a": b"\0" * half, "b": b"\0" * (half + 1)}, stored))


def test_the_compression_ratio_is_capped_above_a_small_size():
    check_zip(zip_of({"small": b"\0" * RATIO_FREE_BYTES}))  # packs ~1000 times: harmless
    with pytest.raises(ZipBombError, match="big: ratio"):
        check_zip(zip_of({"big": b"\0" * (RATIO_FREE_BYTES + 1)}))
    # Many small parts, each free of the ratio, are held to it together.
    with pytest.raises(ZipBombError, match="overall ratio"):
        check_zip(zip_of({f"p{n}": b"\0" * (RATIO_FREE_BYTES // 2) for n in range(4)}))
    # Real data packing less than the cap passes however large.
    text = b"".join(b"%07d,Amina Wanjiku,0712%06d\n" % (n, n) for n in range(100_000))
    archive = zip_of({"rows.csv": text})
    assert archive.getinfo("rows.csv").file_size < \
        MAX_COMPRESSION_RATIO * archive.getinfo("rows.csv").compress_size
    check_zip(archive)


def test_reading_is_counted_against_the_cap_whatever_the_directory_says(monkeypatch):
    archive = CappedZipFile(io.BytesIO(zipbombs.real_workbook([["a"] * 50] * 200)))
    assert archive.read(zipbombs.SHEET).startswith(b"<worksheet")
    read = archive.unpacked
    assert read == archive.getinfo(zipbombs.SHEET).file_size
    monkeypatch.setattr(tabular, "MAX_UNCOMPRESSED_BYTES", read + 100)
    with pytest.raises(ZipBombError), archive.open(zipbombs.SHEET) as part:
        part.read()


def test_a_part_that_unpacks_to_more_than_it_declared_is_refused():
    archive = CappedZipFile(io.BytesIO(zipbombs.real_workbook([["a"]])))
    info = archive.getinfo(zipbombs.SHEET)
    info.file_size -= 10  # as a lying directory would say; reading shows the truth
    with pytest.raises((ZipBombError, zipfile.BadZipFile)), archive.open(info) as part:
        part.read()


def test_bombs_are_refused_before_a_row_and_real_workbooks_read(app):
    with app.test_request_context():
        for bomb in (zipbombs.bomb_workbook(("a",)), zipbombs.many_parts_workbook(),
                     zipbombs.entity_workbook()):
            with pytest.raises(Refused, match="too big to read safely"):
                next(xlsx_rows(bomb, 5, ERRORS))
        with pytest.raises(Refused, match="bad xlsx"):
            next(xlsx_rows(zipbombs.lying_workbook(("a",)), 5, ERRORS))
        rows = list(xlsx_rows(zipbombs.real_workbook([["a", 1], ["b", 2]]), 2, ERRORS))
        assert rows == [(1, ["a", 1]), (2, ["b", 2])]
