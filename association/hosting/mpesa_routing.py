"""M-Pesa callbacks for a paybill several associations share, at the host's own address.

Safaricom registers one pair of C2B addresses (validation, confirmation) per shortcode,
so a paybill two associations share points at the host: ``/hooks/shared/c2b/confirmation/
<MPESA_CALLBACK_TOKEN>`` (no "mpesa" in it: Daraja refuses such URLs). The body's
BusinessShortCode is looked up in the catalogue: one association has it → that one;
several → the one whose account prefix the BillRefNumber starts with (``MLK-0001``,
``mlk0001``: case, spaces and dashes aside). The body is stored in THAT association's
inbox, exactly as its own address would have stored it, and answered as Daraja expects.

A body no association can take (an unknown shortcode, an account with no association's
prefix, an unreadable body) is kept in the host's inbox (:class:`HostInboxItem`) for the
host to look at, never credited to anyone: a validation is rejected (the payer keeps the
money), a confirmation (money already paid) is accepted, so that Daraja does not send it
again and again, and parked.
"""

import re

from flask import Blueprint, abort, current_app, jsonify, request

from association.core.money import parse_cents
from association.hosting import catalogue
from association.hosting.addresses import host_base_url
from association.hosting.models import HostInboxItem
from association.hosting.tenancy import Tenant, current_or_none, use

#: The host's paths (the token follows).
SHARED_PATHS = {"c2b_confirmation": "/hooks/shared/c2b/confirmation/",
                "c2b_validation": "/hooks/shared/c2b/validation/"}
_SEPARATORS_RE = re.compile(r"[\s\-_./#:]+")


def shared_urls() -> tuple[str, str]:
    """The host's (confirmation, validation) URLs, to register for a shared paybill."""
    token = current_app.config.get("MPESA_CALLBACK_TOKEN") or ""
    base = host_base_url()
    return (base + SHARED_PATHS["c2b_confirmation"] + token,
            base + SHARED_PATHS["c2b_validation"] + token)


def route(shortcode: str | None, account: str | None) -> tuple[Tenant | None, str]:
    """The association a paybill payment is for, and why (or None, and why not)."""
    shortcode = str(shortcode or "").strip()
    having = [t for t in catalogue.served() if shortcode and t.mpesa_shortcode == shortcode]
    if not having:
        return None, "no association has this shortcode"
    if len(having) == 1:
        return having[0], "shortcode"
    compact = _SEPARATORS_RE.sub("", str(account or "")).upper()
    for tenant in having:
        if tenant.account_prefix and compact.startswith(tenant.account_prefix.upper()):
            return tenant, f"account prefix {tenant.account_prefix}"
    return None, "no association sharing this shortcode has the account's prefix"


def park(kind: str, data: dict, raw: bytes, reason: str) -> None:
    """Keep a body no association can take in the host's inbox (committed at once)."""
    from association.hosting.services import catalogue_session

    app = current_app._get_current_object()
    with catalogue_session(app) as session:
        session.add(HostInboxItem(
            kind=kind, shortcode=str(data.get("BusinessShortCode") or "")[:20] or None,
            account=str(data.get("BillRefNumber") or "")[:40] or None,
            amount_cents=parse_cents(data.get("TransAmount")), reason=reason[:200],
            body=raw.decode("utf-8", "replace")))
        session.commit()
    current_app.logger.warning("M-Pesa %s kept in the host's inbox: %s", kind, reason)


#: Daraja's answers for a body parked: a validation refused (an unknown shortcode, or an
#: account no association has), a confirmation accepted (the money is paid already).
_PARKED_ANSWERS = {
    "c2b_validation": {"ResultCode": "C2B00012", "ResultDesc": "Rejected"},
    "c2b_confirmation": {"ResultCode": 0, "ResultDesc": "Success"},
}


def _shared_callback(name: str, token: str):
    from association.mpesa import inbox, processing, views
    from association.mpesa.models import CallbackKind
    from association.mpesa.settings import host_token_ok

    if current_or_none() is not None or not host_token_ok(token):
        abort(404)  # the host's own address only, with the host's token
    raw = views.read_body()
    if not inbox.address_allowed(request.remote_addr):
        return jsonify({"ResultCode": 1, "ResultDesc": "Rejected"}), 403
    try:
        data = processing.parse(raw)
    except processing.CallbackError:
        park(name, {}, raw, "the body is not a JSON object")
        return jsonify(_PARKED_ANSWERS[name])
    tenant, reason = route(data.get("BusinessShortCode"), data.get("BillRefNumber"))
    if tenant is None:
        park(name, data, raw, reason)
        return jsonify(_PARKED_ANSWERS[name])
    current_app.logger.info("M-Pesa %s on shortcode %s routed to %s by %s", name,
                            tenant.mpesa_shortcode, tenant.short, reason)
    with use(tenant):
        return views.receive(CallbackKind(name), raw, request.remote_addr)


def install(bp: Blueprint) -> None:
    """Add the host's shared-paybill addresses to the M-Pesa blueprint (host pages:
    answered only where no association is chosen)."""
    from association.auth.permissions import public
    from association.extensions import csrf
    from association.mpesa import views

    for name, path in SHARED_PATHS.items():
        def view(token: str, name=name):
            return _shared_callback(name, token)

        view.__name__ = f"shared_{name}"
        view.__doc__ = f"Daraja's {name} callback for a paybill associations share."
        view = csrf.exempt(public(view))
        view.without_user = True
        view.host_site = True
        bp.add_url_rule(path + "<token>", endpoint=view.__name__, view_func=view,
                        methods=["POST"])
        views.CALLBACK_ENDPOINTS.add(f"{bp.name}.{view.__name__}")
