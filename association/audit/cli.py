"""``flask audit verify`` and ``flask audit checkpoint``."""

from pathlib import Path

import click
from flask.cli import AppGroup

from association.audit.checkpoints import TrailBroken, make_checkpoint, parse_marks
from association.audit.services import acting_as
from association.audit.verification import record, verify_everything
from association.extensions import db

audit_cli = AppGroup("audit", help="Check the audit trail.")


@audit_cli.command("verify")
@click.option("--checkpoint", "checkpoint", metavar="FILE_OR_VALUE",
              help="A checkpoint kept outside the database (AC1-...), or a file holding "
                   "some (a saved MANIFEST.txt, say): the chain must pass through each.")
def verify(checkpoint):
    """Check everything: the SHA-256 chain against every checkpoint, every journal entry
    against its seal, every month total against the postings; exit 1 naming what failed."""
    given = None
    if checkpoint is not None:
        path = Path(checkpoint)
        try:
            text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() \
                else checkpoint
        except OSError as error:
            click.echo(f"cannot read {checkpoint}: {error.strerror}", err=True)
            raise SystemExit(1) from None
        given = parse_marks(text)
        if not given:
            click.echo("no checkpoint found in --checkpoint: expected a value like "
                       "AC1-<seq>-<64 hex>-<64 hex>, or a file holding one", err=True)
            raise SystemExit(1)
    with acting_as("cli:audit-verify"):
        result = verify_everything(given)
        record(result)
        db.session.commit()
    if result.ok:
        click.echo(f"audit trail intact: {result.events} events checked; "
                   f"{result.entries} journal entries match their seals; month totals match; "
                   f"{result.checkpoints} checkpoints hold; head {result.head_hash}")
        return
    for problem in result.problems:
        click.echo(problem, err=True)
    raise SystemExit(1)


@audit_cli.command("checkpoint")
def checkpoint():
    """Sign the chain's head now and print the checkpoint, to keep outside the database."""
    with acting_as("cli:audit-checkpoint"):
        try:
            row = make_checkpoint()
        except TrailBroken as error:
            click.echo(f"not signed: the audit trail failed its check: {error.reason}", err=True)
            raise SystemExit(1) from None
        db.session.commit()
    click.echo(row.value)
