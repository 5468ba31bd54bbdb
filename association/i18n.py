"""Languages: which one a request uses, and labels for roles and choices.

Every label a user sees goes through gettext, so the Swahili catalogue holds it.
"""

from flask import has_request_context, request, session
from flask_babel import get_locale, get_translations, lazy_ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili"}

#: Labels for every enum value shown on a page, keyed by (enum class name, value).
ENUM_LABELS = {
    ("Role", "chair"): _l("Chair"),
    ("Role", "treasurer"): _l("Treasurer"),
    ("Role", "secretary"): _l("Secretary"),
    ("Role", "coordinator"): _l("Patrol coordinator"),
    ("Role", "auditor"): _l("Auditor"),
    ("Role", "member"): _l("Member"),
    ("Category", "resident"): _l("Resident / tenant"),
    ("Category", "landlord"): _l("Landlord"),
    ("Category", "business"): _l("Business"),
    ("Category", "other"): _l("Other"),
    ("Gender", "female"): _l("Female"),
    ("Gender", "male"): _l("Male"),
    ("Gender", "other"): _l("Other"),
    ("MemberStatus", "active"): _l("Active"),
    ("MemberStatus", "suspended"): _l("Suspended"),
    ("MemberStatus", "left"): _l("Left"),
    ("ConsentPurpose", "register"): _l("Keeping my details in the members register"),
    ("ConsentPurpose", "sms"): _l("Receiving SMS messages from the association"),
    ("ConsentPurpose", "patrol"): _l("Volunteering for night patrols"),
    ("ConsentPurpose", "photos"): _l("Photos of me at association events"),
    ("ConsentChannel", "paper"): _l("Signed paper form"),
    ("ConsentChannel", "in_person"): _l("In person, witnessed by an official"),
    ("ConsentChannel", "phone"): _l("By phone"),
    ("ConsentChannel", "online"): _l("Online, by the member"),
    ("RegistrationBody", "community_groups"): _l("Community Groups Registration Act"),
    ("RegistrationBody", "social_development"): _l(
        "Department of Social Development (self-help group)"
    ),
    ("RegistrationBody", "societies"): _l("Registrar of Societies"),
    ("RegistrationBody", "ngo_board"): _l("NGO / PBO Board"),
    ("RegistrationBody", "other"): _l("Other"),
    ("RegistrationBody", "unregistered"): _l("Not registered"),
    ("MpesaKind", "paybill"): _l("Paybill"),
    ("MpesaKind", "till"): _l("Till (Buy Goods)"),
    ("ExpenseStatus", "pending"): _l("Waiting for approval"),
    ("ExpenseStatus", "approved"): _l("Approved"),
    ("ExpenseStatus", "rejected"): _l("Rejected"),
    ("AccountType", "asset"): _l("Asset"),
    ("AccountType", "liability"): _l("Liability"),
    ("AccountType", "equity"): _l("Equity (accumulated fund)"),
    ("AccountType", "income"): _l("Income"),
    ("AccountType", "expense"): _l("Expense"),
    ("PaymentMethod", "cash"): _l("Cash"),
    ("PaymentMethod", "mpesa"): _l("M-Pesa"),
    ("PaymentMethod", "bank"): _l("Bank"),
    ("WaiverStatus", "pending"): _l("Awaiting the chair"),
    ("WaiverStatus", "approved"): _l("Approved"),
    ("WaiverStatus", "rejected"): _l("Rejected"),
    # M-Pesa (issue 4).
    ("TransactionSource", "stk"): _l("M-Pesa prompt (STK push)"),
    ("TransactionSource", "c2b"): _l("Paybill / till"),
    ("TransactionSource", "sms"): _l("Pasted SMS"),
    ("TransactionSource", "statement"): _l("M-Pesa statement"),
    ("TransactionSource", "manual"): _l("Typed by the treasurer"),
    ("TransactionStatus", "unconfirmed"): _l("Waiting for confirmation"),
    ("TransactionStatus", "suspense"): _l("In suspense (no member)"),
    ("TransactionStatus", "credited"): _l("Credited"),
    ("TransactionStatus", "refund"): _l("To be refunded"),
    ("TransactionStatus", "rejected"): _l("Rejected"),
    ("StkStatus", "sending"): _l("Sending"),
    ("StkStatus", "pending"): _l("Waiting for the payer"),
    ("StkStatus", "paid"): _l("Paid"),
    ("StkStatus", "failed"): _l("Not paid"),
    ("StkStatus", "error"): _l("Could not be sent"),
    ("CallbackKind", "stk"): _l("Prompt result"),
    ("CallbackKind", "c2b_validation"): _l("Paybill validation"),
    ("CallbackKind", "c2b_confirmation"): _l("Paybill confirmation"),
    ("CallbackKind", "status_result"): _l("Transaction Status result"),
    ("CallbackKind", "status_timeout"): _l("Transaction Status timeout"),
    ("UnknownAccountAction", "suspense"): _l("Accept them into suspense for the treasurer"),
    ("UnknownAccountAction", "reject"): _l("Reject them (the payer keeps the money)"),
    # Patrols (issue 5).
    ("Attendance", "present"): _l("Present"),
    ("Attendance", "absent"): _l("Absent"),
    ("Attendance", "excused"): _l("Excused"),
    ("Attendance", "replaced"): _l("Replaced"),
    ("SwapStatus", "offered"): _l("Offered"),
    ("SwapStatus", "pending"): _l("Waiting for the coordinator"),
    ("SwapStatus", "approved"): _l("Approved"),
    ("SwapStatus", "rejected"): _l("Refused"),
    ("SwapStatus", "cancelled"): _l("Withdrawn"),
    ("IncidentCategory", "house_breakin"): _l("House break-in"),
    ("IncidentCategory", "business_breakin"): _l("Business break-in"),
    ("IncidentCategory", "mugging"): _l("Mugging"),
    ("IncidentCategory", "snatch_theft"): _l("Snatch theft"),
    ("IncidentCategory", "assault"): _l("Assault"),
    ("IncidentCategory", "gbv"): _l("Gender-based violence"),
    ("IncidentCategory", "fire"): _l("Fire"),
    ("IncidentCategory", "other"): _l("Other"),
    ("IncidentAction", "warned"): _l("Warned"),
    ("IncidentAction", "spoke_to_family"): _l("Spoke to the family"),
    ("IncidentAction", "mediated"): _l("Mediated"),
    ("IncidentAction", "to_chief"): _l("Took the person to the chief"),
    ("IncidentAction", "to_police"): _l("Handed to the police"),
    # Meetings and governance (issue 6).
    ("MeetingType", "general"): _l("General baraza"),
    ("MeetingType", "agm"): _l("Annual general meeting"),
    ("MeetingType", "special"): _l("Special general meeting"),
    ("MeetingType", "committee"): _l("Committee meeting"),
    ("MeetingType", "dialogue"): _l("Community dialogue or joint activity"),
    ("MinutesStatus", "draft"): _l("Draft"),
    ("MinutesStatus", "circulated"): _l("Circulated to the committee"),
    ("MinutesStatus", "confirmed"): _l("Confirmed"),
    ("MinutesStatus", "published"): _l("Published"),
    ("AttendanceStatus", "present"): _l("Present"),
    ("AttendanceStatus", "apology"): _l("Apology"),
    ("QuorumKind", "fraction"): _l("A fraction of active members"),
    ("QuorumKind", "fixed"): _l("A fixed number of members"),
    ("MajorityRule", "simple"): _l("Simple majority"),
    ("MajorityRule", "two_thirds"): _l("Two-thirds majority"),
    ("ResolutionKind", "general"): _l("General"),
    ("ResolutionKind", "dues"): _l("Sets the dues rates"),
    ("ResolutionKind", "confirm_minutes"): _l("Confirms earlier minutes"),
    ("ResolutionKind", "election"): _l("Election"),
    ("ResolutionKind", "constitution"): _l("Adopts the constitution"),
    ("ActionStatus", "open"): _l("Open"),
    ("ActionStatus", "done"): _l("Done"),
    ("ActionStatus", "dropped"): _l("Dropped"),
    ("Office", "chair"): _l("Chairperson"),
    ("Office", "vice_chair"): _l("Vice-chairperson"),
    ("Office", "secretary"): _l("Secretary"),
    ("Office", "vice_secretary"): _l("Vice-secretary"),
    ("Office", "treasurer"): _l("Treasurer"),
    ("Office", "organising_secretary"): _l("Organising secretary"),
    ("Office", "committee_member"): _l("Committee member"),
}

