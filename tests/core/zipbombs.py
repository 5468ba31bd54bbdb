"""Workbooks that attack the reader: a zip bomb (a small file that unpacks to 100 MiB),
too many parts, a part that lies about its size, XML entities (a "billion laughs").

Each starts from a real workbook openpyxl wrote, so only the attack makes it unreadable.
"""

import io
import random
import zipfile
from functools import cache
from xml.sax.saxutils import escape

from openpyxl import Workbook

SHEET = "xl/worksheets/sheet1.xml"
MiB = 1024 * 1024


def real_workbook(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rebuild(content: bytes, replace: dict, extra: dict | None = None) -> bytes:
    """The workbook with some parts replaced (name -> bytes or a writer) and others added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as old, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as new:
        for info in old.infolist():
            part = replace.get(info.filename, old.read(info.filename))
            if callable(part):
                with new.open(info.filename, "w") as stream:
                    part(stream)
            else:
                new.writestr(info.filename, part)
        for name, part in (extra or {}).items():
            new.writestr(name, part)
    return out.getvalue()


@cache
def bomb_workbook(header: tuple, unpacked: int = 100 * MiB) -> bytes:
    """A workbook of ~300 KiB whose sheet unpacks to ``unpacked`` bytes: ``header``, then
    rows of one repeated text cell until the size is reached."""
    cells = "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in header)

    def sheet(stream):
        stream.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns='
                     b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
        written, number = 0, 1
        stream.write(f"<row>{cells}</row>".encode())
        chunk = []
        while written < unpacked:
            number += 1
            # A little variety (every 512th row): ~300 KiB for 100 MiB, packed ~330 times.
            text = f"x{number % 997}" if number % 512 == 0 else "x"
            row = f'<row><c t="inlineStr"><is><t>{text}</t></is></c></row>'
            chunk.append(row)
            written += len(row)
            if len(chunk) == 10000:
                stream.write("".join(chunk).encode())
                chunk = []
        stream.write("".join(chunk).encode() + b"</sheetData></worksheet>")

    return _rebuild(real_workbook([["placeholder"]]), {SHEET: sheet})


def many_parts_workbook(parts: int = 1001) -> bytes:
    return _rebuild(real_workbook([["a"]]),
                    {}, {f"xl/media/part{n}.txt": b"x" for n in range(parts)})


@cache
def lying_workbook(header: tuple, unpacked: int = 60 * MiB) -> bytes:
    """A bomb whose central directory says its sheet unpacks to 1 KiB (ratio and size
    within every cap): only reading it shows what it really is."""
    content = bomb_workbook(header, unpacked)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        info = archive.getinfo(SHEET)
    # The sheet's central directory record: its 32-bit uncompressed size says 1 KiB.
    data = bytearray(content)
    central = data.find(b"PK\x01\x02")
    while True:
        name_len = int.from_bytes(data[central + 28:central + 30], "little")
        if bytes(data[central + 46:central + 46 + name_len]) == SHEET.encode():
            break
        central = data.find(b"PK\x01\x02", central + 4)
    data[central + 24:central + 28] = (1024).to_bytes(4, "little")
    assert info.file_size >= unpacked
    return bytes(data)


def entity_workbook(part: str = SHEET) -> bytes:
    """A sheet (or another part) with a "billion laughs": ten levels of ten entities."""
    lol = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    content = real_workbook([["text"]])
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        xml = archive.read(part).decode()
    root = xml.index("<", xml.index("?>") + 2) if xml.startswith("<?xml") else 0
    xml = (xml[:root] + "<!DOCTYPE lolz [" + "".join(lol) + "]>" + xml[root:])
    if part == SHEET:
        xml = xml.replace("<t>text</t>", "<t>&lol9;</t>")
    return _rebuild(content, {part: xml.encode()})


STYLES = "xl/styles.xml"
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def _styles(cell_formats: str, count: int) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<styleSheet xmlns="{_NS}">'
            '<fonts count="1"><font/></fonts><fills count="1"><fill><patternFill/></fill>'
            '</fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/>'
            f'</cellStyleXfs><cellXfs count="{count}">{cell_formats}</cellXfs>'
            '</styleSheet>').encode()


@cache
def styles_bomb_workbook(header: tuple, unpacked: int = 48 * MiB) -> bytes:
    """The security review's bomb: ~3 MiB whose styles unpack to 48 MiB of varied cell
    formats (packed ~16 times, under every cap of the whole workbook), which openpyxl
    parses whole even when reading as a stream (790 MiB, 11.6 s)."""
    numbers = random.Random(1)  # noqa: S311 (the same bomb every run)
    formats, written = [], 0
    while written < unpacked:
        xf = (f'<xf numFmtId="{numbers.randrange(10**6)}" fontId="0" fillId="0" '
              'borderId="0" xfId="0"/>')
        formats.append(xf)
        written += len(xf)
    return _rebuild(real_workbook([list(header)]),
                    {STYLES: _styles("".join(formats), len(formats))})


@cache
def dense_styles_workbook(header: tuple, formats: int = 200_000) -> bytes:
    """Styles of the smallest cell formats (``<xf/>``, 5 bytes, ~600 bytes each parsed):
    under 1 MiB, so free of the ratio, and under the styles' byte cap: only counting
    their elements refuses them."""
    return _rebuild(real_workbook([list(header)]), {STYLES: _styles("<xf/>" * formats,
                                                                    formats)})


@cache
def strings_bomb_workbook(header: tuple, strings: int = 2_000_000,
                          part: str = "xl/strings.xml") -> bytes:
    """A workbook of ~1 MiB whose shared strings (under ``part``, as its content types
    say: not the usual name, so only reading them shows what they are) are ``strings``
    texts, mostly empty and every eighth a random number: ~100 bytes each in openpyxl's
    list, read whole even when reading as a stream. The sheet is ``header`` as inline
    text."""
    numbers = random.Random(2)  # noqa: S311 (the same bomb every run)
    items = "".join(f"<si><t>{numbers.randrange(10**6)}</t></si>" if n % 8 == 0 else "<si/>"
                    for n in range(strings))
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="{_NS}" count="{strings}" '
           f'uniqueCount="{strings}">{items}</sst>').encode()
    return _with_shared_strings(real_workbook([list(header)]), xml, part)


def shared_strings_workbook(rows) -> bytes:
    """A workbook as Excel saves it: every text cell in the shared strings (openpyxl
    writes text inline), numbers as numbers."""
    strings: dict[str, int] = {}
    sheet = [f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{_NS}"><sheetData>']
    for number, row in enumerate(rows, start=1):
        cells = []
        for value in row:
            if isinstance(value, str):
                index = strings.setdefault(value, len(strings))
                cells.append(f'<c t="s"><v>{index}</v></c>')
            else:
                cells.append(f"<c><v>{value}</v></c>")
        sheet.append(f'<row r="{number}">{"".join(cells)}</row>')
    sheet.append("</sheetData></worksheet>")
    texts = "".join(f"<si><t>{escape(text)}</t></si>" for text in strings)
    table = (f'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="{_NS}" '
             f'uniqueCount="{len(strings)}">{texts}</sst>')
    return _with_shared_strings(real_workbook([["placeholder"]]), table.encode(),
                                "xl/sharedStrings.xml", "".join(sheet).encode())


def _with_shared_strings(content: bytes, table: bytes, part: str,
                         sheet: bytes | None = None) -> bytes:
    """The workbook with ``table`` as its shared strings under ``part`` (declared in its
    content types and the workbook's relations), and ``sheet`` as its sheet if given."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        types = archive.read("[Content_Types].xml").decode()
        relations = archive.read("xl/_rels/workbook.xml.rels").decode()
    types = types.replace("</Types>", f'<Override PartName="/{part}" '
                                      f'ContentType="{_STRINGS_TYPE}"/></Types>')
    relations = relations.replace("</Relationships>", (
        f'<Relationship Id="rIdStrings" Target="/{part}" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
        "</Relationships>"))
    replace = {"[Content_Types].xml": types.encode(),
               "xl/_rels/workbook.xml.rels": relations.encode()}
    if sheet is not None:
        replace[SHEET] = sheet
    return _rebuild(content, replace, {part: table})
