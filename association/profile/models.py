"""The association itself: one row, filled in at first-run setup."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from association.core.db import created_at, intpk, str_enum
from association.core.enums import LabelledEnum
from association.extensions import db


class RegistrationBody(LabelledEnum):
    """Who registered the association, if anyone has."""

    COMMUNITY_GROUPS = "community_groups", _l("Community Groups Registration Act")
    SOCIAL_DEVELOPMENT = (
        "social_development",
        _l("Department of Social Development (self-help group)"),
    )
    SOCIETIES = "societies", _l("Registrar of Societies")
    NGO_BOARD = "ngo_board", _l("NGO / PBO Board")
    OTHER = "other", _l("Other")
    UNREGISTERED = "unregistered", _l("Not registered")


class MpesaKind(LabelledEnum):
    PAYBILL = "paybill", _l("Paybill")
    TILL = "till", _l("Till (Buy Goods)")


class AssociationProfile(db.Model):
    """Name, codes and location of the association running this install."""

    __tablename__ = "association_profile"
    __table_args__ = (
        CheckConstraint("fiscal_year_start_month BETWEEN 1 AND 12", name="fiscal_month"),
    )

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(160))
    #: Prefix of member and receipt numbers, e.g. MLK in MLK-0001.
    short_code: Mapped[str] = mapped_column(String(6))
    registration_body: Mapped[RegistrationBody] = mapped_column(
        str_enum(RegistrationBody, 30)
    )
    registration_number: Mapped[str | None] = mapped_column(String(60))
    county: Mapped[str] = mapped_column(String(60))
    sub_county: Mapped[str] = mapped_column(String(60))
    ward: Mapped[str] = mapped_column(String(60))
    estate: Mapped[str] = mapped_column(String(80))
    contact_phone: Mapped[str] = mapped_column(String(20))
    mpesa_kind: Mapped[MpesaKind | None] = mapped_column(
        str_enum(MpesaKind, 10)
    )
    mpesa_number: Mapped[str | None] = mapped_column(String(10))
    fiscal_year_start_month: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[created_at]
