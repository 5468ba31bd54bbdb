"""``flask --app wsgi hosting admin create|list``: the host's administrators."""

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from association.hosting.host_auth import HostAdminError, create_admin
from association.hosting.models import HostAdmin
from association.hosting.services import catalogue_session

admin_cli = AppGroup("admin", help="The host's administrators (they see no member's data).")


@admin_cli.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 12 characters (asked for when not given).")
@with_appcontext
def create_command(username, password):
    """Add a host administrator."""
    try:
        admin = create_admin(current_app._get_current_object(), username, password)
    except HostAdminError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"host administrator {admin.username} created: log in at /hosting/login")


@admin_cli.command("list")
@with_appcontext
def list_command():
    """Every host administrator, and when they last logged in."""
    with catalogue_session(current_app._get_current_object()) as session:
        for admin in session.scalars(sa.select(HostAdmin).order_by(HostAdmin.username)):
            state = "active" if admin.active else "disabled"
            last = admin.last_login_at.strftime("%Y-%m-%d %H:%M") if admin.last_login_at \
                else "never"
            click.echo(f"{admin.username:30} {state:8} last login {last}")
