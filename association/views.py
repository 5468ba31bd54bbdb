"""The home page (a section per role the user holds; a public home for visitors) and the
public home's receipt check box. What each section shows is gathered in
association/home/services.py."""

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from association.auth.permissions import login_only, public
from association.home import services
from association.home.forms import CheckReceiptForm

bp = Blueprint("core", __name__)


@bp.route("/")
@login_only
def home():
    """A visitor: the association, its public figures, a receipt check; a user: their work."""
    if not current_user.is_authenticated:
        return render_template("home/public.html", summary=services.public_home(),
                               form=CheckReceiptForm(formdata=None))
    return render_template("home/index.html", sections=services.sections_for(current_user))


#: Visitors get the public home instead of the login page (see ``enforce_access``).
home.visitors_welcome = True
#: On the host's own address "/" is the host's page (association.hosting.views.host_home).
home.host_site = True


@bp.route("/verify")
@public
def check_receipt():
    """The receipt check box: on to the receipt's check page, as its QR code leads."""
    form = CheckReceiptForm(request.args)
    if not request.args:
        return render_template("home/check_receipt.html", form=form)
    if not form.validate():
        return render_template("home/check_receipt.html", form=form), 400
    return redirect(url_for("receipts.verify", number=form.number.data, c=form.c.data))