#: WTForms' own messages, listed so that they are extracted into our catalogue.
WTFORMS_MESSAGES = (
    _l("This field is required."),
    _l("Not a valid integer value."),
    _l("Not a valid date value."),
    _l("Not a valid choice."),
    _l("Invalid Choice: could not coerce."),
    _l("The CSRF token is missing."),
    _l("The CSRF token is invalid."),
    _l("The CSRF token has expired."),
    _l("The CSRF tokens do not match."),
    _l("The CSRF session token is missing."),
    _l("Invalid email address."),
    _l("Field must be equal to %(other_name)s."),
    _l("Number must be at least %(min)s."),
    _l("Number must be at most %(max)s."),
    _l("Number must be between %(min)s and %(max)s."),
    lazy_ngettext(
        "Field must be at least %(min)d character long.",
        "Field must be at least %(min)d characters long.",
        1,
    ),
    lazy_ngettext(
        "Field cannot be longer than %(max)d character.",
        "Field cannot be longer than %(max)d characters.",
        1,
    ),
    _l("Field must be between %(min)d and %(max)d characters long."),
    _l("Invalid input."),
    lazy_ngettext(
        "'%(value)s' is not a valid choice for this field.",
        "'%(value)s' are not valid choices for this field.",
        1,
    ),
)


