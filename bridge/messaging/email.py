"""Email over SMTP (``rules.channels.email``): a multipart/alternative message, text plus simple HTML.

smtplib with a timeout on every connection. SMTP 4xx answers, timeouts and dropped connections are
retryable; 5xx (bad recipient, authentication refused) and a server without STARTTLS are not.
Addresses are masked in logs.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from markupsafe import escape

from bridge.booking.phones import mask_email
from bridge.messaging.base import ChannelDeps, ChannelError, ChannelType, OutgoingMessage, Recipient, SendResult
from config.channels import EmailSchema, EmailSettings

log = logging.getLogger(__name__)
_URL = re.compile(r"https?://[^\s<>\"]+")


class EmailChannel:
    name = "email"

    def __init__(
        self, settings: EmailSettings, *, fallback_subject: str = "", environ: Mapping[str, str] | None = None
    ) -> None:
        self.settings = settings
        self.fallback_subject = settings.default_subject or fallback_subject
        self.environ = {} if environ is None else environ

    def can_reach(self, to: Recipient) -> bool:
        return bool(to.email)

    def send(self, message: OutgoingMessage) -> SendResult:
        address = message.to.email
        if not address:
            raise ChannelError("the client has no email address", channel=self.name, retryable=False)
        try:
            email = self._compose(message, address)
            self._deliver(email, address)
        except ChannelError as exc:
            log.warning("email %s to %s failed (%s): %s", message.key, mask_email(address), _kind(exc), exc)
            raise
        provider_id = str(email["Message-ID"])
        log.info(
            "email %s to %s accepted by %s, id %s", message.key, mask_email(address), self.settings.host, provider_id
        )
        return SendResult(self.name, provider_id)

    def _compose(self, message: OutgoingMessage, address: str) -> EmailMessage:
        subject = message.subject or self.fallback_subject
        try:
            return build_email(
                self.settings.from_address, address, subject, message.text, reply_to=self.settings.reply_to
            )
        except (ValueError, TypeError) as exc:  # a line break or malformed address in a header
            raise self._error(f"cannot build the email: {type(exc).__name__}", retryable=False) from None

    def _deliver(self, email: EmailMessage, address: str) -> None:
        s = self.settings
        password = self._password()
        try:
            smtp: smtplib.SMTP
            if s.ssl:
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username and password:
                    smtp.login(s.username, password)
                smtp.send_message(email)
        except smtplib.SMTPNotSupportedError as exc:
            raise self._error(f"SMTP server {s.host} does not support it: {exc}", retryable=False) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            retryable = all(400 <= code < 500 for code in codes)
            raise self._error(f"SMTP server {s.host} refused the recipient (codes {codes})", retryable) from None
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            )
            text = text.replace(address, mask_email(address))  # servers often quote the recipient
            raise self._error(f"SMTP server {s.host} answered {exc.smtp_code}: {text}", exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._error(f"SMTP server {s.host}:{s.port} failed: {type(exc).__name__}", retryable=True) from None

    def _password(self) -> str | None:
        env = self.settings.password_env
        if env is None:
            return None
        password = self.environ.get(env)
        if not password:
            raise self._error(f"environment variable {env} (SMTP password) is not set", retryable=False)
        return password

    def _error(self, text: str, retryable: bool) -> ChannelError:
        return ChannelError(text, channel=self.name, retryable=retryable)


def build_email(from_address: str, to: str, subject: str, text: str, *, reply_to: str | None = None) -> EmailMessage:
    """multipart/alternative: the rendered text, and the same text as minimal HTML with live links."""
    email = EmailMessage()
    email["From"] = from_address
    email["To"] = to
    email["Subject"] = subject
    if reply_to:
        email["Reply-To"] = reply_to
    domain = parseaddr(from_address)[1].rpartition("@")[2] or None
    email["Message-ID"] = make_msgid(domain=domain)
    email.set_content(text)
    email.add_alternative(html_body(text), subtype="html")
    return email


def html_body(text: str) -> str:
    """Paragraphs for blank lines, ``<br>`` for line breaks, links clickable; everything else escaped."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    html = "".join(f"<p>{_linked(str(escape(p))).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!doctype html><html><body style="font-family:sans-serif;line-height:1.4">{html}</body></html>'


def _linked(escaped: str) -> str:
    return _URL.sub(lambda m: f'<a href="{m[0]}">{m[0]}</a>', escaped)


def _kind(error: ChannelError) -> str:
    return "retryable" if error.retryable else "final"


def _build(settings: EmailSettings, deps: ChannelDeps) -> EmailChannel:
    return EmailChannel(settings, fallback_subject=deps.tenant.name, environ=deps.environ)


EMAIL = ChannelType("email", "Email", EmailSchema, "email address", _build)
