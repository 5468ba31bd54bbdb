"""What every PDF the app makes shares: its fonts, table styles and QR codes.

Debian's DejaVu Sans has every letter our members' names use (Kikuyu's ĩ and ũ
too); the PDF viewer's own Helvetica needs nothing embedded but knows only
Latin-1, so text for it is folded (ũ -> u).
"""

import functools
import itertools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.barcode.qrencoder import (
    EXP_TABLE,
    LOG_TABLE,
    QRBitBuffer,
    QRCode,
    QRRSBlock,
    QRUtil,
)
from reportlab.lib import colors
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import TableStyle

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
#: The PDF viewer's own fonts: nothing to embed.
BUILTIN_FONTS = ("Helvetica", "Helvetica-Bold")
_unicode: tuple[str, str] | None = None


def unicode_fonts() -> tuple[str, str] | None:
    """(regular, bold) DejaVu Sans, registered once; None when it is not installed."""
    global _unicode
    if _unicode is None:
        regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
        if not (regular.is_file() and bold.is_file()):
            return None
        pdfmetrics.registerFont(TTFont("AppSans", str(regular)))
        pdfmetrics.registerFont(TTFont("AppSans-Bold", str(bold)))
        _unicode = ("AppSans", "AppSans-Bold")
    return _unicode


def document_fonts() -> tuple[str, str]:
    """(regular, bold) for a document of many names: DejaVu Sans where installed."""
    return unicode_fonts() or BUILTIN_FONTS


def fold_for_latin1(text: str) -> str:
    """Text the built-in PDF fonts can show: "Wanjirũ" -> "Wanjiru"; other letters -> "?"."""
    try:
        text.encode("cp1252")  # nearly always: nothing to fold, and one call, not one a letter
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


# --- Tables -------------------------------------------------------------------------


def grid_style(header: bool = True) -> TableStyle:
    """Every cell boxed, the header row grey: rosters and lists to sign."""
    return TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")) if header else
        ("BACKGROUND", (0, 0), (0, 0), colors.white),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ])


def ruled_style(header: bool = True) -> TableStyle:
    """A light rule under each row, the header row green: governance documents."""
    style = [("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#BBBBBB"))]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E6EFEA")))
    return TableStyle(style)


# --- QR codes ---------------------------------------------------------------


def qr_modules(url: str) -> list[list[bool]]:
    """The QR code's modules, as reportlab's own widget makes them (error level M).

    Not segno: drawing a receipt's code with it took 4.7 to 5.5 ms (12 ms on a loaded
    machine) against 0.8 ms (1.6) here, more than the whole rest of the receipt.

    reportlab's ``make()`` spends most of its time choosing the mask: it lays
    the data out eight times and scores each in pure Python. Here each row is an
    integer (one bit a module): the data is laid out once, each mask is one XOR
    a row, and the same scoring rules choose the same mask. The function
    patterns (with each mask's format information) come from reportlab, once per
    version; the data bytes and their error correction are reportlab's. The
    result is identical to ``make()`` (a test checks it).
    """
    qr = QrCodeWidget(url, barLevel="M").qr
    if qr.version is None:
        qr.version = qr.calculate_version()
    if qr.dataCache is None:
        qr.dataCache = _qr_data(qr.version, qr.errorCorrectLevel, qr.dataList)
    grid = _qr_grid(qr)
    count = len(grid.scoring)
    data = [0] * count
    bits = format(int.from_bytes(bytes(qr.dataCache)), f"0{8 * len(qr.dataCache)}b")
    # The data's dark modules, in reportlab's order; cells beyond the data stay light.
    for row, value in itertools.compress(grid.cells, map("1".__eq__, bits)):
        data[row] |= value
    best = None
    for pattern, mask in enumerate(grid.masks):
        rows = [format(f | (d ^ m), f"0{count}b")
                for f, d, m in zip(grid.scoring, data, mask, strict=True)]
        score = _mask_penalty(rows)
        if best is None or score < best[0]:
            best = (score, pattern)
    pattern = best[1]
    return [[dark == "1" for dark in format(f | (d ^ m), f"0{count}b")]
            for f, d, m in zip(grid.function[pattern], data, grid.masks[pattern], strict=True)]


@dataclass(frozen=True)
class _QrGrid:
    """What one QR version's modules are made of, each row an integer (leftmost module =
    highest bit)."""

    #: (row, bit) of every data module, in the order reportlab fills them.
    cells: list[tuple[int, int]]
    #: The function patterns as when scoring masks (format information left light).
    scoring: list[int]
    #: Per mask pattern: the function patterns with that mask's format information.
    function: list[list[int]]
    #: Per mask pattern: which data modules it darkens.
    masks: list[list[int]]


#: One grid per QR version (they depend only on the version and error level).
_QR_GRIDS: dict[tuple[int, int], _QrGrid] = {}


