"""Documents are checked by what they are: a disguised web page or SVG is refused, a photo
must decode as a photo (within a pixel cap), a PDF must open as a PDF."""

import struct
import zlib

import pytest
from flask_babel import force_locale

from association.core.uploads import (
    MAX_IMAGE_PIXELS,
    Document,
    DocumentRefused,
    carries_markup,
    check_content,
    detect_document_type,
)
from tests.core import documents


def check(name: str, content: bytes) -> str:
    content_type = detect_document_type(content)
    assert content_type is not None, name  # each passes the header test of today
    check_content(Document(name, content), content_type)
    return content_type


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
def test_real_photos_and_pdfs_pass(app, kind):
    with app.test_request_context():
        assert check("photo", documents.photo(kind, (640, 480))) == f"image/{kind.lower()}"
        assert check("risiti.pdf", documents.pdf()) == "application/pdf"


@pytest.mark.parametrize(("name", "content"), documents.POLYGLOTS)
def test_a_page_behind_a_photo_or_pdf_header_is_refused(app, name, content):
    with app.test_request_context():
        with pytest.raises(DocumentRefused) as refused:
            check(name, content)
        assert str(refused.value.message) == (
            f"{name} contains web page code (HTML, SVG or script), so it cannot be attached. "
            "Attach the photo or PDF itself.")
        with force_locale("sw"):
            assert "msimbo wa ukurasa wa wavuti" in str(refused.value.message)


@pytest.mark.parametrize("markup", [
    b"<HTML>", b"<Script src=x>", b"<svg/onload=alert(1)>", b"<!DOCTYPE  html>", b"<iframe ",
    b"JavaScript:alert(1)", b"<body onload=x>", b"<?xml-stylesheet href=x?>",
])
def test_markup_is_found_in_any_case_at_either_end_and_the_long_kinds_anywhere(markup):
    filler = bytes(range(256)).replace(b"<", b"") * 400  # ~100 KiB of binary
    assert carries_markup(markup + filler) and carries_markup(filler + markup)
    middle = filler + markup + filler
    assert carries_markup(middle) == (not markup.lower().startswith(b"<svg"))
    assert not carries_markup(filler)


def test_headers_without_the_picture_are_refused(app):
    truncated_jpeg = documents.photo("JPEG", (64, 64))[:300]
    fake_png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40
    fake_webp = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + b"\x00" * 22
    with app.test_request_context():
        for content in (truncated_jpeg, fake_png, fake_webp):
            with pytest.raises(DocumentRefused, match="does not open as a photo"):
                check("sheet", content)


def test_pdfs_that_do_not_open_are_refused(app):
    no_pages = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    garbage = b"%PDF-1.7\n" + bytes(range(1, 256)) * 20 + b"\n%%EOF\n"
    with app.test_request_context():
        for content in (no_pages, garbage):
            with pytest.raises(DocumentRefused, match="does not open as a PDF"):
                check("katiba.pdf", content)


def _png_of(width: int, height: int, rows: int | None = None) -> bytes:
    """A small PNG file that decodes to width x height pixels of one grey (with ``rows``,
    only that many rows of pixels are in it: the header alone says how large it is)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(b"\x00" * (width + 1)) for _ in range(rows or height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", body + packer.flush()) + chunk(b"IEND", b""))


@pytest.mark.parametrize("pixels", [MAX_IMAGE_PIXELS + 1, 2 * MAX_IMAGE_PIXELS,
                                    4 * MAX_IMAGE_PIXELS])
def test_a_decompression_bomb_photo_is_refused_before_it_decodes(app, pixels):
    """Just over our cap (all its pixels there), and over Pillow's own limits, which it
    signals when opening (a warning, then an error): only the header tells the size."""
    side = int(pixels ** 0.5) + 1
    bomb = _png_of(side, side, rows=None if pixels == MAX_IMAGE_PIXELS + 1 else 1)
    assert len(bomb) < 200 * 1024
    with app.test_request_context():
        with pytest.raises(DocumentRefused, match="too many pixels"):
            check("sheet.png", bomb)
