"""``flask mpesa ...``: M-Pesa from the command line."""

import time

import click
from flask import current_app
from flask.cli import AppGroup

from association.audit.services import acting_as
from association.core.money import AmountError, format_kes, to_cents
from association.errors import DomainError
from association.extensions import db
from association.members.services import MemberNotFoundError, get_member_by_number

mpesa_cli = AppGroup("mpesa", help="M-Pesa: STK push, reconciliation, paybill registration.")


@mpesa_cli.command("stk-push")
@click.argument("member_no")
@click.argument("amount")
@click.option("--phone", help="The phone that gets the prompt (default: the member's).")
@click.option("--wait/--no-wait", default=False,
              help="Wait up to two minutes for the answer and print it.")
def stk_push(member_no, amount, phone, wait):
    """Send an M-Pesa payment prompt for MEMBER_NO of AMOUNT shillings."""
    from association.mpesa import stk
    from association.mpesa.models import StkRequest, StkStatus

    with acting_as("cli:mpesa stk-push"):
        try:
            member = get_member_by_number(member_no)
            cents = to_cents(amount)
            phone = phone or member.phone
            if not phone:
                raise click.ClickException(f"{member.member_no} has no phone: give --phone.")
            request = stk.create_request(member, cents, phone, None)
        except (MemberNotFoundError, AmountError, DomainError) as error:
            db.session.rollback()
            raise click.ClickException(str(error)) from None
        db.session.commit()
        try:
            stk.send_request(request)
        except stk.StkError as error:
            db.session.commit()
            raise click.ClickException(str(error)) from None
        db.session.commit()
        click.echo(f"Prompt sent to {request.phone} for {format_kes(request.amount_cents)} "
                   f"({member.member_no}); CheckoutRequestID {request.checkout_request_id}.")
        request_id = request.id
        db.session.close()  # hold no transaction (SQLite's write lock) while waiting
        if not wait:
            return
        for _ in range(60):
            time.sleep(2)
            request = db.session.get(StkRequest, request_id)
            stk.refresh_request(request)
            db.session.commit()
            request = db.session.get(StkRequest, request_id)
            message = None
            if request.status == StkStatus.PAID:
                tx = request.transaction
                receipt = tx.payment.receipt if tx is not None and tx.payment else None
                message = f"Paid: M-Pesa {tx.receipt_code}" + (
                    f", receipt {receipt.number}." if receipt else ".")
            elif request.status in (StkStatus.FAILED, StkStatus.ERROR):
                failure = stk.failure_message(request)
            db.session.close()
            if message:
                click.echo(message)
                return
            if request.status in (StkStatus.FAILED, StkStatus.ERROR):
                raise click.ClickException(failure)
        raise click.ClickException("No answer yet; `flask mpesa reconcile` will follow it up.")


@mpesa_cli.command("reconcile")
def reconcile():
    """Process stored callbacks, query prompts pending over 2 minutes, verify unconfirmed money.

    Safe to run any number of times (cron: every 5 minutes). Prints each change.
    """
    from association.mpesa.reconcile import reconcile as run

    report = run()
    for line in report.lines:
        click.echo(line)
    click.echo(f"{report.changed} changed, {report.errors} still failing.")
    if report.errors:
        raise SystemExit(1)


@mpesa_cli.command("register-urls")
def register_urls():
    """Register the paybill validation and confirmation addresses with Daraja."""
    from association.core.time import utcnow
    from association.mpesa import inbox, processing
    from association.mpesa.provider import ProviderError, get_provider

    with acting_as("cli:mpesa register-urls"):
        try:
            confirmation_url, validation_url = inbox.c2b_urls()
            answer = get_provider().register_c2b_urls(confirmation_url=confirmation_url,
                                                      validation_url=validation_url)
        except ProviderError as error:
            raise click.ClickException(str(error)) from None
        current = processing.settings()
        current.c2b_registered_at = utcnow()
        current.c2b_register_result = str(answer.get("ResponseDescription") or "")[:300]
        db.session.commit()
    click.echo(f"Registered {confirmation_url.rsplit('/', 1)[0]}/…: "
               f"{answer.get('ResponseDescription')}")


@mpesa_cli.command("simulate-c2b")
@click.argument("account")
@click.argument("amount", type=click.IntRange(1, 250_000))
@click.option("--phone", default="254708374149", show_default=True,
              help="The payer, 2547XXXXXXXX.")
def simulate_c2b(account, amount, phone):
    """Sandbox only: pay AMOUNT shillings to the paybill with ACCOUNT typed as the account."""
    from association.mpesa.provider import ProviderError, get_provider

    if current_app.config.get("MPESA_ENV") == "production":
        raise click.ClickException("C2B simulate exists only in the sandbox.")
    provider = get_provider()
    try:
        answer = provider.simulate_c2b(account=account, amount=amount, phone=phone)
    except ProviderError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Daraja: {answer.get('ResponseDescription')}")
