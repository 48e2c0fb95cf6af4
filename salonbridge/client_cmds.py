"""``salonbridge clients``: the client card by hand (add, edit, show) and segments with their export;
``salonbridge report <name>`` for seed 001's five client reports.

Everything here reads and writes salonbridge's own store; a card typed in or edited here reaches the
amoCRM contact through the usual queue (the worker's next amoCRM sync), never from this command.
Phones: E.164 after normalising with the tenant's country; an invalid one is refused with the reason.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from config.segment_filters import SEGMENT_FILTERS

FORMATS = ("table", "json", "csv", "xlsx")
TABLE_LIMIT = 200  # rows shown per table in a terminal (the other formats have them all)


@contextmanager
def opened(slug: str, migrate: bool = False) -> Iterator[tuple[Any, Any]]:
    """(tenant, store) from the environment's settings, with clear errors for a bad tenant or database."""
    from bridge.store.db import Store
    from bridge.tenancy import load_tenants
    from config.tenants import TenantFileError
    from salonbridge.cli import _settings

    settings = _settings()
    try:
        tenants = load_tenants(settings.tenants_dir, settings.environ)
    except TenantFileError as exc:
        raise click.ClickException(f"invalid tenant files (run `salonbridge check`):\n{exc}") from exc
    tenant = tenants.get(slug)
    if tenant is None:
        raise click.ClickException(f"unknown tenant {slug!r} (tenant files in {settings.tenants_dir}: "
                                   f"{', '.join(sorted(tenants)) or 'none'})")
    store = Store(settings.database_url)
    try:
        if migrate:
            store.migrate()
        yield tenant, store
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot use the database ({type(exc).__name__}); if it is new or older "
                                   "than this version, run `salonbridge db upgrade`") from exc
    finally:
        store.dispose()


def emit(tables: list[Any], fmt: str, output: Path | None, meta: dict[str, Any]) -> None:
    """Write the tables as ``fmt`` to ``output`` (stdout when None; XLSX needs a file or a pipe)."""
    from bridge.tables import render_table, write_csv, write_json, write_xlsx

    if fmt == "xlsx":
        if output is None and sys.stdout.isatty():
            raise click.UsageError("--format xlsx writes a binary workbook: give --output FILE.xlsx")
        written = write_xlsx(tables, str(output) if output else sys.stdout.buffer)
        if output:
            click.echo(", ".join(f"{n}: {k} row(s)" for n, k in written.items()) + f" → {output}", err=True)
        return
    out = output.open("wb") if output else sys.stdout.buffer
    try:
        if fmt == "json":
            write_json(tables, out, meta)
        elif fmt == "csv":
            count = write_csv(tables[0], out)
            if output:
                click.echo(f"{count} row(s) → {output}", err=True)
        else:
            head = " ".join(f"{k}={v}" for k, v in meta.items() if v not in (None, "", {}))
            text = head + "\n\n" + "\n\n".join(render_table(t, TABLE_LIMIT) for t in tables) + "\n"
            out.write(text.encode("utf-8"))
    finally:
        out.flush()
        if output:
            out.close()


def _format_options(fn: Callable) -> Callable:
    fn = click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                      help="Write to this file instead of stdout.")(fn)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="table: for reading; json: every table; csv: the first table, UTF-8 with a BOM "
                             "(Excel opens Cyrillic right); xlsx: every table as a sheet (needs --output).")(fn)


# --- clients ------------------------------------------------------------------------------------------------


@click.group()
def clients() -> None:
    """The client base: the card by hand (add, edit, show) and segments (with export to CSV/XLSX)."""


