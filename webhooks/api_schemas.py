"""Marshmallow schemas of what the HTTP interface answers and takes besides booking events.

The booking event itself is ``bridge.booking.generic.GenericEventSchema`` (it validates every generic
webhook). These describe answers and forms; ``webhooks/openapi.py`` turns all of them into the OpenAPI
document, and the tests check real answers against the result, so a change of shape shows up there.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

_COUNT = {"validate": validate.Range(min=0)}


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "What went wrong, for a person"})
    reason = fields.String(metadata={"description": "More detail, when there is any"})
    fields_ = fields.Dict(
        data_key="fields", keys=fields.String(), values=fields.List(fields.String()),
        metadata={"description": "Each invalid field's dotted path and its problems (422 only)"})


class UnknownFilterSchema(ErrorSchema):
    known = fields.List(fields.String(), metadata={"description": "The tenant's categories or branch ids"})


class AcceptedSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["accepted", "duplicate", "ignored"]))
    event_id = fields.Integer(metadata={"description": "Our id of the stored event"})
    queued = fields.Boolean(metadata={"description": "Processing was queued at once (else the sweeper does it)"})
    reason = fields.String(metadata={"description": "Why an ignored resource is ignored"})


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    database = fields.String(required=True, metadata={"description": "`ok` or `down: <reason>`"})
    redis = fields.String(required=True, metadata={"description": "`ok` or `down: <reason>`"})


class LiqPayCallbackSchema(Schema):
    data = fields.String(required=True, metadata={"description": "Base64 JSON of the payment"})
    signature = fields.String(required=True)


class WayForPayAcceptSchema(Schema):
    orderReference = fields.String(required=True)  # noqa: N815 - WayForPay's own field names
    status = fields.String(required=True, validate=validate.OneOf(["accept"]))
    time = fields.Integer(required=True)
    signature = fields.String(required=True)


class ClientFormSchema(Schema):
    csrf = fields.String(required=True, metadata={"description": "The hidden field of the page's form"})
    text = fields.String(validate=validate.Length(max=2000), metadata={"description": "The review (feedback only)"})


class CountsSchema(Schema):
    tracked = fields.Integer(required=True, **_COUNT, metadata={"description": "Has an expected date"})
    learned = fields.Integer(required=True, **_COUNT,
                             metadata={"description": "Expected from their own last three visits"})
    due_this_week = fields.Integer(required=True, **_COUNT)
    due_this_month = fields.Integer(required=True, **_COUNT)
    at_risk = fields.Integer(required=True, **_COUNT)
    suppressed = fields.Integer(required=True, **_COUNT, metadata={"description": "As late, but booked"})


class CategoryCountsSchema(CountsSchema):
    category = fields.String(required=True)
    label = fields.String(required=True)


class BranchCountsSchema(CountsSchema):
    branch = fields.String(required=True, allow_none=True)
    name = fields.String(required=True, allow_none=True)


class FiltersSchema(Schema):
    category = fields.String(required=True, allow_none=True)
    branch = fields.String(required=True, allow_none=True)


class ReconnectOverviewSchema(Schema):
    tenant = fields.String(required=True)
    today = fields.Date(required=True)
    week_end = fields.Date(required=True)
    month_end = fields.Date(required=True)
    tolerance_days = fields.Integer(required=True)
    filters = fields.Nested(FiltersSchema, required=True)
    total = fields.Nested(CountsSchema, required=True)
    categories = fields.List(fields.Nested(CategoryCountsSchema), required=True)
    branches = fields.List(fields.Nested(BranchCountsSchema), required=True,
                           metadata={"description": "Per branch of the client's latest visit in the category"})


class AtRiskClientSchema(Schema):
    client_id = fields.Integer(required=True)
    name = fields.String(required=True, allow_none=True)
    phone = fields.String(required=True, allow_none=True, metadata={"description": "E.164, complete"})
    email = fields.String(required=True, allow_none=True)
    category = fields.String(required=True)
    category_label = fields.String(required=True)
    branch = fields.String(required=True, allow_none=True)
    branch_name = fields.String(required=True, allow_none=True)
    last_visit = fields.Date(required=True)
    interval_days = fields.Integer(required=True)
    interval_source = fields.String(required=True, validate=validate.OneOf(["learned", "periodicity"]))
    expected = fields.Date(required=True)
    days_late = fields.Integer(required=True)


class ReconnectClientsSchema(Schema):
    tenant = fields.String(required=True)
    today = fields.Date(required=True)
    filters = fields.Nested(FiltersSchema, required=True)
    clients = fields.List(fields.Nested(AtRiskClientSchema), required=True,
                          metadata={"description": "At-risk clients, most overdue first within a category"})


class CampaignRequestSchema(Schema):
    """Either ``category`` or ``all``; the rest optional."""

    category = fields.String(metadata={"description": "A category's name in any language, or its key"})
    all = fields.Boolean(metadata={"description": "Every category: each client once, about the one most overdue"})
    channel = fields.String(validate=validate.OneOf(["sms", "email", "both"]),
                            metadata={"description": "Default: the tenant file's"})
    dry_run = fields.Boolean(metadata={"description": "Answer who would be contacted, send nothing"})
