"""An association leaving, arriving, resting or moving: export, import, archive, suspend,
activate, delete and move (issue 22 items 4 and 7).

The export is one ``.tar.gz``::

    manifest.json           what the file holds (below)
    data/<table>.jsonl      every table's rows, one JSON object a line, in primary-key order
    uploads/...             the association's uploads folder as it stands

Why rows as JSON Lines and not a SQLite file or ``pg_dump``: the same file restores on
SQLite and on PostgreSQL and across them (an association grows out of the embedded
default onto a server, or leaves a host for a laptop), it needs no ``pg_dump`` of the
server's version on the host, a person can read it, and it is written and read a page of
rows at a time, never the whole database in memory. The tables are written in their
dependency order (foreign keys), each with its columns as the database has them at the
migration revision recorded in the manifest: an import migrates its new database to
that revision, loads the rows, then upgrades to its own head, so an export from an older
install restores on a newer one.

The manifest names the association, the migration revision, when it was made, every
file's SHA-256 and size, every table's row count and the audit chain's head; an import
refuses the whole file when any of these does not hold (a file changed, missing or
extra, a count that is not the file's), before it makes anything. The manifest's own
``digest`` catches a manifest edited by hand; the file's SHA-256, recorded in the
catalogue of the install that wrote it (``hosting list``) and given to ``hosting import
--sha256``, is the check a forger cannot pass.

M-Pesa credentials, host names and access grants are the host's, not the association's:
they are not exported (the new host registers its own).
"""

import base64
import dataclasses
import hashlib
import json
import shutil
import tarfile
import tempfile
import warnings
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from flask import Flask
from flask_babel import lazy_gettext as _l

from association.core.time import utcnow
from association.hosting import catalogue
from association.hosting.grants import apply_grants
from association.hosting.migrating import (
    _association_config,
    association_heads,
    association_revision,
    upgrade_association,
)
from association.hosting.models import AccessGrant, AssociationStatus, HostedAssociation
from association.hosting.services import (
    HostingError,
    NewAssociation,
    _check,
    catalogue_session,
    drop_storage,
    remove_association,
)
from association.hosting.tenancy import Tenant, is_postgresql, tenancy, uploads_dir, use

#: The export's format (its manifest's ``format``): raised when the layout changes.
FORMAT = "association-export/1"
MANIFEST = "manifest.json"
#: Rows read, written or inserted at a time.
PAGE = 1000
_CHUNK = 1 << 20
#: Tables an export leaves out: Alembic's own (the revision is in the manifest).
SKIPPED_TABLES = frozenset({"alembic_version"})


# --- Rows as JSON ------------------------------------------------------------------------


def _encode(value):
    """A column's value as JSON: the types JSON lacks are tagged."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {"$t": "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {"$t": "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {"$t": "time", "v": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$t": "decimal", "v": str(value)}
    if isinstance(value, bytes | memoryview):
        return {"$t": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict | list):  # a JSON column
        return {"$t": "json", "v": value}
    if hasattr(value, "value"):  # an enum
        return value.value
    raise TypeError(f"cannot export a value of type {type(value).__name__}")


_DECODERS = {"datetime": datetime.fromisoformat, "date": date.fromisoformat,
             "time": time.fromisoformat, "decimal": Decimal,
             "bytes": lambda v: base64.b64decode(v.encode("ascii")), "json": lambda v: v}


def _decode(value):
    if isinstance(value, dict):
        return _DECODERS[value["$t"]](value["v"])
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest_digest(manifest: dict) -> str:
    rest = {key: value for key, value in manifest.items() if key != "digest"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


# --- Reading and writing an association's database --------------------------------------


def _tables(conn: sa.Connection, schema: str | None) -> list[sa.Table]:
    """The association's tables as its database has them, in dependency order."""
    metadata = sa.MetaData()
    with warnings.catch_warnings():
        # SQLAlchemy reflects PostgreSQL's NOT VALID checks (audit_event's MAC) with an
        # option it then cannot validate; the checks are not used here (see _not_valid_checks).
        warnings.filterwarnings("ignore", "Can't validate argument 'dialect_options'",
                                sa.exc.SAWarning)
        metadata.reflect(bind=conn, schema=schema)
    return [t for t in metadata.sorted_tables if t.name not in SKIPPED_TABLES]


