"""Pure helpers of the amoCRM adapter: waits, query strings, consent URLs, keys, markers."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cryptography.fernet import Fernet

from bridge.amocrm import authorization_url, fernet_from_secret, make_marker
from bridge.amocrm.markers import carries_marker, task_suffix, with_marker
from bridge.amocrm.oauth import base_url_from_referer, verify_disconnect_signature
from bridge.amocrm.ratelimit import limiter_key
from bridge.amocrm.tokens import fingerprint, jwt_expiry
from bridge.amocrm.transport import RETRY_AFTER_CAP_S, backoff_delay, is_block, php_params, retry_after

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def response(status: int, body: object = b"", headers: dict[str, str] | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r.headers.update(headers or {})
    return r


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "7"}, b"", 7.0),
        ({"Retry-After": "Sun, 01 Mar 2026 12:00:30 GMT"}, b"", 30.0),
        ({"Retry-After": "Sun, 01 Mar 2026 11:59:00 GMT"}, b"", 0.0),  # in the past: no wait
        ({}, {"status": 429, "retry_after": 300}, 300.0),  # amoCRM's JSON body
        ({"Retry-After": "999999"}, b"", RETRY_AFTER_CAP_S),
        ({}, b"<html>429 Too Many Requests</html>", None),  # the gateway's HTML: caller backs off
        ({"Retry-After": "soon"}, b"", None),
    ],
)
def test_retry_after_forms(headers, body, expected):
    assert retry_after(response(429, body, headers), NOW) == expected


def test_backoff_grows_exponentially_and_is_capped_with_jitter():
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (3, 4.0), (10, 30.0)]:
        delays = [backoff_delay(attempt, 0.5, 30.0) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


def test_php_bracket_params():
    params = {
        "filter": {"statuses": [{"pipeline_id": 1, "status_id": 142}], "is_completed": False, "id": [5, 6]},
        "with": "contacts",
        "query": None,
    }
    assert php_params(params) == [
        ("filter[statuses][0][pipeline_id]", "1"),
        ("filter[statuses][0][status_id]", "142"),
        ("filter[is_completed]", "0"),
        ("filter[id][0]", "5"),
        ("filter[id][1]", "6"),
        ("with", "contacts"),
    ]


def test_a_403_block_is_told_from_a_rights_error():
    assert is_block(response(403, b"<html><center>403 Forbidden</center></html>"))
    assert is_block(response(403, {"status": 403, "detail": "Your IP address is blocked"}))
    assert not is_block(response(403, {"status": 403, "detail": "Access denied: admin rights required"}))


@pytest.mark.parametrize(
    ("base", "consent"),
    [
        ("https://salon.amocrm.ru", "https://www.amocrm.ru/oauth"),
        ("https://salon.kommo.com/", "https://www.kommo.com/oauth"),
        ("https://old.amocrm.com", "https://www.amocrm.com/oauth"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765/oauth"),  # the sandbox serves it itself
    ],
)
def test_authorization_url(base, consent):
    url = authorization_url(base, "client-1", "st@te")
    assert url == f"{consent}?client_id=client-1&state=st%40te&mode=post_message"


def test_referer_must_be_an_amocrm_account_host():
    """The code exchange sends our secret to this host, so a forged referer must not pass."""
    assert base_url_from_referer("salon.amocrm.ru") == "https://salon.amocrm.ru"
    assert base_url_from_referer("Salon.Kommo.com") == "https://salon.kommo.com"
    for bad in ("evil.example.com", "amocrm.ru.evil.com", "www.amocrm.ru", ""):
        with pytest.raises(ValueError):
            base_url_from_referer(bad)


def test_disconnect_hook_signature():
    good = hmac.new(b"secret", b"cid|123", hashlib.sha256).hexdigest()
    assert verify_disconnect_signature("cid", "123", good, "secret")
    assert not verify_disconnect_signature("cid", "124", good, "secret")


def test_fernet_keys_from_the_environment():
    raw = Fernet.generate_key().decode()
    assert fernet_from_secret(raw).decrypt(Fernet(raw.encode()).encrypt(b"x")) == b"x"
    derived = fernet_from_secret("any long random SECRET_KEY value")
    assert derived.decrypt(fernet_from_secret("any long random SECRET_KEY value").encrypt(b"y")) == b"y"


def test_jwt_expiry_and_fingerprints():
    payload = "eyJleHAiOjE3MDAwMDAwMDB9"  # {"exp":1700000000}
    assert jwt_expiry(f"h.{payload}.s") == datetime.fromtimestamp(1_700_000_000, UTC)
    assert jwt_expiry("not-a-jwt") is None
    assert fingerprint("token") == hashlib.sha256(b"token").hexdigest()[:12]
    assert fingerprint(None) == "-"


def test_limiter_key_is_the_account_host():
    assert (
        limiter_key("https://Salon.amocrm.ru/") == limiter_key("https://salon.amocrm.ru") == "amocrm:rl:salon.amocrm.ru"
    )


def test_markers_are_deterministic_and_carried_without_touching_the_input():
    marker = make_marker("salon", "visit", 42)
    assert marker == make_marker("salon", "visit", 42) != make_marker("salon", "visit", 43)
    lead = {"name": "x", "custom_fields_values": [{"field_id": 7, "values": [{"value": "a"}]}]}
    marked = with_marker("leads", lead, marker, 99)
    assert lead["custom_fields_values"] == [{"field_id": 7, "values": [{"value": "a"}]}]
    assert carries_marker("leads", marked, marker, 99)
    assert not carries_marker("leads", lead, marker, 99)
    task = with_marker("tasks", {"text": "Call"}, marker, None)
    assert task["text"] == "Call" + task_suffix(marker)
    assert with_marker("tasks", task, marker, None)["text"] == task["text"]  # not appended twice
    assert carries_marker("tasks", task, marker, None)


def test_timestamps_in_the_future_are_seconds_from_now():
    later = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after(response(429, b"", {"Retry-After": later}), NOW) == 90.0


def test_the_task_mark_is_short_at_the_end_and_tasks_marked_the_old_way_are_still_found():
    marker = make_marker("salon", "autotask", 7)
    task = with_marker("tasks", {"text": "Olha — invite"}, marker, None)
    assert re.fullmatch(r"Olha — invite #[0-9a-f]{8}", task["text"])
    assert not carries_marker("tasks", task, make_marker("salon", "autotask", 8), None)
    legacy = {"text": f"Olha — invite [sb:{marker}]"}
    assert carries_marker("tasks", legacy, marker, None)
    assert with_marker("tasks", legacy, marker, None)["text"] == legacy["text"]  # not marked twice
