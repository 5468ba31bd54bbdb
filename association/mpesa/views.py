"""M-Pesa screens (the treasurer's desk, paying by STK push) and Daraja's callback addresses."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from association import transaction
from association.audit.services import acting_as
from association.auth.permissions import login_only, permission_required, public
from association.core.money import AmountError, format_kes, to_cents
from association.core.time import utcnow
from association.errors import DomainError
from association.extensions import csrf, db, limiter
from association.hosting import mpesa_routing
from association.hosting.addresses import public_base_url
from association.i18n import choices, current_language
from association.ledger.standing import standing_of
from association.members.models import Member
from association.members.services import (
    MemberNotFoundError,
    get_member_by_number,
    get_member_for,
)
from association.mpesa import (
    inbox,
    models,  # noqa: F401 - the app and migrations see the tables
    phones,
    processing,
    stk,
)
from association.mpesa.forms import (
    OTHER,
    ActionForm,
    AllowPhoneForm,
    PayForm,
    RejectForm,
    SettingsForm,
)
from association.mpesa.models import (
    CallbackInbox,
    CallbackKind,
    MpesaTransaction,
    StkRequest,
    StkStatus,
    TransactionStatus,
    UnknownAccountAction,
)
from association.mpesa.provider import (
    ProviderError,
    config_problems,
    get_provider,
    status_query_enabled,
)

bp = Blueprint("mpesa", __name__)


# --- Daraja's callbacks (public, token in the path, CSRF does not apply) --------------


def _receive(kind: CallbackKind, token: str):
    """Store the body and acknowledge it in Daraja's form; the worker processes it."""
    if not inbox.token_ok(token):
        abort(404)
    return receive(kind, read_body(), request.remote_addr)


def read_body() -> bytes:
    """The callback's body, at most ``inbox.MAX_BODY`` bytes (413 beyond)."""
    if (request.content_length or 0) > inbox.MAX_BODY:
        abort(413)
    raw = request.get_data(cache=False)[: inbox.MAX_BODY + 1]
    if len(raw) > inbox.MAX_BODY:
        abort(413)
    return raw


def receive(kind: CallbackKind, raw: bytes, remote_addr: str | None):
    """Store ``raw`` in the chosen association's inbox and answer Daraja.

    Processing runs in the worker process (``flask worker``), so Daraja never waits
    for our checks with Safaricom. A validation
    is answered from its checks, so it is the one kind processed before answering.
    """
    with acting_as("daraja:callback"):
        # Committed before anything else can fail, with what other threads store meanwhile.
        stored = inbox.keep(kind, raw, remote_addr)
        if stored.refused:
            return jsonify({"ResultCode": 1, "ResultDesc": "Rejected"}), 403
        answer = inbox.acknowledgement(kind)
        if kind == CallbackKind.C2B_VALIDATION:
            try:
                data = processing.parse(raw)
            except processing.CallbackError:
                data = {}
            try:
                answer, outcome = processing.validation_answer(data)
            except Exception:  # noqa: BLE001 - never bounce real money on our own bug
                transaction.discard()
                current_app.logger.exception("M-Pesa validation %s failed", stored.id)
                answer, outcome = {"ResultCode": "0", "ResultDesc": "Accepted"}, "error"
            row = db.session.get(CallbackInbox, stored.id)
            row.outcome, row.processed_at = outcome, utcnow()
            _commit_or_leave_for_reconcile(stored.id)
            return jsonify(answer)
    # Processed by the worker process (`flask worker`), with whatever else arrived meanwhile.
    return jsonify(answer)


def _commit_or_leave_for_reconcile(row_id: int) -> None:
    # Committed here, not at the request's end: Daraja must get its answer even when the
    # outcome cannot be saved (the error page of the boundary would bounce the payment).
    try:
        transaction.commit_now()
    except Exception:  # noqa: BLE001 - the body is stored: reconcile processes it
        transaction.discard()
        current_app.logger.exception("M-Pesa callback %s not processed", row_id)


#: The callbacks' endpoints: no rate limit applies to them (a token in the path and the
#: allow-list guard them, and a burst of payments is normal), so the limiter skips them.
CALLBACK_ENDPOINTS = set()


