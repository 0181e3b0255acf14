"""Where the employer survey invitation gets the employer's contact details: intake, at send time, by case id.

The contact details never travel on the bus and are never stored in notify's database; they exist only in the
mail to the project's survey address, and only for a case whose employer granted `employer_survey`.

Contract asked of intake (internal API, service token):
    GET {NOTIFY_INTAKE_URL}/api/internal/cases/<case_id>/employer-contact
    Authorization: Bearer <notify's access token from the identity provider (client credentials, its own client,
        scope employer-contact:read); in local demo mode without a provider the local issuer's service token>
        (intake refuses every person role, admin included; the service token opens nothing else anywhere)
    200 {"organisation": str, "contact_name": str, "email": str, "phone": str|null}
    404 unknown case (or another office's), 409 no employer contact recorded for the case
"""
from __future__ import annotations

from dataclasses import dataclass

import requests

from shared.auth import mint_service_token
from shared.oidc import service_tokens_for

EMPLOYER_CONTACT_SCOPE = "employer-contact:read"  # the one scope intake's internal endpoint accepts


class ContactUnavailable(RuntimeError):
    """Intake could not give the contact details now (down, unknown case, none recorded): retry later."""


@dataclass(frozen=True)
class EmployerContact:
    organisation: str
    contact_name: str
    email: str
    phone: str | None = None


class IntakeContacts:
    def __init__(self, base_url: str, settings, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self.timeout = timeout
        self.service_tokens = service_tokens_for(settings, EMPLOYER_CONTACT_SCOPE)

    def _token(self) -> str:
        if self.service_tokens is not None:
            return self.service_tokens.token()
        return mint_service_token(self.settings, "notify", EMPLOYER_CONTACT_SCOPE)

    def employer_contact(self, case_id: str) -> EmployerContact:
        url = f"{self.base_url}/api/internal/cases/{case_id}/employer-contact"
        try:
            response = requests.get(url, headers={"Authorization": "Bearer " + self._token()}, timeout=self.timeout)
            if response.status_code == 401 and self.service_tokens is not None:
                self.service_tokens.forget()  # a kept token signed with a key the provider has since retired
                response = requests.get(url, headers={"Authorization": "Bearer " + self._token()},
                                        timeout=self.timeout)
        except requests.RequestException as error:
            raise ContactUnavailable(f"intake unreachable: {type(error).__name__}") from None
        if response.status_code != 200:
            raise ContactUnavailable(f"intake answered {response.status_code}")
        try:
            data = response.json()
            if not (data.get("organisation") and data.get("contact_name") and data.get("email")):
                raise KeyError("empty")
            return EmployerContact(organisation=str(data["organisation"]), contact_name=str(data["contact_name"]),
                                   email=str(data["email"]), phone=data.get("phone"))
        except (ValueError, KeyError, TypeError):
            raise ContactUnavailable("intake's answer lacks organisation, contact_name or email") from None


class NoIntake:
    """No NOTIFY_INTAKE_URL configured: survey invitations wait (retried, then a visible dead letter)."""

    def employer_contact(self, case_id: str) -> EmployerContact:
        raise ContactUnavailable("NOTIFY_INTAKE_URL is not set")
