"""App-wide commands: ``flask seed-demo``."""

import click
from flask import current_app
from flask.cli import with_appcontext

from association import demo
from association.audit.services import acting_as
from association.extensions import db


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True,
              help="Do nothing (and succeed) when the association is already set up.")
@click.option("--members", default=300, show_default=True, type=click.IntRange(10, 5000))
@with_appcontext
def seed_demo(if_empty, members):
    """Load the demo association and one login per role (refused in production)."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("seed-demo is refused in production: it would add demo logins.")
    if demo.demo_exists():
        if if_empty:
            click.echo("the database already holds an association; demo data not loaded")
            return
        raise click.ClickException("the database already holds an association; not seeding")
    with acting_as("cli:seed-demo"):
        made = demo.seed(members=members)
        db.session.commit()
    click.echo(
        f"demo association loaded: {made['members']} members in {made['zones']} zones, "
        f"{made['users']} logins (password {demo.DEMO_PASSWORD})"
    )
