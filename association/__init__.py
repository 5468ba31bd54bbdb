"""The association app: ``create_app()`` is the only code that knows every blueprint."""

import weakref
from pathlib import Path

from flask import Flask, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import configure_mappers
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from association import transaction
from association.database import configure_sqlite
from association.extensions import babel, csrf, db, limiter, login_manager, migrate
from association.hosting import routing, switching
from association.hosting.tenancy import Tenancy, catalogue_engine, catalogue_options
from association.logging import configure_logging
from association.static import register_compression, register_static
from config import BASE_DIR, Config, config_from_env

#: The bodies Werkzeug parses into ``request.form`` and ``request.files``.
FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}

#: Endpoints that work before the association profile exists.
SETUP_EXEMPT = {"static", "auth.login", "auth.logout", "auth.language", "auth.password",
                "profile.setup"}


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in routes: 0 to 2,147,483,647, the range of an integer column."""

    def __init__(self, url_map, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, **kwargs)


def create_app(config_class: type[Config] | None = None, overrides: dict | None = None) -> Flask:
    """Build the app for ``config_class`` (by default the one ``APP_ENV`` names)."""
    config_class = config_class or config_from_env()
    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
        instance_path=str(config_class.INSTANCE_DIR),
    )
    app.config.from_object(config_class)
    app.config.update(overrides or {})
    config_class.init_app(app)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = catalogue_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    Path(app.config["UPLOAD_DIR"]).mkdir(parents=True, exist_ok=True)
    # Ids in addresses are database integers: a larger number is simply not found
    # (PostgreSQL would refuse to compare it with an integer column).
    app.url_map.converters["int"] = DatabaseIdConverter

    configure_logging(app)  # first: its request hooks wrap everything else
    app.extensions["tenancy"] = Tenancy(app)
    routing.install(app)  # before any hook that reads an association's data
    register_extensions(app)
    register_static(app)
    register_compression(app)
    register_blueprints(app)
    register_request_hooks(app)
    transaction.install(app)  # after the other hooks: see transaction.install
    register_errorhandlers(app)
    register_template_helpers(app)
    switching.install(app)
    register_commands(app)
    # Map the models now, not in each worker's first request (about half a second of CPU).
    configure_mappers()
    # PostgreSQL: an app let go of (the tests make many) closes its connections, the
    # catalogue's and every association's, rather than leave them to the garbage collector
    # (psycopg warns of each). Not SQLite's: closed from the collector, in whatever thread it
    # runs, they made other connections to the same file fail ("disk I/O error").
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        weakref.finalize(app, dispose_engines, db._app_engines[app], app.extensions["tenancy"])
    return app


def dispose_engines(catalogue_engines: dict, tenancy: "Tenancy") -> None:
    for engine in catalogue_engines.values():
        engine.dispose()
    tenancy.dispose()


def register_extensions(app: Flask) -> None:
    from association.audit.services import install_hooks
    from association.auth.limits import DatabaseStorage  # noqa: F401 - database:// for limits
    from association.auth.services import load_user
    from association.i18n import select_locale
    from association.ledger.journal import install_guards

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see that page.")
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_user)
    install_hooks()
    install_guards()
    with app.app_context():
        if catalogue_engine(app).dialect.name == "sqlite":
            configure_sqlite(catalogue_engine(app))


def register_blueprints(app: Flask) -> None:
    from association.audit.views import bp as audit_bp
    from association.auth.session_views import bp as sessions_bp
    from association.auth.views import bp as auth_bp
    from association.health import bp as health_bp
    from association.hosting.access_views import bp as access_bp
    from association.hosting.views import bp as hosting_bp
    from association.ledger.expense_views import bp as expenses_bp
    from association.ledger.receipt_views import bp as receipts_bp
    from association.ledger.report_views import bp as reports_bp
    from association.ledger.views import bp as ledger_bp
    from association.meetings.views import bp as meetings_bp
    from association.members.views import bp as members_bp
    from association.mpesa.import_views import bp as mpesa_imports_bp
    from association.mpesa.views import bp as mpesa_bp
    from association.patrols.views import bp as patrols_bp
    from association.profile.views import bp as profile_bp
    from association.views import bp as core_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(sessions_bp)
    app.register_blueprint(profile_bp)
    app.register_blueprint(members_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(ledger_bp)
    app.register_blueprint(receipts_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(expenses_bp)
    app.register_blueprint(mpesa_bp)
    app.register_blueprint(mpesa_imports_bp)
    app.register_blueprint(patrols_bp)
    app.register_blueprint(meetings_bp)
    app.register_blueprint(hosting_bp)  # issue 22: the host's own site
    app.register_blueprint(access_bp)  # issue 22: a chair's grants of access to the host


def register_request_hooks(app: Flask) -> None:
    from association.audit.services import set_request_actor
    from association.auth import second_factor
    from association.auth.permissions import LOGIN, PUBLIC
    from association.profile.services import get_profile

    @app.before_request
    def refuse_nul_bytes():
        """No text column can hold a NUL byte (PostgreSQL refuses them): refuse it early."""
        values = [*request.args.values(), *request.args.keys(),
                  *(v for v in (request.view_args or {}).values() if isinstance(v, str))]
        if request.mimetype in FORM_TYPES:  # parsed only then (not a callback's JSON)
            values += [*request.form.values(), *request.form.keys(),
                       *(f.filename or "" for f in request.files.values())]
        if any("\x00" in value for value in values):
            abort(400)

    @app.before_request
    def enforce_access():
        """Refuse every request the view's declared access does not allow."""
        if request.endpoint is None or request.endpoint == "static":
            return None
        view = app.view_functions[request.endpoint]
        access = getattr(view, "access", None)
        if access is None:
            abort(403)
        if access == PUBLIC and getattr(view, "without_user", False):
            return None  # M-Pesa's callbacks: no user to load
        if current_user.is_authenticated:
            set_request_actor(current_user.id, current_user.username)
        if access == PUBLIC:
            return None
        if not current_user.is_authenticated:
            if getattr(view, "visitors_welcome", False) and get_profile() is not None:
                return None  # the public home; a user gets their own, with every check
            return login_manager.unauthorized()
        if current_user.must_change_password and request.endpoint not in SETUP_EXEMPT:
            return redirect(url_for("auth.password"))
        if (request.endpoint not in second_factor.ENROLMENT_EXEMPT
                and second_factor.enrolment_due(current_user)):  # issue 20: before anything
            return redirect(url_for("auth.second_factor_page"))
        if access != LOGIN and not current_user.can(access):
            abort(403)
        return None

    @app.before_request
    def require_setup():
        """Until the association is set up, send the chair to setup and tell others to wait."""
        if request.endpoint in SETUP_EXEMPT or request.endpoint is None:
            return None
        if getattr(app.view_functions[request.endpoint], "access", None) == PUBLIC:
            return None
        if get_profile() is not None:
            return None
        if current_user.is_authenticated and current_user.can("profile.manage"):
            return redirect(url_for("profile.setup"))
        return render_template("profile/not_ready.html"), 503

    @app.after_request
    def security_headers(response):
        """Strict headers on every response: no inline script, no framing, no sniffing."""
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # HSTS only on an answer over HTTPS (behind nginx: X-Forwarded-Proto, which ProxyFix
        # reads with TRUSTED_PROXIES): a browser ignores it over plain HTTP (RFC 6797 8.1),
        # and sent there it tells anyone watching that the site wants HTTPS without it.
        if app.config.get("SESSION_COOKIE_SECURE") and request.is_secure:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response


