"""``salonbridge events``: the events that could not be processed, and retrying them after a fix."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click


@click.group()
def events() -> None:
    """Stored booking and amoCRM events that failed.

    An event whose processing fails SALONBRIDGE_MAX_ATTEMPTS times (default 3) is parked as `failed`
    with its error, so it no longer retries; the client's later events go on. List them with
    `events failed`, fix the cause (a tenant file, a release), then `events retry ID` or `--all`.
    """


@events.command("failed")
@click.option("--tenant", help="Only this tenant's events.")
def failed(tenant: str | None) -> None:
    """List parked events: id, tenant, source, booking, attempts, when, and the error."""
    from bridge.store import inbox
    from salonbridge.cli import _services

    svc = _services()
    try:
        rows = inbox.failed_events(svc.store, tenant)
    finally:
        svc.close()
    if not rows:
        click.echo("no failed events" + (f" for {tenant}" if tenant else ""))
        return
    for e in rows:
        when = (e.processed_at or e.received_at).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{e.id}\t{e.tenant}\t{e.source}\tbooking {e.booking_id or '-'}\t"
                   f"{e.attempts} attempt(s)\t{when} UTC\t{e.error or ''}")
    click.echo(f"{len(rows)} failed event(s); after a fix: salonbridge events retry ID (or --all)", err=True)


@events.command("retry")
@click.argument("event_ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Retry every failed event (of --tenant, if given).")
@click.option("--tenant", help="With --all: only this tenant's events.")
def retry(event_ids: tuple[int, ...], every: bool, tenant: str | None) -> None:
    """Queue failed events again, with a fresh set of attempts."""
    from redis.exceptions import RedisError

    from bridge.store import inbox
    from salonbridge.cli import _services

    if bool(event_ids) == every:
        raise click.UsageError("give event ids or --all (not both)")
    svc = _services()
    try:
        ids = inbox.reopen(svc.store, None if every else event_ids, datetime.now(UTC), tenant)
        queued = 0
        for event_id in ids:
            try:
                svc.queue.requeue_event(event_id)  # False: its job is already waiting, which is as good
                queued += 1
            except RedisError:  # the clock's sweeper queues it (its outbox row is owed again)
                continue
    finally:
        svc.close()
    missing = sorted(set(event_ids) - set(ids))
    if ids:
        click.echo(f"{len(ids)} event(s) queued again: {', '.join(map(str, ids))}"
                   + ("" if queued == len(ids) else f" ({len(ids) - queued} left to the clock's sweeper)"))
    elif every:
        click.echo("no failed events" + (f" for {tenant}" if tenant else ""))
    if missing:
        click.echo(f"not failed (or unknown), left alone: {', '.join(map(str, missing))}", err=True)
        sys.exit(1)
