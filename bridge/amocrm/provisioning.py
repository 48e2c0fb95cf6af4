"""``salonbridge setup``: create or reconcile a tenant's pipelines, stages, custom fields and webhook.

Why reconcile instead of "create if absent": salons rename stages, delete a pipeline by accident, or
run setup again after changing the language. Each item is matched by the id saved last time, then by
name (fields also by their ``code``); a stored id whose name differs is renamed back; what is missing is
created; nothing is ever deleted (human-added stages, fields and enum options stay). A second run
therefore reads four lists and writes nothing. Writes are batched: one POST per missing group.

``dry_run`` does the same reads and reports what would happen without a single POST/PATCH.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bridge.amocrm import markers
from bridge.amocrm.account_map import AccountMap, FieldIds, PipelineIds, load_account_map, save_account_map
from bridge.amocrm.client import AmoCrmClient
from bridge.amocrm.connect import client_for
from bridge.amocrm.errors import AmoError, AmoHttpError
from bridge.services import Services
from bridge.store.db import Store
from bridge.tenancy import policy_of
from config.tenants import Tenant
from pipelines.policy import Policy
from pipelines.stages import LOST, PIPELINE_NAMES, STAGES, WON, Pipeline

log = logging.getLogger(__name__)

WON_ID, LOST_ID = 142, 143
UNSORTED_SORT, CLOSED_SORT = 10, 10000  # open stages must sort strictly between these
PIPELINE_SORT = 1000  # after the account's own pipelines
WEBHOOK_SETTINGS = (
    "status_lead", "update_lead", "delete_lead", "restore_lead", "responsible_lead",
    "add_task", "update_task", "delete_task",
)
STAGE_COLORS = {  # only at creation (from the 21 writable colours); people may recolour afterwards
    "prepayment": "#e6e8ea",  # the seed's grey clock
    "first_booking": "#98cbff", "no_show": "#ffc8c8", "cancelled": "#ffdbdb",
    "next_visit_expected": "#d6eaff", "reminder_due": "#fffd7f", "contacted": "#deff81",
    "reminder": "#ffeab2", "come_back_promo": "#f9deff", "manager_call": "#ffce5a",
}

# (entity, key, type) in display order; names per language below.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("contacts", "last_visit", "date"),
    ("contacts", "next_due", "date"),
    ("contacts", "last_category", "text"),
    ("contacts", "favourite_master", "text"),
    ("contacts", "branch", "text"),
    ("contacts", "source", "text"),
    ("contacts", "visits_count", "numeric"),
    ("contacts", "total_spend", "numeric"),
    ("leads", "branch", "text"),
    ("leads", "favourite_master", "text"),
    ("leads", "last_category", "text"),
    ("leads", "last_visit", "date"),
    ("leads", "prepayment_status", "select"),
    ("contacts", "card_type", "text"),  # after the others: fields keep their sort when new ones are added
    ("contacts", "balance", "numeric"),
    ("contacts", "blacklisted", "select"),
    ("contacts", "visit_history", "textarea"),  # the latest visits with their goods (pipelines.visit_history)
)
FIELD_NAMES: dict[str, dict[str, str]] = {
    "ru": {"last_visit": "Последний визит", "next_due": "Следующий визит (ожидаем)",
           "last_category": "Последняя категория", "favourite_master": "Любимый мастер", "branch": "Филиал",
           "source": "Источник", "visits_count": "Количество визитов", "total_spend": "Сумма покупок",
           "prepayment_status": "Предоплата", "card_type": "Тип карты", "balance": "Баланс",
           "blacklisted": "Чёрный список", "visit_history": "История визитов"},
    "uk": {"last_visit": "Останній візит", "next_due": "Наступний візит (очікуємо)",
           "last_category": "Остання категорія", "favourite_master": "Улюблений майстер", "branch": "Філія",
           "source": "Джерело", "visits_count": "Кількість візитів", "total_spend": "Сума покупок",
           "prepayment_status": "Передоплата", "card_type": "Тип картки", "balance": "Баланс",
           "blacklisted": "Чорний список", "visit_history": "Історія візитів"},
    "en": {"last_visit": "Last visit", "next_due": "Next visit due", "last_category": "Last category",
           "favourite_master": "Favourite master", "branch": "Branch", "source": "Source",
           "visits_count": "Visits", "total_spend": "Total spend", "prepayment_status": "Prepayment",
           "card_type": "Card type", "balance": "Balance", "blacklisted": "Blacklisted",
           "visit_history": "Visit history"},
}
PREPAYMENT_ENUMS = ("pending", "paid", "expired", "refunded")
FIELD_ENUMS = {"prepayment_status": PREPAYMENT_ENUMS, "blacklisted": ("yes", "no")}  # select fields' options
ENUM_NAMES: dict[str, dict[str, str]] = {
    "ru": {"pending": "Ожидает оплаты", "paid": "Оплачена", "expired": "Просрочена", "refunded": "Возвращена",
           "yes": "Да", "no": "Нет"},
    "uk": {"pending": "Очікує оплати", "paid": "Оплачена", "expired": "Прострочена", "refunded": "Повернена",
           "yes": "Так", "no": "Ні"},
    "en": {"pending": "Pending", "paid": "Paid", "expired": "Expired", "refunded": "Refunded", "yes": "Yes",
           "no": "No"},
}


class ProvisioningError(AmoError):
    """The tenant's configuration cannot be provisioned (invalid rules, duplicate stage names)."""


