"""Knobs of one sandbox instance; everything a test may want to shorten or switch lives here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxOptions:
    """Defaults follow the real account (§2.4, §3); tests shrink the windows."""

    requests_per_second: float = 7.0
    per_second_limit: int | None = None  # also 429 past this many requests in one calendar second
    block_after_429s: int | None = 20  # this many 429s within ``block_window_s`` → 403 block; None = never
    block_window_s: float = 60.0
    block_seconds: float = 900.0
    retry_after: int = 1  # ``retry_after`` in the JSON 429 body
    rate_limit_html: bool = False  # answer 429 with gateway HTML instead of JSON (both are seen, §3)
    access_token_ttl: int = 86400
    refresh_token_ttl: int = 90 * 86400
    code_ttl: int = 20 * 60
    refresh_grace: bool = False  # Kommo: old refresh token works until the new one is used (§2.4)
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    redirect_uri: str = "http://localhost:8000/oauth/amocrm/callback"
    subdomain: str = "sandbox"
    timezone: str = "Europe/Moscow"
    max_page_size: int = 250  # a server may return fewer than ``limit`` per page; lower it to test paging
    journal_size: int = 2_000  # newest requests kept (with their bodies) by ``GET /_sandbox/requests``
    webhook_timeout_s: float = 2.0  # how long an echo waits for the receiver's answer (amoCRM: 2 s, §10.5)
