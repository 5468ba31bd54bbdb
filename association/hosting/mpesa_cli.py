"""``flask --app wsgi hosting mpesa-set SHORT``: an association's own paybill and Daraja
credentials, kept in the catalogue (the credentials encrypted, never printed)."""

import re
import secrets
from dataclasses import dataclass

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import lazy_gettext as _l

from association.errors import DomainError
from association.hosting import catalogue
from association.hosting.models import HostedAssociation
from association.hosting.secrets import seal, token_hash, unseal
from association.hosting.services import HostingError, _shortcode_clash, catalogue_session

SHORTCODE_RE = re.compile(r"^\d{5,7}$")
PREFIX_RE = re.compile(r"^[A-Z0-9]{1,10}$")


@dataclass
class MpesaCredentials:
    shortcode: str
    consumer_key: str
    consumer_secret: str
    passkey: str
    account_prefix: str | None = None
    shortcode_type: str = "paybill"
    till_number: str | None = None
    initiator_name: str | None = None
    security_credential: str | None = None


def set_mpesa(app: Flask, short: str, data: MpesaCredentials, *,
              new_token: bool = False) -> str:
    """Keep ``data`` as the association ``short``'s M-Pesa settings; returns its callback
    token (kept as it was unless ``new_token`` or it had none).

    Raises:
        HostingError: an unknown association, a bad value, or a paybill already used by
            another association without distinct account prefixes. Nothing is changed.
    """
    shortcode = (data.shortcode or "").strip()
    prefix = (data.account_prefix or "").strip().upper() or None
    if not SHORTCODE_RE.fullmatch(shortcode):
        raise HostingError(_l("An M-Pesa paybill or till number is 5 to 7 digits."))
    if prefix is not None and not PREFIX_RE.fullmatch(prefix):
        raise HostingError(_l("An account prefix is 1 to 10 letters or digits."))
    if data.shortcode_type not in ("paybill", "till"):
        raise HostingError(_l("The shortcode type must be paybill or till."))
    if data.shortcode_type == "till" and not (data.till_number or "").strip():
        raise HostingError(_l("A till also needs its till number."))
    required = (data.consumer_key, data.consumer_secret, data.passkey)
    if not all((value or "").strip() for value in required):
        raise HostingError(_l("The consumer key, consumer secret and passkey are needed."))
    with app.app_context(), catalogue_session(app) as session:
        row = session.scalar(sa.select(HostedAssociation).where(
            sa.func.upper(HostedAssociation.short) == (short or "").strip().upper()))
        if row is None:
            raise HostingError(_l("No association is called %(short)s.", short=short))
        _shortcode_clash(session, shortcode, prefix, but=row.id)
        old = unseal(row.mpesa_credentials) if row.mpesa_credentials else {}
        token = old.get("callback_token")
        if new_token or not token:
            token = secrets.token_urlsafe(32)
        values = {"consumer_key": data.consumer_key.strip(),
                  "consumer_secret": data.consumer_secret.strip(),
                  "passkey": data.passkey.strip(), "shortcode_type": data.shortcode_type,
                  "till_number": (data.till_number or "").strip() or None,
                  "initiator_name": (data.initiator_name or "").strip() or None,
                  "security_credential": (data.security_credential or "").strip() or None,
                  "callback_token": token}
        row.mpesa_shortcode, row.account_prefix = shortcode, prefix
        row.mpesa_credentials = seal(values)
        row.callback_token_hash = token_hash(token)
        session.commit()
    catalogue.forget(app)
    return token


@click.command("mpesa-set")
@click.argument("short")
@click.option("--shortcode", required=True, help="Its paybill (or store) number.")
@click.option("--account-prefix", default=None,
              help="Its account-number prefix (MLK), needed when it shares the paybill.")
@click.option("--consumer-key", required=True, help="Its Daraja app's consumer key.")
@click.option("--consumer-secret", prompt=True, hide_input=True,
              help="Asked for when not given (never put secrets on the command line).")
@click.option("--passkey", prompt="Lipa na M-Pesa passkey", hide_input=True,
              help="Asked for when not given.")
@click.option("--shortcode-type", type=click.Choice(["paybill", "till"]), default="paybill",
              show_default=True)
@click.option("--till-number", default=None, help="A till's number (with --shortcode-type till).")
@click.option("--initiator-name", default=None,
              help="For Transaction Status queries; its security credential is asked for.")
@click.option("--new-callback-token", is_flag=True,
              help="Make a new callback token (register the addresses again afterwards).")
@with_appcontext
def mpesa_set_command(short, shortcode, account_prefix, consumer_key, consumer_secret,
                      passkey, shortcode_type, till_number, initiator_name,
                      new_callback_token):
    """Set association SHORT's own paybill and Daraja credentials (encrypted in the
    catalogue with HOSTING_SECRETS_KEY)."""
    security_credential = None
    if initiator_name:
        security_credential = click.prompt("Security credential", hide_input=True)
    data = MpesaCredentials(shortcode=shortcode, consumer_key=consumer_key,
                            consumer_secret=consumer_secret, passkey=passkey,
                            account_prefix=account_prefix, shortcode_type=shortcode_type,
                            till_number=till_number, initiator_name=initiator_name,
                            security_credential=security_credential)
    try:
        set_mpesa(current_app._get_current_object(), short, data,
                  new_token=new_callback_token)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    tenant = catalogue.by_short(short)
    click.echo(f"{tenant.short}: M-Pesa {shortcode_type} {shortcode}"
               + (f", account prefix {tenant.account_prefix}" if tenant.account_prefix else "")
               + " saved (credentials encrypted). Register its addresses with: flask --app "
               f"wsgi mpesa register-urls --association {tenant.short}")
