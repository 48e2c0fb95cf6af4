"""The clock at agency scale: one tick with nothing due, one with 1 % of the clients due.

Builds a store of N clients (each with completed visits, an open cycle, a lead; some with a win-back
step and a scheduled message) by bulk inserts, then times what the clock does on a tick:
``playbook-due`` (find whose wake-up has come and queue them), the outbox sweeper, the amoCRM backlog
and the due-message query. The baseline, measured in the same run on the smallest store, is what the
clock did before the due index: a snapshot and a ``due()`` call per client with open work.

Prints per size ``tick_idle_s=… tick_1pct_s=… plan_1pct_s=… clients=…``, the slope between sizes and
``ratio_to_scan_all``. Goals: ``tick_idle_s`` under 0.2 s at 100,000 clients; planning 1,000 due clients
(``plan_1pct_s`` at 100,000) under 10 s of worker time. SQLite always, PostgreSQL when it answers on
127.0.0.1:5432 (database ``test``, a schema of its own, dropped afterwards). Stops by itself.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PG_URL = os.environ.get("SALONBRIDGE_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TENANT = """slug: bench
name: Bench
timezone: Europe/Kyiv
language: uk
branches: [{id: "1", name: Main}]
booking: {source: generic, webhook_token_env: BENCH_TOKEN}
amocrm: {base_url: "http://127.0.0.1:9"}
services:
  categories: {Манікюр: 21}
