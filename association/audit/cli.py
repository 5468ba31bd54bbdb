"""``flask audit verify``."""

import click
from flask.cli import AppGroup

from association.audit.services import verify_chain

audit_cli = AppGroup("audit", help="Check the audit trail.")


@audit_cli.command("verify")
def verify():
    """Recompute the SHA-256 chain; exit 1 naming the first bad event if any row was altered."""
    result = verify_chain()
    if result.ok:
        click.echo(f"audit trail intact: {result.checked} events checked; head {result.head_hash}")
        return
    click.echo(
        f"audit trail BROKEN at event {result.bad_seq}: {result.reason} "
        f"({result.checked} events checked before it)",
        err=True,
    )
    raise SystemExit(1)