#: Dates and times are written as in Kenya in both languages: day first, 24-hour clock
#: ("03/11/2026, 23:07", "3 Nov 2026"), not plain English's "11/3/26, 11:07 PM".
TERRITORY = "KE"


def select_locale() -> str:
    """The user's language, as spoken in Kenya (``en_KE`` or ``sw_KE``)."""
    return f"{_chosen_language()}_{TERRITORY}"


def _chosen_language() -> str:
    """The user's saved choice, else this browser's choice, else its Accept-Language."""
    if not has_request_context():
        return "en"  # command-line output
    if current_user and current_user.is_authenticated and current_user.language:
        return current_user.language
    if session.get("lang") in LANGUAGE_NAMES:
        return session["lang"]
    return request.accept_languages.best_match(list(LANGUAGE_NAMES)) or "en"


def current_language() -> str:
    """``en`` or ``sw``: the language of the page (its territory aside)."""
    locale = get_locale()
    return locale.language if locale is not None else "en"


def enum_label(value) -> str:
    """The translated label of an enum member (its value when none is listed)."""
    if value is None:
        return ""
    label = ENUM_LABELS.get((type(value).__name__, value.value))
    return str(label) if label is not None else str(value.value)


def role_label(role) -> str:
    return enum_label(role)


def choices(pairs, blank: str | None = None) -> list[SelectChoice]:
    """Select-field choices from (value, label) pairs, with an optional blank first."""
    items = [SelectChoice(value, label) for value, label in pairs]
    return ([SelectChoice("", blank)] if blank is not None else []) + items


def enum_choices(enum_cls, blank: str | None = None) -> list[SelectChoice]:
    """Choices for a select field from an enum, labels translated lazily."""
    return choices(
        ((m.value, ENUM_LABELS.get((enum_cls.__name__, m.value), m.value)) for m in enum_cls),
        blank,
    )


def language_choices() -> list[SelectChoice]:
    return choices(LANGUAGE_NAMES.items())


class BabelTranslations:
    """Gives WTForms our catalogue, so its built-in messages speak Swahili too."""

    def gettext(self, string: str) -> str:
        return get_translations().gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ngettext(singular, plural, n)