class Action(StrEnum):
    CREATED = "created"
    RENAMED = "renamed"
    UPDATED = "updated"
    REORDERED = "reordered"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"


# --- what the account should hold ----------------------------------------------------------------


@dataclass(frozen=True)
class StageSpec:
    key: str
    name: str


@dataclass(frozen=True)
class EnumSpec:
    key: str
    value: str


@dataclass(frozen=True)
class PipelineSpec:
    pipeline: Pipeline
    name: str
    stages: tuple[StageSpec, ...]  # open stages in funnel order
    won: str
    lost: str


@dataclass(frozen=True)
class FieldSpec:
    entity: str
    key: str
    type: str
    name: str
    code: str
    sort: int
    enums: tuple[EnumSpec, ...] = ()  # select options
    is_api_only: bool = False


@dataclass(frozen=True)
class WebhookSpec:
    destination: str = field(repr=False)  # holds the secret token
    shown: str  # the same with the token masked
    prefix: str
    settings: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    pipelines: tuple[PipelineSpec, ...]
    fields: tuple[FieldSpec, ...]
    webhook: WebhookSpec | None
    warnings: tuple[str, ...] = ()


def desired_layout(tenant: Tenant, public_url: str) -> Layout:
    """Everything setup should find in the account, named in the tenant's language with its overrides."""
    policy = _policy(tenant)
    language = policy.language
    pipelines = []
    for pipeline in Pipeline:
        stages = tuple(StageSpec(k, policy.stage_name(pipeline, k)) for k in STAGES[pipeline] if k not in (WON, LOST))
        spec = PipelineSpec(pipeline, PIPELINE_NAMES[language][pipeline], stages,
                            policy.stage_name(pipeline, WON), policy.stage_name(pipeline, LOST))
        names = [s.name for s in spec.stages] + [spec.won, spec.lost]
        if len(set(names)) != len(names):
            raise ProvisioningError(f"tenant {tenant.slug!r}: two stages of {pipeline} share a name: {names}")
        pipelines.append(spec)
    fields = [
        FieldSpec(entity, key, ftype, FIELD_NAMES[language][key], f"SB_{key.upper()}", 500 + 10 * i,
                  tuple(EnumSpec(e, ENUM_NAMES[language][e]) for e in FIELD_ENUMS.get(key, ())))
        for i, (entity, key, ftype) in enumerate(FIELDS)
    ]
    marker = markers.marker_field_definition()
    for entity in ("contacts", "leads"):  # what AmoCrmClient.ensure_marker_field would create
        fields.append(FieldSpec(entity, "marker", marker["type"], marker["name"], marker["code"], marker["sort"],
                                is_api_only=marker["is_api_only"]))
    webhook, warnings = _webhook(tenant, public_url)
    return Layout(tuple(pipelines), tuple(sorted(fields, key=lambda f: f.entity)), webhook, warnings)


