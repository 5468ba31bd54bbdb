"""The schema comes only from the migrations: they must match the models exactly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from association.extensions import db


# SQLAlchemy reflects PostgreSQL's NOT VALID check on audit_event.mac (migration
# b3c4d5e6f7a8) with a dialect option it then warns it cannot validate; check constraints
# are not compared anyway.
@pytest.mark.filterwarnings("ignore:Can't validate argument 'dialect_options'")
def test_models_and_migrations_agree(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"run `flask --app wsgi db migrate`: models differ from migrations: {diff}"


def test_migrations_reach_the_head(app):
    from alembic.script import ScriptDirectory

    with app.app_context(), db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
        config = app.extensions["migrate"].migrate.get_config()
        heads = ScriptDirectory.from_config(config).get_heads()
    assert set(current) == set(heads) and len(heads) == 1