@limiter.request_filter
def _not_rate_limited() -> bool:
    return request.endpoint in CALLBACK_ENDPOINTS


def _callback_view(kind: CallbackKind, name: str, *paths: str):
    CALLBACK_ENDPOINTS.add(f"{bp.name}.{name}")

    def view(token: str):
        return _receive(kind, token)

    view.__name__ = name
    view.__doc__ = f"Daraja's {kind.value} callback."
    view = csrf.exempt(public(view))
    # Nobody logs in here: create_app's access check loads no user (about 0.1 ms of CPU a
    # callback), and a login cookie sent along does not make its user the audit's actor.
    view.without_user = True
    for path in paths:
        bp.add_url_rule(path + "<token>", endpoint=name, view_func=view, methods=["POST"])
    return view


stk_callback = _callback_view(CallbackKind.STK, "stk_callback", "/mpesa/stk/callback/",
                              inbox.HOOK_PATHS[CallbackKind.STK])
c2b_validation = _callback_view(CallbackKind.C2B_VALIDATION, "c2b_validation",
                                "/mpesa/c2b/validation/",
                                inbox.HOOK_PATHS[CallbackKind.C2B_VALIDATION])
c2b_confirmation = _callback_view(CallbackKind.C2B_CONFIRMATION, "c2b_confirmation",
                                  "/mpesa/c2b/confirmation/",
                                  inbox.HOOK_PATHS[CallbackKind.C2B_CONFIRMATION])
status_result = _callback_view(CallbackKind.STATUS_RESULT, "status_result",
                               "/mpesa/status/result/",
                               inbox.HOOK_PATHS[CallbackKind.STATUS_RESULT])
status_timeout = _callback_view(CallbackKind.STATUS_TIMEOUT, "status_timeout",
                                "/mpesa/status/timeout/",
                                inbox.HOOK_PATHS[CallbackKind.STATUS_TIMEOUT])


# --- The treasurer's M-Pesa desk --------------------------------------------------------


@bp.route("/mpesa")
@permission_required("mpesa.view")
def index():
    """M-Pesa: settings, payments waiting for confirmation, prompts, recent payments."""
    recent = db.session.scalars(
        select(MpesaTransaction).options(selectinload(MpesaTransaction.member),
                                         selectinload(MpesaTransaction.payment))
        .order_by(MpesaTransaction.id.desc()).limit(50)
    ).all()
    unconfirmed = db.session.scalars(
        select(MpesaTransaction).options(selectinload(MpesaTransaction.member))
        .where(MpesaTransaction.status == TransactionStatus.UNCONFIRMED)
        .order_by(MpesaTransaction.id).limit(100)
    ).all()
    prompts = db.session.scalars(
        select(StkRequest).options(selectinload(StkRequest.member))
        .order_by(StkRequest.id.desc()).limit(20)
    ).all()
    waiting = db.session.scalar(
        select(db.func.count(CallbackInbox.id)).where(CallbackInbox.processed_at.is_(None)))
    stored_bodies = db.session.scalars(
        select(CallbackInbox).order_by(CallbackInbox.id.desc()).limit(20)).all()
    current = processing.settings()  # its defaults, until the settings are first saved
    form = SettingsForm(unknown_account=current.unknown_account.value)
    return render_template(
        "mpesa/index.html", problems=config_problems(), recent=recent, unconfirmed=unconfirmed,
        prompts=prompts, waiting=waiting, inbox=stored_bodies, settings=current, form=form,
        action_form=ActionForm(), reject_form=RejectForm(), status_query=status_query_enabled(),
        hook_urls={kind: _masked_url(kind) for kind in inbox.HOOK_PATHS},
        TransactionStatus=TransactionStatus, StkStatus=StkStatus,
        failure_message=stk.failure_message,
    )


def _masked_url(kind: CallbackKind) -> str:
    return public_base_url(from_request=False) + inbox.HOOK_PATHS[kind] + "…"


