"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), collecting every message it accepts.

``refuse_rcpt`` makes RCPT answer that SMTP reply (e.g. ``"451 4.3.0 try later"``); with ``users`` the
server offers AUTH (without TLS, loopback only) and accepts those username/password pairs.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class FakeSmtp:
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse_rcpt: str | None = None
    users: dict[str, str] = field(default_factory=dict)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            if self.users.get(user) == password:
                self.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class _AnyPortController(Controller):
    """aiosmtpd's Controller, but bound to port 0: learns its port before the readiness probe."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def smtp_server(fake: FakeSmtp | None = None) -> Iterator[FakeSmtp]:
    """Run ``fake`` (a new FakeSmtp by default) on a free loopback port; ``fake.port`` is set."""
    fake = fake or FakeSmtp()
    options: dict[str, Any] = {}
    if fake.users:
        options = {"authenticator": fake.authenticate, "auth_require_tls": False}
    controller = _AnyPortController(fake, hostname=fake.host, port=0, **options)
    controller.start()
    fake.port = controller.port
    try:
        yield fake
    finally:
        controller.stop()
