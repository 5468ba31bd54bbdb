"""Database engine settings that the ORM does not set for us."""

from sqlalchemy import event
from sqlalchemy.engine import Engine


def configure_sqlite(engine: Engine) -> None:
    """Real transactions on SQLite, as the SQLAlchemy docs recommend for pysqlite.

    pysqlite's own transaction handling breaks SAVEPOINT, so it is switched off
    and every transaction starts with ``BEGIN IMMEDIATE``: it takes the write
    lock at once, so two writers queue (waiting up to the busy timeout) instead
    of failing when one read before the other wrote. WAL lets readers outside a
    transaction go on meanwhile; foreign keys are enforced.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
