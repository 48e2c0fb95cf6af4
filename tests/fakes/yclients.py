"""A fake YCLIENTS/Altegio REST API (Flask, in memory) for integration tests of ``YclientsClient``.

It keeps the real envelope (``success``/``data``/``meta``), checks the partner+user Authorization
header, pages ``GET /records/{company_id}`` with ``changed_after``/``with_deleted``, takes ``PUT`` of a whole
record (422 when a field the real API requires is missing, as a partial PUT is there) and ``DELETE`` (the
record is marked deleted), and can be told to fail the next requests (``fail_next(429, retry_after=7)``).
Serve it with ``tests.fakes.http.serve``;
the API root is ``<base_url>/api/v1``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from flask import Flask, Response, jsonify, request

PARTNER_TOKEN = "partner-T0KEN-abc"
USER_TOKEN = "user-T0KEN-xyz"


@dataclass
class Fault:
    status: int
    retry_after: str | None = None
    message: str = "Injected failure"


@dataclass
class FakeYclients:
    partner_token: str = PARTNER_TOKEN
    user_token: str = USER_TOKEN
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    services: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    categories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)  # what the client sent, for assertions
    faults: deque[Fault] = field(default_factory=deque)

    def reset(self) -> None:
        """Forget all data, recorded requests and pending faults (one server can serve many tests)."""
        for store in (self.records, self.services, self.categories):
            store.clear()
        self.requests.clear()
        self.faults.clear()

    def add_record(self, company_id: str | int, record: dict[str, Any]) -> None:
        self.records.setdefault(str(company_id), []).append({"company_id": int(company_id), **record})

    def add_service(self, company_id: str | int, service_id: int, title: str, category_id: int | None) -> None:
        item = {"id": service_id, "title": title, "category_id": category_id, "price_min": 0, "active": 1}
        self.services.setdefault(str(company_id), []).append(item)

    def add_category(self, company_id: str | int, category_id: int, title: str) -> None:
        self.categories.setdefault(str(company_id), []).append({"id": category_id, "title": title, "weight": 0})

    def fail_next(self, status: int, *, times: int = 1, retry_after: str | None = None, message: str = "") -> None:
        for _ in range(times):
            self.faults.append(Fault(status, retry_after, message or f"Injected {status}"))

    @cached_property
    def app(self) -> Flask:
        app = Flask("fake-yclients")
        app.before_request(self._gate)
        app.get("/api/v1/company/<company_id>/services")(self._services)
        app.get("/api/v1/company/<company_id>/service_categories")(self._categories)
        app.get("/api/v1/records/<company_id>")(self._records)
        app.get("/api/v1/record/<company_id>/<record_id>")(self._record)
        app.put("/api/v1/record/<company_id>/<record_id>")(self._put_record)
        app.delete("/api/v1/record/<company_id>/<record_id>")(self._delete_record)
        return app

    def record(self, company_id: str | int, record_id: str | int) -> dict[str, Any] | None:
        return next((r for r in self.records.get(str(company_id), []) if str(r["id"]) == str(record_id)), None)

    # -- handlers -------------------------------------------------------------------------------------

    def _gate(self) -> tuple[Response, int] | None:
        self.requests.append({"path": request.path, "args": request.args.to_dict(), "headers": dict(request.headers)})
        if self.faults:
            fault = self.faults.popleft()
            response = jsonify(success=False, data=None, meta={"message": fault.message})
            if fault.retry_after is not None:
                response.headers["Retry-After"] = fault.retry_after
            return response, fault.status
        expected = f"Bearer {self.partner_token}, User {self.user_token}"
        if request.headers.get("Authorization") != expected:
            return jsonify(success=False, data=None, meta={"message": "Authentication needed."}), 401
        return None

    def _services(self, company_id: str) -> Response:
        return _ok(self.services.get(company_id, []))

    def _categories(self, company_id: str) -> Response:
        return _ok(self.categories.get(company_id, []))

    def _record(self, company_id: str, record_id: str) -> tuple[Response, int] | Response:
        for record in self.records.get(company_id, []):
            if str(record["id"]) == record_id:
                return _ok(record)
        return jsonify(success=False, data=None, meta={"message": "Record not found"}), 404

    PUT_REQUIRED = ("staff_id", "services", "client", "datetime", "seance_length")

    def _put_record(self, company_id: str, record_id: str) -> tuple[Response, int] | Response:
        record = self.record(company_id, record_id)
        if record is None or record.get("deleted"):
            return jsonify(success=False, data=None, meta={"message": "Record not found"}), 404
        body = request.get_json(silent=True) or {}
        self.requests[-1]["json"] = body
        missing = [k for k in self.PUT_REQUIRED if body.get(k) in (None, "", [])]
        if missing:
            errors = [{"field": k, "message": "required"} for k in missing]
            return jsonify(success=False, data=None, meta={"message": "Validation error", "errors": errors}), 422
        record.update({k: v for k, v in body.items() if k not in ("send_sms", "save_if_busy")})
        record["last_change_date"] = datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
        return _ok(record)

    def _delete_record(self, company_id: str, record_id: str) -> tuple[Response, int] | Response:
        record = self.record(company_id, record_id)
        if record is None or record.get("deleted"):
            return jsonify(success=False, data=None, meta={"message": "Record not found"}), 404
        record["deleted"] = True
        return Response(status=204)

    def _records(self, company_id: str) -> tuple[Response, int] | Response:
        args = request.args
        try:
            page = int(args.get("page", 1))
            count = min(int(args.get("count", 25)), 1000)
            after = datetime.strptime(args["changed_after"], "%Y-%m-%dT%H:%M:%S") if "changed_after" in args else None
        except ValueError:
            return jsonify(success=False, data=None, meta={"message": "Invalid parameters"}), 422
        rows = [
            r
            for r in sorted(self.records.get(company_id, []), key=lambda r: r["id"])
            if (args.get("with_deleted") == "1" or not r.get("deleted")) and (after is None or _wall(r) > after)
        ]
        chunk = [_as_listed(r, args) for r in rows[(page - 1) * count : page * count]]
        return _ok(chunk, page=page, total_count=len(rows))


def _as_listed(record: dict[str, Any], args: Any) -> dict[str, Any]:
    """A record as the list gives it: consumables and payments only when asked for (``include_*=1``)."""
    hidden = {key for key, flag in (("consumables", "include_consumables"),
                                    ("finance_transactions", "include_finance_transactions"))
              if args.get(flag) != "1"}
    return {k: v for k, v in record.items() if k not in hidden}


def _wall(record: dict[str, Any]) -> datetime:
    """The record's last change as the location's wall time (how YCLIENTS compares ``changed_after``)."""
    return datetime.fromisoformat(record["last_change_date"]).replace(tzinfo=None)


def _ok(data: Any, **meta: Any) -> Response:
    return jsonify(success=True, data=data, meta=meta or [])
