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
    #: The host's database: the catalogue of associations (issue 22) and, on PostgreSQL,
    #: every association placed on this server (a schema each) unless the catalogue names
    #: another server for it. On SQLite each association has a file of its own under
    #: ASSOCIATIONS_DIR.
    SQLALCHEMY_DATABASE_URI = _database_url(
        os.environ.get("DATABASE_URL", _sqlite_url(INSTANCE_DIR / "hosting.sqlite3"))
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    INSTANCE_DIR = INSTANCE_DIR
    UPLOAD_DIR = INSTANCE_DIR / "uploads"
    #: SQLite: the folder of the associations' database files (<slug>.sqlite3).
    ASSOCIATIONS_DIR = Path(os.environ.get("ASSOCIATIONS_DIR", INSTANCE_DIR / "associations"))
    #: Associations found by a path prefix (/a/<slug>/...): the prefix, or empty for none.
    ASSOCIATION_PATH_PREFIX = os.environ.get("ASSOCIATION_PATH_PREFIX", "/a")
    #: Associations found by their own host name (the catalogue's "host"): 1 or 0.
    ASSOCIATION_HOSTS = os.environ.get("ASSOCIATION_HOSTS", "1") == "1"
    #: PostgreSQL: the app's own role (owning no table), given its grants on every schema by
    #: the owner's commands (db upgrade, hosting create); unset, `hosting grants` prints them.
    DATABASE_APP_ROLE = os.environ.get("DATABASE_APP_ROLE") or None
    #: Seconds a process keeps the catalogue it read (a suspension reaches every worker
    #: within this time; the process that made a change sees it at once).
    CATALOGUE_CACHE_SECONDS = float(os.environ.get("CATALOGUE_CACHE_SECONDS", "5"))

    #: Read once, at import, by association.core (money, phones, time): the same for
    #: every app of a process, so set them here, not per app.
    CURRENCY = "KES"
    DEFAULT_PHONE_REGION = "KE"
    TIMEZONE = "Africa/Nairobi"
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = TIMEZONE
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")

    MEMBERS_PER_PAGE = 50
    #: Upload limit for register imports (bytes); Flask answers 413 above it.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_BYTES", 5 * 1024 * 1024))
    IMPORT_MAX_ROWS = 20000

    #: argon2id cost of new password hashes (older hashes still verify, and are hashed
    #: again at this cost at their next login). The defaults are argon2-cffi's (RFC 9106's
    #: low-memory profile: 3 passes over 64 MiB, 4 lanes), above OWASP's floor for argon2id
    #: (19 MiB, 2 passes, 1 lane). Only the tests lower them: production refuses to start
    #: below that floor.
    PASSWORD_HASH_TIME_COST = int(os.environ.get("PASSWORD_HASH_TIME_COST", "3"))
    PASSWORD_HASH_MEMORY_COST = int(os.environ.get("PASSWORD_HASH_MEMORY_COST", "65536"))  # KiB
    PASSWORD_HASH_PARALLELISM = int(os.environ.get("PASSWORD_HASH_PARALLELISM", "4"))

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
    #: database:// (the app's database, shared by every worker: association.auth.limits),
    #: or redis://... (needs the redis package).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "database://")
    RATELIMIT_HEADERS_ENABLED = True
    #: The key that signs the audit chain's checkpoints (HMAC-SHA256). Keep it in the
    #: environment only, never in the database; unset, it is derived from SECRET_KEY.
    AUDIT_CHECKPOINT_KEY = os.environ.get("AUDIT_CHECKPOINT_KEY") or None
    #: /healthz fails when no worker (`flask worker`) has written its heartbeat for this long.
    WORKER_HEARTBEAT_MAX_AGE = int(os.environ.get("WORKER_HEARTBEAT_MAX_AGE", "60"))
    #: Failed logins per address (successful ones do not count): sized for a hall full of
    #: members behind one mobile network address (carrier-grade NAT) on a meeting night.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "100 per 15 minutes")
    LOGIN_RATE_LIMIT_PER_ACCOUNT = os.environ.get(
        "LOGIN_RATE_LIMIT_PER_ACCOUNT", "10 per 15 minutes"
    )
    #: Second factor (issue 20): the key(s) that encrypt authenticator secrets at rest,
    #: comma-separated, the first encrypting (older ones still decrypt: key rotation).
    #: Unset, a key derived from SECRET_KEY (so changing SECRET_KEY loses the enrolments).
    SECOND_FACTOR_KEY = os.environ.get("SECOND_FACTOR_KEY") or None
    #: Issue 22: the key(s) that encrypt each association's M-Pesa credentials in the
    #: catalogue, comma-separated, the first encrypting (older ones still decrypt: key
    #: rotation). Unset, a key derived from SECRET_KEY.
    HOSTING_SECRETS_KEY = os.environ.get("HOSTING_SECRETS_KEY") or None
    #: Seconds between a right password and its code before the login must start again.
    SECOND_FACTOR_PENDING_SECONDS = int(os.environ.get("SECOND_FACTOR_PENDING_SECONDS", "300"))
    #: Codes tried per account (the login's per-address limit applies too).
    SECOND_FACTOR_RATE_LIMIT = os.environ.get("SECOND_FACTOR_RATE_LIMIT", "5 per 15 minutes")
    #: How long a device cookie (given at a successful login) spares its browser the
    #: account's lock-out.
    LOGIN_DEVICE_COOKIE_DAYS = int(os.environ.get("LOGIN_DEVICE_COOKIE_DAYS", "180"))
    #: Sessions end after this many idle minutes (officials; members), and this many hours
    #: after the login whatever happens.
    SESSION_IDLE_MINUTES_OFFICIALS = int(os.environ.get("SESSION_IDLE_MINUTES_OFFICIALS", "30"))
    SESSION_IDLE_MINUTES_MEMBERS = int(os.environ.get("SESSION_IDLE_MINUTES_MEMBERS", "120"))
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", "12"))

    # --- M-Pesa (Daraja). Missing settings disable M-Pesa; the rest of the app works.
    #: "sandbox" or "production": picks Safaricom's host and the callback address allow-list.
    MPESA_ENV = os.environ.get("MPESA_ENV", "sandbox")
    #: Overrides the Daraja host (the local sandbox, tests), e.g. http://127.0.0.1:8765.
    MPESA_BASE_URL = os.environ.get("MPESA_BASE_URL") or None
    MPESA_CONSUMER_KEY = os.environ.get("MPESA_CONSUMER_KEY") or None
    MPESA_CONSUMER_SECRET = os.environ.get("MPESA_CONSUMER_SECRET") or None
    #: The paybill number, or for a till the store (head office) number.
    MPESA_SHORTCODE = os.environ.get("MPESA_SHORTCODE") or None
    MPESA_PASSKEY = os.environ.get("MPESA_PASSKEY") or None
    #: "paybill" or "till"; a till also needs MPESA_TILL_NUMBER.
    MPESA_SHORTCODE_TYPE = os.environ.get("MPESA_SHORTCODE_TYPE", "paybill")
    MPESA_TILL_NUMBER = os.environ.get("MPESA_TILL_NUMBER") or None
    #: For Transaction Status queries (confirming paybill payments); optional.
    MPESA_INITIATOR_NAME = os.environ.get("MPESA_INITIATOR_NAME") or None
    MPESA_SECURITY_CREDENTIAL = os.environ.get("MPESA_SECURITY_CREDENTIAL") or None
    #: A long random secret that is part of every callback path.
    MPESA_CALLBACK_TOKEN = os.environ.get("MPESA_CALLBACK_TOKEN") or None
    #: Comma-separated callback source addresses; empty means Safaricom's published
    #: addresses in production and any address in the sandbox; "*" allows any.
    MPESA_ALLOWED_IPS = os.environ.get("MPESA_ALLOWED_IPS", "")
    #: Seconds per HTTP attempt, attempts, and the first back-off pause (doubling).
    MPESA_HTTP_TIMEOUT = float(os.environ.get("MPESA_HTTP_TIMEOUT", "15"))
    MPESA_HTTP_ATTEMPTS = int(os.environ.get("MPESA_HTTP_ATTEMPTS", "3"))
    MPESA_HTTP_BACKOFF = float(os.environ.get("MPESA_HTTP_BACKOFF", "1"))
    #: Payment prompts (STK push) allowed in any hour: to one member's own phones, from a
    #: member for themselves; to one phone, from anyone; from one official at the desk.
    STK_PROMPTS_PER_MEMBER_PER_HOUR = int(os.environ.get("STK_PROMPTS_PER_MEMBER_PER_HOUR", "5"))
    STK_PROMPTS_PER_PHONE_PER_HOUR = int(os.environ.get("STK_PROMPTS_PER_PHONE_PER_HOUR", "3"))
    STK_PROMPTS_PER_OFFICIAL_PER_HOUR = int(
        os.environ.get("STK_PROMPTS_PER_OFFICIAL_PER_HOUR", "30"))
    #: The app's public https address, for the callback URLs given to Daraja.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL") or None

    @classmethod
    def init_app(cls, app) -> None:
        """Finish settings that need work at start-up; refuse settings that cannot work."""


#: Safaricom's public sandbox credentials (published on the Daraja portal) and the local
#: sandbox address: what development uses when nothing else is set.
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"  # noqa: S105
LOCAL_SANDBOX_URL = "http://127.0.0.1:8765"


def _dev_callback_token() -> str:
    """A random callback token kept in instance/, like the development secret key."""
    token_file = INSTANCE_DIR / "mpesa_callback_token"
    if not token_file.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        token_file.write_text(secrets.token_urlsafe(32))
        token_file.chmod(0o600)
    return token_file.read_text().strip()


class DevelopmentConfig(Config):
    """Embedded SQLite file under instance/; a generated secret key."""

    APP_ENV = "development"

    @classmethod
    def init_app(cls, app) -> None:
        """Keep a generated secret key in instance/ when none is set."""
        if not app.config.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = _dev_secret_key()
        # From a fresh clone, M-Pesa talks to the local sandbox (`flask mpesa sandbox`,
        # started by `make run`); any MPESA_* variable that is set wins.
        if not os.environ.get("MPESA_CONSUMER_KEY"):
            app.config.update(
                MPESA_BASE_URL=app.config["MPESA_BASE_URL"] or LOCAL_SANDBOX_URL,
                MPESA_CONSUMER_KEY=app.config["MPESA_CONSUMER_KEY"] or "local-sandbox-key",
                MPESA_CONSUMER_SECRET=app.config["MPESA_CONSUMER_SECRET"] or "local-sandbox-secret",
                MPESA_SHORTCODE=app.config["MPESA_SHORTCODE"] or SANDBOX_SHORTCODE,
                MPESA_PASSKEY=app.config["MPESA_PASSKEY"] or SANDBOX_PASSKEY,
                MPESA_INITIATOR_NAME=app.config["MPESA_INITIATOR_NAME"] or "testapi",
                MPESA_SECURITY_CREDENTIAL=app.config["MPESA_SECURITY_CREDENTIAL"]
                or "local-sandbox-credential",
                MPESA_HTTP_TIMEOUT=5.0,
            )
        if not app.config.get("MPESA_CALLBACK_TOKEN"):
            app.config["MPESA_CALLBACK_TOKEN"] = _dev_callback_token()
        if not app.config.get("PUBLIC_BASE_URL"):
            port = os.environ.get("FLASK_RUN_PORT") or os.environ.get("PORT") or "5000"
            app.config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"


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
    #: argon2's minimum cost: a login in the tests takes microseconds, not a tenth of a second.
    PASSWORD_HASH_TIME_COST = 1
    PASSWORD_HASH_MEMORY_COST = 8
    PASSWORD_HASH_PARALLELISM = 1
    # M-Pesa is configured but points at a closed port: tests that talk to Daraja start
    # the local sandbox and set MPESA_BASE_URL to it.
    MPESA_ENV = "sandbox"
    MPESA_BASE_URL = "http://127.0.0.1:9"
    MPESA_CONSUMER_KEY = "test-key"
    MPESA_CONSUMER_SECRET = "test-secret"  # noqa: S105 - used by tests only
    MPESA_SHORTCODE = SANDBOX_SHORTCODE
    MPESA_PASSKEY = SANDBOX_PASSKEY
    MPESA_SHORTCODE_TYPE = "paybill"
    MPESA_TILL_NUMBER = None
    MPESA_INITIATOR_NAME = None
    MPESA_SECURITY_CREDENTIAL = None
    MPESA_CALLBACK_TOKEN = "test-callback-token-0123456789abcdef"  # noqa: S105
    MPESA_ALLOWED_IPS = ""
    MPESA_HTTP_TIMEOUT = 2.0
    MPESA_HTTP_ATTEMPTS = 2
    MPESA_HTTP_BACKOFF = 0.01
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"

    @classmethod
    def init_app(cls, app) -> None:
        """Use throwaway folders unless the test run named its own."""
        if not app.config.get("SQLALCHEMY_DATABASE_URI"):
            tmp = Path(tempfile.mkdtemp(prefix="association-test-"))
            app.config["SQLALCHEMY_DATABASE_URI"] = _sqlite_url(tmp / "test.sqlite3")
        if app.config["UPLOAD_DIR"] == Config.UPLOAD_DIR:
            app.config["UPLOAD_DIR"] = Path(tempfile.mkdtemp(prefix="association-uploads-"))
        if app.config["ASSOCIATIONS_DIR"] == Config.ASSOCIATIONS_DIR:
            # Associations a test makes: beside the test's own catalogue, never in instance/.
            uri = app.config["SQLALCHEMY_DATABASE_URI"]
            app.config["ASSOCIATIONS_DIR"] = (
                Path(uri.removeprefix("sqlite:///")).parent / "associations"
                if uri.startswith("sqlite:///")
                else Path(tempfile.mkdtemp(prefix="association-files-")))


#: OWASP's password storage cheat sheet, argon2id: at least 19 MiB and 2 passes (1 lane).
OWASP_ARGON2_MEMORY_KIB = 19 * 1024
OWASP_ARGON2_TIME_COST = 2


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
        checkpoint_key = app.config.get("AUDIT_CHECKPOINT_KEY")
        if checkpoint_key is not None and len(checkpoint_key) < 32:
            problems.append(
                "AUDIT_CHECKPOINT_KEY must be a long random value (32 characters or more), "
                "or unset to derive it from SECRET_KEY"
            )
        if not os.environ.get("DATABASE_URL"):
            problems.append(
                "DATABASE_URL must be set (for example "
                "postgresql+psycopg://USER:PASSWORD@HOST/DBNAME)"
            )
        if (app.config["PASSWORD_HASH_MEMORY_COST"] < OWASP_ARGON2_MEMORY_KIB
                or app.config["PASSWORD_HASH_TIME_COST"] < OWASP_ARGON2_TIME_COST):
            problems.append(
                "PASSWORD_HASH_MEMORY_COST and PASSWORD_HASH_TIME_COST must be at least "
                f"{OWASP_ARGON2_MEMORY_KIB} (KiB) and {OWASP_ARGON2_TIME_COST} (OWASP's floor "
                "for argon2id); leave them unset for the defaults"
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