def _policy(tenant: Tenant) -> Policy:
    return policy_of(tenant)  # the file was checked when it was loaded


def _webhook(tenant: Tenant, public_url: str) -> tuple[WebhookSpec | None, tuple[str, ...]]:
    env = tenant.amocrm.webhook_token_env
    token = tenant.secret(env)
    if not token:
        why = f"${env} is not set" if env else "the tenant file names no amocrm.webhook_token_env"
        return None, (f"webhook not subscribed: {why}; amoCRM changes made by people will not reach salonbridge",)
    prefix = f"{public_url.rstrip('/')}/hooks/{tenant.slug}/amocrm/"
    warnings = ()
    if not public_url.startswith("https://"):
        warnings = (f"SALONBRIDGE_PUBLIC_URL is {public_url}: a real amoCRM account only delivers to a public "
                    "https:// address",)
    return WebhookSpec(prefix + token, prefix + "•••", prefix, WEBHOOK_SETTINGS), warnings


# --- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    kind: str  # pipeline | stage | field | webhook
    key: str  # sales, sales:first_booking, contacts:last_visit, amocrm
    name: str
    action: Action
    detail: str = ""


@dataclass
class SetupReport:
    tenant: str
    dry_run: bool
    items: list[Item] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    account_map: AccountMap | None = None

    @property
    def changed(self) -> bool:
        return any(i.action not in (Action.UNCHANGED, Action.SKIPPED) for i in self.items)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            out[item.action.value] = out.get(item.action.value, 0) + 1
        return out

    def render(self) -> str:
        """A plain-text table, one row per item, then a summary (and warnings)."""
        head = ("KIND", "KEY", "NAME", "ACTION", "DETAIL")
        rows = [head] + [(i.kind, i.key, i.name, i.action.value, i.detail) for i in self.items]
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        lines = ["  ".join(cell.ljust(widths[c]) if c < 4 else cell for c, cell in enumerate(r)).rstrip()
                 for r in rows]
        summary = ", ".join(f"{n} {action}" for action, n in self.counts().items())
        lines.append("")
        lines.append(f"{self.tenant}: {summary}" + (" (dry run: nothing was written)" if self.dry_run else ""))
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


# --- reconciling ---------------------------------------------------------------------------------


