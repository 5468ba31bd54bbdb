"""Uploaded documents (photos and PDFs): read from the request, recognised by their
content, never by their name or the browser's word, and named safely for display.

Every area that accepts a document (expense receipts, meeting sign-in sheets,
constitutions, certificates) checks it with these: :func:`detect_document_type` by its
first bytes, then :func:`check_content`, which refuses a disguised file (a web page or
SVG with a photo's or a PDF's header: a "polyglot") and a file that does not open as
what its header says (Pillow decodes photos, within a pixel cap; pypdf reads PDFs).
"""

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

#: The largest document accepted (the app's request limit may be lower).
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024

#: Content type -> file extension, for every kind of document accepted.
DOCUMENT_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}


#: The most pixels a photo may have: a 48-megapixel phone photo fits; a small file that
#: decodes to a huge picture (a "decompression bomb") does not.
MAX_IMAGE_PIXELS = 50_000_000

#: Markup a browser would run, searched for in the whole file: long enough that photo
#: or compressed PDF bytes never spell it by chance.
_MARKUP = re.compile(
    rb"<(?:html|head|body|script|iframe|object|embed|frame|frameset|form|meta|link|style|"
    rb"math)[\s/>]|<\?xml-stylesheet|<!doctype\s+html|\b(?:javascript|vbscript):",
    re.IGNORECASE,
)
#: Markup too short to search a whole photo for (random bytes spell "<svg " in about one
#: 5 MB photo in 3,000), searched for where browsers and viewers sniff: the first and last
#: :data:`MARKUP_EDGE_BYTES`.
_SHORT_MARKUP = re.compile(rb"<(?:svg|img|base)[\s/>]", re.IGNORECASE)
MARKUP_EDGE_BYTES = 16 * 1024

#: Pillow's name of each image type.
_PILLOW_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


class DocumentRefused(Exception):
    """A document is not what it claims, or carries web page markup; ``message`` says so
    in the uploader's words (each area raises its own error with it)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Document:
    """An uploaded file as received: the name the phone gave it and its bytes."""

    filename: str
    content: bytes


def detect_document_type(content: bytes) -> str | None:
    """The content type of a JPEG, PNG, WebP or PDF file, read from its bytes; else None.

    Only the bytes count: an HTML or SVG page renamed "receipt.jpg" is not a photo.
    """
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n") and content[12:16] == b"IHDR":
        return "image/png"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP" and content[12:15] == b"VP8":
        return "image/webp"
    if content.startswith(b"%PDF-") and b"%%EOF" in content[-2048:]:
        return "application/pdf"
    return None


def carries_markup(content: bytes) -> bool:
    """Whether the bytes carry HTML, SVG or script a browser would run if it ever took the
    file for a page: anywhere for the unmistakable tags, at either end for the short."""
    edges = content[:MARKUP_EDGE_BYTES] + b"\n" + content[-MARKUP_EDGE_BYTES:]
    return bool(_MARKUP.search(content) or _SHORT_MARKUP.search(edges))


def _too_many_pixels(name: str):
    return DocumentRefused(_l(
        "%(name)s has too many pixels (more than %(mp)d million). Take the photo again at a "
        "lower resolution.", name=name, mp=MAX_IMAGE_PIXELS // 1_000_000))


def _image_opens(content: bytes, content_type: str, name: str) -> None:
    from PIL import Image

    with warnings.catch_warnings():
        # Pillow's own bomb limit (above ours) warns; a warning is a refusal here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(content), formats=[_PILLOW_FORMAT[content_type]]) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise _too_many_pixels(name)
                image.verify()  # the file's structure and checksums
            with Image.open(io.BytesIO(content)) as image:
                if content_type == "image/jpeg":
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()  # every pixel decodes (a JPEG at an eighth of its size)
        except DocumentRefused:
            raise
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise _too_many_pixels(name) from None
        except Exception:  # Pillow raises many kinds for a broken image
            raise DocumentRefused(_l(
                "%(name)s does not open as a photo: it is damaged or only looks like one. "
                "Take the photo again.", name=name)) from None


def _pdf_opens(content: bytes, name: str) -> None:
    from pypdf import PdfReader

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pypdf warns of what it repairs
            pages = len(PdfReader(io.BytesIO(content), strict=False).pages)
    except Exception:  # pypdf raises many kinds for a broken PDF
        pages = 0
    if pages < 1:
        raise DocumentRefused(_l(
            "%(name)s does not open as a PDF: it is damaged or only looks like one. Save "
            "or scan it again as PDF.", name=name))


def check_content(document: "Document", content_type: str) -> None:
    """Refuse a document of the detected ``content_type`` (see :func:`detect_document_type`)
    that carries web page markup, or does not open as that type.

    Raises:
        DocumentRefused: with the message for the uploader.
    """
    name = display_filename(document.filename)
    if carries_markup(document.content):
        raise DocumentRefused(_l(
            "%(name)s contains web page code (HTML, SVG or script), so it cannot be "
            "attached. Attach the photo or PDF itself.", name=name))
    if content_type == "application/pdf":
        _pdf_opens(document.content, name)
    else:
        _image_opens(document.content, content_type, name)


def document_limit() -> int:
    """The size limit in bytes: 5 MB, or the app's request limit if that is lower."""
    app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return min(MAX_DOCUMENT_BYTES, app_limit) if app_limit else MAX_DOCUMENT_BYTES


def read_upload(upload) -> Document | None:
    """A form's uploaded file as a :class:`Document` (one byte past the limit at most,
    so an oversized file is seen as such), or None when no file was sent."""
    if upload is None or not getattr(upload, "filename", None):
        return None
    return Document(upload.filename, upload.stream.read(document_limit() + 1))


def display_filename(filename: str | None) -> str:
    """The uploaded file's own name, made safe to show: no folders, no control characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name)
                   if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    return name[:200] or "document"
