"""amoCRM API v4 client: one request seam with the reliability policy, then thin endpoint methods.

Why our own: the PyPI clients hardcode ``amocrm.ru``, have no timeouts, no 429 handling, resend POSTs
and do no batching (spec/amocrm.md §13). Everything that can fail goes through ``_request``:

* a limiter slot before every call (shared per account by all processes), given back with the answer;
* ``Authorization: Bearer``; a 401 makes the token provider refresh once, then the call is retried once;
* 429: wait ``Retry-After`` (capped, jittered) and push back every process through the limiter;
* 403 that is a block: ``AccountBlocked`` — retrying only prolongs it;
* 5xx, timeouts, connection errors: jittered exponential backoff, but only for idempotent calls; a POST
  that may have reached the server raises ``AmbiguousWrite`` and is never resent blindly;
* reads (GET) wait for their answer at most ``lookup_timeout_s``: a search answers in well under a second,
  and one whose answer is lost is simply asked again, so waiting the writes' full read timeout only idles
  the budget;
* ``deadline``: past it no request is started (``OutOfTime``), so a job stops between requests, with every
  outcome recorded, before its runner would kill it mid-request;
* 400 ``validation-errors``: ``AmoValidationError`` naming the request_id and field paths.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import requests

from bridge.amocrm import markers, transport
from bridge.amocrm.errors import (
    AccountBlocked,
    AmbiguousWrite,
    AmoError,
    AmoHttpError,
    MarkerFieldMissing,
    OutOfTime,
    RateLimited,
    ReauthRequired,
    SalesbotNotStarted,
)
from bridge.amocrm.ratelimit import Limiter

log = logging.getLogger(__name__)

PAGE_LIMIT = 250  # the documented maximum page size
BATCH_SIZE = 50  # documented maximum is 250 per write, recommended ≤ 50; /leads/complex allows 50
MAX_PAGES = 10_000  # a guard against a server that always links a "next" page
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PATCH", "PUT", "DELETE"})
SALESBOT_BATCH = 100  # launches per POST /api/v2/salesbot/run
SALESBOT_ENTITY_TYPES = {"contacts": 1, "contact": 1, "leads": 2, "lead": 2}


class TokenSource(Protocol):
    """What the client needs from token handling (``TokenProvider``, ``StaticTokenProvider``)."""

    tenant: str

    def access_token(self) -> str: ...

    def refresh_after_401(self, rejected: str | None = None) -> str: ...

    def mark_needs_reauth(self, reason: str) -> None: ...


class _Retry(Exception):
    """Internal control flow: try again after ``delay`` s (None: the backoff for this attempt)."""

    def __init__(self, delay: float | None, final: AmoError):
        self.delay, self.final = delay, final


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    params: list[tuple[str, str]] | None
    json: Any
    idempotent: bool


class AmoCrmClient:
    """One amoCRM account. Cheap to build; keep one per tenant per process."""

    def __init__(
        self,
        base_url: str,
        token_provider: TokenSource,
        *,
        limiter: Limiter | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 20),
        lookup_timeout_s: float = 6.0,
        max_retries: int = 4,
        max_sleep_s: float = 10.0,
        retry_for_s: float | None = None,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        block_pause: timedelta = timedelta(hours=1),
        marker_fields: Mapping[str, int] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        observer: Callable[[int | None, float], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self._observe = observer  # told (HTTP status or None for no answer, seconds) after every exchange
        self.tokens = token_provider
        self.limiter = limiter
        self._session = session
        self.timeout = timeout
        self.lookup_timeout = (timeout[0], min(timeout[1], lookup_timeout_s))
        self.deadline: float | None = None  # time.monotonic() past which no request is started
        self.max_retries = max_retries
        self.max_sleep_s = max_sleep_s
        self.retry_for_s = retry_for_s  # a time budget per call: retry while it lasts (up to max_retries)
        self.backoff = (backoff_base_s, backoff_cap_s)
        self.block_pause = block_pause
        self._marker_fields: dict[str, int] = dict(marker_fields or {})
        self._sleep = sleep

    @property
    def session(self) -> requests.Session:
        # Resolved per call, not in __init__, so a client built before a fork uses the child's pool.
        return self._session or transport.default_session()

    # --- the request seam ------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one API call under the client's policy; returns parsed JSON or None (204/empty)."""
        method = method.upper()
        call = _Call(
            method,
            path,
            transport.php_params(params) if params else None,
            json,
            method in IDEMPOTENT_METHODS if idempotent is None else idempotent,
        )
        started = time.monotonic()
        for attempt in range(self.max_retries + 1):
            self.check_deadline()
            try:
                return self._outcome(call, self._send_authorized(call), attempt)
            except _Retry as retry:
                delay = transport.backoff_delay(attempt, *self.backoff) if retry.delay is None else retry.delay
                if attempt == self.max_retries or delay > self.max_sleep_s or self._out_of_time(started, delay):
                    raise retry.final from None
                log.warning("amoCRM %s %s: %s; retry %d in %.2f s", method, path, retry.final, attempt + 1, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # the loop either returns or raises

    def _out_of_time(self, started: float, delay: float) -> bool:
        now = time.monotonic()
        if self.deadline is not None and now + delay > self.deadline:
            return True
        return self.retry_for_s is not None and now - started + delay > self.retry_for_s

    def check_deadline(self) -> None:
        """Raise ``OutOfTime`` once ``deadline`` has passed (callers check before recording an attempt)."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise OutOfTime("the run's time is up; the rest waits for the next one")

    def _send_authorized(self, call: _Call) -> requests.Response:
        token = self.tokens.access_token()
        response = self._send(call, token)
        if response.status_code != 401:
            return response
        response.close()
        response = self._send(call, self.tokens.refresh_after_401(token))
        if response.status_code == 401:
            reason = f"HTTP 401 on {call.method} {call.path} right after a token refresh"
            self.tokens.mark_needs_reauth(reason)
            raise ReauthRequired(self.tokens.tenant, reason)
        return response

    def _send(self, call: _Call, token: str) -> requests.Response:
        ticket = None
        if self.limiter is not None:
            try:
                ticket = self.limiter.acquire()
            except RateLimited as exc:  # the budget is booked further ahead: wait without holding a slot
                raise _Retry(exc.retry_in, exc) from None
        try:
            return self._transmit(call, token)
        finally:
            if self.limiter is not None:
                self.limiter.release(ticket)  # answered or given up on: it reached amoCRM by now, if at all

    def _transmit(self, call: _Call, token: str) -> requests.Response:
        started = time.monotonic()
        try:
            response = self.session.request(
                call.method,
                self.base_url + call.path,
                params=call.params,
                json=call.json,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=self.lookup_timeout if call.method == "GET" else self.timeout,
            )
        except requests.RequestException as exc:
            if self._observe is not None:
                self._observe(None, time.monotonic() - started)
            cause = f"{type(exc).__name__}: {exc}"
            if not (call.idempotent or transport.never_sent(exc)):
                raise AmbiguousWrite(call.method, call.path, cause) from exc
            raise _Retry(None, AmoError(f"amoCRM {call.method} {call.path}: {cause}")) from exc
        if self._observe is not None:
            self._observe(response.status_code, time.monotonic() - started)
        log.debug(
            "amoCRM %s %s → %s in %.0f ms (X-Request-Id %s)",
            call.method,
            call.path,
            response.status_code,
            (time.monotonic() - started) * 1000,
            response.headers.get("X-Request-Id", "-"),
        )
        return response

    def _outcome(self, call: _Call, response: requests.Response, attempt: int) -> Any:
        status = response.status_code
        if status < 400:
            return transport.json_body(response)
        if status == 429:
            wait = transport.retry_after(response)
            wait = wait if wait is not None else min(60.0, 2.0**attempt)
            if self.limiter is not None:
                self.limiter.penalize(wait)
            jittered = transport.with_jitter(wait)
            raise _Retry(jittered, RateLimited(jittered))
        if status == 403 and transport.is_block(response):
            wait = transport.retry_after(response)
            pause = timedelta(seconds=wait) if wait else self.block_pause
            raise AccountBlocked(datetime.now(UTC) + pause, response.text[:200])
        error = transport.error_for(response, call.method, call.path)
        if status >= 500:
            if not call.idempotent:
                raise AmbiguousWrite(call.method, call.path, str(error))
            raise _Retry(None, error)
        raise error

    # --- reading and writing in pages and batches --------------------------------------------------

    def iterate(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a HAL collection, page by page (limit 250) until there is no ``next`` or a 204."""
        page = 1
        for _ in range(MAX_PAGES):
            body = self._request("GET", path, params={**(params or {}), "limit": PAGE_LIMIT, "page": page})
            if not body:
                return
            yield from (body.get("_embedded") or {}).get(key) or []
            page = _next_page(body, page)
            if page is None:
                return
        raise AmoError(f"amoCRM GET {path}: more than {MAX_PAGES} pages; refusing to go on")

    def _collect(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return list(self.iterate(path, key, params))

    def _write(
        self,
        method: str,
        path: str,
        key: str | None,
        items: Sequence[Mapping[str, Any]],
        *,
        numbered: bool = False,
        idempotent: bool | None = None,
    ) -> list[Any]:
        """Batch write in chunks of 50; results concatenated in input order.

        ``numbered`` (creates whose endpoint documents ``request_id``): each item gets its index in
        ``items`` unless the caller set one, so a validation error names the caller's item rather than
        its position inside a chunk. Other endpoints reject the key (``FieldNotExpected``).
        """
        results: list[Any] = []
        for start in range(0, len(items), BATCH_SIZE):
            part = [dict(item) for item in items[start : start + BATCH_SIZE]]
            if numbered:
                for offset, item in enumerate(part):
                    item.setdefault("request_id", str(start + offset))
            try:
                body = self._request(method, path, json=part, idempotent=idempotent)
            except AmoError as exc:
                exc.done = results
                raise
            results.extend(_items(body, key))
        return results

    # --- account and users -----------------------------------------------------------------------

    def account(self, with_: str | Iterable[str] | None = None) -> dict[str, Any]:
        """``GET /api/v4/account`` (e.g. ``with_=["task_types", "users_groups"]``)."""
        return self._request("GET", "/api/v4/account", params=_with(with_)) or {}

    def list_users(self) -> list[dict[str, Any]]:
        return self._collect("/api/v4/users", "users")

    # --- pipelines and statuses ------------------------------------------------------------------

    def list_pipelines(self) -> list[dict[str, Any]]:
        """All pipelines with their statuses (the endpoint is not paginated)."""
        return _items(self._request("GET", "/api/v4/leads/pipelines"), "pipelines")

    def create_pipelines(self, pipelines: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return self._write("POST", "/api/v4/leads/pipelines", "pipelines", pipelines, numbered=True)

    def create_pipeline(
        self,
        name: str,
        statuses: Sequence[Mapping[str, Any]],
        *,
        sort: int = 100,
        is_main: bool = False,
        is_unsorted_on: bool = True,
    ) -> dict[str, Any]:
        """One pipeline with its statuses (statuses can only be sent at creation)."""
        body = {"name": name, "sort": sort, "is_main": is_main, "is_unsorted_on": is_unsorted_on}
        return self.create_pipelines([{**body, "_embedded": {"statuses": list(statuses)}}])[0]

    def update_pipeline(self, pipeline_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Rename/resort one pipeline (``PATCH`` is single-object only here)."""
        return self._request("PATCH", f"/api/v4/leads/pipelines/{pipeline_id}", json=dict(fields)) or {}

    def list_statuses(self, pipeline_id: int) -> list[dict[str, Any]]:
        return _items(self._request("GET", f"/api/v4/leads/pipelines/{pipeline_id}/statuses"), "statuses")

    def create_statuses(self, pipeline_id: int, statuses: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return self._write(
            "POST", f"/api/v4/leads/pipelines/{pipeline_id}/statuses", "statuses", statuses, numbered=True
        )

    def update_status(self, pipeline_id: int, status_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/api/v4/leads/pipelines/{pipeline_id}/statuses/{status_id}"
        return self._request("PATCH", path, json=dict(fields)) or {}

    # --- custom fields ---------------------------------------------------------------------------

    def list_custom_fields(self, entity: str) -> list[dict[str, Any]]:
        """All custom fields of ``contacts`` / ``leads`` / ``companies`` (every page)."""
        return self._collect(f"/api/v4/{entity}/custom_fields", "custom_fields")

    def create_custom_fields(self, entity: str, fields: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Create fields (``enums`` required for select/multiselect/radiobutton); admin only."""
        return self._write("POST", f"/api/v4/{entity}/custom_fields", "custom_fields", fields)

    # --- contacts --------------------------------------------------------------------------------

    def find_contacts(self, query: str) -> list[dict[str, Any]]:
        """Contacts by phone or email: full-text ``query``, then an exact post-filter.

        Phones are searched by their last 10 digits (amo stores them as typed: ``+7999…`` vs ``8999…``)
        and kept only when a PHONE value ends with the same digits; emails must match case-insensitively.
        Anything else is passed to ``query`` as is.
        """
        digits = "".join(ch for ch in query if ch.isdigit())
        if "@" in query:
            wanted = query.strip().lower()
            found = self._collect("/api/v4/contacts", "contacts", {"query": wanted})
            return [c for c in found if wanted in _field_values(c, "EMAIL", str.lower)]
        if len(digits) >= 7 and not any(ch.isalpha() for ch in query):
            tail = digits[-10:]
            found = self._collect("/api/v4/contacts", "contacts", {"query": tail})
            return [c for c in found if any(p.endswith(tail) for p in _field_values(c, "PHONE", _digits))]
        return self._collect("/api/v4/contacts", "contacts", {"query": query})

    def get_contact(self, contact_id: int, with_: str | Iterable[str] | None = None) -> dict[str, Any] | None:
        return self._request("GET", f"/api/v4/contacts/{contact_id}", params=_with(with_))

    def create_contacts(self, contacts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return self._write("POST", "/api/v4/contacts", "contacts", contacts, numbered=True)

    def update_contacts(self, contacts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return self._write("PATCH", "/api/v4/contacts", "contacts", contacts)

    # --- leads -----------------------------------------------------------------------------------

    def create_leads(self, leads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return self._write("POST", "/api/v4/leads", "leads", leads, numbered=True)

    def update_leads(self, leads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Batch PATCH; to move a lead send both ``pipeline_id`` and ``status_id``."""
        return self._write("PATCH", "/api/v4/leads", "leads", leads)

    def create_complex_leads(self, leads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Leads with an embedded new/existing contact; the answer is a plain array (not HAL)."""
        return self._write("POST", "/api/v4/leads/complex", None, leads, numbered=True)

    def get_lead(self, lead_id: int, with_: str | Iterable[str] | None = None) -> dict[str, Any] | None:
        """One lead, or None when amoCRM answers 204 (missing)."""
        return self._request("GET", f"/api/v4/leads/{lead_id}", params=_with(with_))

    def list_leads(
        self,
        filter: Mapping[str, Any] | None = None,
        *,
        query: str | None = None,
        with_: str | Iterable[str] | None = None,
        order: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Leads matching ``filter`` (nested dict → ``filter[...]`` brackets), every page."""
        params: dict[str, Any] = {"filter": filter, "query": query, "order": order, **_with(with_)}
        return self._collect("/api/v4/leads", "leads", {k: v for k, v in params.items() if v is not None})

    # --- tasks -----------------------------------------------------------------------------------

    def create_tasks(self, tasks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Each task needs ``text`` and ``complete_till`` (Unix seconds)."""
        return self._write("POST", "/api/v4/tasks", "tasks", tasks, numbered=True)

    def update_tasks(self, tasks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return self._write("PATCH", "/api/v4/tasks", "tasks", tasks)

    def complete_task(self, task_id: int, result_text: str) -> dict[str, Any]:
        body = {"is_completed": True, "result": {"text": result_text}}
        return self._request("PATCH", f"/api/v4/tasks/{task_id}", json=body) or {}

    def list_tasks(
        self, entity_type: str, entity_ids: Iterable[int], is_completed: bool | None = None
    ) -> list[dict[str, Any]]:
        """Tasks attached to the given entities (``filter[entity_id]`` needs ``filter[entity_type]``)."""
        ids = list(entity_ids)
        tasks: list[dict[str, Any]] = []
        for start in range(0, len(ids), BATCH_SIZE):  # keeps the query string short
            chunk = ids[start : start + BATCH_SIZE]
            flt = {"entity_type": entity_type, "entity_id": chunk, "is_completed": is_completed}
            tasks.extend(self._collect("/api/v4/tasks", "tasks", {"filter": flt}))
        return tasks

    # --- notes, links, webhooks, Salesbot --------------------------------------------------------

    def add_notes(self, entity_type: str, notes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Notes on ``leads``/``contacts``/…; build items with ``common_note`` / ``service_note``."""
        return self._write("POST", f"/api/v4/{entity_type}/notes", "notes", notes, numbered=True)

    def find_note(self, entity_type: str, entity_id: int, text: str) -> int | None:
        """The id of a common note with exactly ``text`` on one entity (how a note is found again)."""
        notes = self.iterate(f"/api/v4/{entity_type}/{entity_id}/notes", "notes",
                             {"filter": {"note_type": ["common"]}})
        return next((int(n["id"]) for n in notes if (n.get("params") or {}).get("text") == text), None)

    def link(self, entity_type: str, entity_id: int, to: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Link e.g. contacts to a lead: ``to=[{"to_entity_id": 1, "to_entity_type": "contacts",
        "metadata": {"is_main": True}}]``. Linking twice is harmless, so this POST is retried."""
        path = f"/api/v4/{entity_type}/{entity_id}/link"
        return self._write("POST", path, "links", to, idempotent=True)

    def list_webhooks(self, destination: str | None = None) -> list[dict[str, Any]]:
        params = {"filter": {"destination": destination}} if destination else None
        return self._collect("/api/v4/webhooks", "webhooks", params)

    def subscribe_webhook(self, destination: str, settings: Sequence[str], sort: int | None = None) -> dict[str, Any]:
        """Subscribe (or update the settings of) the webhook for ``destination``; repeating it is safe."""
        body: dict[str, Any] = {"destination": destination, "settings": list(settings)}
        if sort is not None:
            body["sort"] = sort
        return self._request("POST", "/api/v4/webhooks", json=body, idempotent=True) or {}

    def unsubscribe_webhook(self, destination: str) -> bool:
        """Remove the webhook; False when there was none."""
        try:
            self._request("DELETE", "/api/v4/webhooks", json={"destination": destination})
        except AmoHttpError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def run_salesbot(self, bot_id: int, entity_id: int, entity_type: str = "leads") -> bool:
        """Start a Salesbot on a lead/contact (``POST /api/v2/salesbot/run``, the documented endpoint).

        Not retried after it may have been sent: a second run would message the client twice.
        """
        return self.run_salesbots([(bot_id, entity_id, entity_type)])

    def run_salesbots(self, runs: Sequence[tuple[int, int, str]]) -> bool:
        """Start several Salesbots in one request (``(bot_id, entity_id, entity_type)`` each, at most
        ``SALESBOT_BATCH``). amoCRM answers for the request as a whole: ``success`` false means at least
        one did not start, without saying which. Never retried after it may have been sent."""
        if not 0 < len(runs) <= SALESBOT_BATCH:
            raise ValueError(f"run_salesbots takes 1 to {SALESBOT_BATCH} runs, got {len(runs)}")
        items = [{"bot_id": bot_id, "entity_id": entity_id, "entity_type": _salesbot_type(entity_type)}
                 for bot_id, entity_id, entity_type in runs]
        body = self._request("POST", "/api/v2/salesbot/run", json=items)
        if isinstance(body, dict) and body.get("success") is False:
            what = ", ".join(f"{bot_id} on {entity_type} {entity_id}" for bot_id, entity_id, entity_type in runs)
            raise SalesbotNotStarted(f"amoCRM did not start every Salesbot of the request ({what})")
        return True

    # --- exactly-once creates --------------------------------------------------------------------

    def marker_field_id(self, entity: str) -> int:
        """The id of the marker custom field of ``contacts``/``leads`` (looked up once by its code)."""
        if entity not in self._marker_fields:
            for field in self.list_custom_fields(entity):
                if field.get("code") == markers.MARKER_FIELD_CODE:
                    self._marker_fields[entity] = int(field["id"])
                    break
            else:
                raise MarkerFieldMissing(
                    f"amoCRM {entity} have no custom field {markers.MARKER_FIELD_CODE}; "
                    f"create it with ensure_marker_field({entity!r}) (salonbridge setup does)"
                )
        return self._marker_fields[entity]

    def ensure_marker_field(self, entity: str) -> int:
        """Create the API-only marker field if the account lacks it; returns its id."""
        try:
            return self.marker_field_id(entity)
        except MarkerFieldMissing:
            created = self.create_custom_fields(entity, [markers.marker_field_definition()])[0]
            self._marker_fields[entity] = int(created["id"])
            return self._marker_fields[entity]

    def find_by_marker(
        self, kind: str, marker: str, *, entity_type: str | None = None, entity_id: int | None = None
    ) -> dict[str, Any] | None:
        """The contact/lead/task carrying ``marker`` (tasks: pass the entity they are attached to)."""
        markers.check_marker(kind, marker)
        if kind == "tasks":
            if entity_type and entity_id:
                candidates = self.list_tasks(entity_type, [entity_id])
            else:
                since = int(time.time()) - 86_400
                candidates = self._collect("/api/v4/tasks", "tasks", {"filter": {"updated_at": {"from": since}}})
            field_id = None
        else:
            field_id = self.marker_field_id(kind)
            candidates = self._collect(f"/api/v4/{kind}", kind, {"query": marker})
        return next((e for e in candidates if markers.carries_marker(kind, e, marker, field_id)), None)


# --- payload builders and small helpers ----------------------------------------------------------


def common_note(entity_id: int, text: str) -> dict[str, Any]:
    """A staff-visible text note."""
    return {"entity_id": entity_id, "note_type": "common", "params": {"text": text}}


def service_note(entity_id: int, text: str, service: str = "salonbridge") -> dict[str, Any]:
    """A "system says" note that does not fire Digital Pipeline triggers."""
    return {
        "entity_id": entity_id,
        "note_type": "service_message",
        "params": {"service": service, "text": text},
        "is_need_to_trigger_digital_pipeline": False,
    }


def _items(body: Any, key: str | None) -> list[Any]:
    if body is None:
        return []
    if key is None:
        return list(body) if isinstance(body, list) else [body]
    return list((body.get("_embedded") or {}).get(key) or [])


def _next_page(body: Mapping[str, Any], page: int) -> int | None:
    href = ((body.get("_links") or {}).get("next") or {}).get("href")
    if not href:
        return None
    raw = parse_qs(urlsplit(href).query).get("page", [""])[0]
    return int(raw) if raw.isdigit() and int(raw) > page else page + 1


def _with(with_: str | Iterable[str] | None) -> dict[str, str]:
    if not with_:
        return {}
    return {"with": with_ if isinstance(with_, str) else ",".join(with_)}


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _field_values(entity: Mapping[str, Any], code: str, norm: Callable[[str], str]) -> list[str]:
    return [
        norm(str(v.get("value", "")))
        for f in entity.get("custom_fields_values") or []
        if f.get("field_code") == code
        for v in f.get("values") or []
    ]


def _salesbot_type(entity_type: str) -> int:
    try:
        return SALESBOT_ENTITY_TYPES[entity_type]
    except KeyError:
        raise ValueError(f"entity_type: expected 'leads' or 'contacts', got {entity_type!r}") from None
