"""``salonbridge setup`` against the amoCRM sandbox over real HTTP: create, reconcile, dry run.

The fixtures here (``sandbox``, ``salon``, ``connected``) are reused by the OAuth and board tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from amocrm_sandbox import SandboxOptions, create_sandbox_app
from bridge.amocrm.account_map import AccountMap, load_account_map, save_account_map
from bridge.amocrm.connect import token_store
from bridge.amocrm.provisioning import ENUM_NAMES, FIELD_NAMES, PREPAYMENT_ENUMS, Action, run_setup
from bridge.services import Services
from pipelines.stages import LOST, PIPELINE_NAMES, PREPAYMENT, STAGE_NAMES, STAGES, WON, Pipeline
from salonbridge.cli import main
from tests.conftest import TENANT_YAML
from tests.fakes.http import serve

HOOK_TOKEN_ENV, HOOK_TOKEN = "SALON_AMO_HOOK_TOKEN", "amo-hook-secret-0123456789"
CLIENT_ID_ENV, CLIENT_SECRET_ENV = "SALON_AMO_CLIENT_ID", "SALON_AMO_CLIENT_SECRET"
CLIENT_ID, CLIENT_SECRET = "salon-client-id", "salon-client-secret-0123456789"
CUSTOM_FIRST_BOOKING = "Перший запис (онлайн)"  # a rules.stages override in the tenant file
WRITES = ("POST ", "PATCH ", "DELETE ")


@dataclass
class Sandbox:
    url: str
    admin_token: str = ""

    def control(self, path: str, **body: Any) -> dict[str, Any]:
        response = requests.post(f"{self.url}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def mint(self, action: str = "long_lived", **body: Any) -> str:
        return self.control("tokens", action=action, **body)["access_token"]

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        if not self.admin_token:
            self.admin_token = self.mint()
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        response = requests.request(method, self.url + path, headers=headers, timeout=10, **kwargs)
        assert response.status_code < 400, response.text
        return response

    def pipelines(self) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.api("GET", "/api/v4/leads/pipelines").json()["_embedded"]["pipelines"]}

    def fields(self, entity: str) -> dict[str, dict[str, Any]]:
        body = self.api("GET", f"/api/v4/{entity}/custom_fields", params={"limit": 250}).json()
        return {f["name"]: f for f in body["_embedded"]["custom_fields"]}

    def reset_stats(self) -> None:
        self.control("reset", data=False, limits=False, faults=False)

    def writes(self) -> dict[str, int]:
        counts = self.control_get("stats")["by_endpoint"]
        return {endpoint: n for endpoint, n in counts.items() if endpoint.startswith(WRITES)}

    def control_get(self, path: str) -> dict[str, Any]:
        response = requests.get(f"{self.url}/_sandbox/{path}", timeout=10)
        response.raise_for_status()
        return response.json()


def open_stages(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    statuses = sorted(pipeline["_embedded"]["statuses"], key=lambda s: (s["sort"], s["id"]))
    return [s for s in statuses if s["type"] == 0 and s["id"] not in (142, 143)]


def tenant_yaml(base_url: str, *, webhook: bool = True) -> str:
    amocrm = (
        f"  base_url: {base_url}\n  client_id_env: {CLIENT_ID_ENV}\n  client_secret_env: {CLIENT_SECRET_ENV}\n"
        + (f"  webhook_token_env: {HOOK_TOKEN_ENV}\n" if webhook else "")
    )
    rules = f"rules:\n  stages:\n    sales:\n      first_booking: \"{CUSTOM_FIRST_BOOKING}\"\n"
    return TENANT_YAML.replace("  base_url: http://127.0.0.1:9\n", amocrm) + rules


def sandbox_options(settings: Any) -> SandboxOptions:
    return SandboxOptions(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                          redirect_uri=f"{settings.public_url}/oauth/salon/callback")


@pytest.fixture
def sandbox(tmp_path, settings) -> Iterator[Sandbox]:
    # The tests' own inspection calls bypass our limiter, so the emulator's limit is lifted here
    # (test_amocrm_sandbox.py covers the client under the real 7 req/s).
    app = create_sandbox_app(tmp_path / "amocrm.json", requests_per_second=1000, options=sandbox_options(settings))
    with serve(app) as url:
        yield Sandbox(url)


@pytest.fixture
def salon(sandbox: Sandbox, settings, monkeypatch) -> Iterator[Services]:
    """Services whose tenant ``salon`` points at the sandbox (the file is rewritten before loading)."""
    (settings.tenants_dir / "salon.yaml").write_text(tenant_yaml(sandbox.url), encoding="utf-8")
    monkeypatch.setenv(HOOK_TOKEN_ENV, HOOK_TOKEN)
    monkeypatch.setenv(CLIENT_ID_ENV, CLIENT_ID)
    monkeypatch.setenv(CLIENT_SECRET_ENV, CLIENT_SECRET)
    svc = Services.build(settings, migrate=True)
    yield svc
    svc.close()


@pytest.fixture
def connected(salon: Services, sandbox: Sandbox) -> Services:
    """``salon`` with a long-lived sandbox token stored, as `amocrm connect --token-env` leaves it."""
    token_store(salon).save_long_lived("salon", sandbox.mint())
    return salon


def setup_cli(settings, *args: str) -> Any:
    result = CliRunner().invoke(main, ["setup", "salon", *args], env=settings.to_env(), catch_exceptions=False)
    return result


def actions(report) -> dict[str, str]:
    return {f"{i.kind}:{i.key}": i.action.value for i in report.items}


# --- tests ---------------------------------------------------------------------------------------


def test_setup_creates_the_three_pipelines_with_their_stages_in_order_and_the_fields(connected, sandbox):
    report = run_setup(connected.tenants["salon"], connected)

    assert set(actions(report).values()) == {"created"}
    pipelines = sandbox.pipelines()
    for pipeline in Pipeline:
        found = pipelines[PIPELINE_NAMES["uk"][pipeline]]
        expected = [STAGE_NAMES["uk"][pipeline][k] for k in STAGES[pipeline] if k not in (WON, LOST)]
        if pipeline is Pipeline.SALES:
            expected[expected.index(STAGE_NAMES["uk"][pipeline]["first_booking"])] = CUSTOM_FIRST_BOOKING
        assert [s["name"] for s in open_stages(found)] == expected
        closing = {s["id"]: s["name"] for s in found["_embedded"]["statuses"] if s["id"] in (142, 143)}
        assert closing == {142: STAGE_NAMES["uk"][pipeline][WON], 143: STAGE_NAMES["uk"][pipeline][LOST]}
        assert not found["is_unsorted_on"] and not found["is_main"]

    names = FIELD_NAMES["uk"]
    contacts, leads = sandbox.fields("contacts"), sandbox.fields("leads")
    assert {k: contacts[names[k]]["type"] for k in ("last_visit", "next_due", "visits_count", "branch")} == {
        "last_visit": "date", "next_due": "date", "visits_count": "numeric", "branch": "text"}
    assert {names[k] for k in ("last_category", "favourite_master", "source", "total_spend")} <= set(contacts)
    prepayment = leads[names["prepayment_status"]]
    assert prepayment["type"] == "select"
    assert [e["value"] for e in prepayment["enums"]] == [ENUM_NAMES["uk"][e] for e in PREPAYMENT_ENUMS]
    card = {k: contacts[names[k]]["type"] for k in ("card_type", "balance", "blacklisted")}
    assert card == {"card_type": "text", "balance": "numeric", "blacklisted": "select"}
    assert contacts[names["visit_history"]]["type"] == "textarea"
    assert [e["value"] for e in contacts[names["blacklisted"]]["enums"]] == ["Так", "Ні"]
    assert {f["code"] for f in (*contacts.values(), *leads.values())} >= {"SB_MARKER", "SB_LAST_VISIT"}

    hooks = sandbox.api("GET", "/api/v4/webhooks").json()["_embedded"]["webhooks"]
    assert [h["destination"] for h in hooks] == [f"{connected.settings.public_url}/hooks/salon/amocrm/{HOOK_TOKEN}"]
    assert {"status_lead", "update_lead", "update_task"} <= set(hooks[0]["settings"])
    assert HOOK_TOKEN not in report.render()

    saved = load_account_map(connected.store, "salon")
    assert saved == report.account_map and saved.is_complete()
    sales = pipelines[PIPELINE_NAMES["uk"][Pipeline.SALES]]
    assert saved.location(Pipeline.SALES, PREPAYMENT) == (sales["id"], open_stages(sales)[0]["id"])  # grey clock
    assert open_stages(sales)[0]["color"] == "#e6e8ea"
    assert saved.location(Pipeline.SALES, "first_booking") == (sales["id"], open_stages(sales)[1]["id"])
    assert saved.location(Pipeline.LOST, WON) == (pipelines[PIPELINE_NAMES["uk"][Pipeline.LOST]]["id"], 142)
    assert saved.stage_of(sales["id"], open_stages(sales)[2]["id"]) == (Pipeline.SALES, "no_show")
    assert saved.field_id("contacts", "last_visit") == contacts[names["last_visit"]]["id"]
    paid = next(e["id"] for e in prepayment["enums"] if e["value"] == ENUM_NAMES["uk"]["paid"])
    assert saved.enum_id("leads", "prepayment_status", "paid") == paid
    marker = "salonbridge key"
    assert saved.marker_fields() == {"contacts": contacts[marker]["id"], "leads": leads[marker]["id"]}


def test_a_second_setup_changes_nothing_and_sends_no_write(connected, sandbox, settings):
    first = setup_cli(settings)
    assert first.exit_code == 0, first.output
    sandbox.reset_stats()

    second = setup_cli(settings)

    assert second.exit_code == 0, second.output
    assert sandbox.writes() == {}
    rows = [line.split() for line in second.output.splitlines()[1:] if line.strip() and ":" not in line.split()[0]]
    assert rows and all("unchanged" in row for row in rows), second.output
    assert "created" not in second.output and "renamed" not in second.output
    assert HOOK_TOKEN not in second.output


def test_an_account_set_up_before_the_visit_history_field_gets_it_and_nothing_else(connected, sandbox,
                                                                                   monkeypatch):
    from bridge.amocrm import provisioning

    older = tuple(f for f in provisioning.FIELDS if f[1] != "visit_history")
    with monkeypatch.context() as patched:
        patched.setattr(provisioning, "FIELDS", older)
        run_setup(connected.tenants["salon"], connected)
    assert FIELD_NAMES["uk"]["visit_history"] not in sandbox.fields("contacts")

    report = run_setup(connected.tenants["salon"], connected)

    changed = {key: action for key, action in actions(report).items() if action != "unchanged"}
    assert changed == {"field:contacts:visit_history": "created"}, changed
    assert sandbox.fields("contacts")[FIELD_NAMES["uk"]["visit_history"]]["type"] == "textarea"
    assert all(action == "unchanged" for action in actions(run_setup(connected.tenants["salon"], connected)).values())


def test_hand_made_renames_and_reorders_are_put_back_and_nothing_else_is_touched(connected, sandbox):
    tenant = connected.tenants["salon"]
    run_setup(tenant, connected)
    ids = load_account_map(connected.store, "salon")
    repeat = ids.pipeline_id(Pipeline.REPEAT)
    reminder, contacted = ids.status_id(Pipeline.REPEAT, "reminder_due"), ids.status_id(Pipeline.REPEAT, "contacted")
    sandbox.api("PATCH", f"/api/v4/leads/pipelines/{repeat}/statuses/{reminder}", json={"name": "Нагадати!!"})
    sandbox.api("PATCH", f"/api/v4/leads/pipelines/{repeat}/statuses/{contacted}", json={"sort": 15})  # to the front
    sandbox.api("PATCH", f"/api/v4/leads/pipelines/{ids.pipeline_id(Pipeline.LOST)}", json={"name": "Архів"})
    sandbox.api("PATCH", f"/api/v4/contacts/custom_fields/{ids.field_id('contacts', 'branch')}", json={"name": "X"})
    own = sandbox.api("POST", f"/api/v4/leads/pipelines/{repeat}/statuses",
                      json=[{"name": "Своя стадія", "sort": 500}]).json()["_embedded"]["statuses"][0]
    sandbox.reset_stats()

    report = run_setup(tenant, connected)

    changed = {k: v for k, v in actions(report).items() if v != "unchanged"}
    assert changed == {
        "stage:repeat:reminder_due": "renamed",
        "stage:repeat:contacted": "reordered",
        "pipeline:lost": "renamed",
        "field:contacts:branch": "renamed",
    }
    names = STAGE_NAMES["uk"][Pipeline.REPEAT]
    stages = open_stages(sandbox.pipelines()[PIPELINE_NAMES["uk"][Pipeline.REPEAT]])
    assert [s["name"] for s in stages] == [
        names["next_visit_expected"], names["reminder_due"], names["contacted"], "Своя стадія"]
    assert any(s["id"] == own["id"] for s in stages)  # a salon's own stage is never deleted
    assert PIPELINE_NAMES["uk"][Pipeline.LOST] in sandbox.pipelines()
    assert FIELD_NAMES["uk"]["branch"] in sandbox.fields("contacts")
    assert load_account_map(connected.store, "salon") == ids  # same ids: renamed, not recreated
    assert sum(sandbox.writes().values()) == 4  # one PATCH per item put back


def test_dry_run_reports_what_would_happen_and_writes_nothing(connected, sandbox, settings):
    fresh = setup_cli(settings, "--dry-run")
    assert fresh.exit_code == 0, fresh.output
    assert "dry run: nothing was written" in fresh.output
    assert "salon: 39 created (dry run" in fresh.output  # 3 pipelines, 16 stages, 19 fields, 1 webhook
    assert sandbox.writes() == {}
    assert load_account_map(connected.store, "salon") is None
    assert PIPELINE_NAMES["uk"][Pipeline.SALES] not in sandbox.pipelines()

    run_setup(connected.tenants["salon"], connected)
    ids = load_account_map(connected.store, "salon")
    sales = ids.pipeline_id(Pipeline.SALES)
    sandbox.api("PATCH", f"/api/v4/leads/pipelines/{sales}/statuses/{ids.status_id(Pipeline.SALES, 'no_show')}",
                json={"name": "Прогул"})
    sandbox.reset_stats()

    again = setup_cli(settings, "--dry-run")

    assert again.exit_code == 0, again.output
    line = next(row for row in again.output.splitlines() if "sales:no_show" in row)
    assert "renamed" in line and "was «Прогул»" in line
    assert sandbox.writes() == {}
    assert "Прогул" in [s["name"] for s in open_stages(sandbox.pipelines()[PIPELINE_NAMES["uk"][Pipeline.SALES]])]


def test_a_pipeline_deleted_in_amocrm_is_recreated_with_new_ids(connected, sandbox):
    tenant = connected.tenants["salon"]
    run_setup(tenant, connected)
    before = load_account_map(connected.store, "salon")
    sandbox.api("DELETE", f"/api/v4/leads/pipelines/{before.pipeline_id(Pipeline.REPEAT)}")

    report = run_setup(tenant, connected)

    changed = {k: v for k, v in actions(report).items() if v != "unchanged"}
    stages = {f"stage:repeat:{k}": "created" for k in STAGES[Pipeline.REPEAT]}
    assert changed == {"pipeline:repeat": "created", **stages}
    after = load_account_map(connected.store, "salon")
    assert after.pipeline_id(Pipeline.REPEAT) != before.pipeline_id(Pipeline.REPEAT)
    assert after.pipelines[Pipeline.SALES] == before.pipelines[Pipeline.SALES]
    assert PIPELINE_NAMES["uk"][Pipeline.REPEAT] in sandbox.pipelines()


def set_up_then_delete_a_stage(connected, sandbox, pipeline: Pipeline, stage: str) -> AccountMap:
    """Set the salon up, then delete one stage in amoCRM behind its back; the account map setup saved."""
    run_setup(connected.tenants["salon"], connected)
    ids = load_account_map(connected.store, "salon")
    sandbox.api("DELETE", f"/api/v4/leads/pipelines/{ids.pipeline_id(pipeline)}/statuses/"
                          f"{ids.status_id(pipeline, stage)}")
    return ids


def test_a_deleted_stage_is_recreated_in_its_place(connected, sandbox):
    tenant = connected.tenants["salon"]
    set_up_then_delete_a_stage(connected, sandbox, Pipeline.LOST, "come_back_promo")

    report = run_setup(tenant, connected)

    assert {k: v for k, v in actions(report).items() if v != "unchanged"} == {"stage:lost:come_back_promo": "created"}
    names = STAGE_NAMES["uk"][Pipeline.LOST]
    stages = open_stages(sandbox.pipelines()[PIPELINE_NAMES["uk"][Pipeline.LOST]])
    assert [s["name"] for s in stages] == [names["reminder"], names["come_back_promo"], names["manager_call"]]


def test_an_install_set_up_before_the_prepayment_stage_gets_it_in_front_of_first_booking(connected, sandbox):
    tenant = connected.tenants["salon"]
    ids = set_up_then_delete_a_stage(connected, sandbox, Pipeline.SALES, PREPAYMENT)
    older = {p: dataclasses.replace(v, statuses={k: s for k, s in v.statuses.items() if k != PREPAYMENT})
             for p, v in ids.pipelines.items()}
    save_account_map(connected.store, "salon", AccountMap(older, ids.fields))  # what that release saved
    assert not load_account_map(connected.store, "salon").is_complete()  # `check` asks for setup
    before = open_stages(sandbox.pipelines()[PIPELINE_NAMES["uk"][Pipeline.SALES]])
    sandbox.reset_stats()

    report = run_setup(tenant, connected)

    assert {k: v for k, v in actions(report).items() if v != "unchanged"} == {"stage:sales:prepayment": "created"}
    assert sandbox.writes() == {"POST /api/v4/leads/pipelines/{pipeline_id}/statuses": 1}
    after = open_stages(sandbox.pipelines()[PIPELINE_NAMES["uk"][Pipeline.SALES]])
    assert [s["name"] for s in after] == [STAGE_NAMES["uk"][Pipeline.SALES][PREPAYMENT], *(s["name"] for s in before)]
    assert [(s["id"], s["sort"]) for s in after[1:]] == [(s["id"], s["sort"]) for s in before]  # nothing renumbered
    saved = load_account_map(connected.store, "salon")
    assert saved.is_complete() and saved.status_id(Pipeline.SALES, PREPAYMENT) == after[0]["id"]
    sandbox.reset_stats()
    assert {i.action for i in run_setup(tenant, connected).items} == {Action.UNCHANGED}  # and then it stays put
    assert sandbox.writes() == {}


def test_without_saved_ids_everything_is_found_again_by_name(connected, sandbox):
    tenant = connected.tenants["salon"]
    first = run_setup(tenant, connected).account_map
    save_account_map(connected.store, "salon", AccountMap())  # e.g. a new database against the same account
    assert load_account_map(connected.store, "salon") is None
    sandbox.reset_stats()

    report = run_setup(tenant, connected)

    assert {i.action for i in report.items} == {Action.UNCHANGED}
    assert sandbox.writes() == {}
    assert load_account_map(connected.store, "salon") == first


def test_the_webhook_is_skipped_with_a_warning_when_its_token_is_not_set(connected, sandbox, monkeypatch):
    monkeypatch.delenv(HOOK_TOKEN_ENV)

    report = run_setup(connected.tenants["salon"], connected)

    assert actions(report)["webhook:amocrm"] == "skipped"
    assert any(HOOK_TOKEN_ENV in w for w in report.warnings)
    assert sandbox.writes().get("POST /api/v4/webhooks") is None
    assert load_account_map(connected.store, "salon").is_complete()


def test_setup_without_a_connection_says_how_to_connect(salon, settings):
    result = setup_cli(settings)
    assert result.exit_code == 1
    assert "salonbridge amocrm connect salon" in result.output
