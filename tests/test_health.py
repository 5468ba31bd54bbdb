"""GET /healthz: 200 when the database answers, its migrations are at head and a worker
beat recently; 503 with the reason otherwise. No login, nothing personal."""

from datetime import timedelta

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from association import create_app
from association.audit.services import acting_as
from association.core.time import utcnow
from association.extensions import db
from association.hosting.tenancy import catalogue_engine
from association.worker import WorkerHeartbeat, beat
from config import TestingConfig


def _beat(app, age: timedelta = timedelta(0)) -> None:
    with app.app_context():
        started = utcnow().replace(microsecond=0)
        beat("worker", started, 0, worked=False)
        if age:
            db.session.execute(sa.update(WorkerHeartbeat).values(beat_at=utcnow() - age))
            db.session.commit()


def test_healthy_when_the_database_migrations_and_worker_are(app, client):
    _beat(app)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {
        "database": "ok", "migrations": "ok", "worker": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers  # nobody is logged in or remembered


def test_answers_before_setup_and_without_login(app, client):
    """No association profile yet: other pages wait for setup, /healthz answers."""
    _beat(app)
    assert client.get("/").status_code in (302, 303)  # others: log in first
    assert client.get("/healthz").status_code == 200


def test_is_not_rate_limited(app, client):
    _beat(app)
    app.config["RATELIMIT_ENABLED"] = True
    for _ in range(120):
        assert client.get("/healthz").status_code == 200


def test_503_without_a_worker_heartbeat(app, client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "checks": {
        "database": "ok", "migrations": "ok", "worker": "no heartbeat"}}


def test_503_when_the_worker_heartbeat_is_old(app, client):
    app.config["WORKER_HEARTBEAT_MAX_AGE"] = 60
    _beat(app, age=timedelta(seconds=90))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {
        "database": "ok", "migrations": "ok", "worker": "heartbeat 90 s old (more than 60)"}
    app.config["WORKER_HEARTBEAT_MAX_AGE"] = 120
    assert client.get("/healthz").status_code == 200  # the setting decides


def test_503_when_the_migrations_are_not_at_head(app, client):
    _beat(app)
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        script = ScriptDirectory.from_config(config)
        head = script.get_current_head()
        previous = script.get_revision(head).down_revision
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = :v"),
                           {"v": previous})
        db.session.commit()
    try:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.get_json()["checks"] == {
            "database": "ok", "migrations": "not at head", "worker": "ok"}
    finally:  # the shared test database is at head again for the next tests
        with app.app_context():
            db.session.execute(sa.text("UPDATE alembic_version SET version_num = :v"),
                               {"v": head})
            db.session.commit()
    assert client.get("/healthz").status_code == 200


def test_503_when_the_database_is_unreachable(tmp_path, upload_dir):
    unreachable = create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/no/such/folder/db.sqlite3",
        "UPLOAD_DIR": upload_dir})
    response = unreachable.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "checks": {
        "database": "unreachable", "migrations": "unknown", "worker": "unknown"}}
    catalogue_engine(unreachable).dispose()


def test_says_nothing_personal(app, client, make_member):
    """Even with members and a worker that processed their payments, only states."""
    make_member(first_name="Amina", phone="0712345678")
    with app.app_context(), acting_as("test"):
        beat("worker", utcnow().replace(microsecond=0), 3, worked=True)
    body = client.get("/healthz").get_data(as_text=True)
    assert "Amina" not in body and "0712345678" not in body and "712345678" not in body
    assert "pid" not in body and "host" not in body
