"""Configuration classes, chosen by the ``APP_ENV`` environment variable.

development (default): an embedded SQLite file under ``instance/``.
testing: a temporary SQLite file, or PostgreSQL from ``TEST_DATABASE_URL``.
production: needs a real ``SECRET_KEY`` and ``DATABASE_URL``.
"""

import os
import secrets
import tempfile
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


class ConfigError(RuntimeError):
    """The configuration cannot run the app; the message says what to set."""


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _database_url(url: str) -> str:
    """Spell PostgreSQL URLs with the psycopg 3 driver explicitly."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _dev_secret_key() -> str:
    """A random key kept in instance/, so development sessions survive a restart."""
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


class Config:
    """Settings shared by every environment; each may be set in the environment."""

    APP_ENV = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _database_url(
        os.environ.get("DATABASE_URL", _sqlite_url(INSTANCE_DIR / "association.sqlite3"))
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    INSTANCE_DIR = INSTANCE_DIR
    UPLOAD_DIR = INSTANCE_DIR / "uploads"

    CURRENCY = "KES"
    DEFAULT_PHONE_REGION = "KE"
    TIMEZONE = "Africa/Nairobi"
    LANGUAGES = ("en", "sw")
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "Africa/Nairobi"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")

    MEMBERS_PER_PAGE = 50
    #: Upload limit for register imports (bytes); Flask answers 413 above it.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_BYTES", 5 * 1024 * 1024))
    IMPORT_MAX_ROWS = 20000

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 12
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session: slow phones, long forms

    #: Reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust
    #: (0 = none). Behind one proxy set 1, or every client shares one login limit.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
    LOGIN_RATE_LIMIT_PER_ACCOUNT = os.environ.get(
        "LOGIN_RATE_LIMIT_PER_ACCOUNT", "10 per 15 minutes"
    )

    @classmethod
    def init_app(cls, app) -> None:
        """Finish settings that need work at start-up; refuse settings that cannot work."""


class DevelopmentConfig(Config):
    """Embedded SQLite file under instance/; a generated secret key."""

    APP_ENV = "development"

    @classmethod
    def init_app(cls, app) -> None:
        """Keep a generated secret key in instance/ when none is set."""
        if not app.config.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = _dev_secret_key()


class TestingConfig(Config):
    """A throwaway SQLite file, or PostgreSQL when ``TEST_DATABASE_URL`` is set."""

    APP_ENV = "testing"
    TESTING = True
    SECRET_KEY = "testing-only-secret-key"  # noqa: S105 - used by tests only
    SQLALCHEMY_DATABASE_URI = (
        _database_url(os.environ["TEST_DATABASE_URL"])
        if os.environ.get("TEST_DATABASE_URL")
        else None
    )
    RATELIMIT_STORAGE_URI = "memory://"

    @classmethod
    def init_app(cls, app) -> None:
        """Use throwaway folders unless the test run named its own."""
        if not app.config.get("SQLALCHEMY_DATABASE_URI"):
            tmp = Path(tempfile.mkdtemp(prefix="association-test-"))
            app.config["SQLALCHEMY_DATABASE_URI"] = _sqlite_url(tmp / "test.sqlite3")
        if app.config["UPLOAD_DIR"] == Config.UPLOAD_DIR:
            app.config["UPLOAD_DIR"] = Path(tempfile.mkdtemp(prefix="association-uploads-"))


class ProductionConfig(Config):
    """PostgreSQL (or a SQLite file named explicitly) and a real secret key."""

    APP_ENV = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def init_app(cls, app) -> None:
        """Fail at start-up, with a message saying what to set, rather than run unsafely."""
        problems = []
        key = app.config.get("SECRET_KEY") or ""
        if len(key) < 32 or key.lower() in {"changeme", "secret", "dev", "development"}:
            problems.append(
                "SECRET_KEY must be set to a long random value "
                '(for example: python3 -c "import secrets; print(secrets.token_hex(32))")'
            )
        if not os.environ.get("DATABASE_URL"):
            problems.append(
                "DATABASE_URL must be set (for example "
                "postgresql+psycopg://USER:PASSWORD@HOST/DBNAME)"
            )
        if problems:
            raise ConfigError("Production configuration is incomplete: " + "; ".join(problems))


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """The config class named by ``APP_ENV`` (development when unset)."""
    name = os.environ.get("APP_ENV", "development")
    if name not in CONFIGS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {name!r}")
    return CONFIGS[name]
