"""Finding the association a request is for: by its path prefix (``/a/mlk/...``, for hosts
without wildcard DNS) or by its host name (``mlata.example.org``), both configurable.

- :class:`PathPrefix` (WSGI) moves ``/a/<slug>`` from the path into ``SCRIPT_NAME``: the
  app's routes stay as they are, and every address ``url_for`` makes keeps the prefix.
- :func:`choose_association` (the first request hook) looks the prefix or the host up in
  the catalogue and chooses that association for the request. With neither, the request
  is the host's own (its pages, ``/healthz``, static files); any other page is a plain 404
  naming no association. A suspended association's pages say so, but its public receipt
  check still answers; an archived one is not found.
- :class:`AssociationSessions` keeps each association's session cookie apart: its own
  name and path under a prefix, and signed with a salt naming the association, so a
  cookie of one association's is no session at all in another's.
"""

from flask import Flask, abort, render_template, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.exc import SQLAlchemyError

from association.hosting import catalogue
from association.hosting.models import AssociationStatus
from association.hosting.tenancy import SLUG_RE, choose

#: WSGI environ keys set by :class:`PathPrefix`.
PREFIX_SLUG = "association.slug"

#: Endpoints a suspended association still serves: the public receipt check and files.
SUSPENDED_OPEN = frozenset({"static", "core.check_receipt", "receipts.verify", "health.healthz",
                            # Money already paid is never bounced: M-Pesa's callbacks.
                            "mpesa.stk_callback", "mpesa.c2b_validation",
                            "mpesa.c2b_confirmation", "mpesa.status_result",
                            "mpesa.status_timeout"})


class PathPrefix:
    """``/a/<slug>/rest`` → ``SCRIPT_NAME=/a/<slug>``, ``PATH_INFO=/rest``."""

    def __init__(self, wsgi_app, prefix: str):
        self.wsgi_app = wsgi_app
        self.prefix = prefix.rstrip("/")

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if self.prefix and path.startswith(self.prefix + "/"):
            slug, _, rest = path[len(self.prefix) + 1:].partition("/")
            # A slug that cannot be one is kept, so the hook answers 404 for it.
            environ[PREFIX_SLUG] = slug
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"{self.prefix}/{slug}"
            environ["PATH_INFO"] = "/" + rest
        return self.wsgi_app(environ, start_response)


def host_name() -> str:
    """The request's host name, without its port."""
    host = request.host.lower()
    if host.startswith("["):  # [::1]:5000
        return host.partition("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def _host_site(app: Flask) -> bool:
    """Whether the request's endpoint is one of the host's own (its pages, health, files)."""
    endpoint = request.endpoint
    if endpoint is None:
        return False
    if endpoint == "static" or endpoint.startswith("hosting."):
        return True
    return getattr(app.view_functions[endpoint], "host_site", False)


def install(app: Flask) -> None:
    """The prefix middleware, the request hook choosing the association, and the sessions
    kept apart. Call before any other hook that reads the database."""
    prefix = app.config["ASSOCIATION_PATH_PREFIX"]
    if prefix:
        app.wsgi_app = PathPrefix(app.wsgi_app, prefix)
    app.session_interface = AssociationSessions()

    @app.before_request
    def choose_association():
        slug = request.environ.get(PREFIX_SLUG)
        try:
            if slug is not None:
                tenant = catalogue.by_slug(slug) if SLUG_RE.fullmatch(slug) else None
                if tenant is None:
                    abort(404)
            elif app.config["ASSOCIATION_HOSTS"]:
                tenant = catalogue.by_host(host_name())
            else:
                tenant = None
        except SQLAlchemyError:
            # The catalogue cannot be read: the host's /healthz says so; any other page
            # is the error page (nothing was saved).
            choose(None)
            if request.endpoint == "health.healthz":
                return None
            raise
        choose(tenant)
        if tenant is None:
            if not _host_site(app):
                abort(404)  # a plain page naming no association
            return None
        if request.endpoint is not None and request.endpoint.startswith("hosting."):
            abort(404)  # the host's pages are on the host's own address only
        if tenant.status == AssociationStatus.ARCHIVED:
            abort(404)
        if tenant.status == AssociationStatus.SUSPENDED and request.endpoint not in SUSPENDED_OPEN:
            return render_template("hosting/suspended.html", tenant=tenant), 503
        return None


def site_key() -> str:
    """The site a request is on, for its cookies: the association's prefix or the host."""
    slug = request.environ.get(PREFIX_SLUG)
    return f"a/{slug}" if slug is not None else f"h/{host_name()}"


class AssociationSessions(SecureCookieSessionInterface):
    """A session cookie per association (and one for the host's pages)."""

    def get_signing_serializer(self, app):
        if not app.secret_key:
            return None
        serializer = super().get_signing_serializer(app)
        serializer.salt = f"{self.salt}/{site_key()}"
        return serializer

    def get_cookie_name(self, app):
        slug = request.environ.get(PREFIX_SLUG)
        name = super().get_cookie_name(app)
        return f"{name}_{slug}" if slug is not None else name

    def get_cookie_path(self, app):
        return (request.script_root or "") + "/" if request.environ.get(PREFIX_SLUG) \
            else super().get_cookie_path(app)