@bp.route("/mpesa/settings", methods=["POST"])
@permission_required("mpesa.manage")
def settings():
    """Choose what happens to paybill payments for unknown account numbers."""
    form = SettingsForm()
    if form.validate_on_submit():
        current = processing.settings()
        current.unknown_account = UnknownAccountAction(form.unknown_account.data)
        current.updated_by_id = current_user.id
        flash(_("M-Pesa settings saved."), "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for("mpesa.index"))


@bp.route("/mpesa/register-urls", methods=["POST"])
@permission_required("mpesa.manage")
def register_urls():
    """Register our paybill validation and confirmation addresses with Daraja."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("Your form expired. Please try again."), "error")
        return redirect(url_for("mpesa.index"))
    current = processing.settings()
    try:
        confirmation_url, validation_url = inbox.c2b_urls()
        answer = get_provider().register_c2b_urls(confirmation_url=confirmation_url,
                                                  validation_url=validation_url)
    except ProviderError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("mpesa.index"))
    current.c2b_registered_at = utcnow()
    current.c2b_register_result = str(answer.get("ResponseDescription") or "")[:300]
    current.updated_by_id = current_user.id
    flash(_("Daraja accepted the paybill addresses: %(answer)s",
            answer=current.c2b_register_result), "success")
    return redirect(url_for("mpesa.index"))


@bp.route("/mpesa/transactions/<int:tx_id>/confirm", methods=["POST"])
@permission_required("mpesa.manage")
def confirm(tx_id: int):
    """Credit a payment Daraja could not confirm, after checking the M-Pesa statement."""
    if db.session.get(MpesaTransaction, tx_id) is None:
        abort(404)
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("Your form expired. Please try again."), "error")
        return redirect(url_for("mpesa.index"))
    try:
        tx = processing.confirm_by_hand(tx_id, current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("M-Pesa %(code)s is confirmed.", code=tx.receipt_code), "success")
    return redirect(url_for("mpesa.index"))


@bp.route("/mpesa/transactions/<int:tx_id>/reject", methods=["POST"])
@permission_required("mpesa.manage")
def reject(tx_id: int):
    """Reject a payment that is not in the M-Pesa statement; nothing is credited."""
    if db.session.get(MpesaTransaction, tx_id) is None:
        abort(404)
    form = RejectForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(url_for("mpesa.index"))
    try:
        tx = processing.reject_by_hand(tx_id, form.reason.data, current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("M-Pesa %(code)s is rejected.", code=tx.receipt_code), "success")
    return redirect(url_for("mpesa.index"))


# --- Paying by STK push ---------------------------------------------------------------------


def _member_to_pay_for(form: PayForm) -> Member | None:
    """The treasurer pays for any member (by number); anyone else for their own record."""
    if current_user.can("mpesa.manage"):
        number = (form.member.data or request.args.get("member") or "").strip()
        if number:
            try:
                return get_member_by_number(number)
            except MemberNotFoundError as error:
                form.member.errors = [str(error)]
                return None
    if current_user.member_id:
        return db.session.get(Member, current_user.member_id)
    return None


@bp.route("/mpesa/pay", methods=["GET", "POST"])
@login_only
def pay():
    """Pay dues by M-Pesa: the phone gets a prompt; this page then follows the payment."""
    form = PayForm()
    member = _member_to_pay_for(form)
    standing = standing_of(member.id) if member else None
    options = stk.suggested_amounts(member, standing.balance_cents) if member else []
    labels = {"owed": _("Balance")}
    form.choice.choices = choices(
        [(key, _("%(what)s: %(amount)s",
                  what=labels.get(key) or ngettext("%(num)d month", "%(num)d months",
                                                   int(key.split("-")[1])),
                  amount=format_kes(cents))) for key, cents in options]
        + [(OTHER, _("Another amount"))]
    )
    if request.method == "GET":
        form.choice.data = options[0][0] if options else OTHER
        if member and member.phone and not form.phone.data:
            form.phone.data = "0" + member.phone[4:] if member.phone.startswith("+254") \
                else member.phone
        if member and current_user.can("mpesa.manage"):
            form.member.data = member.member_no
    if member is not None and form.validate_on_submit():
        try:
            amount = dict(options).get(form.choice.data) if form.choice.data != OTHER else None
            if amount is None:
                amount = to_cents(form.amount.data)
            prompt = stk.create_request(member, amount, form.phone.data, current_user.id,
                                        current_language())
        except (DomainError, AmountError) as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            try:
                stk.send_request(prompt)  # commits the prompt before calling Daraja
            except stk.StkError:
                pass  # the request says why; its page shows it
            return redirect(url_for("mpesa.pay_status", request_id=prompt.id))
    elif request.method == "POST" and member is None and not form.member.errors:
        flash(_("Choose the member to pay for."), "error")
    manage = current_user.can("mpesa.manage")
    # A member prompts only their own phones (mpesa/phones.py): name them on the page.
    own_phones = sorted(phones.phones_for(member)) if member is not None and not manage else []
    return render_template("mpesa/pay.html", form=form, member=member, manage=manage,
                           problems=config_problems(), own_phones=own_phones,
                           standing=standing)


@bp.route("/mpesa/pay/<int:request_id>")
@login_only
def pay_status(request_id: int):
    """The prompt's progress; refreshes itself until the payment lands or fails. It only
    reads: the callback, or the worker asking Daraja about a late one
    (:func:`stk.query_step`), records the answer."""
    prompt = stk.visible_request(current_user, request_id)
    if prompt is None:
        abort(404)
    tx = prompt.transaction
    receipt = tx.payment.receipt if tx is not None and tx.payment is not None else None
    if prompt.status == StkStatus.PAID and receipt is not None:
        flash(_("Payment received: %(amount)s, M-Pesa %(code)s. Thank you!",
                amount=format_kes(tx.amount_cents), code=tx.receipt_code), "success")
        return redirect(url_for("receipts.detail", number=receipt.number))
    waiting = prompt.status in (StkStatus.SENDING, StkStatus.PENDING) or (
        prompt.status == StkStatus.PAID and receipt is None)
    response = current_app.make_response(render_template(
        "mpesa/pay_status.html", prompt=prompt, tx=tx, waiting=waiting,
        failure=stk.failure_message(prompt)
        if prompt.status in (StkStatus.FAILED, StkStatus.ERROR) else None,
    ))
    if waiting:
        response.headers["Refresh"] = "5"
        response.headers["Cache-Control"] = "no-store"
    return response


# --- The phones a member may prompt besides their own (on the member's page) ----------------


@bp.app_template_global()
def mpesa_phone_section(member: Member) -> dict:
    """What the member's page shows of the numbers allowed for payment prompts."""
    return {"phones": phones.allowed_phones(member.id), "form": AllowPhoneForm(),
            "revoke_form": ActionForm()}


@bp.route("/members/<int:member_id>/mpesa-phones", methods=["POST"])
@permission_required("mpesa.phones")
def allow_phone(member_id: int):
    """Let a member send payment prompts to another number; audited."""
    member = get_member_for(current_user, member_id)
    if member is None:
        abort(404)
    form = AllowPhoneForm()
    if form.validate_on_submit():
        try:
            allowed = phones.allow_phone(member, form.phone.data, current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("%(no)s may now send payment prompts to %(phone)s.",
                    no=member.member_no, phone=allowed.phone), "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for("members.detail", member_id=member.id) + "#mpesa-phones")


@bp.route("/members/<int:member_id>/mpesa-phones/<int:allowed_id>/revoke", methods=["POST"])
@permission_required("mpesa.phones")
def revoke_phone(member_id: int, allowed_id: int):
    """Stop a member sending payment prompts to a number allowed before; audited."""
    member = get_member_for(current_user, member_id)
    if member is None:
        abort(404)
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("Your form expired. Please try again."), "error")
    else:
        try:
            allowed = phones.revoke_phone(member, allowed_id, current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("%(no)s may no longer send payment prompts to %(phone)s.",
                    no=member.member_no, phone=allowed.phone), "success")
    return redirect(url_for("members.detail", member_id=member.id) + "#mpesa-phones")


# The host's addresses for a paybill several associations share (routed by account prefix).
mpesa_routing.install(bp)
