"""A small amoCRM API v4 fake for client tests: real HTTP, in-memory state, scripted faults.

The full emulator is ``amocrm_sandbox``; this one exists for fault cases that need exact
control (a 429 with a given Retry-After, a write stored and then answered too late, a lost token
response) and to record what reached the server (arrival times, bodies, bearer tokens).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.datastructures import MultiDict

HOST = "https://fake.amocrm.ru"  # what HAL links say, deliberately not the address we serve on
SYSTEM_STATUSES = [{"id": 142, "name": "Won", "sort": 10000}, {"id": 143, "name": "Lost", "sort": 11000}]


@dataclass
class Hit:
    at: float  # time.monotonic() when the request arrived
    method: str
    path: str
    args: MultiDict
    body: Any
    token: str | None
    status: int = 0


@dataclass
class Fault:
    """What to do to the next request matching ``method path``.

    ``status``: answer this instead of processing (``retry_after`` header, ``html`` body);
    ``hang_after``: process and store normally, then hold the answer this many seconds.
    """

    method: str
    path: str
    status: int | None = None
    retry_after: str | None = None
    html: bool = False
    body: Any = None
    hang_after: float = 0.0


@dataclass
class FakeAmo:
    rate_per_s: int = 7
    page_cap: int = 250  # a server may return fewer than ``limit`` per page
    token_delay_s: float = 0.0  # widen the refresh race window
    refresh_grace: bool = False  # Kommo: an old refresh token works until the new pair is used
    hits: list[Hit] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    access_tokens: set[str] = field(default_factory=lambda: {"good-token"})
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token → "live" | "grace"
    grace_of: dict[str, str] = field(default_factory=dict)  # new token (access or refresh) → old refresh
    codes: set[str] = field(default_factory=set)
    refresh_calls: int = 0
    issued: list[tuple[str, str]] = field(default_factory=list)  # (access, refresh) in issue order
    on_api_call: Callable[[str], None] | None = None  # sees each bearer token as it arrives
    api_rejects_all: bool = False  # the integration was revoked: every API call is a 401
    entities: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    custom_fields: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    pipelines: dict[int, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    bot_runs: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""  # where the test serves it (set by the test's fixture)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self._next_id = 1000
        for kind in ("contacts", "leads", "tasks", "notes"):
            self.entities.setdefault(kind, {})
        for kind in ("contacts", "leads"):
            self.custom_fields.setdefault(kind, {})
        self.custom_fields["contacts"].update(
            {
                1: {"id": 1, "name": "Phone", "code": "PHONE", "type": "multitext"},
                2: {"id": 2, "name": "Email", "code": "EMAIL", "type": "multitext"},
            }
        )
        self.app = build_app(self)

    # --- helpers for tests ----------------------------------------------------------------------

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def add_fault(self, method: str, path: str, **kwargs: Any) -> None:
        self.faults.append(Fault(method.upper(), path, **kwargs))

    def calls(self, method: str, path: str) -> list[Hit]:
        return [h for h in self.hits if h.method == method and h.path == path]

    def issue_pair(self) -> tuple[str, str]:
        with self.lock:
            pair = (f"acc-{secrets.token_hex(6)}", f"ref-{secrets.token_hex(6)}")
            self.access_tokens.add(pair[0])
            self.refresh_tokens[pair[1]] = "live"
            self.issued.append(pair)
            return pair

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for i, fault in enumerate(self.faults):
                if fault.method == method and fault.path == path:
                    return self.faults.pop(i)
        return None


# --- the Flask app -------------------------------------------------------------------------------


def problem(status: int, detail: str, **extra: Any) -> Response:
    body = {"title": "Error", "type": f"https://httpstatus.es/{status}", "status": status, "detail": detail, **extra}
    return Response(json.dumps(body), status, content_type="application/problem+json")


def hal(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, content_type="application/hal+json")


def nested_args(args: MultiDict) -> dict[str, Any]:
    """``filter[entity_id][0]=1&filter[is_completed]=0`` → ``{"filter": {"entity_id": ["1"], ...}}``."""
    root: dict[str, Any] = {}
    for key, value in args.items(multi=True):
        path = [key.split("[", 1)[0], *re.findall(r"\[([^\]]*)\]", key)]
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1] or str(len(node))] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


class Switchboard:
    """One served WSGI app that forwards to the current fake, so a module's tests share one server
    (starting and stopping a server per test costs ~0.5 s) but each test gets fresh state."""

    def __init__(self) -> None:
        self.fake = FakeAmo()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.fake.app(environ, start_response)

    def install(self, fake: FakeAmo, url: str) -> FakeAmo:
        fake.url, self.fake = url, fake
        return fake


def fake_of() -> FakeAmo:
    return current_app.extensions["amocrm_min"]


def build_app(fake: FakeAmo) -> Flask:
    app = Flask("amocrm_min")
    app.extensions["amocrm_min"] = fake
    app.before_request(gate)
    app.after_request(record)
    rules: list[tuple[str, Callable[..., Response], list[str]]] = [
        ("/oauth2/access_token", token_endpoint, ["POST"]),
        ("/api/v4/<any(contacts, leads, tasks):kind>", collection, ["GET", "POST", "PATCH"]),
        ("/api/v4/<any(contacts, leads, tasks):kind>/<int:entity_id>", one_entity, ["GET", "PATCH"]),
        ("/api/v4/leads/complex", complex_leads, ["POST"]),
        ("/api/v4/<any(contacts, leads):kind>/notes", notes, ["POST"]),
        ("/api/v4/<any(contacts, leads):kind>/<int:entity_id>/link", link, ["POST"]),
        ("/api/v4/account", account, ["GET"]),
        ("/api/v4/users", users, ["GET"]),
        ("/api/v4/<any(contacts, leads):kind>/custom_fields", custom_fields, ["GET", "POST"]),
        ("/api/v4/leads/pipelines", pipelines, ["GET", "POST"]),
        ("/api/v4/leads/pipelines/<int:pipeline_id>", pipeline, ["PATCH"]),
        ("/api/v4/leads/pipelines/<int:pipeline_id>/statuses", statuses, ["GET", "POST"]),
        ("/api/v4/leads/pipelines/<int:pipeline_id>/statuses/<int:status_id>", status, ["PATCH"]),
        ("/api/v4/webhooks", webhooks, ["GET", "POST", "DELETE"]),
        ("/api/v2/salesbot/run", salesbot, ["POST"]),
    ]
    for rule, view, methods in rules:
        app.add_url_rule(rule, view.__name__, view, methods=methods)
    return app


def gate() -> Response | None:
    """Record the arrival, then apply the rate limit, the bearer check and any scripted fault."""
    fake = fake_of()
    auth = request.headers.get("Authorization", "")
    token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
    hit = Hit(time.monotonic(), request.method, request.path, request.args.copy(), request.get_json(silent=True), token)
    with fake.lock:
        recent = [h for h in fake.hits if h.at > hit.at - 1.0 and h.path != "/oauth2/access_token"]
        fake.hits.append(hit)
    g.hit, g.hang = hit, 0.0
    if request.path != "/oauth2/access_token":
        if len(recent) >= fake.rate_per_s:
            return problem(429, "Too Many Requests", retry_after=1)
        if token not in fake.access_tokens or fake.api_rejects_all:
            return problem(401, "Invalid user name or password")
        _use_token(fake, token)
        if fake.on_api_call:
            fake.on_api_call(token)
    fault = fake.take_fault(request.method, request.path)
    if fault is None:
        return None
    g.hang = fault.hang_after
    return _fault_response(fault) if fault.status else None


def _fault_response(fault: Fault) -> Response:
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
    if fault.html:
        return Response(f"<html><h1>{fault.status}</h1></html>", fault.status, headers, content_type="text/html")
    body = fault.body if fault.body is not None else {"status": fault.status, "detail": "injected"}
    return Response(json.dumps(body), fault.status, headers, content_type="application/problem+json")


def record(response: Response) -> Response:
    g.hit.status = response.status_code
    if g.hang:
        time.sleep(g.hang)  # the write is stored; the client's read timeout fires first
    return response


def _use_token(fake: FakeAmo, token: str) -> None:
    """Using a new pair ends the grace of the refresh token it replaced (Kommo's rule)."""
    with fake.lock:
        old = fake.grace_of.pop(token, None)
        if old:
            fake.refresh_tokens.pop(old, None)


def token_endpoint() -> Response:
    fake = fake_of()
    body = request.get_json(force=True)
    if body.get("grant_type") == "authorization_code":
        with fake.lock:
            if body.get("code") not in fake.codes:
                return problem(400, "bad code", hint="Authorization code has been revoked")
            fake.codes.discard(body["code"])
        return _pair_response(*fake.issue_pair())
    time.sleep(fake.token_delay_s)
    old = body.get("refresh_token")
    with fake.lock:
        fake.refresh_calls += 1
        if old not in fake.refresh_tokens:
            return problem(401, "revoked", hint="Token has been revoked")
        _use_token(fake, old)  # spending the new refresh token ends the grace of the one it replaced
        access, refresh = fake.issue_pair()
        if fake.refresh_grace:
            fake.refresh_tokens[old] = "grace"
            fake.grace_of[access] = fake.grace_of[refresh] = old
        else:
            del fake.refresh_tokens[old]
    return _pair_response(access, refresh)


def _pair_response(access: str, refresh: str) -> Response:
    body = {"token_type": "Bearer", "expires_in": 86400, "access_token": access, "refresh_token": refresh}
    return Response(json.dumps(body), 200, content_type="application/json")


def _page(path: str, key: str, items: list[dict[str, Any]]) -> Response:
    limit = int(request.args.get("limit", 50))
    if limit > 250:
        return problem(422, "Limit 250 per page")
    page = int(request.args.get("page", 1))
    size = min(limit, fake_of().page_cap)
    chunk = items[(page - 1) * size : page * size]
    if not chunk:
        return Response(status=204)
    links = {"self": {"href": f"{HOST}{path}?page={page}&limit={limit}"}}
    if page * size < len(items):
        links["next"] = {"href": f"{HOST}{path}?page={page + 1}&limit={limit}"}
    return hal({"_page": page, "_links": links, "_embedded": {key: chunk}})


def _validate(kind: str, items: list[dict[str, Any]], creating: bool) -> Response | None:
    if len(items) > 250:
        return problem(422, "Limit 250 per page")
    known = fake_of().custom_fields.get(kind, {})
    codes = {f.get("code") for f in known.values()}
    rejected = []
    for index, item in enumerate(items):
        errors = [
            {
                "code": "NotSupportedChoice",
                "path": f"custom_fields_values.{n}.field_id",
                "detail": "Not a valid choice.",
            }
            for n, value in enumerate(item.get("custom_fields_values") or [])
            if value.get("field_id") not in known and value.get("field_code") not in codes
        ]
        if kind == "tasks" and creating:
            blank = [k for k in ("text", "complete_till") if not item.get(k)]
            errors += [{"code": "NotBlank", "path": k, "detail": "This value should not be blank."} for k in blank]
        if errors:
            rejected.append({"request_id": str(item.get("request_id", index)), "errors": errors})
    if rejected:
        return problem(400, "Request validation failed", **{"validation-errors": rejected})
    return None


def collection(kind: str) -> Response:
    fake = fake_of()
    store = fake.entities[kind]
    if request.method == "GET":
        return _page(request.path, kind, _filtered(kind, list(store.values())))
    items = request.get_json(force=True)
    invalid = _validate(kind, items, creating=request.method == "POST")
    if invalid:
        return invalid
    out = []
    with fake.lock:
        for index, item in enumerate(items):
            fields = {k: v for k, v in item.items() if k != "request_id"}
            if request.method == "POST":
                entity = {"is_completed": False, "result": []} if kind == "tasks" else {}
                entity.update(fields, id=fake.new_id(), updated_at=int(time.time()))
                store[entity["id"]] = entity
            else:
                entity = store[item["id"]]
                entity.update(fields)
            out.append({"id": entity["id"], "request_id": str(item.get("request_id", index))})
    return hal({"_links": {"self": {"href": f"{HOST}{request.path}"}}, "_embedded": {kind: out}})


def one_entity(kind: str, entity_id: int) -> Response:
    entity = fake_of().entities[kind].get(entity_id)
    if entity is None:
        return Response(status=204)
    if request.method == "PATCH":
        entity.update(request.get_json(force=True))
        return hal({"id": entity_id, "updated_at": int(time.time()), "request_id": "0"})
    return hal(entity)


def complex_leads() -> Response:
    fake = fake_of()
    out = []
    for index, item in enumerate(request.get_json(force=True)):
        contacts = (item.get("_embedded") or {}).get("contacts") or []
        contact_id = fake.new_id() if contacts else None
        if contact_id:
            fake.entities["contacts"][contact_id] = {**contacts[0], "id": contact_id}
        lead_id = fake.new_id()
        lead = {k: v for k, v in item.items() if k not in ("_embedded", "request_id")}
        fake.entities["leads"][lead_id] = {**lead, "id": lead_id}
        rid = [str(item.get("request_id", index))]
        out.append({"id": lead_id, "contact_id": contact_id, "company_id": None, "request_id": rid, "merged": False})
    return Response(json.dumps(out), 200, content_type="application/json")


def notes(kind: str) -> Response:
    fake = fake_of()
    out = []
    for index, item in enumerate(request.get_json(force=True)):
        note_id = fake.new_id()
        fake.entities["notes"][note_id] = {**item, "id": note_id, "entity_type": kind}
        out.append({"id": note_id, "entity_id": item["entity_id"], "request_id": str(item.get("request_id", index))})
    return hal({"_embedded": {"notes": out}})


def link(kind: str, entity_id: int) -> Response:
    out = [
        {
            "entity_id": entity_id,
            "entity_type": kind,
            "to_entity_id": item["to_entity_id"],
            "to_entity_type": item["to_entity_type"],
            "metadata": {"main_contact": bool((item.get("metadata") or {}).get("is_main"))},
        }
        for item in request.get_json(force=True)
    ]
    fake_of().links.extend(out)
    return hal({"_total_items": len(out), "_embedded": {"links": out}})


def _filtered(kind: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    args = nested_args(request.args)
    flt = args.get("filter") or {}
    query = (args.get("query") or "").lower()
    items = [e for e in items if query in json.dumps(e, ensure_ascii=False).lower()]
    if "id" in flt:
        ids = {int(i) for i in (flt["id"] if isinstance(flt["id"], list) else [flt["id"]])}
        items = [e for e in items if e["id"] in ids]
    if kind != "tasks":
        return items
    if flt.get("entity_type"):  # entity_id alone is ignored, as on the real API
        ids = {int(i) for i in flt.get("entity_id") or []}
        items = [e for e in items if e.get("entity_type") == flt["entity_type"]]
        items = [e for e in items if not ids or e.get("entity_id") in ids]
    if "is_completed" in flt:
        items = [e for e in items if bool(e.get("is_completed")) == (flt["is_completed"] == "1")]
    if isinstance(flt.get("updated_at"), dict):
        items = [e for e in items if e.get("updated_at", 0) >= int(flt["updated_at"].get("from", 0))]
    return items


def account() -> Response:
    body: dict[str, Any] = {"id": 31000001, "name": "Fake salon", "subdomain": "fake", "_embedded": {}}
    if "task_types" in request.args.get("with", ""):
        body["_embedded"]["task_types"] = [{"id": 1, "name": "Call"}, {"id": 2, "name": "Meeting"}]
    return hal(body)


def users() -> Response:
    return _page(request.path, "users", [{"id": 501, "name": "Admin"}, {"id": 502, "name": "Manager"}])


def custom_fields(kind: str) -> Response:
    fake = fake_of()
    store = fake.custom_fields[kind]
    if request.method == "GET":
        return _page(request.path, "custom_fields", list(store.values()))
    out = []
    for item in request.get_json(force=True):
        field_id = fake.new_id()
        enums = [{**e, "id": fake.new_id()} for e in item.get("enums") or []]
        store[field_id] = {**{k: v for k, v in item.items() if k != "request_id"}, "id": field_id, "enums": enums}
        out.append(store[field_id])
    return hal({"_embedded": {"custom_fields": out}}, 201)


def pipelines() -> Response:
    fake = fake_of()
    if request.method == "GET":
        items = list(fake.pipelines.values())
        return hal({"_total_items": len(items), "_embedded": {"pipelines": items}})
    out = []
    for item in request.get_json(force=True):
        pipeline_id = fake.new_id()
        sent = (item.get("_embedded") or {}).get("statuses", [])
        held = [{**s, "id": s.get("id") or fake.new_id(), "pipeline_id": pipeline_id} for s in sent]
        held += [{**s, "pipeline_id": pipeline_id} for s in SYSTEM_STATUSES if s["id"] not in {x["id"] for x in held}]
        fields = {k: v for k, v in item.items() if k not in ("_embedded", "request_id")}
        fake.pipelines[pipeline_id] = {**fields, "id": pipeline_id, "_embedded": {"statuses": held}}
        out.append(fake.pipelines[pipeline_id])
    return hal({"_total_items": len(out), "_embedded": {"pipelines": out}})


def pipeline(pipeline_id: int) -> Response:
    fake_of().pipelines[pipeline_id].update(request.get_json(force=True))
    return hal(fake_of().pipelines[pipeline_id])


def statuses(pipeline_id: int) -> Response:
    held = fake_of().pipelines[pipeline_id]["_embedded"]["statuses"]
    if request.method == "POST":
        new = [{**s, "id": fake_of().new_id(), "pipeline_id": pipeline_id} for s in request.get_json(force=True)]
        held.extend(new)
        return hal({"_embedded": {"statuses": new}})
    return hal({"_total_items": len(held), "_embedded": {"statuses": held}})


def status(pipeline_id: int, status_id: int) -> Response:
    found = next(s for s in fake_of().pipelines[pipeline_id]["_embedded"]["statuses"] if s["id"] == status_id)
    found.update(request.get_json(force=True))
    return hal(found)


def webhooks() -> Response:
    fake = fake_of()
    if request.method == "GET":
        return _page(request.path, "webhooks", list(fake.webhooks.values()))
    body = request.get_json(force=True)
    if request.method == "DELETE":
        if fake.webhooks.pop(body["destination"], None) is None:
            return problem(404, "Webhook not found")
        return Response(status=204)
    hook = {"id": fake.new_id(), "disabled": False, **body}
    fake.webhooks[body["destination"]] = hook
    return hal(hook, 201)


def salesbot() -> Response:
    items = request.get_json(force=True)
    fake_of().bot_runs.extend(items)
    ok = all(i.get("entity_type") in (1, 2) for i in items)
    return hal({"_links": {"self": {"href": "/api/v2/salesbot/run", "method": "post"}}, "success": ok}, 202)
