"""The meetings blueprint ``bp`` and the small helpers its view modules share: looking
up a record or answering 404, running one service and flashing its outcome, reading an
upload, sending a stored file or a PDF, and the choice lists of recent meetings."""

import io

from flask import Blueprint, Response, abort, flash, redirect, request, send_file, url_for

from association import transaction
from association.core import dates
from association.core.uploads import DOCUMENT_EXTENSIONS
from association.errors import DomainError
from association.extensions import db
from association.i18n import choices, current_language, enum_label
from association.meetings import files
from association.meetings.meetings import meeting_query
from association.meetings.models import Meeting

bp = Blueprint("meetings", __name__)


#: Ids beyond a 32-bit integer cannot exist (PostgreSQL would refuse the query itself).
MAX_ID = 2**31 - 1


def get_or_404(model, object_id: int):
    if not 0 < object_id <= MAX_ID:
        abort(404)
    return db.get_or_404(model, object_id)


def meeting_or_404(meeting_id: int) -> Meeting:
    return get_or_404(Meeting, meeting_id)


def to_detail(meeting: Meeting):
    return redirect(url_for("meetings.detail", meeting_id=meeting.id))


def run_service(action, success: str, target):
    """Call one service; commit and flash success, or roll back and flash its error."""
    try:
        action()
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(success, "success")
    return redirect(target)


def send_stored(name: str | None, content_type: str | None, download_name: str):
    path = files.path_of(name)
    if path is None or content_type not in DOCUMENT_EXTENSIONS:
        abort(404)
    response = send_file(io.BytesIO(path.read_bytes()), mimetype=content_type,
                         as_attachment=True,
                         download_name=download_name + DOCUMENT_EXTENSIONS[content_type],
                         max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def pdf_response(content: bytes, name: str, attachment: bool = False) -> Response:
    response = Response(content, mimetype="application/pdf")
    disposition = "attachment" if attachment else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def requested_language() -> str:
    lang = request.args.get("lang", "")
    return lang if lang in ("en", "sw") else current_language()


def meeting_choices(meetings, blank: str):
    return choices(((m.id, f"{dates.day(m.held_on)} · {enum_label(m.type)} · {m.title}")
                    for m in meetings), blank)


def recent_meetings(limit: int = 60):
    return list(db.session.scalars(meeting_query().limit(limit)))


def short_text(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
