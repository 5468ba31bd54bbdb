"""An association leaving and arriving (issue 22 items 4 and 7): export, import on a fresh
install, archive, delete, move to another database, and `db upgrade` stopping at the first
association that fails. On SQLite, and on PostgreSQL when TEST_DATABASE_URL is set (then
across the two as well)."""

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from association import create_app
from association.audit.services import acting_as
from association.audit.verification import verify_everything
from association.extensions import db
from association.hosting import catalogue
from association.hosting.migrating import (
    MigrationFailed,
    _association_config,
    association_heads,
    association_revision,
    upgrade_all,
    upgrade_catalogue,
)
from association.hosting.models import AssociationStatus, HostedAssociation
from association.hosting.portability import (
    delete_association,
    export_association,
    import_association,
    move_association,
    set_status,
)
from association.hosting.services import (
    HostingError,
    NewAssociation,
    catalogue_session,
    create_association,
    drop_storage,
    remove_association,
)
from association.hosting.tenancy import catalogue_engine, tenancy, uploads_dir, use
from association.ledger.trial_balance import trial_balance
from config import TestingConfig
from tests.conftest import no_association, standalone_app

PG = bool(os.environ.get("TEST_DATABASE_URL"))
INSTALLS = ["sqlite", "postgresql"] if PG else ["sqlite"]
#: The migration before head (`db upgrade` has one to run).
BEFORE_HEAD = "9c6e7f3a2b16"

committed = pytest.mark.committed(reason="makes associations: real files, schemas and "
                                  "catalogue rows, in other connections")


def _new(app, short="BBB", books=True, phone="0722000001"):
    tenant, _password = create_association(app, NewAssociation(
        short=short, name=f"{short} Residents Association", admin_phone=phone), books=books)
    return tenant


def _seeded(app, short="BBB"):
    """An association with a small demo's records and two uploaded files."""
    from devtools.demo.seed import seed

    tenant = _new(app, short, books=False, phone=None)  # the demo makes its logins
    with use(tenant, app), acting_as("test"):
        seed(members=20)
        db.session.commit()
        folder = uploads_dir()
    (folder / "expenses").mkdir(parents=True, exist_ok=True)
    (folder / "expenses" / "receipt-1.pdf").write_bytes(b"%PDF-1.4 a receipt\n")
    (folder / "minutes.txt").write_text("AGM minutes", encoding="utf-8")
    return tenant


def _counts(app, tenant) -> dict[str, int]:
    with use(tenant, app):
        return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
                for t in db.metadata.sorted_tables}


def _books(app, tenant):
    with use(tenant, app):
        tb = trial_balance()
        return [(r.account.code, r.debit_cents, r.credit_cents) for r in tb.rows]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*") if p.is_file()}


def _uploads(app, tenant) -> dict[str, bytes]:
    with use(tenant, app):
        return _files(uploads_dir())


def _database_named(app, suffix: str) -> str:
    """A PostgreSQL database beside the test run's (made empty)."""
    base = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    url = base.set(database=f"{base.database}_{suffix}")
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    admin.dispose()
    return url.render_as_string(hide_password=False)


def _drop_database(app, url: str) -> None:
    admin = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f'DROP DATABASE IF EXISTS "{sa.engine.make_url(url).database}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def fresh_install(app, tmp_path, request):
    """Another install with a catalogue of its own: SQLite, or a PostgreSQL database."""
    made = []

    def make(kind: str):
        folders = {"UPLOAD_DIR": tmp_path / f"{kind}-uploads",
                   "ASSOCIATIONS_DIR": tmp_path / f"{kind}-associations"}
        if kind == "sqlite":
            (tmp_path / kind).mkdir()
            other = standalone_app(tmp_path / kind, **folders)
        else:
            url = _database_named(app, "fresh")
            other = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url, **folders})
            upgrade_catalogue(other)
            made.append(url)
        request.addfinalizer(lambda: (tenancy(other).dispose(),
                                      catalogue_engine(other).dispose()))
        return other

    yield make
    for url in made:
        _drop_database(app, url)


def _row(app, short):
    catalogue.forget(app)
    return catalogue.directory(app).by_short.get(short)


def _catalogue_rows(app) -> list[str]:
    catalogue.forget(app)
    return sorted(t.short for t in catalogue.every(app))


# --- Export, then import on a fresh install ----------------------------------------------


