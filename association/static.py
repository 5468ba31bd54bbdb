"""Static files under content-hashed names, cached for a year; HTML and text compressed.

At start-up every file under ``static/`` is hashed once. ``url_for('static',
filename='app.css')`` then gives ``/static/app.3f2a9c1b.css`` (the first 8 hex digits
of the file's SHA-256), which is served with ``Cache-Control: public,
max-age=31536000, immutable``: a phone on a slow network asks for it once, and a new
release of the file gets a new address. The plain name (``/static/app.css``) and a
stale hash still work, with a short cache, for pages cached before a release.

The same mapping for a proxy that serves ``static/`` itself (nginx):
``/static/<stem>.<8 hex digits><.ext>`` is the file ``static/<stem><.ext>``.

Responses of the types in ``COMPRESSED_TYPES`` are gzip'd by Flask-Compress when the
client accepts it; headers (the CSP among them) are kept as they are.
"""

import hashlib
import re
from pathlib import Path

from flask import Flask, send_from_directory
from flask_compress import Compress

#: A year: the longest lifetime caches honour; the name changes with the content.
LONG_MAX_AGE = 31536000
#: For the plain and stale addresses: long enough for one visit, short enough for a release.
SHORT_MAX_AGE = 300
HASH_LENGTH = 8
COMPRESSED_TYPES = ["text/html", "text/css", "text/javascript", "application/javascript",
                    "image/svg+xml"]

_HASHED = re.compile(rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{HASH_LENGTH}}})(?P<ext>\.[^./]+)$")

compress = Compress()


def hashed_name(filename: str, digest: str) -> str:
    """``app.css`` with ``3f2a9c1b...`` -> ``app.3f2a9c1b.css``."""
    path, dot, ext = filename.rpartition(".")
    if not dot or "/" in ext:
        return f"{filename}.{digest}"  # no extension: never served under a hash
    return f"{path}.{digest}.{ext}"


def build_manifest(folder: Path) -> dict[str, str]:
    """Each file under ``folder`` (relative, with ``/``) -> its content-hashed name."""
    manifest = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_LENGTH]
            name = path.relative_to(folder).as_posix()
            manifest[name] = hashed_name(name, digest)
    return manifest


def register_static(app: Flask) -> None:
    """Hash the static files once and serve them under their hashed names."""
    folder = Path(app.static_folder)
    manifest = build_manifest(folder) if folder.is_dir() else {}
    originals = {hashed: name for name, hashed in manifest.items()}
    app.extensions["static_manifest"] = manifest

    @app.url_defaults
    def hashed_static_urls(endpoint, values):
        if endpoint == "static" and values.get("filename") in manifest:
            values["filename"] = manifest[values["filename"]]

    def static(filename: str):
        """The file, a year's cache under its current hash; a short one otherwise."""
        max_age = SHORT_MAX_AGE
        if filename in originals:
            filename, max_age = originals[filename], LONG_MAX_AGE
        elif filename not in manifest and (match := _HASHED.match(filename)):
            stale = match["stem"] + match["ext"]
            if stale in manifest:
                filename = stale
        response = send_from_directory(folder, filename, max_age=max_age)
        response.cache_control.public = True
        if max_age == LONG_MAX_AGE:
            response.cache_control.immutable = True
        if response.status_code == 200:
            # Whole, so that Flask-Compress may gzip it (it leaves streams alone; a range
            # answer, 206, stays a stream and so is never compressed).
            response.direct_passthrough = False
            response.make_sequence()
        return response

    app.view_functions["static"] = static


def register_compression(app: Flask) -> None:
    """gzip HTML, CSS, JavaScript and SVG for clients that accept it."""
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["gzip"])
    # Streamed responses (exports) go out as they are made, not held to be compressed.
    app.config.setdefault("COMPRESS_STREAMS", False)
    compress.init_app(app)