def _card_options(fn: Callable) -> Callable:
    options = [
        click.option("--name"), click.option("--phone", help="Any format; the tenant's country for national ones."),
        click.option("--email"), click.option("--gender", type=click.Choice(["female", "male", "other"])),
        click.option("--birthday", type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD."),
        click.option("--card-type", help="Loyalty / discount card type."),
        click.option("--balance", help="Account balance in the tenant's currency."),
        click.option("--blacklisted/--not-blacklisted", default=None,
                     help="Only messages about their own bookings (never campaigns or marketing)."),
        click.option("--comment", help="Free text for the card."),
        click.option("--source", "acquisition", help="Acquisition source (ad, social network, referral...)."),
        click.option("--reason", help="Reason for contacting the salon."),
        click.option("--tag", "tags", multiple=True, help="A tag (repeat for several); replaces the tags on edit."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _card_values(tenant: Any, given: dict[str, Any]) -> dict[str, Any]:
    from bridge.client_card import CardError, card_values

    try:
        return card_values(tenant, given)
    except CardError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field.replace('_', '-')}") from exc


@clients.command("add")
@click.argument("tenant")
@_card_options
def add_client(tenant: str, **given: Any) -> None:
    """Create a client of TENANT by hand; prints its id. A phone or email another client has is refused."""
    from bridge.client_card import queue_contact_sync
    from bridge.store import clients as repo

    with opened(tenant, migrate=True) as (found, store):
        values = _card_values(found, given)
        now = datetime.now(UTC)
        try:
            with store.session() as s:
                client = repo.add(s, found.slug, values, now)
                queue_contact_sync(s, found.slug, client, now)
                client_id = client.id
        except (repo.ClientConflict, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"client #{client_id} added; the amoCRM contact follows with the next sync")


@clients.command("edit")
@click.argument("tenant")
@click.argument("client")
@_card_options
def edit_client(tenant: str, client: str, **given: Any) -> None:
    """Change the card of CLIENT (its id, E.164 phone or email); only the options given change."""
    from bridge.client_card import queue_contact_sync
    from bridge.store import clients as repo

    with opened(tenant, migrate=True) as (found, store):
        values = _card_values(found, given)
        if not values:
            raise click.UsageError("nothing to change: give at least one option (see --help)")
        now = datetime.now(UTC)
        try:
            with store.session() as s:
                row = repo.find(s, found.slug, client)
                if row is None:
                    raise click.ClickException(f"no client {client!r} in {found.slug}")
                changed = repo.edit(s, row, values, now)
                if changed:
                    queue_contact_sync(s, found.slug, row, now)
                client_id = row.id
        except repo.ClientConflict as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"client #{client_id}: " + (f"changed {', '.join(changed)}" if changed else "nothing changed"))


@clients.command("wake")
@click.argument("tenant")
def wake_clients(tenant: str) -> None:
    """Have the clock evaluate every client of TENANT again (after turning on a time-based trigger such as
    birthday_greeting, so each client's next wake-up counts it); the clock takes 5,000 per tick."""
    from bridge.store import wakeups

    with opened(tenant, migrate=True) as (found, store):
        count = wakeups.wake_all(store, found.slug, datetime.now(UTC))
    click.echo(f"{count} client(s) of {found.slug} will be evaluated by the clock")


@clients.command("show")
@click.argument("tenant")
@click.argument("client")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def show_client(tenant: str, client: str, fmt: str) -> None:
    """The card of CLIENT (id, phone or email): fields, visits, spend, average check, favourite master,
    and every booking with its comment."""
    import json

    from bridge.store import clients as repo
    from pipelines.events import jsonable

    with opened(tenant) as (found, store), store.session() as s:
        row = repo.find(s, found.slug, client)
        if row is None:
            raise click.ClickException(f"no client {client!r} in {found.slug}")
        data = repo.card(s, row, found.timezone)
    if fmt == "json":
        click.echo(json.dumps(jsonable(data), ensure_ascii=False, indent=2))
        return
    history = data.pop("history")
    for key, value in data.items():
        if value not in (None, "", [], False):
            click.echo(f"{key:<16} {', '.join(value) if isinstance(value, list) else value}")
    for visit in history:
        comment = f"  «{visit['comment']}»" if visit["comment"] else ""
        click.echo(f"  {visit['at']:%Y-%m-%d %H:%M}  {visit['status']:<10} {visit['master'] or '':<16} "
                   f"{visit['price'] or '':>8}  {', '.join(visit['services'])}{comment}")
        for key in ("products", "materials"):
            if visit[key]:
                click.echo(f"{'':20}{key}: {'; '.join(_goods_text(line) for line in visit[key])}")


def _goods_text(line: dict[str, Any]) -> str:
    """``Hand cream ×2 = 900`` / ``Gel polish 2.5 ml = 37.50``."""
    quantity = f"{line['quantity'].normalize():f}"
    text = line["title"] + (f" {quantity} {line['unit']}" if line["unit"] else f" ×{quantity}")
    return text + (f" = {line['amount']}" if line["amount"] is not None else "")


def _filter_options(fn: Callable) -> Callable:
    for name in reversed(SEGMENT_FILTERS):
        fn = click.option(f"--{name.replace('_', '-')}", name, metavar="VALUE", help=SEGMENT_FILTERS[name])(fn)
    fn = click.option("--where", "where", multiple=True, metavar="FILTER=VALUE",
                      help="Any filter by name (as in a saved segment); repeatable.")(fn)
    return click.option("--segment", "saved", metavar="NAME",
                        help="A segment saved in the tenant file (clients.segments); the options narrow it.")(fn)


def segment_from(tenant: Any, saved: str | None, where: tuple[str, ...], given: dict[str, Any]) -> Any:
    from pipelines.segments import SegmentError, combine, parse_segment

    filters: dict[str, Any] = {}
    for item in where:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected FILTER=VALUE, got {item!r}", param_hint="--where")
        filters[key.strip()] = value
    filters.update({k: v for k, v in given.items() if v is not None})
    try:
        base = []
        if saved:
            known = tenant.clients.segments
            if saved not in known:
                raise click.BadParameter(f"no segment {saved!r} in the tenant file; saved: "
                                         f"{', '.join(known) or '(none)'}", param_hint="--segment")
            base.append(parse_segment(known[saved]))
        return combine(*base, parse_segment(filters))
    except SegmentError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.name.replace('_', '-')}") from exc