@committed
@pytest.mark.parametrize("kind", INSTALLS)
def test_export_then_import_on_a_fresh_install_reproduces_the_association(
        app, tmp_path, fresh_install, kind):
    source = _seeded(app)
    out = tmp_path / "bbb.tar.gz"
    result = export_association(app, "bbb", out)

    with catalogue_session(app) as session:
        row = session.get(HostedAssociation, source.id)
        assert row.exported_at is not None and row.export_sha256 == result.sha256
    with tarfile.open(out) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
        names = set(archive.getnames())
    assert manifest["short"] == "BBB"
    with app.app_context():
        assert manifest["revision"] in association_heads(app)
    assert {"uploads/expenses/receipt-1.pdf", "uploads/minutes.txt",
            "data/member.jsonl", "data/audit_event.jsonl"} <= set(manifest["files"])
    assert names == {"manifest.json", *manifest["files"]}
    rows = {t["name"]: t["rows"] for t in manifest["tables"]}
    assert rows["member"] == 20 and rows["audit_event"] > 0
    assert manifest["audit_head"]

    other = fresh_install(kind)
    tenant = import_association(other, out, expect_sha256=result.sha256)

    assert (tenant.short, tenant.slug) == ("BBB", "bbb")
    assert _books(other, tenant) == _books(app, source) != []
    assert _counts(other, tenant) == _counts(app, source)
    assert _uploads(other, tenant) == _uploads(app, source)
    with use(tenant, other):
        verified = verify_everything()
    assert verified.ok, verified.problems
    assert verified.head_hash == manifest["audit_head"]
    # The same `audit verify` a treasurer runs, on the new install.
    answer = other.test_cli_runner().invoke(args=["audit", "verify", "--association", "BBB"])
    assert answer.exit_code == 0, answer.output
    assert "audit trail intact" in answer.output
    # The copy takes new records: its ids go on after the loaded ones.
    with use(tenant, other), acting_as("test"):
        from association.members.models import Member, Zone
        from association.members.services import register_member
        from tests.conftest import member_data

        zone = db.session.scalars(sa.select(Zone)).first()
        before = db.session.scalar(sa.select(sa.func.max(Member.id)))
        member = register_member(member_data(zone.id, phone="0722111222"))
        db.session.commit()
        assert member.id > before

    # Imported once already: the short name and address are taken.
    with pytest.raises(HostingError, match="short name BBB"):
        import_association(other, out)
    again = import_association(other, out, short="CCC", slug="ccc")
    assert _counts(other, again) == _counts(app, source)
    assert [short for short in _catalogue_rows(other) if short != "TEST"] == ["BBB", "CCC"]


def _repack(source: Path, target: Path, change) -> None:
    """``source``'s export with ``change(name, bytes)`` applied to each member (None drops
    it); ``change`` may return extra members under the key None."""
    with tarfile.open(source) as archive, tarfile.open(target, "w:gz") as out:
        for member in archive.getmembers():
            data = archive.extractfile(member).read()
            data = change(member.name, data)
            if data is None:
                continue
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


