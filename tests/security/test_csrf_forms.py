"""CSRF on every form, three ways:
- each page every role can open with the matrix's fixtures is scanned for <form method="post">; each must carry the
  csrf_token field, and posting that form's action with the session cookie but without the token is refused (403);
- every post form in every template carries the field, including forms only shown with data the fixtures lack
  (a scanned document, a notification, a dead letter, the unsubscribe page);
- every page route that takes a post refuses one without the token (403), signed in by cookie or not.
"""
from __future__ import annotations

import re

import pytest

from shared.auth import COOKIE_NAME
from shared.config import REPO_ROOT
from shared.web import CSRF_COOKIE

from .callers import PEOPLE
from .callers import demo_token_for as token_for
from .policy import POLICY
from .test_access_matrix import apps, fill, owned_ids  # noqa: F401  (module fixture reused)

FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
ATTR = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def post_forms(html):
    for attrs, body in FORM.findall(html):
        a = {k.lower(): v for k, v in ATTR.findall(attrs)}
        if a.get("method", "get").lower() == "post":
            yield a.get("action", ""), body


@pytest.mark.slow
@pytest.mark.parametrize("service", tuple(POLICY))
def test_every_post_form_carries_and_needs_the_csrf_token(apps, service):  # noqa: F811
    app, platform = apps[service]
    seen, wrong = 0, []
    for (method, path), rule in POLICY[service].items():
        if method != "GET" or path.startswith("/api/") or rule.public or "<path:" in path:
            continue
        for caller, (_s, role, *_rest) in PEOPLE.items():
            if role not in rule.roles or caller == "other_office_counsellor":
                continue
            url, _real = fill(path, owned_ids(apps, service) if rule.owned else {})
            client = app.test_client()
            client.set_cookie(COOKIE_NAME, token_for(platform.settings, caller))
            page = client.get(url)
            if page.status_code != 200:
                continue
            html = page.get_data(as_text=True)
            for action, body in post_forms(html):
                seen += 1
                if 'name="csrf_token"' not in body:
                    wrong.append((url, action, "form without csrf_token"))
                target = action or url
                if target.startswith("http"):
                    target = "/" + target.split("/", 3)[-1]
                refused = client.post(target, data={"x": "1"})
                if refused.status_code != 403:
                    wrong.append((url, action, f"post without token answered {refused.status_code}"))
    assert not wrong, wrong
    if service in ("intake", "consent", "notify"):
        assert seen, f"{service}: no post form found on any page; the scan would prove nothing"


TEMPLATE_FOLDERS = sorted(REPO_ROOT.glob("services/*/templates")) + [REPO_ROOT / "shared" / "web" / "templates"]


def test_every_post_form_in_every_template_carries_the_csrf_token():
    templates = [path for folder in TEMPLATE_FOLDERS for path in folder.rglob("*.html")]
    forms, wrong = 0, []
    for path in templates:
        for action, body in post_forms(path.read_text(encoding="utf-8")):
            forms += 1
            if 'name="csrf_token"' not in body or "csrf_token()" not in body:
                wrong.append(f"{path.relative_to(REPO_ROOT)}: form {action or '(same page)'}")
    assert not wrong, wrong
    assert forms >= 20, f"only {forms} post forms found in {len(templates)} templates: the scan is not reading them"


# Posted by the identity provider's server, not a browser: no ambient credential to forge, and the signed logout
# token is checked instead (tests/e2e/test_oidc_signin.py).
SERVER_TO_SERVER_POSTS = {"/logg-ut/backchannel"}


@pytest.mark.parametrize("service", tuple(POLICY))
def test_every_page_post_without_the_csrf_token_is_refused(apps, service):  # noqa: F811
    app, platform = apps[service]
    refused, wrong = 0, []
    for (method, path), rule in POLICY[service].items():
        if method != "POST" or path.startswith("/api/") or path in SERVER_TO_SERVER_POSTS:
            continue
        caller = next((c for c, (_s, role, *_r) in PEOPLE.items() if role in rule.roles), None)
        url, _real = fill(path, {})
        client = app.test_client()
        client.set_cookie(CSRF_COOKIE, "the-csrf-cookie")
        if caller:
            client.set_cookie(COOKIE_NAME, token_for(platform.settings, caller))
        for data in ({"x": "1"}, {"x": "1", "csrf_token": "another-value"}):
            response = client.post(url, data=data)
            refused += response.status_code == 403
            if response.status_code != 403:
                wrong.append((url, caller, sorted(data), response.status_code))
    assert not wrong, wrong
    assert refused, f"{service}: no page post route found"
