"""One install, many associations (issue 22).

Each association is a tenant with a database of its own: a SQLite file under
``ASSOCIATIONS_DIR`` on the embedded default, a PostgreSQL schema (in the host's database
or on another server) otherwise. The catalogue (:mod:`.models`, in the host's database,
``DATABASE_URL``) lists the associations, where each one's data lives, its address, its
status and its M-Pesa shortcode.

A request, a command or a worker's turn works on one association, chosen at its boundary
(:func:`.tenancy.use`): the app's ``db.session`` and ``db.engine`` then reach that
association's database and no other, and with none chosen they raise
:class:`.tenancy.NoAssociationChosen` rather than fall back to a default.
"""
