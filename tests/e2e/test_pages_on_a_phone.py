"""Every role, signed in through the one sign-in page on a phone-sized Chromium, against the whole system: it lands
on its own home page (not a 403), every page of its menu opens, no page is wider than the phone (a long
Norwegian compound in a heading, a row of buttons or a wide table once made the admin's and the consent pages
scroll sideways), and every button is big enough for a finger."""
from __future__ import annotations

import pytest

from tests.fixtures.system import sign_in

PHONE = {"width": 390, "height": 844}
HOMES = {  # the first page of each role's menu (shared.web._NAV_BY_ROLE)
    "kari-veileder": "/intake/",
    "lise-kontakt": "/intake/",
    "tone-fylke": "/notify/fylke",
    "rune-forsker": "/registry/",
    "admin": "/intake/admin",
}


@pytest.mark.parametrize("user", sorted(HOMES))
def test_each_role_lands_home_and_every_menu_page_fits_a_phone(stack, page, user):
    page.set_viewport_size(PHONE)
    failed = []
    page.on("response", lambda answer: failed.append((answer.status, answer.url)) if answer.status >= 400 else None)

    sign_in(page, stack.base_url, user)

    landed = page.url.removeprefix(stack.base_url)
    assert landed in ("/", HOMES[user]) and "403" not in page.locator("h1").inner_text(), (landed, page.title())
    if landed == "/":  # the proxy's front page is intake's case list: only for the office's own roles
        assert HOMES[user] == "/intake/"
    menu = [link.get_attribute("href") for link in page.locator("header nav a").all()]
    assert menu and menu[0].removeprefix(stack.base_url) == HOMES[user]
    for href in menu:
        page.goto(href)
        assert page.locator("h1").count() == 1, href
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{href} is {width} px wide on a {PHONE['width']} px phone"
        # Buttons are touch targets of at least 44 px (links styled as links, like "Marker som lest", aside).
        small = page.evaluate("""() => Array.from(document.querySelectorAll('main button:not(.btn-link)'))
            .filter(b => b.offsetParent !== null && b.getBoundingClientRect().height < 44)
            .map(b => b.textContent.trim())""")
        assert small == [], f"{href}: buttons smaller than a finger: {small}"
    assert failed == []
