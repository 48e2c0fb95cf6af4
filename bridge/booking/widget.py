"""The salon's own booking widget, opened from the client's page ("book again") for a past visit.

The tenant file's ``clients.booking_url`` is the widget's address with ``{branch_id}``, ``{service_id}``
and ``{staff_id}`` where the booking system takes them (YCLIENTS: the company, the service and the
master, e.g. ``https://n123.yclients.com/company/{branch_id}/personal/select-time?o=m{staff_id}s{service_id}``).
Values are URL-quoted; one the visit lacks is left empty, so the widget asks for it.
"""

from __future__ import annotations

from urllib.parse import quote


def book_again_url(template: str | None, *, branch: str | None, service_id: str | None,
                   staff_id: str | None) -> str | None:
    """The widget's address for the same branch, service and master; None when the salon has none."""
    if not template:
        return None
    values = {"branch_id": branch, "service_id": service_id, "staff_id": staff_id}
    return template.format(**{k: quote(v or "", safe="") for k, v in values.items()})
