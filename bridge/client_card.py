"""The client card typed by staff (CLI ``salonbridge clients add/edit`` and the JSON API): its values
checked and normalised once, and the amoCRM contact queued for the next sync as a booking would."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from bridge.booking.phones import normalize_email, to_e164
from bridge.store import wakeups
from bridge.store.actions import record
from bridge.store.clients import CARD_FIELDS
from bridge.store.models import Client
from config.tenants import Tenant
from pipelines.actions import UpdateFields, UpsertContact
from pipelines.rules.segments import client_card_fields
from pipelines.segments import GENDERS


class CardError(ValueError):
    """A card value that cannot be stored; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def card_values(tenant: Tenant, given: Mapping[str, Any]) -> dict[str, Any]:
    """The given card fields (None and empty lists left out), checked: phone as E.164 with the tenant's
    country, email lower-cased, birthday a date, balance to the cent, gender one of GENDERS, tags from
    the tenant's tag set when it has one."""
    values = {k: v for k, v in given.items() if v is not None and v != ()}
    unknown = [k for k in values if k not in CARD_FIELDS]
    if unknown:
        raise CardError(unknown[0], f"unknown field; known: {', '.join(CARD_FIELDS)}")
    _contacts(tenant, values)
    if "birthday" in values:
        values["birthday"] = _date(values["birthday"])
    if "gender" in values and values["gender"] not in GENDERS:
        raise CardError("gender", f"expected one of {', '.join(GENDERS)}")
    if "balance" in values:
        try:
            values["balance"] = Decimal(str(values["balance"]).replace(",", ".")).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise CardError("balance", "expected an amount such as 150.50") from None
    for flag in ("blacklisted", "opted_out"):
        if flag in values and not isinstance(values[flag], bool):
            raise CardError(flag, "expected true or false")
    if "tags" in values:
        tags = [values["tags"]] if isinstance(values["tags"], str) else list(values["tags"])
        allowed = tenant.clients.tags
        outside = [t for t in tags if allowed and t not in allowed]
        if outside:
            raise CardError("tags", f"not in the tenant's tag set: {', '.join(outside)}; it has {', '.join(allowed)}")
        values["tags"] = sorted(set(tags))
    return values


def _contacts(tenant: Tenant, values: dict[str, Any]) -> None:
    if "phone" in values:
        values["phone"] = to_e164(str(values["phone"]), tenant.country)
        if values["phone"] is None:
            raise CardError("phone", f"not a valid phone number for {tenant.country}")
    if "email" in values:
        values["email"] = normalize_email(str(values["email"]))
        if values["email"] is None:
            raise CardError("email", "not a valid email address")


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise CardError("birthday", "expected YYYY-MM-DD") from None


def queue_contact_sync(session: Session, tenant: str, client: Client, now: datetime) -> None:
    """The contact (its card fields and tags) for the next amoCRM sync, in the caller's transaction; the
    client is evaluated by the clock again (a birthday, blacklist or opt-out may change what is due)."""
    stamp = now.isoformat()
    actions: list[Any] = [UpsertContact(key=f"contact:card:{client.id}:{stamp}", client_id=str(client.id),
                                        name=client.name, phone=client.phone, email=client.email)]
    actions.append(UpdateFields(key=f"fields:card:{client.id}:{stamp}", client_id=str(client.id),
                                fields=client_card_fields(client.acquisition, client.card_type, client.balance,
                                                          bool(client.blacklisted)),
                                tags=tuple(client.tags or ())))
    record(session, tenant, None, client.id, actions, now)
    wakeups.set_wakeup(session, client.id, now)
