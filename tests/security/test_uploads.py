"""Every file upload the app's pages offer: bad files refused with a message, nothing stored;
good files stored and served back as what their bytes are, never as a page.

Upload forms are found on the rendered pages (multipart forms with file inputs), so a new
upload is attacked too.
"""

import io
from pathlib import Path

from tests.conftest import Web
from tests.core import documents
from tests.security.conftest import fill, get_pages, post_forms, snapshot

MARKER = b"POLYGLOT-7f3a"
HTML = b"<!doctype html><html><body><script>alert(1)</script>" + MARKER + b"</body></html>"
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n% <html><script>alert(1)</script>"
       + MARKER + b"\ntrailer<</Root 1 0 R>>\n%%EOF\n")
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'

#: (filename, bytes, content type claimed by the browser): none may be stored.
BAD_FILES = [
    ("receipt.pdf", HTML, "application/pdf"),
    ("sheet.png", HTML, "image/png"),
    ("sheet.jpg", SVG, "image/jpeg"),
    ("page.html", HTML, "text/html"),
    ("empty.pdf", b"", "application/pdf"),
    ("program.pdf", b"MZ\x90\x00" + b"\x00" * 200, "application/pdf"),
    ("half.pdf", b"%PDF-1.4\n" + HTML, "application/pdf"),  # no end: not a PDF
    # Disguised: a page behind a real photo's or PDF's header (a polyglot), refused at upload.
    ("polyglot.pdf", PDF, "application/pdf"),
    *((name, content, "application/octet-stream") for name, content in documents.POLYGLOTS),
    # A real header, then no picture / no pages.
    ("sheet.png", PNG_HEADER + b"\x00" * 40, "image/png"),
    ("empty-pages.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "application/pdf"),
]
EVIL_NAME = 'scan".pdf\r\nX-Injected: 1; <script>.pdf'


def upload_forms(web, app, values):
    forms = [(role, form) for role, form in post_forms(web, app, values)
             if form.enctype == "multipart/form-data"
             and any(f.kind == "file" for f in form.fields.values())]
    assert len(forms) >= 5, [f.action for _, f in forms]
    return [form for _, form in forms]


def _post(web, form, field, filename, content, content_type, member_no):
    data = fill(form, lambda f: "Security suite upload", {"member": member_no})
    data[field] = (io.BytesIO(content), filename, content_type)
    return web.post(form.action, data, content_type="multipart/form-data")


def _refusal_message(web, response) -> bool:
    if response.status_code in (302, 303):
        response = web.get(response.headers["Location"])
    body = response.get_data(as_text=True)
    return 'class="error"' in body or 'class="flash error"' in body or \
        "flash error" in body


def test_every_upload_refuses_files_that_are_not_what_they_claim(world, client):
    app, values = world.app, world.values
    web = Web(client)
    forms = upload_forms(web, app, values)
    web.login("chair")
    failures = []
    for form in forms:
        for field in (f.name for f in form.fields.values() if f.kind == "file"):
            for filename, content, content_type in BAD_FILES:
                before = snapshot(app)
                response = _post(web, form, field, filename, content, content_type,
                                 world.names["member_no"])
                what = f"{form.action} {field} {filename}"
                if response.status_code >= 500:
                    failures.append(f"{what}: {response.status_code}")
                elif snapshot(app) != before:
                    failures.append(f"{what}: stored")
                elif not _refusal_message(web, response):
                    failures.append(f"{what}: refused without a message")
    assert failures == [], "\n".join(failures)


def test_uploads_above_the_limit_are_refused_with_a_page(world, client):
    app, values = world.app, world.values
    web = Web(client)
    forms = upload_forms(web, app, values)
    web.login("chair")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    big = PDF[:-7] + b"0" * (100 * 1024) + b"\n%%EOF\n"
    before = snapshot(app)
    for form in forms:
        field = next(f.name for f in form.fields.values() if f.kind == "file")
        response = _post(web, form, field, "big.pdf", big, "application/pdf",
                         world.names["member_no"])
        assert response.status_code == 413, form.action
        assert response.mimetype == "text/html"
        assert "too large" in response.get_data(as_text=True).lower() or \
            "413" in response.get_data(as_text=True)
    assert snapshot(app) == before


def _stored_files(app) -> set[Path]:
    return {path for path in Path(app.config["UPLOAD_DIR"]).rglob("*.pdf") if path.is_file()}


def test_stored_files_are_served_as_what_their_bytes_are_never_as_a_page(world, client):
    """A PDF under a name built to break headers is accepted where PDFs are; its stored bytes
    are then made a PDF carrying HTML (a polyglot, as one stored before uploads refused them
    would be); every route that serves it says PDF, forbids sniffing and downloads it."""
    app, values = world.app, world.values
    web = Web(client)
    forms = upload_forms(web, app, values)
    web.login("chair")
    stored, files = 0, _stored_files(app)
    for form in forms:
        for field in (f.name for f in form.fields.values() if f.kind == "file"):
            before = snapshot(app)
            _post(web, form, field, EVIL_NAME, documents.pdf(), "text/html",
                  world.names["member_no"])
            stored += snapshot(app) != before
    assert stored >= 2  # the expense document and the constitution at least
    new = _stored_files(app) - files
    assert len(new) >= 2
    for path in new:
        path.write_bytes(PDF)
    served = 0
    for role in ("chair", "auditor"):
        web.login(role)
        for _endpoint, url in get_pages(app, values):
            response = web.get(url)
            body = response.get_data()
            if MARKER not in body:
                continue
            served += 1
            assert response.mimetype == "application/pdf", url
            assert response.headers["X-Content-Type-Options"] == "nosniff", url
            disposition = response.headers.get("Content-Disposition", "")
            assert disposition.startswith("attachment"), url
            assert "\r" not in disposition and "\n" not in disposition and \
                "X-Injected" not in str(response.headers), url
            assert "<script>" not in disposition
        web.logout()
    assert served >= 2
