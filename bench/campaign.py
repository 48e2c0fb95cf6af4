"""Reconnect campaign: preview, send to every at-risk client, and the results report, on SQLite.

Builds the salon of ``bench/reconnect.py`` (20,000 clients by default, ``--smoke`` 1,000), then times
``bridge.campaigns.preview`` (the scan plus one read of earlier contacts), ``bridge.campaigns.send`` to every
at-risk client of every category (one transaction per client: lock, snapshot, plan, record), and
``bridge.store.reconnect_results.report`` once every first message is marked sent. Prints
``clients=… at_risk=… preview_s=… send_s=… per_client_ms=… report_s=…``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reconnect import NOW, build, tenant  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="1,000 clients: a quick run for CI")
    parser.add_argument("--clients", type=int, default=None)
    args = parser.parse_args()
    clients = args.clients or (1_000 if args.smoke else 20_000)

    from sqlalchemy import update

    from bridge.campaigns import preview, send
    from bridge.store.db import Store
    from bridge.store.models import MessageRow
    from bridge.store.reconnect_results import report
    from bridge.tenancy import policy_of

    salon = tenant()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{folder}/bench.db")
        store.migrate()
        build(store, clients, 10)
        started = time.perf_counter()
        campaign = preview(store, salon, NOW, category=None, channel="sms")
        preview_s = time.perf_counter() - started
        started = time.perf_counter()
        sent = send(store, campaign, policy_of(salon), NOW)
        send_s = time.perf_counter() - started
        with store.engine.begin() as conn:
            conn.execute(update(MessageRow).values(state="sent", channel="sms", sent_at=NOW))
        started = time.perf_counter()
        result = report(store, salon, NOW - timedelta(days=1), NOW + timedelta(days=1))
        report_s = time.perf_counter() - started
        store.dispose()
    at_risk = len(campaign.recipients)
    assert sent.contacted == at_risk == result.results.total["contacted"], (sent.contacted, at_risk)
    print(f"clients={clients} at_risk={at_risk} preview_s={preview_s:.2f} send_s={send_s:.2f} "
          f"per_client_ms={1000 * send_s / max(at_risk, 1):.1f} report_s={report_s:.2f}")


if __name__ == "__main__":
    main()
