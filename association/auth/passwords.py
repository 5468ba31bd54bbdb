"""The password rule: long enough, and neither common nor guessable from who one is.

The common passwords are the ``zxcvbn`` package's list of the 30,000 most used ones
(from leaked password sets, kept with the Dropbox estimator), loaded once per process.
Only its list is used, not its scorer: each refusal here names one reason, in English
and Swahili, where the scorer's feedback is English only and its score is a threshold
that no user can act on.
"""

import re
from functools import cache

from flask_babel import lazy_gettext as _l

from association.errors import DomainError

MEMBER_MIN = 8
#: Any role but member: officials hold the money and the personal data.
OFFICIAL_MIN = 10
PASSWORD_MAX = 128
#: A password whose guessable parts leave fewer letters than this is refused.
MIN_REST = 3

#: Words of an association's name too general to say anything about it.
GENERAL_WORDS = frozenset({
    "association", "associations", "and", "the", "of", "for", "group", "self", "help",
    "welfare", "community", "landlords", "tenants", "residents", "security", "society",
    "chama", "cha", "wa", "na", "ya", "la", "za",
})

_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e",
                       "$": "s", "5": "s", "7": "t", "8": "b"})
_NOT_ALNUM = re.compile(r"[\W_]+")
#: Digits (years, dates, counters) and separators at either end.
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_WORD = re.compile(r"[^\W\d_]{3,}")

TOO_EASY = _l("That password is too easy to guess. Choose another.")
COMMON = _l("That password is too easy to guess: it is one of the most common passwords. "
            "Choose another.")
WORD_AND_YEAR = _l("That password is too easy to guess: it is a common word or a name with a "
                   "year or digits added. Choose another.")
ONLY_DIGITS = _l("That password is too easy to guess: it is mostly digits or a date. "
                 "Choose another.")
ASSOCIATION = _l("A password must not be made of the association's name, short code or "
                 "place.")
OWN_NAME = _l("A password must not contain your own name.")
USERNAME_OR_PHONE = _l("A password must not contain your username or phone number.")


class PasswordPolicyError(DomainError):
    """The new password is too weak."""


@cache
def common_passwords() -> frozenset[str]:
    """zxcvbn's 30,000 most common passwords, lower case; read once per process."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _squash(text: str) -> str:
    """Lower case, without spaces, dots, dashes or other separators."""
    return _NOT_ALNUM.sub("", text.lower())


def _is_common(text: str) -> bool:
    common = common_passwords()
    return text in common or text.translate(_LEET) in common


def _phone_digits(phone: str | None) -> str | None:
    """The national number (712345678) in every spelling: 0712..., 712..., +254 712..."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) < 9:
        return None
    return digits[-9:]


def _association_words() -> list[str]:
    """The association's short code, name and places, longest first (none before setup)."""
    from association.profile.services import get_profile

    profile = get_profile()
    if profile is None:
        return []
    texts = [profile.name, profile.county, profile.sub_county, profile.ward, profile.estate]
    words = {_squash(profile.short_code)} if profile.short_code else set()
    for text in filter(None, texts):
        words.add(_squash(text))
        words.update(w.lower() for w in _WORD.findall(text) if len(w) >= 4)
    words -= GENERAL_WORDS
    return sorted(filter(None, words), key=len, reverse=True)


def _made_of(squashed: str, words: list[str]) -> bool:
    """Whether ``squashed`` is only ``words`` (at least one), digits and a few letters."""
    rest, found = squashed, False
    for word in words:
        if word and word in rest:
            rest, found = rest.replace(word, ""), True
    if not found:
        return False
    rest = re.sub(r"\d", "", rest)
    return len(rest) < MIN_REST or _is_common(rest)


def check_password_rules(
    password: str,
    *,
    official: bool,
    username: str | None = None,
    full_name: str | None = None,
    phone: str | None = None,
) -> None:
    """Refuse a password that is short, common, or guessable from the user or association.

    Args:
        password: the new password, as typed.
        official: the user holds a role other than member (a longer minimum).
        username, full_name, phone: the user's own, which the password must not contain.

    Raises:
        PasswordPolicyError: the first rule broken, with its reason.
    """
    minimum = OFFICIAL_MIN if official else MEMBER_MIN
    if len(password) < minimum:
        if official:
            raise PasswordPolicyError(
                _l("An official's password needs at least %(n)d characters.", n=minimum))
        raise PasswordPolicyError(_l("A password needs at least %(n)d characters.", n=minimum))
    if len(password) > PASSWORD_MAX:
        raise PasswordPolicyError(
            _l("A password can have at most %(n)d characters.", n=PASSWORD_MAX))
    if len(set(password)) < 4:
        raise PasswordPolicyError(TOO_EASY)
    lowered, squashed = password.lower(), _squash(password)
    if _is_common(lowered) or _is_common(squashed):
        raise PasswordPolicyError(COMMON)

    if username and username.lower() in lowered:
        raise PasswordPolicyError(USERNAME_OR_PHONE)
    phone_digits = _phone_digits(phone)
    if phone_digits and phone_digits in re.sub(r"\D", "", password):
        raise PasswordPolicyError(USERNAME_OR_PHONE)
    for name in _WORD.findall(full_name or ""):
        if name.lower() in squashed:
            raise PasswordPolicyError(OWN_NAME)
    if _made_of(squashed, _association_words()):
        raise PasswordPolicyError(ASSOCIATION)

    inner = _EDGES.sub("", lowered)  # "p@ssw0rd" of "p@ssw0rd-2024!"
    core = _squash(inner)
    if len(re.sub(r"\d", "", core)) < MIN_REST:
        raise PasswordPolicyError(ONLY_DIGITS)
    if core != squashed and (_is_common(core) or _is_common(_squash(inner.translate(_LEET)))):
        raise PasswordPolicyError(WORD_AND_YEAR)
