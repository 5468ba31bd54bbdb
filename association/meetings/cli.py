"""``flask meetings ...``: meetings and governance from the command line."""

from pathlib import Path

import click
from flask.cli import AppGroup

from association.audit.services import acting_as
from association.extensions import db

meetings_cli = AppGroup("meetings", help="Meetings, minutes and the registration pack.")


@meetings_cli.command("compliance")
def compliance_command():
    """Print what is in order and what is missing or due; exit 1 when something is missing."""
    from association.meetings import governance

    checks = governance.compliance()
    for check in checks:
        click.echo(f"[{check.state.upper():7}] {check.label}: {check.detail}")
    for notice in governance.pending_notices():
        click.echo(f"Change-of-officials notice of {notice.changed_on.isoformat()} is due by "
                   f"{notice.due_on.isoformat()}.")
    if any(c.state == governance.MISSING for c in checks):
        raise SystemExit(1)


class _CommandLine:
    """The reader of a pack built from the command line: an operator who may see IDs."""

    full_name = "command line"

    def can(self, permission: str) -> bool:
        return True


@meetings_cli.command("pack")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the ZIP.")
@click.option("--lang", type=click.Choice(["en", "sw"]), default="en", show_default=True)
def pack_command(out: Path, lang: str):
    """Write the registration pack (a ZIP) to OUT."""
    from association.meetings.pack import registration_pack

    if out.exists():
        raise click.ClickException(f"{out} exists already; choose another name.")
    with acting_as("cli:meetings pack"):
        content = registration_pack(_CommandLine(), lang)
        db.session.commit()
    out.write_bytes(content)
    click.echo(f"Registration pack written to {out} ({len(content)} bytes).")
