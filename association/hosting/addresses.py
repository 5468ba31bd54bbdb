"""An association's public address: what its receipts' QR codes and check links, and its
M-Pesa callback addresses, start with.

- It has host names of its own: the one a request came in on (with its port: for the
  people reading the link, not for Daraja's callbacks, ``from_request=False``), else
  PUBLIC_BASE_URL when that names one of them (an install whose association answers on
  the host's address), else its first (``https://mlata.example.org``, the scheme being
  PREFERRED_URL_SCHEME).
- Otherwise the host's PUBLIC_BASE_URL and its path prefix (``https://host.org/a/mlata``),
  wherever the link is built: a request, the command line, the worker, bulk printing.
"""

from urllib.parse import urlsplit

from flask import current_app, has_request_context, request

from association.hosting.routing import PREFIX_SLUG, host_name
from association.hosting.tenancy import Tenant, current


def host_base_url() -> str:
    """The host's own public address, without a trailing slash: PUBLIC_BASE_URL, else
    the request's (http://localhost outside one)."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return f"{current_app.config['PREFERRED_URL_SCHEME']}://localhost"


def public_base_url(tenant: Tenant | None = None, *, from_request: bool = True) -> str:
    """The public address of ``tenant`` (by default the association chosen), without a
    trailing slash."""
    tenant = tenant or current()
    config = current_app.config
    if tenant.host and config["ASSOCIATION_HOSTS"]:
        names = tenant.host.split()
        if (from_request and has_request_context() and PREFIX_SLUG not in request.environ
                and host_name() in names):
            return request.url_root.rstrip("/")
        base = config.get("PUBLIC_BASE_URL")
        if base and urlsplit(base).hostname in names:
            return base.rstrip("/")  # it answers on the host's own address (one association)
        root = (config.get("APPLICATION_ROOT") or "/").rstrip("/")
        return f"{config['PREFERRED_URL_SCHEME']}://{names[0]}{root}"
    return f"{host_base_url()}{config['ASSOCIATION_PATH_PREFIX'].rstrip('/')}/{tenant.slug}"


def public_url(endpoint: str, tenant: Tenant | None = None, **values) -> str:
    """The full public address of ``endpoint`` in ``tenant``'s site."""
    adapter = current_app.url_map.bind("localhost", script_name="/")
    return public_base_url(tenant) + adapter.build(endpoint, values)
