"""Uploaded governance files: sign-in sheet photos, constitution PDFs, certificates.

Checked by content (association.core.uploads, as expense documents are) and size, stored
under a random name in UPLOAD_DIR/meetings, and served only as a download of the type
the content showed.
"""

import re
import secrets
from pathlib import Path

from flask_babel import lazy_gettext as _l

from association.core.uploads import (
    DOCUMENT_EXTENSIONS,
    Document,
    DocumentRefused,
    check_content,
    detect_document_type,
    display_filename,
    document_limit,
)
from association.hosting.tenancy import uploads_dir
from association.meetings.common import MeetingError

_NAME_RE = re.compile(r"[0-9a-f]{32}\.[a-z]{3,4}")


def folder() -> Path:
    return uploads_dir() / "meetings"


def check(document: Document, pdf_only: bool = False) -> str:
    """The content type of an acceptable file.

    Raises:
        MeetingError: empty, too large, or not a photo / PDF (a PDF only, when asked),
            disguised (web page markup) or not opening as what it claims.
    """
    name = display_filename(document.filename)
    if not document.content:
        raise MeetingError(_l("The file %(name)s is empty.", name=name))
    limit = document_limit()
    if len(document.content) > limit:
        raise MeetingError(_l("The file is larger than %(mb)s MB.", mb=f"{limit / 1048576:g}"))
    content_type = detect_document_type(document.content)
    if pdf_only and content_type != "application/pdf":
        raise MeetingError(_l("%(name)s is not a PDF file.", name=name))
    if content_type is None:
        raise MeetingError(_l("%(name)s is not a photo (JPEG, PNG, WebP) or a PDF.", name=name))
    try:
        check_content(document, content_type)
    except DocumentRefused as refused:
        raise MeetingError(refused.message) from None
    return content_type


def store(document: Document, kind: str, pdf_only: bool = False) -> tuple[str, str]:
    """Check and write the file under a random name; returns (name, content type)."""
    content_type = check(document, pdf_only)
    target = folder()
    target.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + DOCUMENT_EXTENSIONS[content_type]
    with open(target / name, "xb") as out:
        out.write(document.content)
    return name, content_type


def path_of(name: str | None) -> Path | None:
    """Where a stored file is, or None when unnamed, malformed or missing."""
    if not name or not _NAME_RE.fullmatch(name):
        return None
    path = folder() / name
    return path if path.is_file() else None
