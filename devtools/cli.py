"""The development commands: ``flask seed-demo`` (the demo association and one login per
role, refused in production) and ``flask mpesa sandbox`` (the local Daraja sandbox, added to
the app's ``mpesa`` group). ``create_app`` registers them with :func:`register` when this
package is importable; a production image leaves it out.
"""

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from association.audit.services import acting_as
from association.extensions import db
from association.hosting import catalogue
from association.hosting.cli import pick
from association.hosting.host_auth import create_admin
from association.hosting.services import NewAssociation, create_association
from association.hosting.tenancy import use
from config import SANDBOX_SHORTCODE
from devtools.demo import seed as demo


def register(app: Flask, mpesa_cli: AppGroup) -> None:
    """Add ``seed-demo`` to ``app``'s commands and ``sandbox`` to its ``mpesa`` group."""
    app.cli.add_command(seed_demo)
    mpesa_cli.add_command(sandbox)


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True,
              help="Do nothing (and succeed) when the association is already set up.")
@click.option("--members", default=300, show_default=True, type=click.IntRange(10, 5000))
@click.option("--association", metavar="SHORT", envvar="ASSOCIATION", default=None,
              help="Fill this association (by default the only one).")
@with_appcontext
def seed_demo(if_empty, members, association):
    """Load the demo (refused in production). On an install serving no association yet:
    create the two demo associations and fill both; otherwise fill the association named
    (or the only one) when it is not set up yet."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("seed-demo is refused in production: it would add demo logins.")
    app = current_app._get_current_object()
    if not catalogue.every(app):
        for spec in demo.DEMO_ASSOCIATIONS:
            tenant, _password = create_association(app, NewAssociation(
                short=spec.short, name=spec.name, admin_phone=None, slug=spec.slug,
                mpesa_shortcode=SANDBOX_SHORTCODE, account_prefix=spec.short),
                books=False, actor="cli:seed-demo")
            with use(tenant, app):
                _fill(spec.members or members, spec)
        create_admin(app, demo.DEMO_HOST_ADMIN, demo.DEMO_HOST_PASSWORD)
        click.echo(f"host administrator {demo.DEMO_HOST_ADMIN} (password "
                   f"{demo.DEMO_HOST_PASSWORD}) at /hosting/login")
        return
    with use(pick(association), app):
        if demo.demo_exists():
            if if_empty:
                click.echo("the database already holds an association; demo data not loaded")
                return
            raise click.ClickException("the database already holds an association; not seeding")
        _fill(members, demo.DEMO_ASSOCIATIONS[0])


def _fill(members: int, spec) -> None:
    click.echo(f"Loading the demo association {spec.short} (a minute or two):")
    with acting_as("cli:seed-demo"):
        made = demo.seed(members=members, spec=spec,
                         progress=lambda step: click.echo(f"  {step}..."))
        click.echo("  saving...")
        db.session.commit()
    click.echo(
        f"demo association loaded: {made['members']} members in {made['zones']} zones, "
        f"{made['users']} logins (password {demo.DEMO_PASSWORD})"
    )


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@click.option("--delay", default=3.0, show_default=True, type=click.FloatRange(0, 120),
              help="Seconds before the prompt is 'answered' and the callback is posted.")
@click.option("--quiet", is_flag=True, help="Do not log each request.")
@with_appcontext
def sandbox(host, port, delay, quiet):
    """Run the local Daraja sandbox (OAuth, STK push and query, C2B, Transaction Status).

    The payer's phone picks the outcome by its last four digits: 1032 cancelled,
    1037 timed out, 1111 insufficient funds, 2001 wrong PIN, 9999 paid but the
    callback is lost; any other number pays.
    """
    from devtools.daraja_sandbox import PUBLIC_PASSKEY, DarajaSandbox

    try:
        server = DarajaSandbox(host, port, delay=delay,
                               passkey=current_app.config.get("MPESA_PASSKEY") or PUBLIC_PASSKEY,
                               verbose=not quiet)
    except OSError as error:
        raise click.ClickException(f"Cannot listen on {host}:{port}: {error.strerror}") from None
    click.echo(f"Daraja sandbox on {server.url} (Ctrl-C stops). "
               f"Set MPESA_BASE_URL={server.url} for the app.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
