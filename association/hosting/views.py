"""The host's own site (issue 22 items 3 and 5): on the host's address, no association
chosen. Its list of associations is public; everything else is for host administrators
(:mod:`.host_auth`), who see each association's health as aggregates and never a member's
name, phone or ID number.
"""

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from association.errors import DomainError
from association.extensions import limiter
from association.hosting import access, admin_services, aggregates, catalogue, health
from association.hosting.forms import ConfirmForm, HostLoginForm, NewAssociationForm, StatusForm
from association.hosting.host_auth import (
    authenticate,
    current_admin,
    host_admin_required,
    host_page,
    sign_out,
)
from association.hosting.models import AssociationStatus
from association.hosting.services import NewAssociation, create_association
from association.hosting.tenancy import current_or_none
from association.patrols.models import IncidentCategory

bp = Blueprint("hosting", __name__, url_prefix="/hosting")


def _app():
    return current_app._get_current_object()


def address(tenant) -> str:
    """Where an association's pages are: its own host, or its prefix on this one."""
    if tenant.host:
        return f"//{tenant.host.split()[0]}/"
    return f"{request.host_url.rstrip('/')}{current_app.config['ASSOCIATION_PATH_PREFIX']}" \
           f"/{tenant.slug}/"


@bp.before_app_request
def host_home():
    """``/`` on the host's own address is the host's page (an association's is its home)."""
    if request.endpoint == "core.home" and current_or_none() is None:
        return index()
    return None


def index():
    tenants = [t for t in catalogue.every() if t.status == AssociationStatus.ACTIVE]
    return render_template("hosting/index.html", tenants=tenants, address=address,
                           admin=current_admin())


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/hosting/") and not target.startswith("//"):
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@host_page
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=lambda: "host-admin:" + (request.form.get("username") or "")
               .strip().lower()[:60])
def login():
    """A host administrator logs in."""
    if current_admin() is not None:
        return redirect(url_for("hosting.dashboard"))
    form = HostLoginForm()
    if form.validate_on_submit():
        admin = authenticate(form.username.data, form.password.data)
        if admin is None:
            flash(_("Wrong username or password."), "error")
            return render_template("hosting/login.html", form=form)
        current_app.logger.info("host administrator %s logged in", admin.username)
        return redirect(_safe_next(request.args.get("next")) or url_for("hosting.dashboard"))
    return render_template("hosting/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@host_page
def logout():
    if ConfirmForm().validate_on_submit():
        sign_out()
        flash(_("You are logged out."), "info")
    return redirect(url_for("core.home"))


@bp.route("/")
@host_admin_required
def dashboard():
    """Every association and its health: aggregates only."""
    rows = [health.health_of(_app(), tenant) for tenant in catalogue.every()]
    return render_template("hosting/dashboard.html", rows=rows, address=address,
                           host_beat=health.host_worker_beat(_app()), form=StatusForm(),
                           granted=admin_services.granted_to(_app(), current_admin().id),
                           admin=current_admin())


@bp.route("/associations/<short>/open", methods=["POST"])
@host_admin_required
def open_association(short):
    """Into an association whose chair granted access: a token its own address takes."""
    tenant = catalogue.by_short(short)
    if not ConfirmForm().validate_on_submit() or tenant is None or not tenant.is_active:
        flash(_("No association is called %(short)s.", short=short), "error")
        return redirect(url_for("hosting.dashboard"))
    try:
        token = access.open_token(_app(), tenant, current_admin().id)
    except DomainError as error:
        flash(str(error), "error")
        return redirect(url_for("hosting.dashboard"))
    current_app.logger.info("host %s opens %s", current_admin().username, tenant.short)
    return redirect(f"{address(tenant)}hosting-access/{token}")


@bp.route("/new", methods=["GET", "POST"])
@host_admin_required
def new():
    """Create an association; its first chair's one-time password is shown once, here."""
    form = NewAssociationForm()
    if form.validate_on_submit():
        data = NewAssociation(short=form.short.data, name=form.name.data,
                              admin_phone=form.admin_phone.data, slug=form.slug.data or None,
                              host=form.host.data or None,
                              mpesa_shortcode=form.mpesa_shortcode.data or None,
                              account_prefix=form.account_prefix.data or None)
        try:
            tenant, password = create_association(
                _app(), data, actor=f"host:{current_admin().username}")
        except DomainError as error:
            flash(str(error), "error")
            return render_template("hosting/new.html", form=form), 200
        current_app.logger.info("host %s created %s", current_admin().username, tenant.short)
        return render_template("hosting/created.html", tenant=tenant, password=password,
                               address=address(tenant), admin=current_admin())
    return render_template("hosting/new.html", form=form, admin=current_admin())


@bp.route("/associations/<short>/status", methods=["POST"])
@host_admin_required
def status(short):
    """Suspend, reactivate or archive an association."""
    form = StatusForm()
    if not form.validate_on_submit():
        flash(_("Choose suspend, reactivate or archive."), "error")
        return redirect(url_for("hosting.dashboard"))
    try:
        tenant = admin_services.change_status(_app(), short, form.action.data,
                                              current_admin().username)
    except DomainError as error:
        flash(str(error), "error")
        return redirect(url_for("hosting.dashboard"))
    messages = {"suspend": _("%(short)s is suspended.", short=tenant.short),
                "reactivate": _("%(short)s is active again.", short=tenant.short),
                "archive": _("%(short)s is archived.", short=tenant.short)}
    flash(messages[form.action.data], "success")
    return redirect(url_for("hosting.dashboard"))


@bp.route("/inbox")
@host_admin_required
def inbox():
    """Callbacks no association could take: shown, never credited."""
    return render_template("hosting/inbox.html", items=admin_services.inbox(),
                           mask=admin_services.mask_phone_like, form=ConfirmForm(),
                           admin=current_admin())


@bp.route("/inbox/<int:item_id>/reviewed", methods=["POST"])
@host_admin_required
def inbox_reviewed(item_id):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        admin_services.mark_reviewed(_app(), item_id, current_admin().username)
    except DomainError as error:
        flash(str(error), "error")
    else:
        flash(_("Marked as reviewed."), "success")
    return redirect(url_for("hosting.inbox"))


@bp.route("/reports")
@host_admin_required
def reports():
    """Figures across associations (or the programme ?associations=MLK,KBF names), with a
    CSV download: counts and sums only."""
    args = request.args
    try:
        period = aggregates.parse_period(args.get("from"), args.get("to"))
        tenants = aggregates.choose(args.get("associations"))
    except DomainError as error:
        flash(str(error), "error")
        return render_template("hosting/reports.html", rows=None, total=None, period=None,
                               admin=current_admin()), 200
    rows, total = aggregates.report(_app(), tenants, period)
    if args.get("format") == "csv":
        name = f"associations-{period.start.isoformat()}-{period.end.isoformat()}.csv"
        return Response(aggregates.to_csv(rows, total, period), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return render_template("hosting/reports.html", rows=rows, total=total, period=period,
                           accounts=sorted({k for row in rows for k in row.spent}),
                           categories=sorted({k for row in rows for k in row.incidents}),
                           category_enum=IncidentCategory, admin=current_admin())
