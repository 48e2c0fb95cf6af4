"""Why a job failed, in words safe to keep and show: no phones, emails or configured secrets.

Also which failures are outages (Redis, the database connection, a held lock) rather than the fault of
what was being processed: those are retried without counting toward parking an event as failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from redis.exceptions import LockError, RedisError
from sqlalchemy.exc import InterfaceError, OperationalError, StatementError

from bridge.booking.phones import mask_email, mask_phone


def transient(exc: BaseException) -> bool:
    """An outage (Redis, the database connection, a lock held elsewhere) is not the event's fault: it is
    retried without counting toward parking."""
    return isinstance(exc, RedisError | LockError | OperationalError | InterfaceError | TimeoutError)


_PHONE = re.compile(r"\+?\d[\d ()\-]{5,}\d")
_EMAIL = re.compile(r"[^\s@'\"(),;:<>]+@[^\s@'\"(),;:<>]+\.[A-Za-z]{2,}")
_SECRET_NAME = re.compile(r"TOKEN|SECRET|KEY|PASSWORD|PASS\b|DSN|URL", re.IGNORECASE)


def describe_failure(exc: BaseException, environ: Mapping[str, str] | None = None) -> str:
    """The error kept with a failed event: type and message, without phones, emails or configured secrets.

    A database error names the driver's error, not SQLAlchemy's wrapper (which appends the statement's
    parameters: the client's data)."""
    orig = getattr(exc, "orig", None) if isinstance(exc, StatementError) else None
    shown = orig if isinstance(orig, BaseException) else exc
    message = str(shown).split("\n[SQL:", 1)[0].strip()
    text = f"{type(shown).__name__}: {message}" if message else type(shown).__name__
    for name, value in (environ or {}).items():
        if value and len(value) >= 8 and _SECRET_NAME.search(name):
            text = text.replace(value, "***")
    text = _EMAIL.sub(lambda m: mask_email(m.group()), text)
    text = _PHONE.sub(lambda m: mask_phone(m.group()), text)
    return text[:2000]