"""
VISITS_PER_CLIENT = 4


def build(store, clients: int, now: datetime, seed: int = 1) -> None:
    """N clients with history and open work; every wake-up in the future (nothing due)."""
    from sqlalchemy import insert

    from bridge.store.models import AppliedAction, Client, CycleRow, LeadRow, LostStepRow, MessageRow, Visit
    from bridge.store.models import VisitService as Line

    rng = random.Random(seed)
    chunk = 5_000
    for start in range(0, clients, chunk):
        ids = range(start + 1, min(clients, start + chunk) + 1)
        rows: dict = {t: [] for t in ("c", "v", "s", "cy", "l", "ls", "m", "a")}
        for cid in ids:
            rows["c"].append(dict(id=cid, tenant="bench", source="generic", external_id=f"c{cid}", name=f"Client {cid}",
                                  phone=f"+38067{cid:07d}", tags=[], opted_out=False, created_at=now, updated_at=now,
                                  wake_at=now + timedelta(days=rng.randint(1, 60))))
            last = None
            for n in range(VISITS_PER_CLIENT):
                vid = cid * 10 + n
                start_at = now - timedelta(days=21 * (VISITS_PER_CLIENT - n) + rng.randint(0, 5))
                rows["v"].append(dict(id=vid, tenant="bench", source="generic", external_id=f"v{vid}", client_id=cid,
                                      status="completed", start_at=start_at, branch="1", staff_id="s1",
                                      staff_name="Anna", channel="unknown", version=start_at, history=[],
                                      categories=["Манікюр"], created_at=now, updated_at=now))
                rows["s"].append(dict(visit_id=vid, position=0, external_id="m1", title="Манікюр", category="Манікюр",
                                      quantity=1))
                last = (f"v{vid}", start_at)
            due_at = last[1] + timedelta(days=21)
            rows["cy"].append(dict(tenant="bench", client_id=cid, category="Манікюр", anchor_visit_id=last[0],
                                   due_at=due_at, period_days=21, task_key=f"task:periodic:{cid}:Манікюр:{last[0]}",
                                   task_state="open", task_exists=True, updated_at=now))
            rows["l"].append(dict(tenant="bench", client_id=cid, key=f"lead:repeat:{cid}:{last[0]}",
                                  pipeline="repeat", stage="next_visit_expected", status="open", manual=False,
                                  updated_at=now))
            rows["a"].append(dict(tenant="bench", key=f"task:periodic:{cid}:Манікюр:{last[0]}", kind="CreateTask",
                                  payload={}, state="done", client_id=cid, attempts=1, created_at=now, applied_at=now))
            if cid % 7 == 0:
                rows["ls"].append(dict(tenant="bench", client_id=cid, anchor_visit_id=last[0],
                                       lead_key=f"lead:lost:{cid}", step="reminder", at=now - timedelta(days=2)))
            if cid % 5 == 0:
                rows["m"].append(dict(tenant="bench", client_id=cid, key=f"msg:{cid}", template="repeat_reminder",
                                      language="uk", occasion="x", channels=["sms"], context={},
                                      send_at=now + timedelta(days=3), marketing=True, state="scheduled",
                                      attempts=0, created_at=now))
        with store.session() as s:
            for model, key in ((Client, "c"), (Visit, "v"), (Line, "s"), (CycleRow, "cy"), (LeadRow, "l"),
                               (LostStepRow, "ls"), (MessageRow, "m"), (AppliedAction, "a")):
                if rows[key]:
                    s.execute(insert(model.__table__), rows[key])


def make_due(store, share: float, now: datetime) -> list[int]:
    from sqlalchemy import select, update

    from bridge.store.models import Client

    with store.session() as s:
        ids = list(s.scalars(select(Client.id).order_by(Client.id)))
        chosen = ids[:: max(1, round(1 / share))]
        s.execute(update(Client).where(Client.id.in_(chosen)).values(wake_at=now - timedelta(minutes=1)))
    return chosen


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def scan_all(svc, now: datetime) -> float:
    """The clock before the due index: every client with open work gets a snapshot and a ``due()`` call."""
    from sqlalchemy import select

    from bridge.store import playbook
    from bridge.store.models import Client, CycleRow, LostStepRow
    from pipelines.planner import due

    policy = svc.policy("bench")

    def run() -> None:
        with svc.store.session() as s:
            ids = sorted(set(s.scalars(select(CycleRow.client_id).where(CycleRow.closed_at.is_(None))))
                         | set(s.scalars(select(LostStepRow.client_id))))
        for cid in ids:
            with svc.store.session() as s:
                due(playbook.snapshot_for(s, s.get(Client, cid), None), policy, now)

    return timed(run)


def one_size(database_url: str, clients: int, folder: Path, baseline: bool) -> dict[str, float]:
    from bridge.services import Services
    from config.settings import Settings
    from jobs.clock import sweep_outbox, sync_crm_backlog
    from jobs.due import enqueue_due, evaluate
    from jobs.messages import send_due

    settings = Settings.from_env({**os.environ, "SALONBRIDGE_INSTANCE": str(folder / "instance"),
                                  "DATABASE_URL": database_url, "SALONBRIDGE_TENANTS": str(folder.parent / "tenants"),
                                  "SALONBRIDGE_LOG_LEVEL": "WARNING"})
    svc = Services.build(settings, migrate=True)
    try:
        now = datetime.now(UTC)
        build(svc.store, clients, now)
        out: dict[str, float] = {"clients": clients}
        out["tick_idle_s"] = sorted(timed(lambda: enqueue_due(svc, now)) for _ in range(5))[2]  # median of 5
        out["other_tasks_s"] = timed(lambda: (sweep_outbox(svc, now), sync_crm_backlog(svc, now), send_due(svc, now)))
        due_ids = make_due(svc.store, 0.01, now)
        out["tick_1pct_s"] = timed(lambda: enqueue_due(svc, now))
        svc.queue.rq.empty()
        out["plan_1pct_s"] = timed(lambda: evaluate(svc, "bench", due_ids, now))
        out["due_clients"] = len(due_ids)
        if baseline:
            out["scan_all_s"] = scan_all(svc, now)
        return out
    finally:
        svc.close()


def postgres_schema_url() -> tuple[str, object] | None:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.3).close()
        from sqlalchemy import create_engine, text
    except (OSError, ImportError):
        return None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


def run_backend(name: str, url_for, sizes: list[int], folder: Path) -> None:
    results = []
    for i, clients in enumerate(sizes):
        url, cleanup = url_for(clients)
        try:
            results.append(one_size(url, clients, folder / f"{name}-{clients}", baseline=i == 0))
        finally:
            cleanup()
        r = results[-1]
        print(f"{name}: tick_idle_s={r['tick_idle_s']:.4f} tick_1pct_s={r['tick_1pct_s']:.4f} "
              f"plan_1pct_s={r['plan_1pct_s']:.2f} due_clients={r['due_clients']} "
              f"other_tasks_s={r['other_tasks_s']:.4f} clients={clients}", flush=True)
    small, large = results[0], results[-1]
    span = (large["clients"] - small["clients"]) / 1000
    if span > 0:
        slope = (large["tick_idle_s"] - small["tick_idle_s"]) / span * 1000
        print(f"{name}: slope_idle_ms_per_1k_clients={slope:.3f}")
    print(f"{name}: scan_all_s={small['scan_all_s']:.2f} at {small['clients']} clients, "
          f"ratio_to_scan_all={small['tick_idle_s'] / small['scan_all_s']:.5f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated client counts")
    parser.add_argument("--smoke", action="store_true", help="small sizes for CI")
    args = parser.parse_args()
    sizes = [1000, 5000] if args.smoke else [int(n) for n in args.sizes.split(",")]
    os.environ.setdefault("BENCH_TOKEN", "x" * 24)
    with tempfile.TemporaryDirectory(prefix="bench-clock-") as tmp:
        folder = Path(tmp)
        (folder / "tenants").mkdir()
        (folder / "tenants" / "bench.yaml").write_text(TENANT, encoding="utf-8")

        def sqlite_url(clients: int):
            return f"sqlite:///{folder / f'clock-{clients}.db'}", lambda: None

        run_backend("sqlite", sqlite_url, sizes, folder)
        if postgres_schema_url() is not None:
            def pg_url(clients: int):
                found = postgres_schema_url()
                assert found is not None
                return found

            run_backend("postgres", pg_url, sizes, folder)
        else:
            print("postgres: not available on 127.0.0.1:5432, skipped")


if __name__ == "__main__":
    main()
