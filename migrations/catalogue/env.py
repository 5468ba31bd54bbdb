"""The catalogue's migrations, run on the connection association.hosting.migrating gives."""

from alembic import context

from association.hosting.models import CatalogueBase

#: Its own version table: on SQLite a catalogue file could sit beside an old install's
#: single association database, whose table is "alembic_version".
VERSION_TABLE = "catalogue_version"

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run the catalogue's migrations with `flask --app wsgi db upgrade`")
context.configure(connection=connection, target_metadata=CatalogueBase.metadata,
                  version_table=VERSION_TABLE, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