def register_errorhandlers(app: Flask) -> None:
    def render_error(error):
        code = getattr(error, "code", 500)
        return render_template("errors/error.html", code=code), code

    for code in (400, 403, 404, 405, 413, 500):
        app.register_error_handler(code, render_error)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("errors/error.html", code=400, csrf=True), 400

    @app.errorhandler(429)
    def too_many(error):
        return render_template("errors/error.html", code=429), 429


def register_template_helpers(app: Flask) -> None:
    from association import i18n
    from association.auth.models import Role
    from association.auth.permissions import allowed
    from association.core import dates
    from association.core.money import format_kes
    from association.core.phones import display_phone
    from association.ledger.memos import describe as describe_memo
    from association.meetings.common import agenda_title, describe_ref
    from association.members.services import mask_national_id
    from association.mpesa.notes import describe as mpesa_note
    from association.profile.services import get_profile

    # Lazy translated strings claim to be safe HTML, yet their %(...)s values may hold what a
    # user typed: render them as plain text, so autoescaping applies.
    app.jinja_env.finalize = lambda value: str(value) if isinstance(value, LazyString) else value
    app.jinja_env.filters["phone"] = display_phone
    app.jinja_env.filters["kes"] = format_kes
    # Kenyan dates, one place (association.core.dates): 30 Nov 2026, Nov 2026, 23:07.
    app.jinja_env.filters.update(day=dates.day, month=dates.month, time=dates.time,
                                 moment=dates.moment, wall_moment=dates.wall_moment)
    app.jinja_env.globals.update(
        get_profile=get_profile,
        role_label=i18n.role_label,
        enum_label=i18n.enum_label,
        weekday_short=dates.weekday_short,
        day_example=dates.day_example,
        describe_memo=describe_memo,
        agenda_title=agenda_title,
        describe_ref=describe_ref,
        mpesa_note=mpesa_note,
        languages=i18n.LANGUAGE_NAMES,
        current_language=i18n.current_language,
        Role=Role,
        mask_id=mask_national_id,
    )

    @app.context_processor
    def inject_can():
        # The menu alone asks a dozen times: look the user's roles up once per page.
        roles = current_user.roles if current_user.is_authenticated else frozenset()

        def can(permission: str) -> bool:
            return allowed(roles, permission)

        return {"can": can}


def register_commands(app: Flask) -> None:
    from association.audit.cli import audit_cli
    from association.auth.cli import create_admin, users_cli
    from association.hosting.cli import register as register_hosting
    from association.ledger.cli import ledger_cli
    from association.meetings.cli import meetings_cli
    from association.mpesa.cli import mpesa_cli
    from association.patrols.cli import patrols_cli
    from association.worker import worker_command

    app.cli.add_command(create_admin)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(mpesa_cli)
    app.cli.add_command(patrols_cli)
    app.cli.add_command(meetings_cli)
    app.cli.add_command(worker_command)
    # The development commands (seed-demo, mpesa sandbox) live outside the app package, in
    # devtools/, which a production image leaves out: without it the app has none of them.
    try:
        from devtools.cli import register as register_devtools
    except ModuleNotFoundError as error:
        if error.name != "devtools":
            raise  # devtools is there but broken: say so
    else:
        register_devtools(app, mpesa_cli)
    register_hosting(app)  # last: it gives every association's command --association
