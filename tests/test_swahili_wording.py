"""What the app itself stored in English is read in Swahili on a Swahili page: M-Pesa notes,
consent words, matters arising; and a word that is a state and an action has two messages."""

from datetime import date

import sqlalchemy as sa
from flask import render_template_string
from flask_babel import force_locale

from association.audit.services import acting_as
from association.extensions import db
from association.members.models import ConsentChannel, ConsentPurpose, Member, MemberConsent
from association.members.services import consent_text, consent_wording, record_consent
from association.mpesa import notes
from tests.i18n_scan import english_in


def test_mpesa_notes_are_read_in_plain_swahili(app):
    daraja = ("Daraja could not confirm this receipt (2001: The initiator information is "
              "invalid.).")
    with app.test_request_context(), force_locale("sw_KE"):
        shown = notes.describe(daraja)
        assert shown.startswith("M-Pesa haikuweza kuthibitisha malipo haya (msimbo 2001)")
        assert "initiator" not in shown
        assert notes.describe("Paid to 600000, not to our shortcode.") == \
            "Yamelipwa kwa 600000, si kwa nambari ya paybill au till ya chama."
        assert notes.describe("Daraja says this prompt was not paid (1032).") == \
            "M-Pesa inasema ombi hili la malipo halikulipwa (msimbo 1032)."
        # What a treasurer typed is shown as typed.
        assert notes.describe("Mwenye nyumba alilipa kwa simu ya mke") == \
            "Mwenye nyumba alilipa kwa simu ya mke"
    with app.test_request_context(), force_locale("en_KE"):
        assert notes.describe(daraja).startswith("M-Pesa could not confirm this payment")


def test_consent_given_in_english_is_shown_in_swahili_words(app, people):
    with app.app_context(), acting_as("test"):
        member = db.session.get(Member, people.own_member_id)
        record_consent(member, ConsentPurpose.SMS, ConsentChannel.PAPER, date(2026, 1, 5),
                       "en", None, today=date(2026, 12, 7))
        db.session.commit()
    with app.test_request_context(), force_locale("sw_KE"):
        consent = db.session.scalar(sa.select(MemberConsent).where(
            MemberConsent.purpose == ConsentPurpose.SMS))
        assert consent.wording == consent_wording(ConsentPurpose.SMS, "en")
        assert consent_text(consent) == consent_wording(ConsentPurpose.SMS, "sw")
        assert english_in(consent_text(consent)) == []
        consent.wording = "Nakubali ujumbe wa zamani."  # an older wording: shown as agreed
        assert consent_text(consent) == "Nakubali ujumbe wa zamani."
        db.session.rollback()


def test_the_member_page_shows_consent_in_the_readers_language(app, web, people):
    with app.app_context(), acting_as("test"):
        member = db.session.get(Member, people.own_member_id)
        record_consent(member, ConsentPurpose.SMS, ConsentChannel.PAPER, date(2026, 1, 5),
                       "en", None, today=date(2026, 12, 7))
        db.session.commit()
    web.login("secretary")
    with web.client.session_transaction() as session:
        session["lang"] = "sw"
    page = web.get(f"/members/{people.own_member_id}").get_data(as_text=True)
    with app.test_request_context(), force_locale("sw_KE"):
        swahili = consent_wording(ConsentPurpose.SMS, "sw")
    with app.test_request_context(), force_locale("en_KE"):
        english = consent_wording(ConsentPurpose.SMS, "en")
    assert swahili in page and english not in page


def test_state_and_action_words_have_their_own_swahili(app):
    template = ("{{ pgettext('link', 'Open') }}|{{ pgettext('month state', 'Open') }}|"
                "{{ pgettext('date column', 'Due') }}|{{ pgettext('state', 'Due') }}|"
                "{{ pgettext('number of people', 'Present') }}|"
                "{{ pgettext(\"one person's attendance\", 'Present') }}|{{ _('Print (PDF)') }}|"
                "{{ _('Publish the minutes') }}")
    with app.test_request_context(), force_locale("sw_KE"):
        words = render_template_string(template).split("|")
    assert words == ["Fungua", "Uko wazi", "Tarehe ya mwisho", "Inatakiwa sasa",
                     "Waliohudhuria", "Alihudhuria", "Piga chapa (PDF)", "Chapisha kumbukumbu"]
    assert len(set(words)) == len(words)