@clients.command("segment")
@click.argument("tenant")
@_filter_options
@_format_options
def segment(tenant: str, saved: str | None, where: tuple[str, ...], fmt: str, output: Path | None,
            **given: Any) -> None:
    """The clients of TENANT matching every filter given (none: all clients), with visits, spend and last
    visit. Export with --format csv/xlsx --output FILE; rows are streamed, so any size fits in memory.

    Ranges are MIN..MAX (either side may be left out); lists are comma-separated (tags: all of them,
    the rest: any). Example: --gender female --birthday 12-01..12-31 --spend 5000.. --blacklisted no
    """
    from bridge.reports import segment_table

    with opened(tenant) as (found, store):
        chosen = segment_from(found, saved, where, given)
        with store.reading() as conn:
            table = segment_table(conn, found, chosen, title=saved or "clients")
            emit([table], fmt, output, {"tenant": found.slug, "segment": saved, "filters": chosen.describe()})


# --- reports ------------------------------------------------------------------------------------------------


def _report_command(name: str, hidden: bool = False) -> click.Command:
    from bridge.reports import DEFAULT_PERIODS, DESCRIPTIONS

    @click.command(name.replace("_", "-"), help=f"{DESCRIPTIONS[name].capitalize()}.\n\nDates are the salon's "
                   f"local dates, both included. Without --from/--to: {DEFAULT_PERIODS[name]}. docs/clients.md.",
                   hidden=hidden)
    @click.argument("tenant")
    @click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
    @click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Last day, included.")
    @click.option("--branch", help="Only this branch (its id or name).")
    @_format_options
    def command(tenant: str, date_from: datetime | None, date_to: datetime | None, branch: str | None, fmt: str,
                output: Path | None) -> None:
        from bridge.reports import ReportError, branch_id, build, period_for

        with opened(tenant) as (found, store):
            today = datetime.now(found.timezone).date()
            try:
                period = period_for(name, _day(date_from), _day(date_to), today)
                branch_key = branch_id(found, branch)
            except ReportError as exc:
                raise click.BadParameter(str(exc)) from exc
            with store.reading() as conn:
                tables = build(conn, found, name, period, branch_key, today)
            meta = {"report": name, "tenant": found.slug, "from": period.start, "to": period.end,
                    "branch": branch_key}
            emit(tables, fmt, output, meta)

    return command


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def register_reports(group: click.Group) -> None:
    from bridge.reports import REPORTS

    for name in REPORTS:
        group.add_command(_report_command(name))
        if "_" in name:  # new_clients and new-clients both work
            group.add_command(_report_command(name, hidden=True), name)
