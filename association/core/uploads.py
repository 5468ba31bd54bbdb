"""Uploaded documents (photos and PDFs): read from the request, recognised by their
content, never by their name or the browser's word, and named safely for display.

Every area that accepts a document (expense receipts, meeting sign-in sheets,
constitutions, certificates) checks it with these.
"""

import re
import unicodedata
from dataclasses import dataclass

from flask import current_app

#: The largest document accepted (the app's request limit may be lower).
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024

#: Content type -> file extension, for every kind of document accepted.
DOCUMENT_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}


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
