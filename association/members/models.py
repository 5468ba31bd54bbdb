"""The register of members: zones, members, status history and consent."""

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from association.core.db import created_at, intpk, str_enum
from association.core.enums import LabelledEnum
from association.core.time import today_in_nairobi, utcnow
from association.extensions import db

#: Youth, as Kenyan registration forms count it.
YOUTH_AGES = (18, 35)


class Category(LabelledEnum):
    RESIDENT = "resident", _l("Resident / tenant")
    LANDLORD = "landlord", _l("Landlord")
    BUSINESS = "business", _l("Business")
    OTHER = "other", _l("Other")


class Gender(LabelledEnum):
    FEMALE = "female", _l("Female")
    MALE = "male", _l("Male")
    OTHER = "other", _l("Other")


class MemberStatus(LabelledEnum):
    ACTIVE = "active", _l("Active")
    SUSPENDED = "suspended", _l("Suspended")
    LEFT = "left", _l("Left")


class ConsentPurpose(LabelledEnum):
    """What a member agreed to; each is asked for, recorded and withdrawn on its own."""

    REGISTER = "register", _l("Keeping my details in the members register")
    SMS = "sms", _l("Receiving SMS messages from the association")
    PATROL = "patrol", _l("Volunteering for night patrols")
    PHOTOS = "photos", _l("Photos of me at association events")


class ConsentChannel(LabelledEnum):
    PAPER = "paper", _l("Signed paper form")
    IN_PERSON = "in_person", _l("In person, witnessed by an official")
    PHONE = "phone", _l("By phone")
    ONLINE = "online", _l("Online, by the member")


class Zone(db.Model):
    """A part of the area (a beat for the patrols) that members live or trade in."""

    __tablename__ = "zone"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[created_at]


class Member(db.Model):
    """A resident, tenant, landlord or business on the register."""

    __tablename__ = "member"
    __table_args__ = (
        CheckConstraint(
            "category != 'landlord' OR rental_premises >= 1", name="landlord_premises"
        ),
        CheckConstraint("rental_premises IS NULL OR rental_premises >= 1", name="premises_pos"),
        CheckConstraint(
            "year_of_birth IS NULL OR year_of_birth BETWEEN 1900 AND 2100", name="birth_year"
        ),
        Index("ix_member_names", "other_names", "first_name"),
    )

    id: Mapped[intpk]
    #: Running number behind member_no; unique so concurrent registrations cannot share one.
    seq: Mapped[int] = mapped_column(unique=True)
    #: e.g. MLK-0001; also the M-Pesa account number members type.
    member_no: Mapped[str] = mapped_column(String(20), unique=True)
    first_name: Mapped[str] = mapped_column(String(60))
    other_names: Mapped[str] = mapped_column(String(120))
    #: E.164, e.g. +254712345678.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    national_id: Mapped[str | None] = mapped_column(String(20), unique=True)
    gender: Mapped[Gender | None] = mapped_column(str_enum(Gender, 10))
    year_of_birth: Mapped[int | None]
    category: Mapped[Category] = mapped_column(str_enum(Category, 20), index=True)
    rental_premises: Mapped[int | None]
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="RESTRICT"), index=True)
    plot: Mapped[str | None] = mapped_column(String(60))
    house: Mapped[str | None] = mapped_column(String(60))
    joined_on: Mapped[date]
    status: Mapped[MemberStatus] = mapped_column(
        str_enum(MemberStatus, 20), default=MemberStatus.ACTIVE, index=True
    )
    status_since: Mapped[date]
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    zone: Mapped[Zone] = relationship()
    status_history: Mapped[list["MemberStatusChange"]] = relationship(
        back_populates="member",
        order_by="(MemberStatusChange.effective_on.desc(), MemberStatusChange.id.desc())",
    )
    consents: Mapped[list["MemberConsent"]] = relationship(
        back_populates="member", order_by="MemberConsent.id.desc()"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.other_names}"

    def age_in(self, year: int) -> int | None:
        return None if self.year_of_birth is None else year - self.year_of_birth

    def is_youth(self, today: date | None = None) -> bool:
        """18 to 35 years old this year (birth dates are held only to the year)."""
        age = self.age_in((today or today_in_nairobi()).year)
        return age is not None and YOUTH_AGES[0] <= age <= YOUTH_AGES[1]


class MemberStatusChange(db.Model):
    """A dated change of status: joined, suspended, reinstated, left."""

    __tablename__ = "member_status_change"

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    status: Mapped[MemberStatus] = mapped_column(str_enum(MemberStatus, 20))
    effective_on: Mapped[date]
    reason: Mapped[str | None] = mapped_column(String(300))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[created_at]

    member: Mapped[Member] = relationship(back_populates="status_history")
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])


class MemberConsent(db.Model):
    """Proof of consent (Data Protection Act s.32): what for, the words shown, when, by whom."""

    __tablename__ = "member_consent"

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    purpose: Mapped[ConsentPurpose] = mapped_column(str_enum(ConsentPurpose, 20))
    #: The exact words the member agreed to, in the language used.
    wording: Mapped[str] = mapped_column(Text)
    wording_version: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(5))
    channel: Mapped[ConsentChannel] = mapped_column(str_enum(ConsentChannel, 20))
    given_on: Mapped[date]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[created_at]
    withdrawn_on: Mapped[date | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    withdrawn_reason: Mapped[str | None] = mapped_column(String(300))

    member: Mapped[Member] = relationship(back_populates="consents")
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])
    withdrawn_by = relationship("User", foreign_keys=[withdrawn_by_id])

    @property
    def is_active(self) -> bool:
        return self.withdrawn_on is None
