"""Flask extensions, created unbound and initialised in ``create_app``.

Only third-party imports here, so any module may import from this one.
"""

import flask_babel
from flask import current_app, g, has_app_context
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from werkzeug.utils import cached_property

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose constraints get stable, predictable names."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CatalogueOncePerRequest(flask_babel.Domain):
    """Flask-Babel's message domain, finding the request's catalogue once.

    Flask-Babel looks the locale and the catalogue up again for every string it translates,
    through a dozen context lookups (about 8 µs; the pages of the load test translate 60 to
    120 strings each). The catalogue is kept beside the locale Flask-Babel chose for the
    request, and used while that locale stands, so a switch within a request
    (``refresh()``, ``force_locale()``) takes effect at once.
    """

    def get_translations(self):
        babel_context = g.get("_flask_babel") if has_app_context() else None
        cached = getattr(babel_context, "catalogue", None)
        if cached is not None and cached[0] is self \
                and cached[1] is getattr(babel_context, "babel_locale", None):
            return cached[2]
        if babel_context is None and not has_app_context():
            return super().get_translations()
        locale = flask_babel.get_locale()  # makes g._flask_babel and chooses the locale
        translations = super().get_translations()
        g._flask_babel.catalogue = (self, locale, translations)
        return translations


class Babel(flask_babel.Babel):
    """Flask-Babel, its default domain :class:`CatalogueOncePerRequest`, and templates'
    ``_()`` going straight to it."""

    @cached_property
    def domain_instance(self):
        return CatalogueOncePerRequest(domain=self.domain)

    def init_app(self, app, *args, **kwargs):
        super().init_app(app, *args, **kwargs)
        def catalogue():
            return self.domain_instance.get_translations()

        app.jinja_env.install_gettext_callables(
            gettext=lambda s: catalogue().ugettext(s),
            ngettext=lambda s, p, n: catalogue().ungettext(s, p, n),
            pgettext=lambda c, s: catalogue().upgettext(c, s),
            npgettext=lambda c, s, p, n: catalogue().unpgettext(c, s, p, n),
            newstyle=True,
        )


class TenantSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy whose ``engines`` (and so ``db.engine`` and ``db.session``'s
    binds) are those of the association chosen for the request, command or worker's turn
    (``association.hosting.tenancy``), beside the catalogue's."""

    @property
    def engines(self):
        app = current_app._get_current_object()
        return app.extensions["tenancy"].bound_engines(self._app_engines[app])


db = TenantSQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
