"""Query-string arguments shared by the JSON API and the dashboard's report pages."""

from __future__ import annotations

from datetime import date

from flask import request

from bridge.reports import ReportError


def day_arg(name: str) -> date | None:
    """``?<name>=YYYY-MM-DD`` as a date (None when absent); a malformed one is a ReportError naming it."""
    value = request.args.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReportError(f"{name}: expected YYYY-MM-DD, got {value!r}") from None
