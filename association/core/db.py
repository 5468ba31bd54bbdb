"""Database code every area shares: column types, the SQLite/PostgreSQL upsert, and the
one-row settings tables."""

from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from sqlalchemy import BigInteger
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, mapped_column

from association.core.time import utcnow
from association.database import reads_only

intpk = Annotated[int, mapped_column(primary_key=True)]
cents = Annotated[int, mapped_column(BigInteger)]
created_at = Annotated[datetime, mapped_column(default=utcnow)]


def str_enum(enum_cls: type, length: int = 20) -> sa.Enum:
    """Store a StrEnum by its value in a VARCHAR, the same on SQLite and PostgreSQL."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def is_postgres(bind) -> bool:
    """Whether ``bind`` (a session, connection or engine) talks to PostgreSQL."""
    if isinstance(bind, Session) or hasattr(bind, "get_bind"):
        bind = bind.get_bind()
    return bind.dialect.name == "postgresql"


def upsert(bind, table):
    """``INSERT INTO table`` that can end ``ON CONFLICT DO NOTHING`` (or ``DO UPDATE``), in
    the dialect of ``bind`` (a session or connection): SQLite and PostgreSQL spell it
    alike, but SQLAlchemy builds it from each dialect's own ``insert``."""
    return (postgresql.insert if is_postgres(bind) else sqlite.insert)(table)


def one_row(session, model, **defaults):
    """The one row (id 1) of a settings table, made with ``defaults`` on first use.

    A request that only reads (a GET) does not write it: it gets the defaults in a row that
    is not added to the session. Two first uses at the same moment share it: the second
    one's insert waits for the first's commit (PostgreSQL's unique id, SQLite's write
    lock), fails on the id in its savepoint alone, and reads the row the first one made.
    """
    found = session.get(model, 1)
    if found is None and reads_only():
        return model(id=1, **defaults)
    if found is None:
        try:
            with session.begin_nested():  # its end flushes: a clash rolls back only it
                found = model(id=1, **defaults)
                session.add(found)
        except IntegrityError:
            found = session.get(model, 1)
    return found
