"""``flask create-admin``: the first chair, without prompts; ``flask users ...``: the
install's administrator's repairs to a login."""

import click
from flask.cli import AppGroup, with_appcontext
from flask_babel import gettext as _

from association.audit.services import acting_as
from association.auth import second_factor
from association.auth.models import Role
from association.auth.services import create_user, find_user
from association.errors import DomainError
from association.extensions import db

users_cli = AppGroup("users", help="Logins: the install's administrator's repairs.")


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


@users_cli.command("reset-second-factor")
@click.argument("username")
@with_appcontext
def reset_second_factor(username):
    """Take away USERNAME's second factor (a sole chair who lost their phone and recovery
    codes, with no other chair to reset it): they log in with their password, set one up
    again if their role requires it, and are logged out everywhere. Exit 1 with the reason
    if refused (an unknown user, or none to reset)."""
    user = find_user(username)
    if user is None:
        raise click.ClickException(_("No user has the username or phone number %(name)s.",
                                     name=username))
    try:
        with acting_as("cli:users reset-second-factor"):
            second_factor.reset(user, acting=None)
            db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(_("The second factor of %(name)s is reset; they are logged out everywhere.",
                 name=user.username))
