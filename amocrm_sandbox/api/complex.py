"""``POST /api/v4/leads/complex`` (§4.5): a lead with one new-or-existing contact in one call.

The answer is a plain JSON array with ``request_id`` as an array and a ``merged`` flag — not HAL
(fact 10). Duplicate control is not emulated, so ``merged`` is always false.
"""

from __future__ import annotations

from flask import Blueprint, Response

from amocrm_sandbox.api.contacts import ContactChange, apply_contact, check_contact
from amocrm_sandbox.api.leads import LeadChange, apply_lead, check_lead
from amocrm_sandbox.cf_values import value_count
from amocrm_sandbox.entities import link_contact
from amocrm_sandbox.jsonio import PLAIN, json_response
from amocrm_sandbox.runtime import rt
from amocrm_sandbox.state import Data
from amocrm_sandbox.validation import (
    NOT_SUPPORTED,
    TOO_MANY,
    ItemErrors,
    batch_body,
    is_int,
    request_id_of,
    validate_batch,
)

bp = Blueprint("sandbox_complex", __name__)

MAX_LEADS = 50
MAX_CF_VALUES = 40
EMBEDDED = ("tags", "contacts", "companies", "metadata", "source")
UNSORTED_CATEGORIES = ("forms", "sip")

Plan = tuple[LeadChange, int | None, ContactChange | None, bool]


def _check(data: Data, item: dict, errs: ItemErrors) -> Plan:
    embedded = item.get("_embedded") if isinstance(item.get("_embedded"), dict) else {}
    lead_item = {**item, "_embedded": {k: v for k, v in embedded.items() if k in ("tags", "source")}}
    lead_change = check_lead(data, lead_item, errs)
    errs.unexpected(embedded, EMBEDDED, "_embedded.")
    if value_count(item.get("custom_fields_values")) > MAX_CF_VALUES:
        errs.add(TOO_MANY, "custom_fields_values", f"At most {MAX_CF_VALUES} values per entity.")
    contacts = embedded.get("contacts") or []
    companies = embedded.get("companies") or []
    if not isinstance(contacts, list) or len(contacts) > 1:
        errs.add(TOO_MANY, "_embedded.contacts", "A complex lead takes at most 1 contact.")
        contacts = []
    if not isinstance(companies, list) or len(companies) > 1:
        errs.add(TOO_MANY, "_embedded.companies", "A complex lead takes at most 1 company.")
    existing_id, new_contact = None, None
    if contacts:
        contact = contacts[0]
        sub = errs.nested("_embedded.contacts.0")
        if not isinstance(contact, dict):
            sub.wrong_type("", "object")
        elif "id" in contact:
            if not is_int(contact["id"]) or contact["id"] not in data["contacts"]:
                sub.add(NOT_SUPPORTED, "id")
            existing_id = contact["id"]
        else:
            if value_count(contact.get("custom_fields_values")) > MAX_CF_VALUES:
                sub.add(TOO_MANY, "custom_fields_values", f"At most {MAX_CF_VALUES} values per entity.")
            new_contact = check_contact(data, contact, sub)
    metadata = embedded.get("metadata")
    unsorted = isinstance(metadata, dict) and metadata.get("category") in UNSORTED_CATEGORIES
    return lead_change, existing_id, new_contact, unsorted


def _to_unsorted(data: Data, change: LeadChange) -> None:
    """``_embedded.metadata`` puts the lead into Unsorted of its pipeline (when that pipeline has one)."""
    if change.stage is None:
        return
    pipeline = data["pipelines"][change.stage[0]]
    unsorted = next((s for s in pipeline["statuses"] if s["type"] == 1), None)
    if unsorted:
        change.stage = (pipeline["id"], unsorted["id"])


@bp.post("/api/v4/leads/complex")
def create_complex() -> Response:
    items, runtime = batch_body(limit=MAX_LEADS, over_limit_status=400), rt()
    with runtime.store.write() as data:
        plans = validate_batch(items, lambda item, errs: _check(data, item, errs))
        out = []
        for index, (item, (lead_change, contact_id, new_contact, unsorted)) in enumerate(
                zip(items, plans, strict=True)):
            if unsorted:
                _to_unsorted(data, lead_change)
            lead = apply_lead(data, lead_change, runtime.ts())
            if new_contact is not None:
                contact_id = apply_contact(data, new_contact, runtime.ts())["id"]
            if contact_id is not None:
                link_contact(data, lead["id"], contact_id, True)
            out.append({"id": lead["id"], "contact_id": contact_id, "company_id": None,
                        "request_id": [request_id_of(item, index)], "merged": False})
        return json_response(out, mimetype=PLAIN)