def _ordered(table: sa.Table) -> sa.Select:
    key = list(table.primary_key.columns) or list(table.columns)
    return sa.select(table).order_by(*key)


def _count(conn: sa.Connection, table: sa.Table) -> int:
    return conn.scalar(sa.select(sa.func.count()).select_from(table))


def _audit_head(conn: sa.Connection, tables: list[sa.Table]) -> str | None:
    events = next((t for t in tables if t.name == "audit_event"), None)
    if events is None:
        return None
    return conn.scalar(sa.select(events.c.hash).order_by(events.c.seq.desc()).limit(1))


def _snapshot(engine) -> sa.Connection:
    """A connection whose transaction sees the database as it stood when it began."""
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def dump_database(app: Flask, tenant: Tenant, folder: Path) -> dict:
    """Write ``tenant``'s rows to ``folder/data/<table>.jsonl``, a page at a time, in one
    snapshot; return the tables (name, columns, rows) in order and the audit chain's head."""
    from association.database import reading

    _url, schema = tenancy(app).location(tenant)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    found = []
    with reading(), _snapshot(tenancy(app).engine(tenant)) as conn, conn.begin():
        tables = _tables(conn, schema)
        for table in tables:
            rows = 0
            with (folder / "data" / f"{table.name}.jsonl").open("w", encoding="utf-8") as out:
                result = conn.execution_options(yield_per=PAGE).execute(_ordered(table))
                for row in result.mappings():
                    out.write(json.dumps({k: _encode(v) for k, v in row.items()},
                                         separators=(",", ":")) + "\n")
                    rows += 1
            found.append({"name": table.name, "columns": [c.name for c in table.columns],
                          "rows": rows})
        head = _audit_head(conn, tables)
    return {"tables": found, "audit_head": head}


def _not_valid_checks(conn: sa.Connection, schema: str) -> list[tuple[str, str, str]]:
    """PostgreSQL: the CHECK constraints added NOT VALID (rows from before them may break
    them: audit events from before their MAC): (table, name, definition)."""
    return [tuple(row) for row in conn.execute(sa.text(
        "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = :schema AND c.contype = 'c' AND NOT c.convalidated"),
        {"schema": schema})]


