"""The caps every workbook upload is held to, from its ZIP's directory and while reading;
defusedxml under openpyxl. The imports' own pages are tested in tests/members and
tests/mpesa (with the 100 MiB bomb, in another process, for its memory)."""

import io
import re
import zipfile

import openpyxl
import pytest

from association.core import tabular
from association.core.tabular import (
    MAX_COMPRESSION_RATIO,
    MAX_PART_BYTES,
    MAX_PART_ELEMENTS,
    MAX_SHARED_STRINGS_BYTES,
    MAX_SHARED_STRINGS_ELEMENTS,
    MAX_STYLES_BYTES,
    MAX_STYLES_ELEMENTS,
    MAX_UNCOMPRESSED_BYTES,
    MAX_ZIP_ENTRIES,
    RATIO_FREE_BYTES,
    SHARED_STRINGS,
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
                     zipbombs.entity_workbook(), zipbombs.styles_bomb_workbook(("a",)),
                     zipbombs.dense_styles_workbook(("a",)),
                     zipbombs.strings_bomb_workbook(("a",)),
                     zipbombs.strings_bomb_workbook(("a",), part="xl/sharedStrings.xml")):
            with pytest.raises(Refused, match="too big to read safely"):
                next(xlsx_rows(bomb, 5, ERRORS))
        with pytest.raises(Refused, match="bad xlsx"):
            next(xlsx_rows(zipbombs.lying_workbook(("a",)), 5, ERRORS))
        rows = list(xlsx_rows(zipbombs.real_workbook([["a", 1], ["b", 2]]), 2, ERRORS))
        assert rows == [(1, ["a", 1]), (2, ["b", 2])]


# --- Caps by role: what openpyxl parses whole is capped to what a real workbook needs ---

STORED = zipfile.ZIP_STORED  # no ratio: only the sizes count


def test_the_usual_parts_are_capped_by_their_role_from_the_directory():
    for name, cap in (("xl/styles.xml", MAX_STYLES_BYTES),
                      ("xl/sharedStrings.xml", MAX_SHARED_STRINGS_BYTES),
                      ("xl/workbook.xml", MAX_PART_BYTES), ("[Content_Types].xml", MAX_PART_BYTES),
                      ("_rels/.rels", MAX_PART_BYTES)):
        check_zip(zip_of({name: b" " * cap}, STORED))
        with pytest.raises(ZipBombError, match=f"{re.escape(name)}: .*size"):
            check_zip(zip_of({name: b" " * (cap + 1)}, STORED))
    # A worksheet (streamed) and a part openpyxl never parses: the total only.
    check_zip(zip_of({zipbombs.SHEET: b" " * (MAX_UNCOMPRESSED_BYTES - 1)}, STORED))
    check_zip(zip_of({"xl/media/image1.png": b" " * (2 * MAX_PART_BYTES)}, STORED))


def _archive(parts: dict) -> CappedZipFile:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", STORED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return CappedZipFile(io.BytesIO(out.getvalue()))


def elements(count: int) -> bytes:
    return b"<r>" + b"<e/>" * (count - 1) + b"</r>"


@pytest.mark.parametrize(("name", "role", "size", "count"), [
    ("xl/styles.xml", None, MAX_STYLES_BYTES, MAX_STYLES_ELEMENTS),
    ("xl/theme/theme1.xml", None, MAX_PART_BYTES, MAX_PART_ELEMENTS),
    ("xl/strings.xml", SHARED_STRINGS, MAX_SHARED_STRINGS_BYTES, MAX_SHARED_STRINGS_ELEMENTS),
])
def test_a_part_parsed_whole_is_held_to_its_role_while_read(name, role, size, count):
    """Read whole, a part is held to its role's size and number of elements (not by its
    name alone: the shared strings are where the workbook says); streamed, only to the
    total. Whatever the directory says: these names are not the usual ones."""
    fits = {"size": b" " * size, "count": elements(count)}
    over = {"size": b" " * (size + 1), "count": elements(count + 1)}
    archive = _archive({f"{kind}-fits": fits[kind] for kind in fits}
                       | {f"{kind}-over": over[kind] for kind in over}
                       | {name: elements(count + 1)})
    for kind in ("size", "count"):
        cap = role or tabular.part_cap(name)
        with archive.whole_parts(parts={f"{kind}-fits": cap, f"{kind}-over": cap}):
            assert archive.read(f"{kind}-fits") == fits[kind]
            with pytest.raises(ZipBombError, match="bytes" if kind == "size" else "elements"):
                archive.read(f"{kind}-over")
        assert archive.read(f"{kind}-over") == over[kind]  # streamed: the total only
    with archive.whole_parts(role), pytest.raises(ZipBombError, match="elements"):
        archive.read(name)
    assert archive.read(name) == elements(count + 1)


def test_elements_are_counted_by_their_start_tags():
    archive = _archive({"a": b'<?xml version="1.0"?><r><e>t</e><e a="1"/><!-- c --></r>'})
    few = tabular.PartCap("test", 1000, 4)  # ?xml, r, e, e and the comment: 5
    with archive.whole_parts(few), pytest.raises(ZipBombError, match="more than 4 elements"):
        archive.read("a")
    with archive.whole_parts(tabular.PartCap("test", 1000, 5)):
        archive.read("a")


def test_a_register_as_excel_saves_it_reads_within_the_caps(app):
    """20,000 rows of 12 columns, every text in the shared strings (~120,000 of them,
    3.1 MiB, 240,000 elements): well within their caps, every row read."""
    header = ["First name", "Other names", "Phone", "National ID", "Gender", "Year of birth",
              "Category", "Rental premises", "Zone", "Plot", "House", "Joined"]
    rows = [[f"Amina{n}", f"Wanjiku Njeri{n}", f"07{12_000_000 + n:08d}", f"{20_000_000 + n}",
             "Female", 1980, "Resident", f"Greenview Court {n % 50}", f"Zone {n % 7}",
             f"Plot {n}", f"House {n}-{n % 13}", "2024-01-05"] for n in range(20_000)]
    content = zipbombs.shared_strings_workbook([header, *rows])
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        strings = archive.read("xl/sharedStrings.xml")
    assert 3 * 1024 * 1024 < len(strings) < MAX_SHARED_STRINGS_BYTES / 4
    assert 200_000 < strings.count(b"<") - strings.count(b"</") < MAX_SHARED_STRINGS_ELEMENTS
    with app.test_request_context():
        read = list(xlsx_rows(content, 12, ERRORS))
    assert len(read) == 20_001
    assert read[0] == (1, header)
    assert read[-1] == (20_001, rows[-1])
