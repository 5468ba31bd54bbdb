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
from association.hosting.models import AssociationStatus
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


@hosting_cli.command("grants")
@click.argument("role")
@click.option("--apply", "apply_them", is_flag=True,
              help="Give them now (as the tables' owner) instead of printing them.")
@with_appcontext
def grants_command(role, apply_them):
    """Print (or give) what the app's PostgreSQL role ROLE may do: the catalogue's schema and
    each association's, with no UPDATE or DELETE on the books and the trail."""
    from association.hosting.grants import apply_grants, grants_sql

    app = current_app._get_current_object()
    try:
        lines = grants_sql(app, role)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if not apply_them:
        click.echo("\n".join(lines))
        return
    count = apply_grants(app, role)
    click.echo(f"{count} grant(s) given to {role}" if count else
               "nothing to grant: the host's database is not PostgreSQL")


@hosting_cli.command("set-host")
@click.argument("short")
@click.argument("hosts", nargs=-1)
@with_appcontext
def set_host_command(short, hosts):
    """Serve association SHORT on HOSTS too (host names, space-separated; none: only under
    the path prefix)."""
    from association.hosting.services import set_hosts

    try:
        set_hosts(current_app._get_current_object(), pick(short), " ".join(hosts))
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{short.upper()}: {' '.join(hosts) or 'no host name of its own'}")


def register(app) -> None:
    """Add the host's commands, replace ``db upgrade``, and scope every other command."""
    from association.hosting.mpesa_cli import mpesa_set_command
    hosting_cli.add_command(mpesa_set_command)
    from association.hosting.host_cli import admin_cli

    hosting_cli.add_command(admin_cli)
    app.cli.add_command(hosting_cli)
    db_group = app.cli.commands.get("db")
    if db_group is not None:
        db_group.add_command(upgrade_command)
    scope_commands(app.cli)


# --- Onboarding and leaving (association.hosting.portability) ---------------------------


def _hosting_error(error: DomainError) -> click.ClickException:
    return click.ClickException(str(error))


@hosting_cli.command("export")
@click.argument("short")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The .tar.gz file to write.")
@with_appcontext
def export_command(short, out):
    """Write everything SHORT owns (its rows, its uploads, a manifest with checksums) to one
    .tar.gz, and record the export in the catalogue."""
    from association.hosting.portability import export_association

    try:
        result = export_association(current_app._get_current_object(), short, out)
    except DomainError as error:
        raise _hosting_error(error) from None
    click.echo(f"exported {short.upper()} to {result.path}: {result.rows} rows, "
               f"{result.files} files, {result.size} bytes")
    click.echo(f"sha256 {result.sha256} (give it to `hosting import --sha256`)")


@hosting_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--short", default=None, help="Another short name for it here.")
@click.option("--slug", default=None, help="Another address part (/a/SLUG/) for it here.")
@click.option("--sha256", "sha256", default=None,
              help="The SHA-256 `hosting export` printed: the file must have it.")
@with_appcontext
def import_command(file, short, slug, sha256):
    """Restore an association from an export: refused whole when anything in it differs
    from its manifest; checked (row counts, audit trail) before it is kept."""
    from association.hosting.portability import import_association

    try:
        tenant = import_association(current_app._get_current_object(), file, short, slug,
                                    sha256)
    except DomainError as error:
        raise _hosting_error(error) from None
    click.echo(f"imported {tenant.short} ({tenant.name}) at /a/{tenant.slug}/: row counts "
               "and audit trail verified; set its M-Pesa details again on this host")


def _status_command(name: str, status, done: str, help_text: str) -> None:
    @hosting_cli.command(name, help=help_text)
    @click.argument("short")
    @with_appcontext
    def command(short):
        from association.hosting.portability import set_status

        try:
            tenant = set_status(current_app._get_current_object(), short, status)
        except DomainError as error:
            raise _hosting_error(error) from None
        click.echo(f"{tenant.short} {done}")


_status_command("suspend", AssociationStatus.SUSPENDED, "suspended: its pages say so; its "
                "receipt check still answers",
                "Suspend SHORT: its pages say it is suspended (its receipt check answers).")
_status_command("archive", AssociationStatus.ARCHIVED, "archived: no pages, the worker and "
                "db upgrade skip it", "Archive SHORT: no pages; the worker and db upgrade "
                "skip it; kept until deleted (hosting activate brings it back).")
_status_command("activate", AssociationStatus.ACTIVE, "active",
                "Make SHORT active again (after suspend or archive).")


@hosting_cli.command("delete")
@click.argument("short")
@click.option("--confirm", default=None, metavar="SHORT",
              help="The short name typed again (asked for when not given).")
@with_appcontext
def delete_command(short, confirm):
    """Delete SHORT whole (database, uploads, catalogue row): only once it is archived and
    exported after that, and with its short name typed again."""
    from association.hosting.portability import delete_association

    if confirm is None:
        confirm = click.prompt(f"Type {short.upper()} to delete it for good", default="",
                               show_default=False)
    try:
        delete_association(current_app._get_current_object(), short, confirm)
    except DomainError as error:
        raise _hosting_error(error) from None
    click.echo(f"{short.upper()} deleted (its database, uploads and catalogue row)")


@hosting_cli.command("move")
@click.argument("short")
@click.option("--to", "to_url", required=True, metavar="URL",
              help="The database to move it to (postgresql+psycopg://... or sqlite:///...).")
@click.option("--keep-old", is_flag=True, help="Keep the old copy after the move.")
@with_appcontext
def move_command(short, to_url, keep_old):
    """Move SHORT's data to another database: copy, verify row counts and the audit trail,
    switch the catalogue, drop the old copy (suspended meanwhile)."""
    from association.hosting.portability import move_association

    try:
        move_association(current_app._get_current_object(), short, to_url, keep_old,
                         report=click.echo)
    except DomainError as error:
        raise _hosting_error(error) from None
