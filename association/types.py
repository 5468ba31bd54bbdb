"""Annotated column types shared by every model, and the clock they are filled from."""

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import BigInteger
from sqlalchemy.orm import mapped_column

NAIROBI = ZoneInfo("Africa/Nairobi")


def utcnow() -> datetime:
    """Now in UTC, without tzinfo: stored the same way on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def today_in_nairobi() -> date:
    """Today where the association is. The server's clock may be on UTC, three hours
    behind: from 21:00 UTC its ``date.today()`` is still yesterday in Nairobi."""
    return datetime.now(NAIROBI).date()


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
