"""The one table of who may do what, and the decorators that declare it on views.

Every view declares its access with exactly one of :func:`public`,
:func:`login_only` or :func:`permission_required`. ``create_app`` checks the
declaration before every request, so a view that declares nothing is refused.
Object-level rules (a member may see only their own record) live in the
services that load the object.
"""

from collections.abc import Callable

from association.auth.models import Role

R = Role
OFFICIALS = frozenset({R.CHAIR, R.TREASURER, R.SECRETARY, R.COORDINATOR, R.AUDITOR})

#: permission -> roles that hold it.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "members.view": OFFICIALS,
    "members.edit": frozenset({R.CHAIR, R.SECRETARY}),
    "members.import": frozenset({R.CHAIR, R.SECRETARY}),
    "members.export": frozenset({R.CHAIR, R.SECRETARY, R.TREASURER, R.AUDITOR}),
    "members.national_id": frozenset({R.CHAIR, R.SECRETARY}),
    "zones.manage": frozenset({R.CHAIR, R.SECRETARY, R.COORDINATOR}),
    "users.manage": frozenset({R.CHAIR}),
    "profile.manage": frozenset({R.CHAIR}),
    "audit.view": frozenset({R.CHAIR, R.AUDITOR}),
    # The books: officials read them; the treasurer (and chair) write them.
    "ledger.view": frozenset({R.CHAIR, R.TREASURER, R.SECRETARY, R.AUDITOR}),
    "ledger.record": frozenset({R.CHAIR, R.TREASURER}),
    "ledger.close": frozenset({R.CHAIR, R.TREASURER}),
    "ledger.reopen": frozenset({R.CHAIR}),
    "ledger.rates": frozenset({R.CHAIR, R.TREASURER}),
    "ledger.waiver_request": frozenset({R.CHAIR, R.TREASURER, R.SECRETARY}),
    "ledger.waiver_approve": frozenset({R.CHAIR}),
    "ledger.accounts": frozenset({R.CHAIR}),
    "ledger.expense_record": frozenset({R.CHAIR, R.TREASURER, R.COORDINATOR}),
    "ledger.expense_approve": frozenset({R.CHAIR, R.TREASURER, R.SECRETARY}),
    "ledger.export": frozenset({R.CHAIR, R.TREASURER, R.AUDITOR}),
    # M-Pesa (issue 4): officials who keep the books see the M-Pesa desk; the
    # treasurer (and chair) settle suspense, import statements and change settings.
    "mpesa.view": frozenset({R.CHAIR, R.TREASURER, R.AUDITOR}),
    "mpesa.manage": frozenset({R.CHAIR, R.TREASURER}),
    # Issue 20: the officials who keep M-Pesa or the members' records allow a member to
    # send payment prompts to a phone that is not on their record.
    "mpesa.phones": frozenset({R.CHAIR, R.TREASURER, R.SECRETARY}),
    # Patrols (issue 5): officials see rosters and coverage; the coordinator (and chair)
    # run them. Stipends are computed by those who record expenses and approved under
    # "ledger.expense_approve". Incidents: chair and coordinator record them and alone
    # see who reported one; the secretary reads the register for the committee.
    "patrols.view": OFFICIALS,
    "patrols.manage": frozenset({R.CHAIR, R.COORDINATOR}),
    "patrols.stipends": frozenset({R.CHAIR, R.TREASURER, R.COORDINATOR}),
    "incidents.view": frozenset({R.CHAIR, R.COORDINATOR, R.SECRETARY}),
    "incidents.manage": frozenset({R.CHAIR, R.COORDINATOR}),
    "incidents.reporter": frozenset({R.CHAIR, R.COORDINATOR}),
    # Meetings and governance (issue 6).
    # Officials read meetings; the chair and secretary run them and keep the governance
    # records; the committee comments on circulated minutes; the auditor reads the pack.
    "meetings.view": OFFICIALS,
    "meetings.manage": frozenset({R.CHAIR, R.SECRETARY}),
    "meetings.comment": frozenset({R.CHAIR, R.TREASURER, R.SECRETARY, R.COORDINATOR}),
    "governance.manage": frozenset({R.CHAIR, R.SECRETARY}),
    "governance.pack": frozenset({R.CHAIR, R.SECRETARY, R.AUDITOR}),
}

PUBLIC = "public"
LOGIN = "login"


def allowed(roles: set[Role], permission: str) -> bool:
    """Whether any of ``roles`` holds ``permission``."""
    return bool(PERMISSIONS[permission].intersection(roles))


def _declare(access: str) -> Callable:
    def decorator(view: Callable) -> Callable:
        view.access = access
        return view

    return decorator


def public(view: Callable) -> Callable:
    """Anyone, logged in or not."""
    return _declare(PUBLIC)(view)


def login_only(view: Callable) -> Callable:
    """Any logged-in user; the view itself limits what they see to their own."""
    return _declare(LOGIN)(view)


def permission_required(permission: str) -> Callable:
    """Logged-in users holding ``permission``."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return _declare(permission)