class Provisioner:
    """One setup run against one account; collects report items as it goes."""

    def __init__(self, client: AmoCrmClient, layout: Layout, previous: AccountMap | None, *, dry_run: bool):
        self.client, self.layout, self.dry_run = client, layout, dry_run
        self.previous = previous or AccountMap()
        self.items: list[Item] = []

    def _note(self, kind: str, key: str, name: str, action: Action, detail: str = "") -> None:
        self.items.append(Item(kind, key, name, action, detail))

    # -- pipelines and stages --

    def pipelines(self) -> dict[Pipeline, PipelineIds]:
        existing = [p for p in self.client.list_pipelines() if not p.get("is_archive")]
        used: set[int] = set()
        found: dict[Pipeline, dict[str, Any]] = {}
        for spec in self.layout.pipelines:
            stored = self.previous.pipelines.get(spec.pipeline)
            match = _match(existing, used, stored.id if stored else None, ("name", spec.name))
            if match:
                found[spec.pipeline] = match
        created = self._create_pipelines([s for s in self.layout.pipelines if s.pipeline not in found])
        result: dict[Pipeline, PipelineIds] = {}
        for spec in self.layout.pipelines:
            ids = self._existing_pipeline(spec, found[spec.pipeline]) if spec.pipeline in found else created[spec]
            if ids is not None:
                result[spec.pipeline] = ids
        return result

    def _create_pipelines(self, specs: Sequence[PipelineSpec]) -> dict[PipelineSpec, PipelineIds | None]:
        bodies = [
            {
                "name": spec.name, "sort": PIPELINE_SORT + 10 * list(Pipeline).index(spec.pipeline),
                "is_main": False, "is_unsorted_on": False, "request_id": spec.pipeline.value,
                "_embedded": {"statuses": [
                    *({"name": s.name, "sort": 10 * (n + 2), "color": STAGE_COLORS.get(s.key, "#fffeb2")}
                      for n, s in enumerate(spec.stages)),
                    {"id": WON_ID, "name": spec.won}, {"id": LOST_ID, "name": spec.lost},
                ]},
            }
            for spec in specs
        ]
        made = self.client.create_pipelines(bodies) if bodies and not self.dry_run else []
        by_request = {str(p.get("request_id")): p for p in made}
        out: dict[PipelineSpec, PipelineIds | None] = {}
        for n, spec in enumerate(specs):
            pipeline = by_request.get(spec.pipeline.value) or (made[n] if len(made) == len(specs) else None)
            ids = None
            if pipeline is not None:
                names = {s["name"]: int(s["id"]) for s in _statuses(pipeline)}
                statuses = {s.key: names[s.name] for s in spec.stages if s.name in names}
                ids = PipelineIds(int(pipeline["id"]), {**statuses, WON: WON_ID, LOST: LOST_ID})
            self._note("pipeline", spec.pipeline.value, spec.name, Action.CREATED, _id_text(ids and ids.id))
            for stage in spec.stages:
                sid = ids.statuses.get(stage.key) if ids else None
                self._note("stage", f"{spec.pipeline.value}:{stage.key}", stage.name, Action.CREATED, _id_text(sid))
            for key, name, sid in ((WON, spec.won, WON_ID), (LOST, spec.lost, LOST_ID)):
                self._note("stage", f"{spec.pipeline.value}:{key}", name, Action.CREATED, _id_text(sid))
            out[spec] = ids
        return out

    def _existing_pipeline(self, spec: PipelineSpec, pipeline: dict[str, Any]) -> PipelineIds:
        pid = int(pipeline["id"])
        if pipeline["name"] != spec.name:
            self._write(lambda: self.client.update_pipeline(pid, {"name": spec.name}))
            was = f"id {pid}, was «{pipeline['name']}»"
            self._note("pipeline", spec.pipeline.value, spec.name, Action.RENAMED, was)
        else:
            self._note("pipeline", spec.pipeline.value, spec.name, Action.UNCHANGED, f"id {pid}")
        statuses = _statuses(pipeline)
        open_stages = [s for s in statuses if s.get("type", 0) == 0 and s["id"] not in (WON_ID, LOST_ID)]
        ids = self._open_stages(spec, pid, open_stages)
        for key, name, sid in ((WON, spec.won, WON_ID), (LOST, spec.lost, LOST_ID)):
            current = next((s for s in statuses if s["id"] == sid), None)
            self._closing_stage(spec, pid, key, name, current)
            ids[key] = sid
        return PipelineIds(pid, ids)

    def _open_stages(self, spec: PipelineSpec, pid: int, ordinary: list[dict[str, Any]]) -> dict[str, int]:
        stored = self.previous.pipelines.get(spec.pipeline)
        stored_ids = dict(stored.statuses) if stored else {}
        used: set[int] = set()
        matches: list[dict[str, Any] | None] = []
        for stage in spec.stages:
            matches.append(_match(ordinary, used, stored_ids.get(stage.key), ("name", stage.name)))
        targets = target_sorts([m["sort"] if m else None for m in matches])
        missing = [(stage, sort) for stage, m, sort in zip(spec.stages, matches, targets, strict=True) if m is None]
        created: list[dict[str, Any]] = []
        if missing and not self.dry_run:
            created = self.client.create_statuses(pid, [
                {"name": stage.name, "sort": sort, "color": STAGE_COLORS.get(stage.key, "#fffeb2")}
                for stage, sort in missing
            ])
        made = iter(created)
        ids: dict[str, int] = {}
        for stage, match, sort in zip(spec.stages, matches, targets, strict=True):
            key = f"{spec.pipeline.value}:{stage.key}"
            if match is None:
                new = next(made, None)
                if new is not None:
                    ids[stage.key] = int(new["id"])
                self._note("stage", key, stage.name, Action.CREATED, _id_text(new and new["id"]))
                continue
            sid = ids[stage.key] = int(match["id"])
            change = {k: v for k, v in (("name", stage.name), ("sort", sort)) if match[k] != v}
            if change:
                self._write(lambda sid=sid, change=change: self.client.update_status(pid, sid, change))
            action = Action.RENAMED if "name" in change else Action.REORDERED if change else Action.UNCHANGED
            detail = f"id {sid}" + (f", was «{match['name']}»" if "name" in change else "")
            self._note("stage", key, stage.name, action, detail + (", moved into order" if "sort" in change else ""))
        return ids

    def _closing_stage(self, spec: PipelineSpec, pid: int, key: str, name: str, current: dict | None) -> None:
        """142/143 exist in every pipeline; only their names are ours to keep."""
        row = f"{spec.pipeline.value}:{key}"
        sid = WON_ID if key == WON else LOST_ID
        if current is None or current["name"] == name:
            self._note("stage", row, name, Action.UNCHANGED, f"id {sid}")
            return
        try:
            self._write(lambda: self.client.update_status(pid, sid, {"name": name}))
        except AmoHttpError as exc:  # some accounts refuse renaming system stages: not worth failing setup
            self._note("stage", row, name, Action.SKIPPED, f"amoCRM refused the rename: {exc.detail}")
            return
        self._note("stage", row, name, Action.RENAMED, f"id {sid}, was «{current['name']}»")

    # -- custom fields --

    def fields(self) -> dict[tuple[str, str], FieldIds]:
        result: dict[tuple[str, str], FieldIds] = {}
        for entity in ("contacts", "leads"):
            specs = [f for f in self.layout.fields if f.entity == entity]
            existing = self.client.list_custom_fields(entity)
            used: set[int] = set()
            matches = []
            for spec in specs:
                stored = self.previous.fields.get((entity, spec.key))
                same_type = [f for f in existing if f.get("type") == spec.type]
                stored_id = stored.id if stored else None
                matches.append(_match(same_type, used, stored_id, ("code", spec.code), ("name", spec.name)))
            missing = [spec for spec, match in zip(specs, matches, strict=True) if match is None]
            made = iter(self.client.create_custom_fields(entity, [_field_body(s) for s in missing])
                        if missing and not self.dry_run else [])
            for spec, match in zip(specs, matches, strict=True):
                if match is None:
                    new = next(made, None)
                    self._note("field", f"{entity}:{spec.key}", spec.name, Action.CREATED, _id_text(new and new["id"]))
                    if new is not None:
                        result[(entity, spec.key)] = FieldIds(int(new["id"]), _enum_ids(spec, new))
                else:
                    result[(entity, spec.key)] = self._existing_field(spec, match)
        return result

    def _existing_field(self, spec: FieldSpec, current: dict[str, Any]) -> FieldIds:
        fid = int(current["id"])
        change: dict[str, Any] = {}
        notes = []
        if current["name"] != spec.name:
            change["name"] = spec.name
            notes.append(f"was «{current['name']}»")
        if current.get("code") != spec.code:
            change["code"] = spec.code
            notes.append(f"code {spec.code}")
        if spec.enums:
            enums, enum_notes = self._enums(spec, current.get("enums") or [])
            if enum_notes:
                change["enums"] = enums
                notes.extend(enum_notes)
        if change:
            updated = self._write(lambda: _update_field(self.client, spec.entity, fid, change))
            current = updated or current
        action = Action.RENAMED if "name" in change else Action.UPDATED if change else Action.UNCHANGED
        self._note("field", f"{spec.entity}:{spec.key}", spec.name, action, ", ".join([f"id {fid}", *notes]))
        return FieldIds(fid, _enum_ids(spec, current))

    def _enums(self, spec: FieldSpec, current: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
        """The full option list to send (people's own options kept) and what changed in it."""
        stored = self.previous.fields.get((spec.entity, spec.key))
        stored_ids = dict(stored.enums) if stored else {}
        keep = [{"id": e["id"], "value": e["value"], "sort": e.get("sort", 0)} for e in current]
        used: set[int] = set()
        notes: list[str] = []
        added: list[dict[str, Any]] = []
        for n, enum in enumerate(spec.enums):
            match = _match(current, used, stored_ids.get(enum.key), ("code", enum.key), ("value", enum.value))
            if match is None:
                added.append({"value": enum.value, "sort": 10 * (n + 1), "code": enum.key})
                notes.append(f"option «{enum.value}» added")
                continue
            row = next(e for e in keep if e["id"] == match["id"])
            if row["value"] != enum.value:
                notes.append(f"option «{row['value']}» → «{enum.value}»")
                row["value"] = enum.value
        return keep + added, notes

    # -- webhook --

    def webhook(self) -> list[str]:
        spec = self.layout.webhook
        if spec is None:
            self._note("webhook", "amocrm", "-", Action.SKIPPED, "no webhook token configured")
            return []
        hooks = self.client.list_webhooks()
        current = next((h for h in hooks if h.get("destination") == spec.destination), None)
        stale = [h for h in hooks if str(h.get("destination", "")).startswith(spec.prefix) and h is not current]
        warnings = []
        if stale:
            warnings.append(f"{len(stale)} older webhook(s) to {spec.prefix}… with another token were left in place; "
                            "delete them in amoCRM if the token was rotated")
        if current is not None and current.get("disabled"):
            warnings.append("amoCRM has disabled the webhook after failed deliveries; re-enable it in amoCRM")
        have = set(current.get("settings") or []) if current else set()
        detail = "events: " + ", ".join(spec.settings)
        if current is not None and set(spec.settings) <= have:
            self._note("webhook", "amocrm", spec.shown, Action.UNCHANGED, detail)
            return warnings
        wanted = [*spec.settings, *sorted(have - set(spec.settings))]  # keep events people added
        try:
            self._write(lambda: self.client.subscribe_webhook(spec.destination, wanted))
        except AmoHttpError as exc:  # e.g. a plan without API webhooks: the rest of setup still stands
            self._note("webhook", "amocrm", spec.shown, Action.SKIPPED, f"amoCRM refused: HTTP {exc.status}")
            return [*warnings, f"webhook not subscribed ({exc.detail}); add it in amoCRM → Settings → Webhooks"]
        self._note("webhook", "amocrm", spec.shown, Action.UPDATED if current else Action.CREATED, detail)
        return warnings

    def _write(self, call: Callable[[], Any]) -> Any:
        return None if self.dry_run else call()


# --- entry points --------------------------------------------------------------------------------


def provision(
    client: AmoCrmClient, tenant: Tenant, store: Store, public_url: str, *, dry_run: bool = False
) -> SetupReport:
    """Reconcile the account with the tenant's layout; saves the AccountMap unless ``dry_run``."""
    layout = desired_layout(tenant, public_url)
    run = Provisioner(client, layout, load_account_map(store, tenant.slug), dry_run=dry_run)
    report = SetupReport(tenant.slug, dry_run, run.items, list(layout.warnings))
    account_map = AccountMap(run.pipelines(), run.fields())
    if not dry_run:
        save_account_map(store, tenant.slug, account_map)  # before the webhook: its failure must not lose ids
        report.account_map = account_map
    report.warnings.extend(run.webhook())
    log.info("setup of %s: %s", tenant.slug, report.counts())
    return report


def run_setup(tenant: Tenant, services: Services, *, dry_run: bool = False) -> SetupReport:
    """``salonbridge setup <tenant>``: the tenant's client (``client_for``) + ``provision``."""
    return provision(client_for(tenant, services), tenant, services.store, services.settings.public_url,
                     dry_run=dry_run)


# --- helpers -------------------------------------------------------------------------------------


def target_sorts(current: Sequence[int | None]) -> list[int]:
    """Sort values putting our open stages in funnel order: existing ones keep theirs when already in
    order, missing ones (None) slot into the gaps; when that is impossible all are renumbered 20, 30, …"""
    renumbered = [10 * (n + 2) for n in range(len(current))]
    known = [c for c in current if c is not None]
    if known != sorted(set(known)) or any(not UNSORTED_SORT < c < CLOSED_SORT for c in known):
        return renumbered
    out = list(current)
    start = 0
    while start < len(out):
        if out[start] is not None:
            start += 1
            continue
        end = start
        while end < len(out) and out[end] is None:
            end += 1
        low = out[start - 1] if start else UNSORTED_SORT
        high = out[end] if end < len(out) else CLOSED_SORT
        assert low is not None and high is not None
        count = end - start
        step = 10 if end == len(out) else (high - low) // (count + 1)
        values = [low + step * (n + 1) for n in range(count)]
        if step < 1 or values[-1] >= high:
            return renumbered
        out[start:end] = values
        start = end
    return [int(v) for v in out if v is not None]


def _match(
    rows: Sequence[dict[str, Any]], used: set[int], stored_id: int | None, *by: tuple[str, Any]
) -> dict[str, Any] | None:
    """The first row not ``used`` yet with the stored id, else with ``row[key] == value`` for each ``by``
    pair in turn; the match is added to ``used`` so two specs never claim the same amoCRM item."""
    free = [r for r in rows if r["id"] not in used]
    tests = [("id", stored_id)] if stored_id is not None else []
    for key, value in [*tests, *by]:
        hit = next((r for r in free if r.get(key) == value), None)
        if hit is not None:
            used.add(hit["id"])
            return hit
    return None


def _statuses(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    return list((pipeline.get("_embedded") or {}).get("statuses") or [])


def _id_text(amo_id: object) -> str:
    return f"id {amo_id}" if amo_id else ""


def _field_body(spec: FieldSpec) -> dict[str, Any]:
    body: dict[str, Any] = {"name": spec.name, "type": spec.type, "code": spec.code, "sort": spec.sort}
    if spec.is_api_only:
        body["is_api_only"] = True
    if spec.enums:
        body["enums"] = [{"value": e.value, "sort": 10 * (n + 1), "code": e.key} for n, e in enumerate(spec.enums)]
    return body


def _enum_ids(spec: FieldSpec, field_json: dict[str, Any]) -> dict[str, int]:
    enums = field_json.get("enums") or []
    out: dict[str, int] = {}
    for enum in spec.enums:
        match = next((e for e in enums if e.get("code") == enum.key), None) or next(
            (e for e in enums if e.get("value") == enum.value), None
        )
        if match:
            out[enum.key] = int(match["id"])
    return out


def _update_field(client: AmoCrmClient, entity: str, field_id: int, change: dict[str, Any]) -> dict[str, Any] | None:
    """``PATCH /api/v4/{entity}/custom_fields/{id}`` through the client's request seam (limiter, retries);
    AmoCrmClient has no public method for it yet."""
    return client._request("PATCH", f"/api/v4/{entity}/custom_fields/{field_id}", json=change)
