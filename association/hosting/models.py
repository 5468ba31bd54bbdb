"""The catalogue: the host's own small database of the associations it serves.

Its tables live apart from every association's (their own metadata, bound to the host's
database, ``bind_key`` "catalogue"): an association's request reaches them only through
:mod:`association.hosting.catalogue`, and nothing here holds a member's personal data.
"""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from association.core.time import utcnow
from association.extensions import NAMING_CONVENTION
from association.worker import HeartbeatColumns

#: The bind key of the catalogue's tables (Flask-SQLAlchemy routes them to the host's
#: database; every other table goes to the association chosen).
CATALOGUE = "catalogue"


class CatalogueBase(DeclarativeBase):
    """The catalogue's tables: their own metadata, bound to the host's database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION, info={"bind_key": CATALOGUE})
    #: Not in an association's audit trail: the catalogue is the host's, and a change made
    #: for an association (a suspension, a grant) is recorded in its trail by the service.
    __audited__ = False


class AssociationStatus(enum.StrEnum):
    ACTIVE = "active"
    #: Its pages say it is suspended; its public receipt check still answers.
    SUSPENDED = "suspended"
    #: Read-only for the host; no pages, no callbacks; kept until deleted.
    ARCHIVED = "archived"


class HostedAssociation(CatalogueBase):
    """One association served by this install, and where its data lives."""

    __tablename__ = "hosted_association"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The association's short name (MLK): receipt numbers, SMS, commands' --association.
    short: Mapped[str] = mapped_column(sa.String(6), unique=True)
    #: Its address part: /a/<slug>/ and the database file or schema's name (mlk).
    slug: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    #: Its own host names (mlata.example.org), space-separated, when it has any.
    host: Mapped[str | None] = mapped_column(sa.String(253), unique=True)
    status: Mapped[AssociationStatus] = mapped_column(
        sa.Enum(AssociationStatus, native_enum=False, length=20,
                values_callable=lambda e: [m.value for m in e]),
        default=AssociationStatus.ACTIVE)
    #: The database holding its data: None for the host's own (PostgreSQL: a schema there;
    #: SQLite: a file under ASSOCIATIONS_DIR), or a URL of another server or file.
    database_url: Mapped[str | None] = mapped_column(sa.String(500))
    #: PostgreSQL: the schema holding its tables.
    schema_name: Mapped[str | None] = mapped_column(sa.String(63))
    #: The folder of its uploads (expenses' documents, minutes), relative to UPLOAD_DIR:
    #: its slug when None.
    uploads_dir: Mapped[str | None] = mapped_column(sa.String(500))
    #: M-Pesa: its paybill or till (callbacks are routed by it) and, when two associations
    #: share a paybill, the prefix of the account numbers that are its own.
    mpesa_shortcode: Mapped[str | None] = mapped_column(sa.String(10), index=True)
    account_prefix: Mapped[str | None] = mapped_column(sa.String(10))
    #: SHA-256 of its M-Pesa callback token (part of its callback addresses).
    callback_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    #: Its Daraja credentials (consumer key and secret, passkey, initiator, callback
    #: token) as JSON encrypted with HOSTING_SECRETS_KEY: never readable from the database.
    mpesa_credentials: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[datetime | None]
    #: When its last complete export was written, and that file's SHA-256 (delete needs it).
    exported_at: Mapped[datetime | None]
    export_sha256: Mapped[str | None] = mapped_column(sa.String(64))

    @property
    def is_active(self) -> bool:
        return self.status == AssociationStatus.ACTIVE


class HostAdmin(CatalogueBase):
    """A host administrator: creates, suspends and archives associations and sees their
    health, never their members or books (unless a chair grants time-limited access)."""

    __tablename__ = "host_admin"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    #: Raised when the password changes: every session of the old one ends.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class AccessGrant(CatalogueBase):
    """An association's chair letting a host administrator into its records for a time
    (recorded in the association's own audit trail too)."""

    __tablename__ = "access_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(sa.ForeignKey("hosted_association.id"),
                                                index=True)
    host_admin_id: Mapped[int] = mapped_column(sa.ForeignKey("host_admin.id"))
    granted_by: Mapped[str] = mapped_column(sa.String(60))
    reason: Mapped[str] = mapped_column(sa.String(300))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class HostInboxItem(CatalogueBase):
    """A callback the host could not place (an unknown shortcode, an account prefix no
    association has): kept for the host to look at, never credited to anyone."""

    __tablename__ = "host_inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(30))
    shortcode: Mapped[str | None] = mapped_column(sa.String(20))
    account: Mapped[str | None] = mapped_column(sa.String(40))
    amount_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(sa.String(60))


class HostRateLimitCounter(CatalogueBase):
    """The host pages' login limits (the associations' are in their own databases)."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    count: Mapped[int]
    expires_at: Mapped[float] = mapped_column(sa.Float, index=True)


class HostWorkerHeartbeat(HeartbeatColumns, CatalogueBase):
    """A worker's sign of life for the host's /healthz (each association has its own too)."""

    __tablename__ = "worker_heartbeat"
