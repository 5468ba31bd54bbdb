"""Users who log in, and the roles they hold."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from association.core.db import created_at, intpk, str_enum
from association.core.enums import LabelledEnum
from association.extensions import db


class Role(LabelledEnum):
    """What a user may do; one user can hold several."""

    CHAIR = "chair", _l("Chair")
    TREASURER = "treasurer", _l("Treasurer")
    SECRETARY = "secretary", _l("Secretary")
    COORDINATOR = "coordinator", _l("Patrol coordinator")
    AUDITOR = "auditor", _l("Auditor")
    MEMBER = "member", _l("Member")


class User(UserMixin, db.Model):
    """A login. Never deleted: deactivated instead, so the audit trail keeps its names."""

    __tablename__ = "user"
    __audit_redact__ = ("password_hash",)

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    #: E.164, e.g. +254712345678; may be used to log in.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), unique=True)
    #: The language the user picked ("en" or "sw"); None follows the browser.
    language: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    #: Bumped on password change or deactivation, which ends every open session.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[created_at]
    last_login_at: Mapped[datetime | None]

    role_rows: Mapped[list["UserRole"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="UserRole.role"
    )
    member = relationship("Member", foreign_keys=[member_id])

    @property
    def roles(self) -> set[Role]:
        return {row.role for row in self.role_rows}

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        """Session id that changes when the password changes, ending old sessions."""
        return f"{self.id}:{self.session_version}"

    def can(self, permission: str) -> bool:
        from association.auth.permissions import allowed

        return allowed(self.roles, permission)


class UserRole(db.Model):
    """One role held by one user."""

    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role", name="uq_user_role_user_id_role"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    role: Mapped[Role] = mapped_column(
        str_enum(Role, 20)
    )

    user: Mapped[User] = relationship(back_populates="role_rows")


class SecondFactor(db.Model):
    """A user's authenticator app (TOTP): on once confirmed with a first code."""

    __tablename__ = "second_factor"
    __audit_redact__ = ("secret",)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), unique=True)
    #: The TOTP secret, encrypted with SECOND_FACTOR_KEY (a Fernet token).
    secret: Mapped[str] = mapped_column(String(255))
    #: None while enrolling: the first right code turns the factor on.
    confirmed_at: Mapped[datetime | None]
    #: The TOTP time step of the last code accepted: a code is never accepted twice.
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    #: Wrong codes typed in a row (written although the failed request is discarded); at
    #: ``second_factor.LOCK_AFTER`` the app's code is refused until a recovery code is used
    #: or the chair resets the factor.
    wrong_codes: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    created_at: Mapped[created_at]


class RecoveryCode(db.Model):
    """One single-use recovery code, kept only as its SHA-256 (the code is random)."""

    __tablename__ = "recovery_code"
    __audit_redact__ = ("code_hash",)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None]
    created_at: Mapped[created_at]


class SecondFactorRole(db.Model):
    """A role whose holders must use a second factor (the chair's choice; none by default)."""

    __tablename__ = "second_factor_role"

    id: Mapped[intpk]
    role: Mapped[Role] = mapped_column(str_enum(Role, 20), unique=True)
