"""CSRF on every form: each page every role can open is scanned for <form method="post">; each must carry the
csrf_token field, and posting that form's action with the session cookie but without the token is refused (403)."""
from __future__ import annotations

import re

import pytest

from shared.auth import COOKIE_NAME

from .callers import PEOPLE, token_for
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
