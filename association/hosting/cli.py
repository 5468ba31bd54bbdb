"""Commands of a host with many associations.

- ``flask --app wsgi hosting create|list|...``: the host's own commands.
- ``flask --app wsgi db upgrade``: the catalogue, then every association
  (:mod:`association.hosting.migrating`).
- Every other command works on one association: the only one when there is one, else the
  one ``--association SHORT`` (or the ASSOCIATION environment variable) names.
"""

import functools

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from association.errors import DomainError
from association.hosting import catalogue
from association.hosting.migrating import MigrationFailed, upgrade_all
from association.hosting.services import NewAssociation, create_association
from association.hosting.tenancy import Tenant, use

hosting_cli = AppGroup("hosting", help="The associations this install serves (issue 22).")

#: Commands that are the host's own, not one association's.
HOST_COMMANDS = frozenset({"hosting", "worker", "seed-demo", "run", "shell", "routes",
                           "db upgrade", "mpesa sandbox"})


def pick(short: str | None) -> Tenant:
    """The association a command works on: the one named, or the only one."""
    tenants = catalogue.served()
    if short:
        tenant = catalogue.by_short(short) or catalogue.by_slug(short.lower())
        if tenant is None:
            known = ", ".join(t.short for t in tenants) or "none yet"
            raise click.ClickException(f"No association is called {short} (this install "
                                       f"serves: {known}).")
        return tenant
    if len(tenants) == 1:
        return tenants[0]
    if not tenants:
        raise click.ClickException("This install serves no association yet: create one with "
                                   "`flask --app wsgi hosting create --short ... --name ... "
                                   "--admin-phone ...`.")
    raise click.ClickException(
        f"This install serves {len(tenants)} associations: name one with --association "
        f"SHORT ({', '.join(t.short for t in tenants)}).")


def _scoped(command: click.Command) -> None:
    """Give ``command`` the --association option and run it on that association (once: the
    commands are module-level objects, shared by every app a process makes)."""
    if getattr(command, "association_scoped", False):
        return
    command.association_scoped = True
    command.params.append(click.Option(
        ["--association"], metavar="SHORT", envvar="ASSOCIATION",
        help="The association to work on (needed when this install serves several)."))
    callback = command.callback

    @functools.wraps(callback)
    @with_appcontext
    def run(*args, association=None, **kwargs):
        with use(pick(association)):
            return callback(*args, **kwargs)

    command.callback = run


def scope_commands(group: click.Group, prefix: str = "") -> None:
    """Every command of ``group`` but the host's own works on one association."""
    for name, command in group.commands.items():
        qualified = f"{prefix}{name}"
        if qualified in HOST_COMMANDS:
            continue
        if isinstance(command, click.Group):
            scope_commands(command, qualified + " ")
        elif command.callback is not None:
            _scoped(command)


@click.command("upgrade")
@click.option("--revision", default="head", show_default=True,
              help="The migration to reach (every association).")
@with_appcontext
def upgrade_command(revision):
    """Upgrade the catalogue, then every association, one at a time; stop at the first that
    fails (it is left as it was)."""
    try:
        count = upgrade_all(current_app._get_current_object(), click.echo, revision)
    except MigrationFailed as error:
        raise click.ClickException(f"stopped: {error} (it and the associations after it "
                                   "are as they were)") from None
    click.echo(f"{count} association(s) at {revision}")


@hosting_cli.command("create")
@click.option("--short", required=True, help="Short name, 2 to 6 capital letters (MLK).")
@click.option("--name", required=True, help="The association's full name.")
@click.option("--admin-phone", required=True, help="The first chair's phone number.")
@click.option("--admin-name", default="", help="The first chair's name.")
@click.option("--slug", default=None, help="Its address part (/a/SLUG/); the short name "
              "in small letters by default.")
@click.option("--host", default=None, help="A host name of its own (mlata.example.org).")
@click.option("--database-url", default=None,
              help="Place it on another PostgreSQL server (by default: the host's).")
@click.option("--mpesa-shortcode", default=None, help="Its paybill or till number.")
@click.option("--account-prefix", default=None,
              help="Its account-number prefix, when it shares a paybill.")
@with_appcontext
def create_command(short, name, admin_phone, admin_name, slug, host, database_url,
                   mpesa_shortcode, account_prefix):
    """Create an association: its database, chart of accounts, dues rates and first chair
    (who logs in with their phone and the one-time password printed, then sets their own)."""
    data = NewAssociation(short=short, name=name, admin_phone=admin_phone,
                          admin_name=admin_name, slug=slug, host=host,
                          database_url=database_url, mpesa_shortcode=mpesa_shortcode,
                          account_prefix=account_prefix)
    try:
        tenant, password = create_association(current_app._get_current_object(), data)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    prefix = current_app.config["ASSOCIATION_PATH_PREFIX"]
    address = f"https://{tenant.host}/" if tenant.host else f"{base}{prefix}/{tenant.slug}/"
    click.echo(f"created {tenant.short} ({tenant.name}) at {address}")
    click.echo(f"first chair: log in with {admin_phone} and the one-time password "
               f"{password}; they choose their own at once")


@hosting_cli.command("list")
@with_appcontext
def list_command():
    """Every association: short name, status, address and where its data lives."""
    from association.hosting.tenancy import tenancy

    for tenant in catalogue.every():
        url, schema = tenancy().location(tenant)
        where = f"{url.split('@')[-1]} schema {schema}" if schema else url
        click.echo(f"{tenant.short:6} {tenant.status.value:9} /a/{tenant.slug}/ "
                   f"{tenant.host or '-'}  {where}")


def register(app) -> None:
    """Add the host's commands, replace ``db upgrade``, and scope every other command."""
    from association.hosting.host_cli import admin_cli

    hosting_cli.add_command(admin_cli)
    app.cli.add_command(hosting_cli)
    db_group = app.cli.commands.get("db")
    if db_group is not None:
        db_group.add_command(upgrade_command)
    scope_commands(app.cli)
