"""The home page: each role lands on what it uses most."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from association.auth.permissions import login_only

bp = Blueprint("core", __name__)


@bp.route("/")
@login_only
def home():
    """Officials start on the register; a member on their own record."""
    if current_user.can("members.view"):
        return redirect(url_for("members.index"))
    if current_user.member_id is not None:
        return redirect(url_for("members.me"))
    return render_template("home.html")
