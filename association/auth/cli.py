"""``flask create-admin``: the first chair, without prompts."""

import click
from flask.cli import with_appcontext

from association.audit.services import acting_as
from association.auth.models import Role
from association.auth.services import create_user
from association.errors import DomainError
from association.extensions import db


@click.command("create-admin")
@click.option("--username", required=True, help="Login name, e.g. chair.")
@click.option("--password", required=True, envvar="ADMIN_PASSWORD",
              help="Password (or set ADMIN_PASSWORD).")
@click.option("--full-name", default="Chair", show_default=True, help="The person's name.")
@click.option("--phone", default=None, help="Phone number, also usable to log in.")
@with_appcontext
def create_admin(username, password, full_name, phone):
    """Create a chair (admin) login non-interactively; exit 1 with the reason if refused."""
    try:
        with acting_as("cli:create-admin"):
            user = create_user(
                username, full_name, password, {Role.CHAIR}, phone=phone,
                must_change_password=False,
            )
            db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(f"created admin {user.username} (chair)")
