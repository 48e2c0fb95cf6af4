"""Signed client-page links: round trip, and every way a link must be refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from bridge.messaging.links import (
    ClientLink,
    LinkError,
    LinkExpired,
    client_link,
    client_page_url,
    sign_client_link,
    verify,
)

SECRET = "a-secret-of-at-least-16-bytes"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


def token(**overrides) -> str:
    args = {"tenant": "salon", "client_id": "c-42", "purpose": "page", "expires_at": LATER, **overrides}
    return sign_client_link(SECRET, **args)


def test_round_trip():
    assert verify(SECRET, token(), tenant="salon", purpose="page", now=NOW) == ClientLink(
        "salon", "c-42", "page", LATER
    )


def test_tokens_are_url_safe_and_short_enough_for_sms():
    t = token(client_id="123456789")
    assert len(t) < 90
    assert all(c.isalnum() or c in "-_." for c in t)


def test_non_ascii_ids_round_trip():
    assert verify(SECRET, token(client_id="Олена-1"), now=NOW).client_id == "Олена-1"


def test_expired_link_is_refused():
    with pytest.raises(LinkExpired):
        verify(SECRET, token(), now=LATER)
    with pytest.raises(LinkExpired):
        verify(SECRET, token(expires_at=NOW - timedelta(seconds=1)), now=NOW)


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


@pytest.mark.parametrize("where", ["payload", "signature"])
def test_tampered_link_is_refused(where):
    t = token()
    payload, signature = t.split(".")
    tampered = f"{_flip(payload, 3)}.{signature}" if where == "payload" else f"{payload}.{_flip(signature, 5)}"
    with pytest.raises(LinkError, match="bad signature"):
        verify(SECRET, tampered, now=NOW)


def test_a_forged_payload_for_another_client_is_refused():
    payload, signature = token().split(".")
    forged = base64.urlsafe_b64encode(b'["salon","c-43","page",1893456000]').rstrip(b"=").decode()
    with pytest.raises(LinkError):
        verify(SECRET, f"{forged}.{signature}", now=NOW)


def test_expired_and_tampered_is_reported_as_tampered():
    """The signature is checked first: a forger learns nothing from the expiry."""
    t = token(expires_at=NOW - timedelta(days=1))
    with pytest.raises(LinkError) as caught:
        verify(SECRET, _flip(t, len(t) - 2), now=NOW)
    assert not isinstance(caught.value, LinkExpired)


def test_other_secret_tenant_or_purpose_is_refused():
    with pytest.raises(LinkError):
        verify("another-secret-16-bytes-long", token(), now=NOW)
    with pytest.raises(LinkError, match="another salon"):
        verify(SECRET, token(), tenant="other", now=NOW)
    with pytest.raises(LinkError, match="'optout'"):
        verify(SECRET, token(), purpose="optout", now=NOW)


@pytest.mark.parametrize("bad", ["", "abc", "abc.", ".abc", "a.b.c", "ab$.cd", "a" * 2000 + ".b", "Zm9v.\u0444"])
def test_malformed_tokens_are_refused(bad):
    with pytest.raises(LinkError):
        verify(SECRET, bad, now=NOW)


def test_rotation_accepts_the_old_secret_while_listed():
    old = token()
    new_secret = "the-new-secret-0123456789"
    assert verify([new_secret, SECRET], old, now=NOW).client_id == "c-42"
    with pytest.raises(LinkError):
        verify([new_secret], old, now=NOW)


def test_signing_refuses_weak_secrets_naive_times_and_blanks():
    with pytest.raises(ValueError, match="16 bytes"):
        sign_client_link("short", "salon", "c", "page", LATER)
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_client_link(SECRET, "salon", "c", "page", datetime(2030, 1, 1))
    with pytest.raises(ValueError):
        sign_client_link(SECRET, "salon", "", "page", LATER)


def test_client_page_url():
    assert client_page_url("https://bridge.example/", "abc.def") == "https://bridge.example/c/abc.def"
    url = client_link(SECRET, "https://bridge.example", "salon", "c-42", "page", LATER)
    assert url.startswith("https://bridge.example/c/")
    assert verify(SECRET, url.rsplit("/", 1)[1], now=NOW).client_id == "c-42"
