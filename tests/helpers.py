"""Builders of webhook bodies shared by tests."""

from __future__ import annotations

from typing import Any

from bridge.tenancy import vocabulary
from config.tenants import Tenant, TenantSchema


def yclients_record(
    record_id: int = 500000001,
    *,
    status: str = "create",
    attendance: int = 0,
    changed: str = "2026-03-01T09:00:00+0200",
    date: str = "2026-03-05 12:00:00",
    service_id: int = 3333,
    client_id: int = 777777,
    phone: str = "+380671234567",
    company_id: int = 111111,
    deleted: bool = False,
) -> dict[str, Any]:
    """A YCLIENTS record webhook as YCLIENTS sends it (spec/booking.md §1.6)."""
    return {
        "company_id": company_id,
        "resource": "record",
        "resource_id": record_id,
        "status": status,
        "data": {
            "id": record_id,
            "company_id": company_id,
            "staff_id": 2222,
            "staff": {"id": 2222, "name": "Анна", "position": {"id": 44, "title": "Майстер"}},
            "services": [{"id": service_id, "title": "Манікюр + гель-лак", "cost": 650, "first_cost": 650,
                          "discount": 0, "amount": 1}],
            "client": {"id": client_id, "name": "Ольга", "display_name": "Ольга", "phone": phone, "email": ""},
            "date": date,
            "datetime": date.replace(" ", "T") + "+02:00",
            "create_date": "2026-03-01T09:00:00+0200",
            "last_change_date": changed,
            "seance_length": 5400,
            "attendance": attendance,
            "deleted": deleted,
            "online": True,
            "visit_id": record_id + 1,
        },
    }


def make_tenant(source: str, timezone: str = "Europe/Kyiv", country: str = "UA") -> Tenant:
    """A valid tenant with two branches (111111, 111112), built without a file."""
    return TenantSchema(vocabulary=vocabulary()).load(
        {
            "slug": "salon",
            "name": "Salon",
            "timezone": timezone,
            "country": country,
            "branches": [{"id": "111111", "name": "Центр"}, {"id": "111112", "name": "Поділ"}],
            "booking": {"source": source, "webhook_token_env": "SALON_HOOK_TOKEN"},
            "amocrm": {"base_url": "https://salon.amocrm.ru"},
        }
    )
