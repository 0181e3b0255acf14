"""Delivery to a real SMTP server that demands TLS and a login: STARTTLS on a submission-style port and implicit
TLS, with the server's certificate checked against a private CA (NOTIFY_SMTP_CA_FILE); a wrong password fails
the attempt and the mail waits for its retry."""
from __future__ import annotations

import ssl
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from services.notify import tables as t
from services.notify.service import deliver_once, sweep_once
from tests.integration.test_notify_support import (
    assert_no_personal_data,
    case_opened,
    deliver_event,
    free_port,
    notify_env,
)


def self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Store:
    def __init__(self):
        self.raw = []

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.content)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"varsler" and auth_data.password == b"hemmelig"
    return AuthResult(success=ok, handled=False)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")  # aiosmtpd's own
@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_delivery_with_tls_and_login(platform_factory, tmp_path, mode):
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    store, port = Store(), free_port()
    if mode == "starttls":
        controller = Controller(store, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                                auth_required=True, authenticator=authenticator)
    else:
        # aiosmtpd counts only STARTTLS as TLS
        controller = Controller(store, hostname="127.0.0.1", port=port, ssl_context=context, auth_required=True,
                                authenticator=authenticator, auth_require_tls=False)
    controller.start()
    try:
        env = notify_env(NOTIFY_COUNTY_DIGEST_WEEKDAY="4", NOTIFY_SMTP_HOST="127.0.0.1", NOTIFY_SMTP_PORT=str(port),
                         NOTIFY_SMTP_SECURITY=mode, NOTIFY_SMTP_USERNAME="varsler", NOTIFY_SMTP_PASSWORD="feil",
                         NOTIFY_SMTP_CA_FILE=str(cert_file))
        platform = platform_factory("notify", t.all_tables(), f"sqlite:///{tmp_path}/n.db", env=env)
        deliver_event(platform, case_opened(uuid.uuid4(), date(2026, 9, 1), relation="none"))
        sweep_once(platform)
        refused = deliver_once(platform)
        assert refused.sent == 0 and refused.failed == 1 and "Authentication" in refused.errors[0]
        assert store.raw == []

        env["NOTIFY_SMTP_PASSWORD"] = "hemmelig"
        platform.settings.extra["NOTIFY_SMTP_PASSWORD"] = "hemmelig"
        platform.clock.set(platform.clock.now() + timedelta(minutes=5))
        accepted = deliver_once(platform)
        assert accepted.sent == 2 and len(store.raw) == 2
        with platform.engine.connect() as conn:
            assert {r.status for r in conn.execute(select(t.mails.c.status))} == {"sent"}
        assert_no_personal_data(store)
    finally:
        controller.stop()