def _tamper_manifest(edit):
    def change(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        edit(manifest)
        return json.dumps(manifest).encode()
    return change


def _with_digest(edit):
    """A manifest edit that also recomputes the manifest's own digest (a careful forger)."""
    from association.hosting.portability import _manifest_digest

    def both(manifest):
        edit(manifest)
        manifest["digest"] = _manifest_digest(manifest)
    return both


@committed
def test_an_export_that_differs_from_its_manifest_is_refused_whole(app, tmp_path,
                                                                  fresh_install):
    _new(app)
    with use(_row(app, "BBB"), app):
        (uploads_dir()).mkdir(parents=True, exist_ok=True)
        (uploads_dir() / "minutes.txt").write_text("AGM", encoding="utf-8")
    good = tmp_path / "good.tar.gz"
    result = export_association(app, "BBB", good)
    other = fresh_install("sqlite")
    folder = Path(other.config["ASSOCIATIONS_DIR"])
    uploads = Path(other.config["UPLOAD_DIR"])

    def row_changed(name, data):
        if name == "data/account.jsonl":  # an account's code changed, say
            assert b"1" in data
            return data.replace(b"1", b"2", 1)
        return data

    def extra(name, data):
        return data

    bad = {
        "a changed row": (row_changed, "differs from its checksum"),
        "a missing file": (lambda n, d: None if n == "uploads/minutes.txt" else d,
                           "are missing: uploads/minutes.txt"),
        "a manifest edited": (_tamper_manifest(lambda m: m.update(name="Other")),
                              "manifest was changed"),
        "a count changed": (_tamper_manifest(_with_digest(
            lambda m: m["tables"][0].update(rows=m["tables"][0]["rows"] + 1))),
            "does not hold the rows its manifest counts"),
        "a checksum changed": (_tamper_manifest(_with_digest(
            lambda m: m["files"]["uploads/minutes.txt"].update(sha256="0" * 64))),
            "differs from its checksum"),
        "no manifest": (lambda n, d: None if n == "manifest.json" else d,
                        "manifest.json is missing"),
    }
    for label, (change, message) in bad.items():
        path = tmp_path / f"{label}.tar.gz"
        _repack(good, path, change)
        with pytest.raises(HostingError, match=message):
            import_association(other, path)
        assert _catalogue_rows(other) == ["TEST"], label
        assert not folder.exists() or not any(folder.iterdir()), label
        assert not uploads.exists() or not any(uploads.iterdir()), label

    # A file the manifest does not list.
    path = tmp_path / "extra.tar.gz"
    _repack(good, path, extra)
    with tarfile.open(path, "r:gz") as archive:
        members = [(m, archive.extractfile(m).read()) for m in archive.getmembers()]
    with tarfile.open(path, "w:gz") as out:
        for member, data in [*members, (tarfile.TarInfo("uploads/planted.sh"), b"rm -rf /")]:
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    with pytest.raises(HostingError, match="does not list: uploads/planted.sh"):
        import_association(other, path)
    # Not a tar at all; the SHA-256 given not the file's.
    (tmp_path / "junk.tar.gz").write_bytes(b"not an export")
    with pytest.raises(HostingError, match="not a readable"):
        import_association(other, tmp_path / "junk.tar.gz")
    with pytest.raises(HostingError, match="SHA-256 is not the one given"):
        import_association(other, good, expect_sha256="0" * 64)
    answer = other.test_cli_runner().invoke(args=["hosting", "import", str(tmp_path / "nope")])
    assert answer.exit_code == 1 and "There is no file" in answer.output
    assert _catalogue_rows(other) == ["TEST"]
    # The good one still imports, through the command.
    answer = other.test_cli_runner().invoke(
        args=["hosting", "import", str(good), "--sha256", result.sha256])
    assert answer.exit_code == 0, answer.output
    assert _catalogue_rows(other) == ["BBB", "TEST"]


@committed
def test_an_import_that_fails_its_checks_removes_what_it_made(app, tmp_path, fresh_install,
                                                              monkeypatch):
    _new(app)
    out = tmp_path / "bbb.tar.gz"
    export_association(app, "BBB", out)
    other = fresh_install("sqlite")
    from association.hosting import portability

    real = portability.load_database

    def lose_a_row(app_, tenant, folder, manifest):
        counts = real(app_, tenant, folder, manifest)
        counts["account"] -= 1
        return counts

    monkeypatch.setattr(portability, "load_database", lose_a_row)
    with pytest.raises(HostingError, match="differ from the export's in account"):
        import_association(other, out)
    assert _catalogue_rows(other) == ["TEST"]
    assert not any(Path(other.config["ASSOCIATIONS_DIR"]).glob("bbb*"))


# --- Status and delete -------------------------------------------------------------------


@committed
def test_delete_needs_archive_an_export_after_it_and_the_short_name_typed(app, tmp_path,
                                                                          runner):
    tenant = _new(app)
    with use(tenant, app):
        folder = uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "minutes.txt").write_text("AGM", encoding="utf-8")
    url, schema = tenancy(app).location(tenant)

    with pytest.raises(HostingError, match="BBB is not archived"):
        delete_association(app, "BBB", "BBB")
    answer = runner.invoke(args=["hosting", "archive", "BBB"])
    assert answer.exit_code == 0 and "BBB archived" in answer.output
    assert _row(app, "BBB").status == AssociationStatus.ARCHIVED
    assert "BBB" not in [t.short for t in catalogue.served(app)]
    with pytest.raises(HostingError, match="no export taken since it was archived"):
        delete_association(app, "BBB", "BBB")
    export_association(app, "BBB", tmp_path / "before.tar.gz")
    # Brought back and archived again: that export is older than the archive.
    set_status(app, "BBB", AssociationStatus.ACTIVE)
    set_status(app, "BBB", AssociationStatus.ARCHIVED)
    with pytest.raises(HostingError, match="no export taken since it was archived"):
        delete_association(app, "BBB", "BBB")
    export_association(app, "BBB", tmp_path / "after.tar.gz")
    for typed in (None, "", "BB", "MLK"):
        with pytest.raises(HostingError, match="Type the short name BBB"):
            delete_association(app, "BBB", typed)
    answer = runner.invoke(args=["hosting", "delete", "BBB"], input="nope\n")
    assert answer.exit_code == 1 and "Type the short name BBB" in answer.output
    assert _catalogue_rows(app) == ["BBB", "TEST"] and folder.exists()
    with pytest.raises(HostingError, match="No association is called ZZZ"):
        delete_association(app, "ZZZ", "ZZZ")

    answer = runner.invoke(args=["hosting", "delete", "BBB"], input="BBB\n")
    assert answer.exit_code == 0, answer.output
    assert _catalogue_rows(app) == ["TEST"]
    assert not folder.exists()
    if schema is None:
        assert not Path(url.removeprefix("sqlite:///")).exists()
    else:
        with catalogue_engine(app).connect() as conn:
            assert schema not in sa.inspect(conn).get_schema_names()


