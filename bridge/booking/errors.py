"""Why an inbound booking payload did not become a VisitEvent, in a shape the web layer can answer with.

Catch ``IgnoredResource`` before ``PayloadError`` (or switch on ``http_status``): both derive from
``BookingInputError``.
"""

from __future__ import annotations

from typing import Any

from config.schema import flatten_errors


class BookingInputError(Exception):
    """Base: the body cannot be turned into an event. ``http_status`` is what the hook should answer."""

    http_status = 422

    def to_dict(self) -> dict[str, Any]:
        return {"error": str(self)}


class PayloadError(BookingInputError):
    """The body is malformed or contradicts the tenant config. ``fields`` maps dotted paths to messages."""

    http_status = 422

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields: dict[str, list[str]] = fields or {}

    @classmethod
    def from_marshmallow(cls, messages: Any, *, prefix: str = "", message: str = "invalid payload") -> PayloadError:
        """marshmallow's nested ``ValidationError.messages`` → flat ``{"booking.services.0.title": [...]}``."""
        fields: dict[str, list[str]] = {}
        for path, text in flatten_errors(messages, prefix):
            fields.setdefault(path, []).append(text)
        return cls(message, fields)

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, "fields": self.fields}

    def describe(self) -> str:
        """Message and every field problem on one line, for logs and CLI output (``str`` is the message)."""
        details = "; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in sorted(self.fields.items()))
        return f"{self.message} ({details})" if details else self.message


class IgnoredResource(BookingInputError):
    """A well-formed delivery about something we do not process (e.g. a YCLIENTS ``client`` hook): 202."""

    http_status = 202

    def __init__(self, resource: str):
        super().__init__(f"resource {resource!r} is not processed")
        self.resource = resource
