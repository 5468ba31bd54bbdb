"""``flask ledger ...``: the books from the command line."""

import os
from contextlib import contextmanager
from datetime import date

import click
from flask.cli import AppGroup

from association.audit.services import acting_as
from association.core.money import format_kes, to_cents
from association.core.time import parse_month, today_in_nairobi
from association.database import reading
from association.errors import DomainError
from association.extensions import db
from association.ledger import dues, payments
from association.ledger.models import PaymentMethod
from association.members.services import get_member_by_number

ledger_cli = AppGroup("ledger", help="The dues ledger: billing, payments, exports.")


def _fail(error: Exception) -> None:
    """Undo anything half-done and exit 1 with the message."""
    db.session.rollback()
    click.echo(f"Error: {error}", err=True)
    raise SystemExit(1)


@contextmanager
def _written(out: str, mode: str):
    """A file written in full or not at all: ``out.part`` first, renamed when complete."""
    partial = f"{out}.part"
    try:
        with open(partial, mode, **({} if "b" in mode else {"encoding": "utf-8",
                                                           "newline": ""})) as target:
            yield target
        os.replace(partial, out)
    except OSError as error:
        _fail(error)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


@ledger_cli.command("bill")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month to charge.")
def bill(month: str) -> None:
    """Charge every active member the dues for a month; running it again charges nobody twice."""
    with acting_as("cli:ledger-bill"):
        try:
            result = dues.bill_month(parse_month(month))
        except DomainError as error:
            _fail(error)
        db.session.commit()
    click.echo(f"Dues for {result.month:%Y-%m}: {result.charged} members charged, "
               f"{format_kes(result.total_cents)} in all; member credit used "
               f"{format_kes(result.credit_applied_cents)}.")
    click.echo(f"Not charged: {result.already_charged} already charged, {result.not_active} "
               f"not active, {result.joined_later} joined later, {result.no_rate} without a rate, "
               f"{result.waived} waived.")


@ledger_cli.command("pay")
@click.argument("member_no")
@click.argument("amount")
@click.option("--method", required=True, type=click.Choice([m.value for m in PaymentMethod]),
              help="How the money came in.")
@click.option("--reference", default=None, help="The M-Pesa code (required for mpesa) or a "
                                                "bank reference.")
@click.option("--date", "paid_on", default=None, metavar="YYYY-MM-DD",
              help="The day it was paid (default: today in Nairobi).")
def pay(member_no: str, amount: str, method: str, reference: str | None,
        paid_on: str | None) -> None:
    """Record a member's payment, settling their oldest months first; prints the receipt number."""
    with acting_as("cli:ledger-pay"):
        try:
            cents = to_cents(amount)
            day = today_in_nairobi()
            if paid_on is not None:
                try:
                    day = date.fromisoformat(paid_on.strip())
                except ValueError:
                    raise click.BadParameter(
                        f"{paid_on!r} is not a date; write it as YYYY-MM-DD.",
                        param_hint="--date") from None
            member = get_member_by_number(member_no)
            payment = payments.record_payment(member, cents, PaymentMethod(method), day,
                                              received_by_id=None, reference=reference)
        except (DomainError, click.BadParameter) as error:
            _fail(error)
        number = payment.receipt.number
        db.session.commit()
    click.echo(number)


# Reporting commands follow.


@ledger_cli.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "beancount", "hledger"]),
              help="csv: the general ledger; beancount or hledger: a double-entry journal.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The file to write.")
@click.option("--from", "start", default=None, metavar="YYYY-MM-DD",
              help="The first day (default: the beginning of the books; later starts open "
                   "with the balances brought forward).")
@click.option("--to", "end", default=None, metavar="YYYY-MM-DD",
              help="The last day (default: today in Nairobi).")
def export_ledger(fmt: str, out: str, start: str | None, end: str | None) -> None:
    """Write the general ledger as CSV, or as a journal that bean-check and hledger accept."""
    from association.audit.services import log_event
    from association.ledger import exports, reports

    with acting_as("cli:ledger-export"):
        try:
            first = reports.parse_date(start, "--from")
            last = reports.parse_date(end, "--to") or today_in_nairobi()
            if first is not None and first > last:
                raise reports.ReportError("--from is after --to.")
        except DomainError as error:
            _fail(error)
        with reading(), _written(out, "w") as target:  # no write lock while it reads
            for piece in exports.JOURNALS[fmt](first, last):
                target.write(piece)
        db.session.rollback()  # the read ends: its audit takes the write lock for a moment
        log_event("export", "ledger", None, {"format": fmt, "from": str(first or ""),
                                             "to": last.isoformat(), "file": os.path.basename(out)})
        db.session.commit()
    click.echo(f"Wrote {out} ({fmt}, {first or 'the beginning'} to {last}).")


@ledger_cli.command("trial-balance")
@click.option("--format", "fmt", type=click.Choice(["text", "csv"]), default="text",
              help="Plain aligned text (default) or CSV.")
@click.option("--at", "as_of", default=None, metavar="YYYY-MM-DD",
              help="The day to balance at (default: today in Nairobi).")
def print_trial_balance(fmt: str, as_of: str | None) -> None:
    """Print the trial balance with its totals: debits must equal credits."""
    from association.ledger import exports, reports

    try:
        day = reports.parse_date(as_of, "--at") or today_in_nairobi()
    except DomainError as error:
        _fail(error)
    if fmt == "csv":
        click.echo(exports.trial_balance_csv(day).lstrip("\ufeff"), nl=False)
    else:
        click.echo(exports.trial_balance_text(day), nl=False)


@ledger_cli.command("auditor-pack")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The ZIP file to write.")
@click.option("--from", "start", default=None, metavar="YYYY-MM-DD",
              help="The first day (default: the start of the financial year).")
@click.option("--to", "end", default=None, metavar="YYYY-MM-DD",
              help="The last day (default: today in Nairobi).")
def write_auditor_pack(out: str, start: str | None, end: str | None) -> None:
    """Write the auditor's pack (the same ZIP as the auditor's download) to a file.

    For books too large to pack within a web request: run it on the server and hand
    the file over.
    """
    from association.audit.services import log_event
    from association.ledger import reports
    from association.ledger.auditor_pack import auditor_pack

    with acting_as("cli:ledger-auditor-pack"):
        try:
            period = reports.parse_period(start, end)
        except DomainError as error:
            _fail(error)
        with reading(), _written(out, "wb") as target:  # no write lock while it reads
            result = auditor_pack(period, "flask ledger auditor-pack", target)
        db.session.rollback()  # the read ends: its audit takes the write lock for a moment
        log_event("export", "auditor_pack", None, {
            "from": period.start.isoformat(), "to": period.end.isoformat(),
            "files": len(result.files) + 1, "manifest_sha256": result.manifest_sha256,
            "audit_chain_ok": result.chain_ok, "file": os.path.basename(out),
        })
        db.session.commit()
    click.echo(f"Wrote {out}: {len(result.files) + 1} files, {period.start} to {period.end}; "
               f"audit chain {'verified' if result.chain_ok else 'BROKEN'}.")