@committed
def test_suspend_and_activate(app, runner):
    _new(app)
    answer = runner.invoke(args=["hosting", "suspend", "bbb"])
    assert answer.exit_code == 0 and "BBB suspended" in answer.output
    assert _row(app, "BBB").status == AssociationStatus.SUSPENDED
    assert runner.invoke(args=["hosting", "activate", "BBB"]).exit_code == 0
    assert _row(app, "BBB").status == AssociationStatus.ACTIVE
    answer = runner.invoke(args=["hosting", "suspend", "ZZZ"])
    assert answer.exit_code == 1 and "No association is called ZZZ" in answer.output


@committed
def test_export_refuses_an_unknown_association_a_missing_folder_and_an_old_database(
        app, tmp_path, runner):
    tenant = _new(app, books=False)
    answer = runner.invoke(args=["hosting", "export", "ZZZ", "--out", str(tmp_path / "z")])
    assert answer.exit_code == 1 and "No association is called ZZZ" in answer.output
    answer = runner.invoke(args=["hosting", "export", "BBB", "--out",
                                 str(tmp_path / "no-such-folder" / "bbb.tar.gz")])
    assert answer.exit_code == 1 and "give a file in a folder that exists" in answer.output
    with use(tenant, app):
        command.downgrade(_association_config(app), BEFORE_HEAD)
    answer = runner.invoke(args=["hosting", "export", "BBB", "--out", str(tmp_path / "b")])
    assert answer.exit_code == 1 and "db upgrade` first" in answer.output
    assert list(tmp_path.iterdir()) == []
    with catalogue_session(app) as session:
        assert session.get(HostedAssociation, tenant.id).exported_at is None
    # A manifest without its revision (and a digest made to match) is refused too.
    with use(tenant, app):
        command.upgrade(_association_config(app), "head")
    good = tmp_path / "bbb.tar.gz"
    export_association(app, "BBB", good)
    bad = tmp_path / "no-revision.tar.gz"
    _repack(good, bad, _tamper_manifest(_with_digest(lambda m: m.pop("revision"))))
    with pytest.raises(HostingError, match="manifest is incomplete"):
        import_association(app, bad, short="CCC", slug="ccc")
    assert _catalogue_rows(app) == ["BBB", "TEST"]


# --- Move --------------------------------------------------------------------------------


