"""Workbooks that attack the reader: a zip bomb (a small file that unpacks to 100 MiB),
too many parts, a part that lies about its size, XML entities (a "billion laughs").

Each starts from a real workbook openpyxl wrote, so only the attack makes it unreadable.
"""

import io
import zipfile
from functools import cache

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
