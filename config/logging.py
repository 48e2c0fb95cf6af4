"""Logging shared by web, worker and clock: plain lines for people, JSON lines (python-json-logger) in production.

Every line carries the ids of the work it belongs to (``tenant``, ``event_id``, ``job_id``, set with
``log_context``), and every line is masked on its way out: the secrets the tenant files name, webhook
and client-page tokens in paths, bearer tokens and token-like query or JSON fields never reach a log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from config.settings import Settings

CONTEXT_FIELDS = ("tenant", "event_id", "job_id")
_context: ContextVar[dict[str, object]] = ContextVar("salonbridge_log_context", default={})  # noqa: B039
_secrets: set[str] = set()
MASK = "***"
MIN_SECRET_LEN = 6  # shorter values would mask ordinary words
QUIET_AT_INFO = ("rq.worker", "rq.scheduler", "rq.job", "rq.queue", "alembic", "urllib3")

_PATTERNS = (
    # /hooks/<tenant>/<source>/<token> (payment hooks carry no token), /c/<client-page token>
    (re.compile(r"(/hooks/[^/\s?\"']+/(?!pay/)[^/\s?\"']+/)[^/\s?\"'#]+"), rf"\g<1>{MASK}"),
    (re.compile(r"(/c/)[^/\s?\"'#]{8,}"), rf"\g<1>{MASK}"),
    (re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+"), rf"\g<1>{MASK}"),
    (re.compile(r"(?i)([\"']?(?:access_token|refresh_token|client_secret|api_key|password|secret|token|code|state)"
                r"[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,;}]+"), rf"\g<1>{MASK}"),
    (re.compile(r"(?i)(://[^/:@\s]*:)[^@/\s]+@"), rf"\g<1>{MASK}@"),  # the password in a URL
)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Within the block, every log line of this thread (or task) carries these fields."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: object) -> None:
    """Add fields to the current context (until the enclosing ``log_context`` ends)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def current_context() -> dict[str, object]:
    return dict(_context.get())


def register_secrets(values: Iterable[str | None]) -> None:
    """Values masked in every line from now on (the secrets this process has read)."""
    _secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LEN)


def mask(text: str) -> str:
    """``text`` without any registered secret or token-shaped value."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class ContextFilter(logging.Filter):
    """Puts the current context's fields on each record (as attributes, so JSON carries them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class MaskingFormatter(logging.Formatter):
    """Plain lines: ``time level logger: message [tenant=… event=… job=…]``, masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_FIELDS if getattr(record, k, None) is not None)
        if ids:
            first, sep, rest = line.partition("\n")
            line = f"{first} [{ids}]{sep}{rest}"
        return mask(line)


class MaskingJsonFormatter(JsonFormatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s",
                         rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
                         datefmt="%Y-%m-%dT%H:%M:%S%z", json_ensure_ascii=False)

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def masking_filter() -> logging.Filter:
    """For loggers with handlers of their own (gunicorn's): rewrite each record's message masked."""

    class _Mask(logging.Filter):
        masks = True

        def filter(self, record: logging.LogRecord) -> bool:
            record.msg, record.args = mask(record.getMessage()), None
            return True

    return _Mask()


def configure_logging(settings: Settings) -> None:
    """Idempotent: safe to call from every entry point of one process."""
    root = logging.getLogger()
    if getattr(root, "_salonbridge", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingJsonFormatter() if settings.log_json else MaskingFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # Their INFO lines say, per job or per command, what ours say once; RQ also sets its logger to INFO
    # itself on import, so each is given a level explicitly: DEBUG shows all, INFO hides their INFO.
    level = logging.getLevelName(settings.log_level)
    for name in QUIET_AT_INFO:
        logging.getLogger(name).setLevel(logging.WARNING if level == logging.INFO else level)
    root._salonbridge = True  # type: ignore[attr-defined]