@committed
@pytest.mark.parametrize("kind", INSTALLS)
@pytest.mark.parametrize("keep_old", [False, True])
def test_move_copies_verifies_switches_and_drops_the_old_copy(app, tmp_path, kind, keep_old):
    tenant = _new(app)
    counts, books = _counts(app, tenant), _books(app, tenant)
    old_url, old_schema = tenancy(app).location(tenant)
    to = (_database_named(app, "move") if kind == "postgresql"
          else f"sqlite:///{tmp_path / 'moved.sqlite3'}")
    try:
        args = ["hosting", "move", "BBB", "--to", to] + (["--keep-old"] if keep_old else [])
        answer = app.test_cli_runner().invoke(args=args)
        assert answer.exit_code == 0, answer.output
        assert "verified" in answer.output and "catalogue switched" in answer.output
        moved = _row(app, "BBB")
        assert moved.database_url == to and moved.status == AssociationStatus.ACTIVE
        assert tenancy(app).location(moved)[0] == to
        assert _counts(app, moved) == counts and _books(app, moved) == books
        with use(moved, app):
            assert verify_everything().ok
        if old_schema is None:
            assert Path(old_url.removeprefix("sqlite:///")).exists() == keep_old
        else:
            engine = sa.create_engine(old_url)
            with engine.connect() as conn:
                assert (old_schema in sa.inspect(conn).get_schema_names()) == keep_old
            engine.dispose()
        if PG and kind == "sqlite" and not keep_old:  # and back: SQLite to PostgreSQL
            home = app.config["SQLALCHEMY_DATABASE_URI"]
            move_association(app, "BBB", home)
            back = _row(app, "BBB")
            assert tenancy(app).location(back) == (home, old_schema)
            assert _counts(app, back) == counts and _books(app, back) == books
            assert not (tmp_path / "moved.sqlite3").exists()
            move_association(app, "BBB", to)
            moved = _row(app, "BBB")
        # The target now holds its tables: moving there again is refused.
        with pytest.raises(HostingError, match="already holds"):
            move_association(app, "BBB", to)
        with pytest.raises(HostingError, match="not a database URL|Move to a PostgreSQL"):
            move_association(app, "BBB", "mysql://nowhere/x")
    finally:  # BBB goes with the database it was moved to
        if (moved := _row(app, "BBB")) is not None:
            remove_association(app, moved)
        tenancy(app).dispose()
        if keep_old:
            drop_storage(old_url, old_schema)
        if kind == "postgresql":
            _drop_database(app, to)


@committed
def test_a_move_that_fails_its_check_drops_the_copy_and_changes_nothing(app, tmp_path,
                                                                        monkeypatch):
    tenant = _new(app)
    to = f"sqlite:///{tmp_path / 'moved.sqlite3'}"
    from association.hosting import portability

    def broken(*args, **kwargs):
        raise HostingError("The audit trail does not verify on the copy")

    monkeypatch.setattr(portability, "_verify", broken)
    with pytest.raises(HostingError, match="does not verify"):
        move_association(app, "BBB", to)
    after = _row(app, "BBB")
    assert after == tenant  # same place, same status
    assert not (tmp_path / "moved.sqlite3").exists()
    assert _counts(app, after)["account"] > 0


# --- db upgrade stops at the first failure -----------------------------------------------


def _tables_and_indexes(app, tenant) -> dict[str, set[str]]:
    with use(tenant, app), db.engine.connect() as conn:
        inspector = sa.inspect(conn)
        schema = tenancy(app).location(tenant)[1]
        return {name: {i["name"] for i in inspector.get_indexes(name, schema=schema)}
                for name in inspector.get_table_names(schema=schema)}


@committed
def test_db_upgrade_stops_at_the_first_association_that_fails(app, runner):
    first, broken, last = (_new(app, short, books=False) for short in ("AAA", "BBB", "CCC"))
    for tenant in (first, broken, last):
        with use(tenant, app):
            command.downgrade(_association_config(app), BEFORE_HEAD)
    # BBB already has the index the last migration makes: its upgrade fails.
    with use(broken, app), db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX uq_audit_checkpoint_month_close_label "
                             "ON audit_checkpoint (seq)")
    before = _tables_and_indexes(app, broken)
    untouched = _tables_and_indexes(app, last)

    lines = []
    with no_association(), app.app_context(), pytest.raises(MigrationFailed, match="BBB"):
        upgrade_all(app, lines.append)  # as `db upgrade` runs it: on the host, none chosen

    with app.app_context():
        heads = association_heads(app)
    assert association_revision(app, first) == heads
    assert association_revision(app, broken) == {BEFORE_HEAD}
    assert association_revision(app, last) == {BEFORE_HEAD}
    assert _tables_and_indexes(app, broken) == before
    assert _tables_and_indexes(app, last) == untouched
    assert lines == ["catalogue: at head", "[1/4] TEST: already at head",
                     "[2/4] AAA: upgraded"]

    # The command says where it stopped; once BBB is mended, it finishes the run.
    answer = runner.invoke(args=["db", "upgrade"])
    assert answer.exit_code == 1
    assert "stopped: BBB" in answer.output and "[2/4] AAA: already at head" in answer.output
    with use(broken, app), db.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX uq_audit_checkpoint_month_close_label")
    answer = runner.invoke(args=["db", "upgrade"])
    assert answer.exit_code == 0, answer.output
    assert "[3/4] BBB: upgraded" in answer.output and "[4/4] CCC: upgraded" in answer.output
    assert association_revision(app, last) == heads
