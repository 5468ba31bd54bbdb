"""Configuration: production refuses to start unsafely; DATABASE_URL picks the database."""

import pytest

from association import create_app
from config import ConfigError, ProductionConfig, _database_url


def test_production_refuses_without_secret_key_and_database(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError) as raised:
        create_app(ProductionConfig, {"SECRET_KEY": None})
    assert "SECRET_KEY" in str(raised.value) and "DATABASE_URL" in str(raised.value)


def test_production_refuses_a_weak_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(ProductionConfig, {"SECRET_KEY": "changeme"})


def test_production_starts_with_real_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    app = create_app(ProductionConfig, {
        "SECRET_KEY": "k" * 64, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3",
        "UPLOAD_DIR": tmp_path / "uploads",
    })
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]


@pytest.mark.parametrize("setting,value", [
    ("PASSWORD_HASH_MEMORY_COST", 8), ("PASSWORD_HASH_TIME_COST", 1),
])
def test_production_refuses_a_password_hash_below_owasps_floor(monkeypatch, tmp_path,
                                                                 setting, value):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    with pytest.raises(ConfigError, match=setting.removesuffix("_COST")):
        create_app(ProductionConfig, {
            "SECRET_KEY": "k" * 64, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3",
            "UPLOAD_DIR": tmp_path / "uploads", setting: value,
        })


@pytest.mark.parametrize("url,expected", [
    ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgresql+psycopg://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("sqlite:////tmp/a.sqlite3", "sqlite:////tmp/a.sqlite3"),
])
def test_database_url_uses_psycopg3_for_postgresql(url, expected):
    assert _database_url(url) == expected


def test_seed_demo_is_refused_in_production(app, runner):
    app.config["APP_ENV"] = "production"
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "refused in production" in result.output


def test_production_refuses_a_short_audit_checkpoint_key(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    with pytest.raises(ConfigError, match="AUDIT_CHECKPOINT_KEY"):
        create_app(ProductionConfig, {"SECRET_KEY": "k" * 64, "AUDIT_CHECKPOINT_KEY": "short"})
