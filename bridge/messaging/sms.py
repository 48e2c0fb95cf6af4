"""SMS through the salon's HTTP gateway, described entirely in the tenant YAML (``rules.channels.sms``).

Gateways differ only in field names, auth header and where the id is in the answer, so one
configurable client covers them. Retry policy: timeouts, connection errors, 429 and 5xx are
retryable; other 4xx are not (the request itself is wrong). Phone numbers are masked and the token
never leaves the header, including in error texts built from the gateway's answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from bridge.booking.phones import mask_phone
from bridge.messaging.base import ChannelDeps, ChannelError, ChannelType, OutgoingMessage, Recipient, SendResult
from config.channels import SmsSchema, SmsSettings

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 5.0


class SmsChannel:
    name = "sms"

    def __init__(
        self,
        settings: SmsSettings,
        *,
        session: requests.Session | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.environ = {} if environ is None else environ
        self.host = urlsplit(settings.url).netloc

    def can_reach(self, to: Recipient) -> bool:
        return bool(to.phone)

    def send(self, message: OutgoingMessage) -> SendResult:
        phone = message.to.phone
        if not phone:
            raise ChannelError("the client has no phone number", channel=self.name, retryable=False)
        token = self._token()
        try:
            response = self.session.request(
                self.settings.method,
                self.settings.url,
                json=self._body(phone, message.text),
                headers=self._headers(token, message.key),
                timeout=(min(CONNECT_TIMEOUT_S, self.settings.timeout_s), self.settings.timeout_s),
            )
        except requests.RequestException as exc:
            raise self._failed(message, phone, _network_error(exc)) from None
        if response.status_code >= 300:
            raise self._failed(message, phone, self._rejected(response, phone, token))
        provider_id = self._provider_id(response, message, phone)
        log.info("sms %s to %s accepted by %s, id %s", message.key, mask_phone(phone), self.host, provider_id)
        return SendResult(self.name, provider_id)

    def _token(self) -> str | None:
        env = self.settings.token_env
        if env is None:
            return None
        token = self.environ.get(env)
        if not token:
            raise ChannelError(f"environment variable {env} (SMS token) is not set", channel=self.name, retryable=False)
        return token

    def _body(self, phone: str, text: str) -> dict[str, Any]:
        fields = self.settings.body
        body: dict[str, Any] = dict(self.settings.extra)
        body[fields["to"]] = phone.lstrip("+") if self.settings.phone_format == "digits" else phone
        body[fields["text"]] = text
        if self.settings.sender and "sender" in fields:
            body[fields["sender"]] = self.settings.sender
        return body

    def _headers(self, token: str | None, key: str) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if token:
            headers[self.settings.auth_header] = f"{self.settings.auth_scheme} {token}".strip()
        if self.settings.idempotency_header:
            headers[self.settings.idempotency_header] = key
        return headers

    def _rejected(self, response: requests.Response, phone: str, token: str | None) -> ChannelError:
        status = response.status_code
        detail = _scrub(response.text[:300], phone, token)
        retryable = status >= 500 or status in (408, 429)
        return ChannelError(
            f"SMS gateway {self.host} answered HTTP {status}: {detail}", channel=self.name, retryable=retryable
        )

    def _provider_id(self, response: requests.Response, message: OutgoingMessage, phone: str) -> str | None:
        path = self.settings.id_path
        if path is None:
            return None
        try:
            found = json_path(response.json(), path)
        except ValueError:
            found = None
        if found is None:
            error = ChannelError(
                f"SMS gateway {self.host} answered HTTP {response.status_code} without an id at {path!r}",
                channel=self.name,
                retryable=False,
                ambiguous=True,
            )
            raise self._failed(message, phone, error)
        return found

    def _failed(self, message: OutgoingMessage, phone: str, error: ChannelError) -> ChannelError:
        log.warning(
            "sms %s to %s failed (%s): %s",
            message.key,
            mask_phone(phone),
            "retryable" if error.retryable else "final",
            error,
        )
        return error


def json_path(document: Any, path: str) -> str | None:
    """``data.messages.0.id`` in a decoded JSON document, as text; None when absent or not a scalar."""
    node = document
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    if node is None or isinstance(node, Mapping | list) or node == "":
        return None
    return str(node)


def _network_error(exc: requests.RequestException) -> ChannelError:
    """Retryable; ``ambiguous`` unless the connection never opened (then nothing can have been sent)."""
    what = "timed out" if isinstance(exc, requests.Timeout) else "could not be reached"
    return ChannelError(
        f"SMS gateway {what} ({type(exc).__name__})", channel="sms", retryable=True, ambiguous=not _never_sent(exc)
    )


def _never_sent(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def _scrub(text: str, phone: str, token: str | None) -> str:
    """The gateway's answer without the number (any form) or the token, on one line."""
    digits = phone.lstrip("+")
    for secret in filter(None, (token, phone, digits, digits[-9:] if len(digits) > 9 else None)):
        text = text.replace(secret, mask_phone(phone) if secret != token else "***")
    return " ".join(text.split()) or "no detail"


def _build(settings: SmsSettings, deps: ChannelDeps) -> SmsChannel:
    return SmsChannel(settings, session=deps.session, environ=deps.environ)


SMS = ChannelType("sms", "SMS", SmsSchema, "phone number", _build)