def _empty(conn: sa.Connection, tables: list[sa.Table]) -> None:
    """What the migrations seeded goes: the dump holds the association's own rows.
    PostgreSQL's TRUNCATE does not fire the append-only triggers (row triggers)."""
    if not tables:
        return
    if conn.dialect.name == "postgresql":
        names = ", ".join(f'"{t.schema}"."{t.name}"' for t in tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        for table in reversed(tables):
            conn.execute(table.delete())


def _fix_sequences(conn: sa.Connection, tables: list[sa.Table]) -> None:
    """PostgreSQL: each serial column's sequence goes on after the ids loaded."""
    for table in tables:
        for column in table.primary_key.columns:
            qualified = f'"{table.schema}"."{table.name}"'
            sequence = conn.scalar(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                   {"t": qualified, "c": column.name})
            if sequence is None:
                continue
            top = conn.scalar(sa.select(sa.func.max(column)))
            conn.execute(sa.text("SELECT setval(:s, :v, :called)"),
                         {"s": sequence, "v": top or 1, "called": top is not None})


def load_database(app: Flask, tenant: Tenant, folder: Path, manifest: dict) -> dict[str, int]:
    """Load the dump in ``folder`` into ``tenant``'s database, migrated to the dump's
    revision and emptied; return each table's rows as counted after the load."""
    _url, schema = tenancy(app).location(tenant)
    counts = {}
    with tenancy(app).engine(tenant).connect() as conn, conn.begin():
        tables = {t.name: t for t in _tables(conn, schema)}
        wanted = [entry["name"] for entry in manifest["tables"]]
        missing = [name for name in wanted if name not in tables]
        if missing:
            raise HostingError(_l("The export holds tables this install does not have at its "
                                  "revision: %(tables)s.", tables=", ".join(missing)))
        _empty(conn, list(tables.values()))
        if conn.dialect.name == "sqlite":  # a row may name a later one of its own table
            conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        checks = _not_valid_checks(conn, schema) if conn.dialect.name == "postgresql" else []
        for table_name, name, _definition in checks:
            conn.exec_driver_sql(f'ALTER TABLE "{schema}"."{table_name}" DROP CONSTRAINT "{name}"')
        for entry in manifest["tables"]:
            table = tables[entry["name"]]
            unknown = set(entry["columns"]) - set(table.columns.keys())
            if unknown:
                raise HostingError(_l("The export's table %(table)s has columns this install "
                                      "does not have: %(columns)s.", table=table.name,
                                      columns=", ".join(sorted(unknown))))
            page = []
            with (folder / "data" / f"{table.name}.jsonl").open(encoding="utf-8") as rows:
                for line in rows:
                    page.append({k: _decode(v) for k, v in json.loads(line).items()})
                    if len(page) == PAGE:
                        conn.execute(table.insert(), page)
                        page = []
            if page:
                conn.execute(table.insert(), page)
        for table_name, name, definition in checks:
            conn.exec_driver_sql(f'ALTER TABLE "{schema}"."{table_name}" '
                                 f'ADD CONSTRAINT "{name}" {definition}')
        if conn.dialect.name == "postgresql":
            _fix_sequences(conn, list(tables.values()))
        for name in wanted:
            counts[name] = _count(conn, tables[name])
    return counts


def _verify(app: Flask, tenant: Tenant, manifest: dict, counts: dict[str, int]) -> None:
    """The rows loaded are the dump's, and the audit trail verifies on the new database."""
    from association.audit.verification import verify_everything

    expected = {entry["name"]: entry["rows"] for entry in manifest["tables"]}
    wrong = sorted(name for name in expected if counts.get(name) != expected[name])
    if wrong:
        raise HostingError(_l("The rows loaded differ from the export's in %(tables)s: "
                              "nothing was kept.", tables=", ".join(wrong)))
    with use(tenant, app):
        result = verify_everything()
        if not result.ok:
            raise HostingError(_l("The audit trail does not verify on the copy (%(problem)s): "
                                  "nothing was kept.", problem=result.problems[0]))
        if manifest.get("audit_head") and result.head_hash != manifest["audit_head"]:
            raise HostingError(_l("The audit trail's head differs from the export's: "
                                  "nothing was kept."))


def _restore(app: Flask, tenant: Tenant, folder: Path, manifest: dict) -> None:
    """A new database for ``tenant`` holding the dump: at its revision, loaded, upgraded to
    head and verified."""
    upgrade_association(app, tenant, manifest["revision"])
    counts = load_database(app, tenant, folder, manifest)
    tenancy(app).forget(tenant)
    upgrade_association(app, tenant)
    _verify(app, tenant, manifest, counts)


def _heads(app: Flask) -> set[str]:
    with app.app_context():  # Flask-Migrate's configuration reads ``g``
        return association_heads(app)


# --- Export ------------------------------------------------------------------------------


@dataclasses.dataclass
class ExportResult:
    path: Path
    sha256: str
    size: int
    rows: int
    files: int


def _copy_uploads(source: Path, target: Path, others: frozenset[str] = frozenset()) -> None:
    """Copy an uploads folder; ``others``: folders at its top that are other associations'
    (an adopted install's uploads are UPLOAD_DIR itself, beside theirs)."""
    if source.is_dir():
        shutil.copytree(source, target, symlinks=False,
                        ignore=lambda folder, names: [n for n in names if Path(folder) == source
                                                      and n in others])


def export_association(app: Flask, short: str, out: Path) -> ExportResult:
    """Write everything ``short`` owns to ``out`` (a .tar.gz) and record the export in the
    catalogue.

    Raises:
        HostingError: no such association, its database not at this install's head, or
            ``out`` cannot be written.
    """
    tenant = _find(app, short)
    revision = association_revision(app, tenant)
    if revision != _heads(app):
        raise HostingError(_l("%(short)s's database is not at this install's migration "
                              "head: run `flask --app wsgi db upgrade` first.", short=tenant.short))
    out = Path(out)
    if out.is_dir() or not out.parent.is_dir():
        raise HostingError(_l("Cannot write the export to %(path)s: give a file in a folder "
                              "that exists.", path=str(out)))
    with use(tenant, app):
        uploads = uploads_dir()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as work:
        folder = Path(work)
        dumped = dump_database(app, tenant, folder)
        others = frozenset(t.uploads_dir or t.slug for t in catalogue.every(app)
                           if t.id != tenant.id)
        _copy_uploads(uploads, folder / "uploads", others)
        files = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            files[name] = {"sha256": _sha256(path), "size": path.stat().st_size}
        manifest = {
            "format": FORMAT, "short": tenant.short, "slug": tenant.slug, "name": tenant.name,
            "revision": sorted(revision)[0], "created_at": _created_at(app, tenant),
            "exported_at": utcnow().isoformat(), "tables": dumped["tables"],
            "audit_head": dumped["audit_head"], "files": files}
        manifest["digest"] = _manifest_digest(manifest)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(folder / MANIFEST, arcname=MANIFEST)
            for name in files:
                archive.add(folder / name, arcname=name)
        partial.replace(out)
    sha256 = _sha256(out)
    with catalogue_session(app) as session:
        row = session.get(HostedAssociation, tenant.id)
        row.exported_at = utcnow()
        row.export_sha256 = sha256
        session.commit()
    catalogue.forget(app)
    return ExportResult(out, sha256, out.stat().st_size,
                        sum(t["rows"] for t in dumped["tables"]), len(files))


def _created_at(app: Flask, tenant: Tenant) -> str | None:
    with catalogue_session(app) as session:
        created = session.get(HostedAssociation, tenant.id).created_at
    return created.isoformat() if created else None


# --- Import ------------------------------------------------------------------------------


def _refuse(reason) -> HostingError:
    return HostingError(_l("The export is refused whole, nothing was created: %(reason)s",
                           reason=reason))


def unpack(path: Path, folder: Path, expect_sha256: str | None = None) -> dict:
    """Unpack the export at ``path`` into ``folder`` and check it; return its manifest.

    Raises:
        HostingError: the file is not an export, or anything in it differs from its
            manifest (a checksum, a size, a file missing or extra, a row count).
    """
    path = Path(path)
    if not path.is_file():
        raise HostingError(_l("There is no file %(path)s.", path=str(path)))
    if expect_sha256 and _sha256(path) != expect_sha256.strip().lower():
        raise _refuse(_l("the file's SHA-256 is not the one given."))
    unpacked = set()
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                name = PurePosixPath(member.name)
                if member.isdir():
                    continue
                if (not member.isfile() or name.is_absolute() or ".." in name.parts
                        or str(name) in unpacked):
                    raise _refuse(_l("it holds an entry that is not a plain file: %(name)s.",
                                     name=member.name))
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
                unpacked.add(str(name))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise _refuse(_l("it is not a readable .tar.gz (%(error)s).", error=str(error))) from None
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise _refuse(_l("its manifest.json is missing or unreadable.")) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse(_l("it is not an association export of this format (%(format)s).",
                         format=FORMAT))
    if manifest.get("digest") != _manifest_digest(manifest):
        raise _refuse(_l("its manifest was changed after the export was written."))
    try:
        for key in ("short", "slug", "name", "revision", "tables", "files"):
            if not manifest[key] and key not in ("tables", "files"):
                raise ValueError(key)
        _check_files(folder, manifest, unpacked - {MANIFEST})
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _refuse(_l("its manifest is incomplete.")) from None
    return manifest


def _check_files(folder: Path, manifest: dict, unpacked: set[str]) -> None:
    listed = set(manifest["files"])
    if missing := sorted(listed - unpacked):
        raise _refuse(_l("files listed in its manifest are missing: %(files)s.",
                         files=", ".join(missing)))
    if extra := sorted(unpacked - listed):
        raise _refuse(_l("it holds files its manifest does not list: %(files)s.",
                         files=", ".join(extra)))
    for name in sorted(listed):
        file = folder / name
        if (file.stat().st_size != manifest["files"][name]["size"]
                or _sha256(file) != manifest["files"][name]["sha256"]):
            raise _refuse(_l("%(file)s differs from its checksum.", file=name))
    for entry in manifest["tables"]:
        name = f"data/{entry['name']}.jsonl"
        if name not in listed or PurePosixPath(name).parent != PurePosixPath("data"):
            raise _refuse(_l("the rows of table %(table)s are missing.", table=entry["name"]))
        with (folder / name).open("rb") as rows:
            if sum(1 for _line in rows) != int(entry["rows"]):
                raise _refuse(_l("table %(table)s does not hold the rows its manifest counts.",
                                 table=entry["name"]))


def import_association(app: Flask, path: Path, short: str | None = None,
                       slug: str | None = None, expect_sha256: str | None = None) -> Tenant:
    """Restore the export at ``path`` as a new association of this install (its short
    name and address the export's unless given); all of it or nothing.

    Raises:
        HostingError: the file refused (see :func:`unpack`), its revision unknown here,
            the short name or address taken, or the copy failing its checks.
    """
    with tempfile.TemporaryDirectory(prefix="association-import-") as work:
        folder = Path(work)
        manifest = unpack(path, folder, expect_sha256)
        try:
            with app.app_context():
                ScriptDirectory.from_config(_association_config(app)).get_revision(
                    manifest["revision"])
        except CommandError:
            raise HostingError(_l("The export was made at migration %(revision)s, which this "
                                  "install does not know: upgrade this install first.",
                                  revision=manifest["revision"])) from None
        data = NewAssociation(short=short or manifest["short"], name=manifest["name"],
                              admin_phone=None, slug=slug or manifest["slug"])
        with catalogue_session(app) as session:
            values = _check(data, session)
            row = HostedAssociation(short=values["short"], slug=values["slug"],
                                    name=values["name"], status=AssociationStatus.ACTIVE,
                                    created_at=utcnow())
            session.add(row)
            session.flush()
            tenant = Tenant.of(row)
            uploads = Path(app.config["UPLOAD_DIR"]) / tenant.slug
            if uploads.exists() and any(uploads.iterdir()):
                session.rollback()
                raise HostingError(_l("The uploads folder %(path)s already holds files: move "
                                      "them away first.", path=str(uploads)))
            if _holds_tables(*tenancy(app).location(tenant)):
                session.rollback()
                raise HostingError(_l("The database for %(slug)s already holds tables: move "
                                      "them away first.", slug=tenant.slug))
            session.commit()
        catalogue.forget(app)
        try:
            _restore(app, tenant, folder, manifest)
            _copy_uploads(folder / "uploads", uploads)
            apply_grants(app, tenants=[tenant])  # the app's role reaches its schema
        except BaseException:
            remove_association(app, tenant)
            shutil.rmtree(uploads, ignore_errors=True)
            raise
    return tenant


# --- Status, delete ----------------------------------------------------------------------


def _find(app: Flask, short: str) -> Tenant:
    catalogue.forget(app)
    directory = catalogue.directory(app)
    tenant = directory.by_short.get((short or "").upper()) or directory.by_slug.get(
        (short or "").lower())
    if tenant is None:
        raise HostingError(_l("No association is called %(short)s.", short=short))
    return tenant


def set_status(app: Flask, short: str, status: AssociationStatus) -> Tenant:
    """Suspend, archive or activate ``short`` (the host's page calls this too)."""
    tenant = _find(app, short)
    with catalogue_session(app) as session:
        row = session.get(HostedAssociation, tenant.id)
        if row.status != status:
            row.status = status
            row.status_changed_at = utcnow()
        session.commit()
        tenant = Tenant.of(row)
    catalogue.forget(app)
    return tenant


def delete_association(app: Flask, short: str, confirm: str | None) -> None:
    """Delete ``short`` whole: its database, its uploads and its catalogue row. Only when it
    is archived, an export was written after it was archived, and ``confirm`` is its short
    name typed again.

    Raises:
        HostingError: saying which of these is missing; nothing is deleted.
    """
    tenant = _find(app, short)
    with catalogue_session(app) as session:
        row = session.get(HostedAssociation, tenant.id)
        archived_at, exported_at = row.status_changed_at, row.exported_at
    if tenant.status != AssociationStatus.ARCHIVED:
        raise HostingError(_l("%(short)s is not archived: archive it (`hosting archive "
                              "%(short)s`), export it, then delete it.", short=tenant.short))
    if exported_at is None or (archived_at is not None and exported_at < archived_at):
        raise HostingError(_l("%(short)s has no export taken since it was archived: run "
                              "`hosting export %(short)s --out FILE` first.", short=tenant.short))
    if (confirm or "").strip().upper() != tenant.short:
        raise HostingError(_l("Type the short name %(short)s to confirm the deletion.",
                              short=tenant.short))
    with use(tenant, app):
        uploads = uploads_dir()
    with catalogue_session(app) as session:
        session.execute(sa.delete(AccessGrant).where(AccessGrant.association_id == tenant.id))
        session.commit()
    remove_association(app, tenant)
    if uploads.resolve() != Path(app.config["UPLOAD_DIR"]).resolve():
        shutil.rmtree(uploads, ignore_errors=True)


# --- Move --------------------------------------------------------------------------------


@dataclasses.dataclass
class MoveResult:
    tenant: Tenant
    rows: int
    tables: int
    old_kept: bool


def _holds_tables(url: str, schema: str | None) -> bool:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            return False
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(sa.inspect(conn).get_table_names(schema=schema))
    except sa.exc.OperationalError as error:
        raise HostingError(_l("Cannot reach the database %(url)s: %(error)s",
                              url=_safe(url), error=str(error.orig))) from None
    finally:
        engine.dispose()


def _safe(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def move_association(app: Flask, short: str, to_url: str, keep_old: bool = False,
                     report: Callable[[str], None] = lambda line: None) -> MoveResult:
    """Copy ``short``'s database to ``to_url`` (another PostgreSQL server or database, or a
    SQLite file), check the copy (row counts, audit trail) and that nothing was written
    meanwhile (the association is suspended while it moves), point the catalogue at the
    copy, then drop the old one unless ``keep_old``. A failure drops the copy and leaves
    the association where it was, in the status it had.

    Raises:
        HostingError: a bad URL, the target already holding tables, or a failed check.
    """
    tenant = _find(app, short)
    try:
        url = sa.engine.make_url(to_url)
    except sa.exc.ArgumentError:
        raise HostingError(_l("%(url)s is not a database URL.", url=to_url)) from None
    if url.get_backend_name() not in ("postgresql", "sqlite") or (
            url.get_backend_name() == "sqlite" and not url.database):
        raise HostingError(_l("Move to a PostgreSQL database (postgresql+psycopg://...) or a "
                              "SQLite file (sqlite:///...)."))
    to_url = url.render_as_string(hide_password=False)
    schema = (tenant.schema_name or f"association_{tenant.slug.replace('-', '_')}"
              if is_postgresql(to_url) else None)
    old_url, old_schema = tenancy(app).location(tenant)
    if (old_url, old_schema) == (to_url, schema) or _holds_tables(to_url, schema):
        raise HostingError(_l("The target already holds an association's tables: choose "
                              "another database."))
    # The copy gets an engine of its own (engines are kept by slug).
    target = dataclasses.replace(tenant, slug=f"{tenant.slug}--moving", database_url=to_url,
                                 schema_name=schema)
    before = tenant.status
    if before == AssociationStatus.ACTIVE:
        set_status(app, tenant.short, AssociationStatus.SUSPENDED)
    try:
        with tempfile.TemporaryDirectory(prefix="association-move-") as work:
            folder = Path(work)
            report(f"{tenant.short}: copying its rows")
            dumped = dump_database(app, tenant, folder)
            manifest = {"revision": sorted(association_revision(app, tenant))[0], **dumped}
            report(f"{tenant.short}: loading them into {_safe(to_url)}")
            try:
                _restore(app, target, folder, manifest)
                again = dump_database(app, tenant, Path(work) / "again")
                if (again["tables"], again["audit_head"]) != (dumped["tables"],
                                                              dumped["audit_head"]):
                    raise HostingError(_l("%(short)s changed while it was copied: run the move "
                                          "again.", short=tenant.short))
            except BaseException:
                tenancy(app).forget(target)
                drop_storage(to_url, schema)
                raise
            finally:
                tenancy(app).forget(target)
        with catalogue_session(app) as session:
            row = session.get(HostedAssociation, tenant.id)
            row.database_url, row.schema_name = to_url, schema
            session.commit()
        tenancy(app).forget(tenant)
        catalogue.forget(app)
        apply_grants(app, tenants=[_find(app, tenant.short)])  # on the host's server
    finally:
        if before == AssociationStatus.ACTIVE:
            set_status(app, tenant.short, before)
    report(f"{tenant.short}: verified ({sum(t['rows'] for t in dumped['tables'])} rows in "
           f"{len(dumped['tables'])} tables, audit trail intact); catalogue switched")
    if not keep_old:
        drop_storage(old_url, old_schema)
        report(f"{tenant.short}: old copy dropped")
    return MoveResult(_find(app, tenant.short), sum(t["rows"] for t in dumped["tables"]),
                      len(dumped["tables"]), keep_old)
