"""``flask patrols ...``: patrols from the command line."""

import click
from flask.cli import AppGroup

from association.audit.services import acting_as
from association.core.time import parse_month
from association.errors import DomainError
from association.extensions import db
from association.members.services import list_zones
from association.patrols.roster import export_csv, generate_roster, shortage_text

patrols_cli = AppGroup("patrols", help="Night patrols: rosters and their exports.")


def _fail(error: Exception) -> None:
    """Undo anything half-done and exit 1 with the message."""
    db.session.rollback()
    click.echo(f"Error: {error}", err=True)
    raise SystemExit(1)


@patrols_cli.command("roster")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month to roster.")
@click.option("--replace-manual", is_flag=True,
              help="Also replace assignments made by hand or by swaps (kept by default).")
def roster(month: str, replace_manual: bool) -> None:
    """Generate (or regenerate) a month's roster; prints the shifts that are short and why."""
    with acting_as("cli:patrols-roster"):
        try:
            result = generate_roster(parse_month(month), None,
                                              keep_manual=not replace_manual)
        except DomainError as error:
            _fail(error)
        db.session.commit()
    click.echo(f"Roster {result.roster.month:%Y-%m}: {result.added} places filled, "
               f"{result.kept} kept, {result.removed} replaced; "
               f"{len(result.shortages)} shifts short.")
    zones = {z.id: z.name for z in list_zones()}
    for shortage in result.shortages:
        click.echo("SHORT " + shortage_text(shortage, zones))


@patrols_cli.command("export")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month to export.")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True,
              help="The output format.")
def export(month: str, fmt: str) -> None:
    """Print date, shift start, shift end, zone and patroller member number per assignment."""
    try:
        day = parse_month(month)
    except DomainError as error:
        _fail(error)
    click.echo(export_csv(day, ["date", "shift_start", "shift_end", "zone",
                                         "member_no"]), nl=False)
