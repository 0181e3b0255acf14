"""Large and hostile bodies through the real nginx in front of gunicorn (issue #14): the proxy and the services
agree on one limit (shared.limits), every refusal is a Norwegian answer in the platform's format, and a service that
refuses a body before reading it never leaves the proxy with a reset connection (which it answers 502)."""
from __future__ import annotations

import pytest

from shared import limits
from shared.web import CSRF_COOKIE


def _api_session(stack):
    session = stack.sign_in("kari-veileder")
    session.headers["X-CSRF-Token"] = session.cookies.get(CSRF_COOKIE)
    return session


def _upload(document: bytes) -> dict:
    return {"files": {"document": ("samtykke.pdf", document, "application/pdf")},
            "data": {"case_id": "00000000-0000-4000-8000-000000000000", "signer_role": "candidate"}}


def test_a_document_over_the_limit_gets_the_proxys_norwegian_413_not_502(stack):
    document = b"%PDF-1.7\n" + b"x" * limits.BODY_MAX_BYTES
    response = _api_session(stack).post(stack.url("/consent/api/v1/consents"), timeout=60, **_upload(document))
    assert response.status_code == 413, (response.status_code, response.text[:300])
    assert response.json()["code"] == 413 and "Forespørselen er for stor" in response.json()["message"]


def test_a_document_just_under_the_proxys_limit_is_answered_by_the_service_in_norwegian(stack):
    document = b"%PDF-1.7\n" + b"x" * (limits.UPLOAD_MAX_BYTES + limits.MIB // 2)
    response = _api_session(stack).post(stack.url("/consent/api/v1/consents"), timeout=60, **_upload(document))
    assert response.status_code in (413, 422), (response.status_code, response.text[:300])
    assert response.json()["code"] in (413, 422) and response.json()["errors"]  # the service's own answer


@pytest.mark.parametrize("attempt", range(3))
def test_a_body_the_service_refuses_unread_reaches_the_client_as_its_answer(stack, attempt):
    big_json = b'{"reason": "' + b"x" * (2 * limits.DATA_MAX_BYTES) + b'"}'
    refused = _api_session(stack).post(stack.url("/consent/api/v1/withdrawals"), data=big_json, timeout=60,
                                       headers={"Content-Type": "application/json"})
    assert refused.status_code == 413, (refused.status_code, refused.text[:300])
    assert refused.json()["errors"]["json"] == [
        f"Største tillatte størrelse er {limits.human_size(limits.DATA_MAX_BYTES)}."]
    anonymous = stack.url("/consent/api/v1/consents")
    unauthenticated = _api_session(stack).__class__().post(anonymous, timeout=60,
                                                           **_upload(b"%PDF-1.7\n" + b"x" * 5 * limits.MIB))
    assert unauthenticated.status_code == 401, (unauthenticated.status_code, unauthenticated.text[:300])


def test_hostile_json_through_the_proxy_is_a_400_on_every_service(stack):
    session = _api_session(stack)
    deep = "[" * 1000 + "]" * 1000
    for path, body in (("/intake/api/v1/cases", deep),
                       ("/intake/api/v1/cases/search", '{"national_id": ' + deep + "}"),
                       ("/consent/api/v1/withdrawals", '{"case_id": ' + deep + "}")):
        response = session.post(stack.url(path), data=body, headers={"Content-Type": "application/json"}, timeout=10)
        assert response.status_code == 400, (path, response.status_code, response.text[:300])
    response = session.put(stack.url("/notify/api/v1/preferences"), data='{"unsubscribed": ' + deep + "}",
                           headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400, response.text[:300]
