"""The final state does not depend on lag, order or repetition (issue: hardening from the outside).

A synthetic salon's webhooks go to two tenants on two amoCRM sandboxes in one install: the first gets each
webhook once, in order, processed as it arrives; the second gets every webhook three times, with some
neighbouring pairs swapped, all stored before a worker runs (a backlog). Both amoCRM accounts must end
identical, with nothing created twice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
import requests

from amocrm_sandbox import create_sandbox_app
from bridge import intake
from bridge.amocrm.provisioning import run_setup
from bridge.services import Services
from jobs.worker import run_worker
from salonbridge import synthetic
from tests.e2e.test_sync_under_faults import account, sync
from tests.fakes.http import serve

pytestmark = pytest.mark.slow
SLUGS = ("inorder", "backlog")


@pytest.fixture
def two_salons(settings, tmp_path, monkeypatch) -> Iterator[Services]:
    with ExitStack() as stack:
        for slug in SLUGS:
            url = stack.enter_context(serve(create_sandbox_app(tmp_path / f"{slug}.json", block_after_429s=None)))
            token = requests.post(f"{url}/_sandbox/tokens", json={"action": "long_lived"}, timeout=5).json()
            monkeypatch.setenv(f"{slug.upper()}_AMO_TOKEN", token["access_token"])
            monkeypatch.setenv(f"{slug.upper()}_HOOK", "h" * 24)
            text = synthetic.tenant_yaml(slug, f"{slug.upper()}_HOOK", url, f"{slug.upper()}_AMO_TOKEN")
            (settings.tenants_dir / f"{slug}.yaml").write_text(text, encoding="utf-8")
        (settings.tenants_dir / "salon.yaml").unlink()
        svc = Services.build(settings, migrate=True)
        stack.callback(svc.close)
        for slug in SLUGS:
            run_setup(svc.tenants[slug], svc)
        yield svc


def messy(bodies: list[dict]) -> list[dict]:
    """Every webhook three times; every fourth neighbouring pair of deliveries swapped."""
    out = [body for body in bodies for _ in range(3)]
    for i in range(0, len(out) - 1, 8):
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def at_processing_time(state: dict[str, list], started: datetime) -> dict[str, list]:
    """A task restored after its deadline passed is due "now" (seed 000), i.e. when it was processed,
    which differs between the two runs by the seconds between them: such deadlines compare as 0."""
    since = started.timestamp() - 1
    until = datetime.now(UTC).timestamp() + 1
    state["tasks"] = sorted((text, 0 if since <= due <= until else due, *rest)
                            for text, due, *rest in state["tasks"])
    return state


def test_three_copies_out_of_order_after_a_backlog_end_as_one_clean_run(two_salons):
    svc = two_salons
    now = datetime.now(UTC)
    bodies = synthetic.generate(seed=11, clients=6)
    for body in bodies:
        intake.receive(svc.store, svc.queue, svc.tenants["inorder"], "yclients", body, now)
        run_worker(svc, burst=True)
    for body in messy(bodies):
        intake.receive(svc.store, svc.queue, svc.tenants["backlog"], "yclients", body, now)
    run_worker(svc, burst=True)
    for slug in SLUGS:
        sync(svc, slug, now)

    clean, backlog = (at_processing_time(account(svc, slug), now) for slug in SLUGS)
    assert len(bodies) > 50 and clean["tasks"] and clean["leads"]
    for part in clean:
        assert backlog[part] == clean[part], part
