"""Log in and out, choose a language, change a password, and administer users."""

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from association import transaction
from association.audit.services import set_request_actor
from association.auth import limits, second_factor, services, sessions
from association.auth.forms import (
    ActiveForm,
    AppCodeForm,
    CodeForm,
    ConfirmForm,
    LanguageForm,
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    SecondFactorPolicyForm,
    StartSecondFactorForm,
    UserEditForm,
    UserForm,
)
from association.auth.models import Role, User
from association.auth.permissions import login_only, permission_required, public
from association.errors import DomainError
from association.extensions import db, limiter
from association.members.services import get_member_by_number
from association.web import flash_form_errors

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after login or a language change."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"],
               exempt_when=limits.from_trusted_device)
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"],
    methods=["POST"],
    key_func=limits.account_key,
)
def login():
    """Log in with a phone number or username and a password."""
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.login.data, form.password.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
            return render_template("auth/login.html", form=form), 200
        set_request_actor(user.id, user.username)
        limits.passed()
        if second_factor.is_on(user):  # the password alone does not log in: ask the code
            second_factor.remember_pending(session, user, _safe_next(request.args.get("next")),
                                           limits.account_limit_keys())
            return redirect(url_for("auth.login_code"))
        return _logged_in(user, _safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


def _logged_in(user: User, next_url: str | None, password_step_keys: list[str] = ()):
    """Open the user's session (a fresh one: no fixation), give this browser its device
    cookie and clear the account's failed attempts (the password step's too, when the login
    ends at the code step); on to ``next_url`` or home."""
    sessions.log_in(user)
    response = redirect(next_url or url_for("core.home"))
    return limits.after_login(response, user, password_step_keys)


def _code_key() -> str:
    """The code step's limit keys on the account waiting for its code."""
    pending = session.get(second_factor.PENDING_KEY)
    user_id = str(pending.get("id", "")).partition(":")[0] if isinstance(pending, dict) else ""
    return "second-factor:" + (user_id or (request.remote_addr or ""))


@bp.route("/login/code", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["SECOND_FACTOR_RATE_LIMIT"], methods=["POST"], key_func=_code_key
)
def login_code():
    """The second step of logging in: the code from the authenticator app."""
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    try:
        user = second_factor.pending_user(session)
    except DomainError as error:
        flash(str(error), "error")
        return redirect(url_for("auth.login"))
    if user is None:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        set_request_actor(user.id, user.username)
        try:
            second_factor.verify(user, form.code.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
            return render_template("auth/login_code.html", form=form), 200
        limits.passed()
        return _logged_in(user, second_factor.pending_next(session),
                          second_factor.pending_limit_keys(session))
    return render_template("auth/login_code.html", form=form)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """Log out (a POST, so no other site can log anyone out)."""
    lang = session.get("lang")
    sessions.end_current()
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
@public
def language():
    """Switch between English and Kiswahili; remembered for the browser and the user."""
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.language.data
        if current_user.is_authenticated:
            services.set_language(current_user, form.language.data)
    return redirect(_safe_next(request.form.get("next")) or url_for("core.home"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_only
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=lambda: f"password-change:{current_user.get_id()}")
def password():
    """Change one's own password (required after a reset)."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current.data, form.new.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            # The password change ended every session: renew this one only.
            sessions.renew(current_user._get_current_object())
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("core.home"))
    return render_template("auth/password.html", form=form)


@bp.route("/users")
@permission_required("users.manage")
def users():
    """Everyone who can log in, active or not."""
    rows = db.session.scalars(sa.select(User).order_by(User.active.desc(), User.username)).all()
    return render_template("auth/users.html", users=rows,
                           second_factors=second_factor.states(rows))


def _member_id(form) -> int | None:
    """The member the login is for; MemberNotFoundError is shown like any rule."""
    return get_member_by_number(form.member_no.data).id if form.member_no.data else None


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required("users.manage")
def user_new():
    """Create a login with a temporary password and its roles."""
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                form.username.data,
                form.full_name.data,
                form.password.data,
                {Role(r) for r in form.roles.data},
                phone=form.phone.data or None,
                member_id=_member_id(form),
            )
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@permission_required("users.manage")
def user_edit(user_id: int):
    """Change a user's name, phone, roles and member link."""
    user = db.get_or_404(User, user_id)
    form = UserEditForm(obj=user)
    if request.method == "GET":
        form.roles.data = [r.value for r in user.roles]
        form.member_no.data = user.member.member_no if user.member else ""
    if form.validate_on_submit():
        try:
            services.update_user(
                user,
                form.full_name.data,
                {Role(r) for r in form.roles.data},
                form.phone.data or None,
                _member_id(form),
            )
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("User %(name)s saved.", name=user.username), "success")
            return redirect(url_for("auth.users"))
    return render_template(
        "auth/user_form.html", form=form, user=user,
        reset_form=PasswordResetForm(), active_form=ActiveForm(), confirm_form=ConfirmForm(),
        second_factor_on=second_factor.is_on(user),
    )


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@permission_required("users.manage")
def user_reset_password(user_id: int):
    """Give a user a temporary password, to be changed at their next login."""
    user = db.get_or_404(User, user_id)
    form = PasswordResetForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("auth.user_edit", user_id=user.id))
    try:
        services.reset_password(user, form.password.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("Temporary password set for %(name)s. They must change it when they next log in.",
                name=user.username), "success")
    return redirect(url_for("auth.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@permission_required("users.manage")
def user_set_active(user_id: int):
    """Deactivate or reactivate a user (users are never deleted)."""
    user = db.get_or_404(User, user_id)
    form = ActiveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.set_active(user, form.active.data, acting=current_user)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        if user.active:
            flash(_("%(name)s can log in again.", name=user.username), "success")
        else:
            flash(_("%(name)s is deactivated and can no longer log in.", name=user.username),
                  "success")
    return redirect(url_for("auth.user_edit", user_id=user.id))


@bp.route("/account/second-factor")
@login_only
def second_factor_page():
    """One's own second factor: its state, or the set-up (QR code and secret)."""
    user = current_user._get_current_object()
    return render_template(
        "auth/second_factor.html", form=StartSecondFactorForm(), code_form=CodeForm(),
        renew_form=AppCodeForm(prefix="renew"), off_form=AppCodeForm(prefix="off"),
        on=second_factor.is_on(user), required=second_factor.required_for(user),
        enrolment=second_factor.enrolment(session, user),
        codes_left=second_factor.recovery_codes_left(user), locked=second_factor.locked(user),
    )


def _codes_page(codes: list[str], renewed: bool = False):
    """The recovery codes, shown this once: never cached, by the browser or a proxy."""
    response = make_response(render_template("auth/recovery_codes.html", codes=codes,
                                             renewed=renewed))
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _own_factor_key() -> str:
    """Changing one's own second factor is limited per account, both changes together."""
    return f"second-factor-own:{current_user.id}"  # not get_id(): a password change keeps it


@bp.route("/account/second-factor/recovery-codes", methods=["POST"])
@login_only
@limiter.shared_limit(lambda: current_app.config["SECOND_FACTOR_RATE_LIMIT"],
                      scope="second-factor-own", key_func=_own_factor_key)
def second_factor_renew():
    """A new set of recovery codes, with the app's current code; shown once."""
    form = AppCodeForm(prefix="renew")
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("auth.second_factor_page"))
    try:
        codes = second_factor.renew_recovery_codes(current_user._get_current_object(),
                                                   form.code.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("auth.second_factor_page"))
    return _codes_page(codes, renewed=True)


@bp.route("/account/second-factor/off", methods=["POST"])
@login_only
@limiter.shared_limit(lambda: current_app.config["SECOND_FACTOR_RATE_LIMIT"],
                      scope="second-factor-own", key_func=_own_factor_key)
def second_factor_off():
    """Switch one's own second factor off, with the app's current code (when no role of
    one's requires it)."""
    form = AppCodeForm(prefix="off")
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("auth.second_factor_page"))
    try:
        second_factor.switch_off(current_user._get_current_object(), form.code.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("Your second factor is off: your password alone logs you in. Your recovery "
                "codes no longer work."), "success")
    return redirect(url_for("auth.second_factor_page"))


@bp.route("/account/second-factor/start", methods=["POST"])
@login_only
@limiter.shared_limit(lambda: current_app.config["SECOND_FACTOR_RATE_LIMIT"],
                      scope="second-factor-own", key_func=_own_factor_key)
def second_factor_start():
    """Make a new secret to add to the authenticator app, once the password is typed."""
    form = StartSecondFactorForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("auth.second_factor_page"))
    try:
        second_factor.start_enrolment(session, current_user._get_current_object(),
                                      form.password.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    return redirect(url_for("auth.second_factor_page"))


@bp.route("/account/second-factor/confirm", methods=["POST"])
@login_only
@limiter.limit(lambda: current_app.config["SECOND_FACTOR_RATE_LIMIT"],
               key_func=lambda: f"second-factor-confirm:{current_user.get_id()}")
def second_factor_confirm():
    """Turn the second factor on with the app's first code; show the recovery codes once."""
    form = CodeForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("auth.second_factor_page"))
    user = current_user._get_current_object()
    try:
        codes = second_factor.confirm_enrolment(session, user, form.code.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("auth.second_factor_page"))
    sessions.renew(user)  # every session ended: this one goes on, renewed
    return _codes_page(codes)


@bp.route("/users/second-factor", methods=["GET", "POST"])
@permission_required("users.manage")
def second_factor_policy():
    """The chair chooses which officials must use a second factor."""
    form = SecondFactorPolicyForm()
    if request.method == "GET":
        form.roles.data = [r.value for r in second_factor.required_roles()]
    if form.validate_on_submit():
        try:
            second_factor.set_required_roles({Role(r) for r in form.roles.data or ()})
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("Saved. Officials in these roles set up an authenticator app at their "
                    "next visit."), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/second_factor_policy.html", form=form)


@bp.route("/users/<int:user_id>/second-factor/reset", methods=["POST"])
@permission_required("users.manage")
def user_reset_second_factor(user_id: int):
    """Take away a user's second factor (a lost phone): they set it up again."""
    user = db.get_or_404(User, user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        second_factor.reset(user, acting=current_user)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("The second factor of %(name)s is reset; they are logged out everywhere.",
                name=user.username), "success")
    return redirect(url_for("auth.user_edit", user_id=user.id))


# The language is chosen on the host's own pages too (no association there).
language.host_site = True
