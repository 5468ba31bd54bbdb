"""Flask extensions, created unbound and initialised in ``create_app``.

Only third-party imports here, so any module may import from this one.
"""

import flask_babel
from flask import g, has_app_context
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

    Flask-Babel looks the catalogue up again for every string it translates (about 8 µs,
    and the pages of the load test translate 20 to 70 each). The locale is still checked
    for every string, so a switch within a request (``refresh()``, ``force_locale()``)
    takes effect at once.
    """

    def get_translations(self):
        if not has_app_context():
            return super().get_translations()
        locale = flask_babel.get_locale()
        cached = g.get("_catalogue")
        if cached is None or cached[0] is not self or cached[1] is not locale:
            cached = g._catalogue = (self, locale, super().get_translations())
        return cached[2]


class Babel(flask_babel.Babel):
    """Flask-Babel, its default domain :class:`CatalogueOncePerRequest`."""

    @cached_property
    def domain_instance(self):
        return CatalogueOncePerRequest(domain=self.domain)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
