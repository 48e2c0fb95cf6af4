"""Client reports and segment export over a large salon, on SQLite and (when it answers) PostgreSQL.

Builds the same store as ``bench/reconnect.py`` (100,000 clients, 1,000,000 visits by default) plus
client cards (gender, birthday, card type, source, reason) and one open repeat-visit cycle per
client, then times each of seed 001's five reports (``bridge.reports.build``) with its default period,
and a segment query. Prints per backend ``report=<name> s=…`` and ``slowest_report_s=…`` (the median
of three runs of the slowest report; goal under 3 s). Then exports every client (a 100,000-row
segment) to XLSX in a fresh process and prints ``xlsx_rows=… xlsx_peak_rss_mb=…`` (its peak resident
memory, interpreter included; goal under 200 MB). ``--smoke`` builds 1,000 clients for CI.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_spec = importlib.util.spec_from_file_location("bench_reconnect", Path(__file__).with_name("reconnect.py"))
data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(data)  # the reconnect bench's salon builder

RUNS = 3
TODAY = data.NOW.date()
GENDERS = ("female", "female", "female", "male", None)
CARDS = ("gold", "silver", "bronze", None, None)
SOURCES = ("instagram", "google", "online booking", "administrator", "referral")
REASONS = ("haircut", "manicure", "colour", None)


def add_cards(store, clients: int, seed: int = 11) -> None:
    """Card fields for every client and one open cycle each (what the reports read besides visits)."""
    from sqlalchemy import bindparam, update

    from bridge.store.models import Client, CycleRow

    rng = random.Random(seed)
    with store.engine.begin() as conn:
        rows = [{"cid": i, "gender": rng.choice(GENDERS), "card_type": rng.choice(CARDS),
                 "acquisition": rng.choice(SOURCES), "reason": rng.choice(REASONS),
                 "birthday": date(rng.randint(1960, 2005), rng.randint(1, 12), rng.randint(1, 28)),
                 "blacklisted": rng.random() < 0.01} for i in range(1, clients + 1)]
        statement = update(Client.__table__).where(Client.__table__.c.id == bindparam("cid")).values(
            gender=bindparam("gender"), card_type=bindparam("card_type"), acquisition=bindparam("acquisition"),
            reason=bindparam("reason"), birthday=bindparam("birthday"), blacklisted=bindparam("blacklisted"))
        for start in range(0, len(rows), 20_000):
            conn.execute(statement, rows[start:start + 20_000])
        cycles = [{"tenant": data.TENANT, "client_id": i, "category": rng.choice(data.CATEGORIES)[0],
                   "anchor_visit_id": str(i), "due_at": data.NOW + timedelta(days=rng.randint(-90, 90)),
                   "period_days": 21, "task_key": f"task:{i}", "task_state": rng.choice(("open", "open", "done")),
                   "task_exists": True, "updated_at": data.NOW} for i in range(1, clients + 1)]
        for start in range(0, len(cycles), 20_000):
            conn.execute(CycleRow.__table__.insert(), cycles[start:start + 20_000])


def time_reports(store, tenant) -> dict[str, float]:
    from bridge.reports import REPORTS, build, period_for, segment_table
    from pipelines.segments import parse_segment

    timings: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for _ in range(RUNS):
        for name in REPORTS:
            started = time.monotonic()
            with store.reading() as conn:
                tables = build(conn, tenant, name, period_for(name, None, None, TODAY), None, TODAY)
                sizes[name] = sum(len(list(t.rows)) for t in tables)
            timings.setdefault(name, []).append(time.monotonic() - started)
        started = time.monotonic()
        with store.reading() as conn:
            segment = parse_segment({"gender": "female", "card_type": "gold", "spend": "1000..", "visits": "2.."})
            sizes["segment"] = sum(1 for _ in segment_table(conn, tenant, segment).rows)
        timings.setdefault("segment", []).append(time.monotonic() - started)
    for name, runs in timings.items():
        print(f"  report={name} s={statistics.median(runs):.2f} rows={sizes[name]} (first run {runs[0]:.2f} s)")
    return {name: statistics.median(runs) for name, runs in timings.items()}


def peak_rss_mb() -> float:
    """This process's resident-set high-water mark (VmHWM: reset by exec, unlike getrusage's ru_maxrss,
    which keeps the forking parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_xlsx(url: str, path: str) -> tuple[int, float, float, float]:
    """In a fresh process: every client to XLSX. (rows, seconds, peak RSS in MB, RSS before the export)."""
    from bridge.reports import segment_table
    from bridge.store.db import Store
    from bridge.tables import write_xlsx
    from pipelines.segments import Segment

    store = Store(url)
    baseline = peak_rss_mb()
    started = time.monotonic()
    with store.reading() as conn:
        written = write_xlsx([segment_table(conn, data.tenant(), Segment())], path)
    seconds = time.monotonic() - started
    store.dispose()
    return written["clients"], seconds, peak_rss_mb(), baseline


def measure(url: str, clients: int, per_client: int, label: str) -> float:
    from sqlalchemy import text

    from bridge.store.db import Store

    store = Store(url)
    try:
        store.migrate()
        started = time.monotonic()
        visits = data.build(store, clients, per_client)
        add_cards(store, clients)
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))
        print(f"[{label}] built {clients} clients, {visits} visits in {time.monotonic() - started:.0f} s")
        medians = time_reports(store, data.tenant())
    finally:
        store.dispose()
    slowest = max((n for n in medians if n != "segment"), key=medians.get)
    print(f"[{label}] slowest_report_s={medians[slowest]:.2f} ({slowest}) clients={clients} visits={visits}")
    with tempfile.TemporaryDirectory(prefix="sb-bench-xlsx-") as tmp:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            rows, seconds, peak, baseline = pool.apply(export_xlsx, (url, f"{tmp}/clients.xlsx"))
        size = Path(f"{tmp}/clients.xlsx").stat().st_size / 1e6
    print(f"[{label}] xlsx_rows={rows} xlsx_s={seconds:.1f} xlsx_peak_rss_mb={peak:.0f} "
          f"(before the export {baseline:.0f}) xlsx_file_mb={size:.1f}")
    return medians[slowest]


def on_postgres(clients: int, per_client: int) -> float:
    from sqlalchemy import create_engine, text

    schema = f"bench_reports_{uuid.uuid4().hex[:8]}"
    admin = create_engine(data.PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        return measure(f"{data.PG_URL}?options=-csearch_path%3D{schema}", clients, per_client, "postgresql")
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="1,000 clients: a quick run for CI")
    parser.add_argument("--clients", type=int, help="clients in the salon (default 100,000)")
    parser.add_argument("--visits-per-client", type=int, default=10, help="average bookings per client")
    parser.add_argument("--backend", choices=("all", "sqlite", "postgresql"), default="all")
    args = parser.parse_args()
    clients = args.clients or (1_000 if args.smoke else 100_000)
    import logging

    logging.basicConfig(level=logging.WARNING)
    if args.backend in ("all", "sqlite"):
        with tempfile.TemporaryDirectory(prefix="sb-bench-reports-") as tmp:
            slowest = measure(f"sqlite:///{tmp}/bench.db", clients, args.visits_per_client, "sqlite")
        if not args.smoke and clients >= 100_000 and slowest >= 3:
            print(f"goal missed: the slowest report took {slowest:.2f} s on SQLite (goal: under 3 s)")
    if args.backend in ("all", "postgresql"):
        if data.postgres_answers():
            on_postgres(clients, args.visits_per_client)
        else:
            print("[postgresql] skipped: nothing answers on 127.0.0.1:5432")


if __name__ == "__main__":
    main()
