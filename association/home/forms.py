"""The receipt check box on the public home (shape only: the receipts area decides)."""

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp

from association.forms import BaseForm


class CheckReceiptForm(BaseForm):
    """A receipt's number and check code, sent by GET (so no CSRF token): they lead to the
    receipt's check page, as the QR code does."""

    class Meta(BaseForm.Meta):
        csrf = False

    number = StringField(
        _l("Receipt number"),
        filters=[lambda v: "".join((v or "").split()).upper()],
        validators=[DataRequired(_l("Type the receipt number, e.g. MLK-2026-000123.")),
                    Length(max=30),
                    Regexp(r"^[A-Z0-9]+-\d{4}-\d{1,9}$",
                           message=_l("A receipt number looks like MLK-2026-000123."))],
    )
    c = StringField(
        _l("Check code"),
        description=_l("The letters and numbers after \"c=\" in the address under the QR "
                       "code, or in the receipt SMS."),
        filters=[lambda v: "".join((v or "").split()).lower()],
        validators=[DataRequired(_l("Type the check code printed with the receipt.")),
                    Length(max=16),
                    Regexp(r"^[0-9a-f]+$",
                           message=_l("The check code has only the digits 0-9 and the "
                                      "letters a-f."))],
    )
