"""Engine settings: keyed queries keep their plan on PostgreSQL; SQLite's writers queue;
one-row settings made safely on first use."""

import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from association import database
from association.audit.services import acting_as
from association.database import execute_prepared
from association.extensions import db


def test_prepared_queries_keep_their_plan_and_only_they_do(app):
    lookup = sa.text("SELECT CAST(:n AS INTEGER) * 2 AS doubled /* keyed lookup */")
    other = sa.text("SELECT CAST(:n AS INTEGER) + 1 /* planned for its values */")
    with app.app_context():
        for n in range(8):
            assert execute_prepared(db.session, lookup, {"n": n}).scalar_one() == 2 * n
            assert db.session.execute(other, {"n": n}).scalar_one() == n + 1
        if db.engine.dialect.name == "postgresql":
            driver = db.session.connection().connection.driver_connection
            assert driver.prepare_threshold is None  # the app's setting, restored
            prepared = db.session.execute(sa.text(
                "SELECT statement FROM pg_prepared_statements")).scalars().all()
            assert [s for s in prepared if "keyed lookup" in s]
            assert not [s for s in prepared if "planned for its values" in s]


# --- SQLite's writers queue in the app ---------------------------------------------------


def _sqlite_engine(path):
    engine = sa.create_engine(f"sqlite:///{path}",
                              connect_args={"factory": database.WriterQueueConnection})
    database.configure_sqlite(engine)
    return engine


def test_sqlite_writers_take_turns_and_the_next_goes_when_one_commits(tmp_path):
    engine = _sqlite_engine(tmp_path / "q.sqlite3")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    first_in, second_done, order = threading.Event(), threading.Event(), []

    def second():
        first_in.wait()
        with engine.begin() as conn:  # waits for the first writer's commit
            order.append("second")
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        first_in.set()
        assert not second_done.wait(0.3)  # still queued behind this transaction
        order.append("first")
    thread.join(10)
    assert order == ["first", "second"]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM t ORDER BY rowid").scalars().all() == [1, 2]
    assert (tmp_path / "q.sqlite3-writers").exists()


def test_sqlite_writers_queue_is_let_go_however_a_transaction_ends(tmp_path, monkeypatch):
    """Commit, rollback, an error inside, a closed connection: the next writer is not kept
    waiting (a queue left held would refuse it as locked after the wait, here 1 s)."""
    monkeypatch.setattr(database, "SQLITE_WAIT_SECONDS", 1)
    engine = _sqlite_engine(tmp_path / "q.sqlite3")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER UNIQUE)")
    with engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        conn.rollback()
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    alone = sqlite3.connect(tmp_path / "q.sqlite3", factory=database.WriterQueueConnection,
                            isolation_level=None)
    alone.begin_immediate()
    alone.close()  # in its transaction

    def write(n):
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (?)", (n,))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(10, 20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM t ORDER BY n").scalars().all() == \
            list(range(10, 20))


def test_a_forked_process_queues_on_its_own_lock(tmp_path, monkeypatch):
    """A gunicorn worker forked from a parent that had the database open: a file lock on
    the parent's inherited file would be shared with it, not exclusive."""
    path = str(tmp_path / "q.sqlite3")
    parent = database._writer_queue(path)
    assert database._writer_queue(path) is parent
    monkeypatch.setattr(database.os, "getpid", lambda: parent.pid + 1)
    child = database._writer_queue(path)
    assert child is not parent and child.fd != parent.fd


# --- One-row settings, made on first use ----------------------------------------------------


@pytest.mark.parametrize("kind", ["patrols", "mpesa"])
def test_two_first_uses_at_once_share_the_one_settings_row(app, kind):
    """A second first use while the first has made the row but not yet committed waits,
    then uses it (on PostgreSQL it failed on the unique id, a 500 on a first visit)."""
    from association.mpesa import processing
    from association.mpesa.models import MpesaSettings
    from association.patrols import stipends as patrols
    from association.patrols.models import PatrolSettings

    settings, model = {"patrols": (patrols.settings, PatrolSettings),
                       "mpesa": (processing.settings, MpesaSettings)}[kind]
    with app.app_context():
        assert db.session.get(model, 1) is None
    made, results = threading.Event(), {}

    def use(name, first):
        with app.app_context(), acting_as(f"test:{name}"):
            try:
                if not first:
                    made.wait(30)
                row = settings()
                if first:
                    made.set()
                    time.sleep(0.5)  # the other use arrives meanwhile
                db.session.commit()
                results[name] = row.id
            except Exception as error:  # noqa: BLE001 - the test reports it
                results[name] = error
                made.set()

    threads = [threading.Thread(target=use, args=("first", True)),
               threading.Thread(target=use, args=("second", False))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == {"first": 1, "second": 1}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 1


def test_a_database_error_names_the_statement_not_the_rows_values(app, setup_association):
    """A phone or an ID number in a failing row must not reach a log line or an error column
    through SQLAlchemy's message. (PostgreSQL's own DETAIL still names a clashing key.)"""
    from sqlalchemy.exc import IntegrityError

    from association.members.models import Zone

    with app.app_context():
        db.session.add(Zone(name="Kiamaiko"))
        db.session.flush()
        db.session.add(Zone(name="Kiamaiko", description="Call 0722000999"))
        with pytest.raises(IntegrityError) as raised:
            db.session.flush()
        db.session.rollback()
    assert "INSERT INTO zone" in str(raised.value)
    assert "[SQL parameters hidden" in str(raised.value)
    assert "0722000999" not in str(raised.value)
