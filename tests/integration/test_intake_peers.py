"""Intake's calls to consent over HTTP (services/intake/peers.py) against a real local HTTP server: the connection
is kept alive from one case page to the next (issue #19), and nothing of one caller goes along with the next."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.intake.peers import Peers, PeerUnavailable


class _Consent(BaseHTTPRequestHandler):
    """Consent's case answer; it sets a cookie on every answer, as a careless server might."""

    protocol_version = "HTTP/1.1"  # keeps the connection open for the next request
    seen: list = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.seen.append({"client": self.client_address, "authorization": self.headers.get("Authorization"),
                          "cookie": self.headers.get("Cookie")})
        body = json.dumps({"purposes": [{"purpose": "research_registration", "state": "granted", "granted": True,
                                         "missing_roles": []}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "hybrid_session=from-the-first-caller; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        """Silent: http.server writes every request to stderr otherwise."""


@pytest.fixture
def consent_server():
    _Consent.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Consent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_one_kept_alive_connection_and_each_call_only_with_its_own_callers_token(consent_server):
    peers = Peers({"consent": consent_server})
    for token in ("token-of-kari", "token-of-ola", "token-of-kari"):
        assert peers.case_consents(token, "0b0c8e5e-1f7a-4c55-9d1e-2f3a4b5c6d7e")[0]["state"] == "granted"
    seen = _Consent.seen
    assert [s["authorization"] for s in seen] == ["Bearer token-of-kari", "Bearer token-of-ola", "Bearer token-of-kari"]
    assert all(s["cookie"] is None for s in seen), "a cookie of one answer went along with a later call"
    assert len({s["client"] for s in seen}) == 1, "a new connection for each call"


def test_a_peer_that_is_gone_is_unavailable_and_the_next_call_connects_again(consent_server):
    peers = Peers({"consent": consent_server})
    peers.case_consents("token", "0b0c8e5e-1f7a-4c55-9d1e-2f3a4b5c6d7e")
    peers.urls["consent"] = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(PeerUnavailable):
        peers.case_consents("token", "0b0c8e5e-1f7a-4c55-9d1e-2f3a4b5c6d7e")
    peers.urls["consent"] = consent_server
    assert peers.case_consents("token", "0b0c8e5e-1f7a-4c55-9d1e-2f3a4b5c6d7e")[0]["granted"] is True
