"""The auditor's page: the chain's verification and the latest events."""

import json

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from association.audit.models import AuditEvent
from association.audit.verification import (
    last_verification,
    record,
    verify_everything,
    verify_since_last_checkpoint,
)
from association.auth.permissions import permission_required
from association.extensions import db
from association.forms import BaseForm
from association.members.services import mask_national_id

bp = Blueprint("audit", __name__)

#: Fields shown masked to users who may not see them.
SENSITIVE_FIELDS = {"national_id": "members.national_id"}


def _values(text: str | None) -> dict:
    if not text:
        return {}
    values = json.loads(text)
    if not isinstance(values, dict):
        return {"value": values}
    for name, permission in SENSITIVE_FIELDS.items():
        if values.get(name) and not current_user.can(permission):
            values[name] = mask_national_id(str(values[name]))
    return values


@bp.route("/audit")
@permission_required("audit.view")
def index():
    """Whether the chain is whole since the last checkpoint, the last full verification,
    and the events, newest first."""
    quick = verify_since_last_checkpoint()
    result = quick.chain
    object_type = request.args.get("type", "")[:60]
    stmt = sa.select(AuditEvent).order_by(AuditEvent.seq.desc())
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    page = db.paginate(stmt, per_page=50, max_per_page=100, error_out=False)
    types = db.session.scalars(
        sa.select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)
    ).all()
    events = [(e, _values(e.before), _values(e.after)) for e in page.items]
    return render_template(
        "audit/index.html", result=result, quick=quick, last=last_verification(),
        verify_form=BaseForm(), page=page, events=events, types=types, object_type=object_type,
    )


@bp.route("/audit/verify", methods=["POST"])
@permission_required("audit.view")
def verify_all():
    """Verify everything (chain, checkpoints, entries, month totals) and keep the result."""
    if not BaseForm().validate_on_submit():
        flash(_("Your form expired. Please try again."), "error")
        return redirect(url_for("audit.index"))
    result = verify_everything()
    record(result)
    if result.ok:
        flash(_("Everything verified: %(events)d events, %(entries)d journal entries and "
                "every month total match.", events=result.events, entries=result.entries),
              "success")
    else:
        flash(_("Verification FAILED: %(problem)s", problem=result.problems[0]), "error")
    return redirect(url_for("audit.index"))
