"""Moving between one's associations (a treasurer helping two groups, an auditor of five).

Each association keeps its own logins: its own password, second factor, sessions and audit
trail, so a person with roles in two associations has a login in each, and a login never
sees another association's data. What joins them is this browser: once it has logged in to
an association, a cookie of the host's (path ``/``: every association under the host's
path prefix sees it) lists that association, and the menu of every other one offers it.
The list holds only associations' address names, which are public, and it is signed, so a
page cannot be made to offer an association the browser never logged in to. Associations
on host names of their own have cookies of their own: the list works across those only
when SESSION_COOKIE_DOMAIN names a parent domain they share.
"""

from flask import Flask, current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer

from association.hosting import catalogue
from association.hosting.routing import PREFIX_SLUG
from association.hosting.tenancy import SLUG_RE, current_or_none

COOKIE = "associations"
#: At most this many associations remembered (the latest first).
KEEP = 12


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="associations-of-this-browser")


def remembered() -> list[str]:
    """The address names of the associations this browser has logged in to."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return []
    try:
        slugs = _serializer().loads(raw)
    except BadSignature:
        return []
    return [s for s in slugs if isinstance(s, str) and SLUG_RE.fullmatch(s)][:KEEP]


def address(tenant) -> str:
    """Where an association's pages are, from this request's site."""
    if request.environ.get(PREFIX_SLUG) is None and tenant.host:
        return f"{request.scheme}://{tenant.host.split()[0]}/"
    root = request.script_root
    prefix = current_app.config["ASSOCIATION_PATH_PREFIX"]
    if request.environ.get(PREFIX_SLUG) is not None:
        root = root[: -len(f"{prefix}/{request.environ[PREFIX_SLUG]}")]
    return f"{root}{prefix}/{tenant.slug}/"


def others() -> list[tuple[str, str]]:
    """(name, address) of the other active associations this browser has logged in to."""
    here = current_or_none()
    if here is None or not current_app.config["ASSOCIATION_PATH_PREFIX"]:
        return []
    found = []
    for slug in remembered():
        tenant = catalogue.by_slug(slug)
        if tenant is not None and tenant.is_active and tenant.slug != here.slug:
            found.append((tenant.name, address(tenant)))
    return found


def install(app: Flask) -> None:
    @app.after_request
    def remember(response):
        here = g.get("association")
        user = g.get("_login_user")  # loaded by the request itself: no query of our own
        if here is None or user is None or not user.is_authenticated:
            return response
        slugs = remembered()
        if slugs[:1] == [here.slug]:
            return response
        slugs = [here.slug, *(s for s in slugs if s != here.slug)][:KEEP]
        response.set_cookie(COOKIE, _serializer().dumps(slugs), max_age=365 * 86400,
                            path="/", httponly=True, samesite="Lax",
                            secure=app.config["SESSION_COOKIE_SECURE"])
        return response

    app.jinja_env.globals["other_associations"] = others