def _qr_grid(qr) -> _QrGrid:
    key = (qr.version, qr.errorCorrectLevel)
    if key not in _QR_GRIDS:
        qr.makeImpl(True, 0)
        count = qr.getModuleCount()
        positions = list(qr.dataPosIterator())
        cells = [(row, 1 << (count - 1 - col)) for col, row in positions]
        data_cells = [0] * count
        for row, value in cells:
            data_cells[row] |= value

        def rows_without_data() -> list[int]:
            return [int("".join("1" if dark else "0" for dark in modules), 2) & ~data_cells[r]
                    for r, modules in enumerate(qr.modules)]

        scoring = rows_without_data()
        function, masks = [], []
        for pattern in range(8):
            qr.makeImpl(False, pattern)
            function.append(rows_without_data())
            mask, darkens = [0] * count, QRUtil.getMask(pattern)
            for (col, row), (_row, value) in zip(positions, cells, strict=True):
                if darkens(row, col):
                    mask[row] |= value
            masks.append(mask)
        _QR_GRIDS[key] = _QrGrid(cells, scoring, function, masks)
    return _QR_GRIDS[key]


def _qr_data(version: int, level: int, data_list) -> list[int]:
    """The code's bytes with their error correction, as reportlab's ``QRCode.createData``
    makes them (a test checks it), with each Reed-Solomon generator polynomial computed
    once, and the remainders by the usual shift register rather than recursive division."""
    blocks = QRRSBlock.getRSBlocks(version, level)
    capacity = sum(block.dataCount for block in blocks)
    buffer = QRBitBuffer()
    for data in data_list:
        data.write(buffer, version)
    if buffer.getLengthInBits() + 4 <= capacity * 8:
        buffer.put(0, 4)  # the terminator
    while buffer.getLengthInBits() % 8:
        buffer.putBit(False)
    padding = itertools.cycle((QRCode.PAD0, QRCode.PAD1))
    while buffer.getLengthInBits() < capacity * 8:
        buffer.put(next(padding), 8)
    data_blocks, ec_blocks, offset = [], [], 0
    for block in blocks:
        data_blocks.append(buffer.buffer[offset:offset + block.dataCount])
        offset += block.dataCount
        ec_blocks.append(_rs_remainder(data_blocks[-1], block.totalCount - block.dataCount))
    return [byte for column in itertools.chain(itertools.zip_longest(*data_blocks),
                                               itertools.zip_longest(*ec_blocks))
            for byte in column if byte is not None]


@functools.cache
def _rs_generator_logs(ec_count: int) -> list[int]:
    """The logarithms of reportlab's Reed-Solomon generator coefficients (after the first)."""
    generator = QRUtil.getErrorCorrectPolynomial(ec_count).num
    return [LOG_TABLE[coefficient] for coefficient in generator[1:]]


def _rs_remainder(data: list[int], ec_count: int) -> list[int]:
    generator = _rs_generator_logs(ec_count)
    remainder = [0] * ec_count
    for byte in data:
        factor = byte ^ remainder[0]
        remainder = remainder[1:] + [0]
        if factor:
            log = LOG_TABLE[factor]
            for i, coefficient in enumerate(generator):
                remainder[i] ^= EXP_TABLE[(log + coefficient) % 255]
    return remainder


_FINDER_LIKE = "10111010000"


def _mask_penalty(rows: list[str]) -> int:
    """The QR penalty score of rows of "0"/"1", as reportlab's ``QRUtil.getLostPoint``.

    The rows are packed into one integer, each row above the next with a light
    module between them, so that runs and blocks are a few shifts and bit counts
    for the whole code rather than a loop over its modules.
    """
    size = len(rows)
    stride = size + 1  # a row and the light module that keeps it from touching the next
    dark = int("0".join(rows), 2)
    light = dark ^ int("0".join(["1" * size] * size), 2)
    score = 0
    for colour in (dark, light):
        # Runs of 5 or more, along rows (shift 1) and columns (shift one row), each
        # scoring its length less 2: ``five`` marks each module that starts five of
        # one colour, so a run of n marks n - 4 modules in a row, and the last mark
        # of each run (no mark one step on) adds the other 2.
        for step in (1, stride):
            five = colour
            for k in range(1, 5):
                five &= colour >> (k * step)
            score += five.bit_count() + 2 * (five & ~(five >> step)).bit_count()
        # 2x2 blocks of one colour.
        score += 3 * (colour & (colour >> 1) & (colour >> stride)
                      & (colour >> (stride + 1))).bit_count()
    # Finder-like patterns: reportlab looks along the rows only, and not at the last
    # position of a row.
    score += 40 * "2".join(row[:-1] for row in rows).count(_FINDER_LIKE)
    cells = size * size
    return score + 10 * (abs(100 * dark.bit_count() // cells - 50) // 5)


def draw_qr(canvas: Canvas, x: float, top: float, size: float, modules) -> None:
    """The dark modules as one filled path, a rectangle per horizontal run, keeping the
    quiet zone of 4 modules white.

    Written as PDF operators directly: through the path API a receipt's ~400
    rectangles cost more than the rest of the page.
    """
    count = len(modules)
    box = size / (count + 8)
    ops = ["q 0 g"]
    for r, row in enumerate(modules):
        y = top - (r + 5) * box
        c = 0
        while c < count:
            if row[c]:
                start = c
                while c < count and row[c]:
                    c += 1
                ops.append(f"{x + (start + 4) * box:.2f} {y:.2f} "
                           f"{(c - start) * box:.2f} {box * 1.02:.2f} re")
            else:
                c += 1
    ops.append("f Q")
    canvas.addLiteral("\n".join(ops))
