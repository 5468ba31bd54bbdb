"""The home pages and the compact header on a phone (issue 21 item 3), in a real browser.

At 360x740 the header may take at most 15% of the screen (111 px) on every page, for an
official and a member, in English and in Kiswahili; its menu folds into ``<details>``, opens
with a tap (with or without JavaScript) and its links lead where they say. A visitor gets
the public home, not the login page.
"""

from urllib.parse import urlsplit

import pytest
from conftest import OUTPUT, VIEWPORTS, Visit

#: 15% of a 740-pixel-high screen.
MAX_HEADER = 111
PHONE = VIEWPORTS["phone"]


def _header_height(visit: Visit) -> float:
    box = visit.page.locator("header.top").bounding_box()
    assert box is not None
    return box["height"]


#: The pages of this file's part: no wider than the phone (the every-page sweep checks the
#: others).
OWN_PAGES = {"/", "/verify"}


def _fits(visit: Visit, path: str) -> None:
    visit.open(path)
    height = _header_height(visit)
    assert height <= MAX_HEADER, (visit.language, path, height)
    if path in OWN_PAGES:
        width = visit.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (visit.language, path, width)
    # Folded: the menu's links are not on the screen until it is opened.
    assert not visit.page.locator("header nav").is_visible()


def _open_menu_and_follow(visit: Visit, href: str) -> None:
    visit.page.locator("details.menu > summary").click()
    link = visit.page.locator(f"header nav a[href='{urlsplit(visit.base).path}{href}']")
    assert link.is_visible()
    visit.shot("menu-open")
    visit.follow(link)
    assert visit.page.url.split("?")[0].endswith(href), visit.page.url
    assert _header_height(visit) <= MAX_HEADER


def _person(browser, server, who: str, language: str, *, javascript: bool = True) -> Visit:
    context = browser.new_context(viewport=PHONE, java_script_enabled=javascript,
                                  locale="sw-KE" if language == "sw" else "en-KE")
    shots = OUTPUT / "test_home" / f"{who}-phone-{language}{'' if javascript else '-nojs'}"
    shots.mkdir(parents=True, exist_ok=True)
    return Visit(context.new_page(), server, language, "phone", shots)


@pytest.mark.parametrize("language", ["en", "sw"])
def test_the_header_fits_a_phone_and_its_menu_folds(browser, server, language):
    # A visitor: the public home, with the language switch and a way to log in.
    visitor = _person(browser, server, "visitor", language)
    visitor.open("/")
    visitor.choose_language()
    assert "/login" not in visitor.page.url
    assert visitor.page.locator("main form[action$='/verify'] input[name=number]").count() == 1
    assert visitor.page.locator("main a[href$='/transparency']").count() == 1
    visitor.shot("public-home")
    for path in ("/", "/transparency", "/login", "/verify"):
        _fits(visitor, path)
    visitor.page.context.close()

    # An official: the treasurer's home, and the books.
    official = _person(browser, server, "official", language)
    official.login("treasurer")
    official.open("/")
    assert official.page.locator("main section.home-treasurer").count() == 1
    assert official.page.locator("main section.home-treasurer a[href$='/reports/arrears']") \
        .count() == 1
    official.shot("treasurer-home")
    for path in ("/", "/ledger", "/reports/arrears", "/mpesa", "/members"):
        _fits(official, path)
    _open_menu_and_follow(official, "/reports")
    official.page.context.close()

    # A member: their own standing and the big pay button.
    member = _person(browser, server, "member", language)
    member.login("member")
    member.open("/")
    assert member.page.locator("main section.home-member dl.standing").count() == 1
    pay = member.page.locator("main a.pay-now[href$='/mpesa/pay']")
    assert pay.is_visible()
    member.shot("member-home")
    for path in ("/", "/mpesa/pay", "/patrols/me", "/minutes"):
        _fits(member, path)
    _open_menu_and_follow(member, "/minutes")
    member.open("/")
    member.follow(pay)
    assert member.page.url.endswith("/mpesa/pay")
    member.page.context.close()


def test_the_menu_opens_without_javascript(browser, server):
    member = _person(browser, server, "member", "en", javascript=False)
    member.login("member")
    _fits(member, "/")
    visit_menu = member.page.locator("details.menu > summary")
    visit_menu.click()
    member.shot("menu-open-nojs")
    my_record = f"header nav a[href='{urlsplit(member.base).path}/me']"
    member.follow(member.page.locator(my_record))
    assert "/members/" in member.page.url
    assert _header_height(member) <= MAX_HEADER
    member.page.context.close()
