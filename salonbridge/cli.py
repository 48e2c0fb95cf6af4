"""The ``salonbridge`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from config.logging import configure_logging
from config.settings import DEV_SECRET_KEY, Settings, SettingsError


def _settings() -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(settings)
    return settings


def _checked_settings(*, database: bool = True) -> Settings:
    """Settings for a long-running process, after the preflight: each problem on one line, then exit 2."""
    from salonbridge.preflight import EXIT_PREFLIGHT, preflight

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_PREFLIGHT)
    configure_logging(settings)
    if settings.environ.get("SALONBRIDGE_SUPERVISED"):  # `run` checked before starting it; it waits out outages
        return settings
    found = preflight(settings, database=database)
    if not found.ok:
        for problem in found.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"salonbridge did not start: {len(found.problems)} problem(s) above", err=True)
        sys.exit(EXIT_PREFLIGHT)
    return settings


def _services(migrate: bool = False, serving: bool = False, settings: Settings | None = None):
    from bridge.services import Services
    from config.tenants import TenantFileError

    settings = settings or _settings()
    supervised = bool(settings.environ.get("SALONBRIDGE_SUPERVISED"))  # the parent has warned already
    if serving and settings.secret_key == DEV_SECRET_KEY and not supervised:
        click.echo("warning: SECRET_KEY is not set; client links and stored amoCRM tokens are protected by a "
                   "development key. Set SECRET_KEY (and SALONBRIDGE_TOKEN_KEY) before real use.", err=True)
    try:
        return Services.build(settings, migrate=migrate)
    except TenantFileError as exc:
        raise click.ClickException(f"invalid tenant files (run `salonbridge check`):\n{exc}") from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """salonbridge: a salon's booking events in, its retention playbook in amoCRM out.

    Settings come from the environment: DATABASE_URL (default: SQLite under ./instance), REDIS_URL
    (default: an embedded Redis), SECRET_KEY, SALONBRIDGE_TENANTS (default: config/tenants),
    SALONBRIDGE_INSTANCE, SALONBRIDGE_LOG_LEVEL, SALONBRIDGE_LOG_JSON, SALONBRIDGE_PUBLIC_URL (the https
    address amoCRM, booking systems and clients reach), SALONBRIDGE_TOKEN_KEY (encrypts stored amoCRM
    tokens; default: derived from SECRET_KEY). docs/onboarding.md connects a salon; docs/deployment.md
    runs an install.
    """


@main.command()
@click.option("--tenants", "tenants_dir", type=click.Path(file_okay=False, path_type=Path), help="Tenant files folder.")
@click.option("--skip-env", is_flag=True, help="Do not require the environment variables the files name.")
@click.option("--online", is_flag=True,
              help="Also check each tenant's amoCRM: connection, setup done, work not paused (one API call each).")
def check(tenants_dir: Path | None, skip_env: bool, online: bool) -> None:
    """Validate every tenant file; print each problem as FILE: FIELD: MESSAGE; exit 1 on any.

    Checks what a starting process checks (every value, name, template text and category), plus the
    environment variables the files name and that each tenant has amoCRM credentials. Notes (such as a
    periodicity set to null: no repeat-visit task) are printed too and do not fail the check.
    """
    from salonbridge.checks import check_online, check_tenants, no_tenants_hint

    settings = _settings()
    directory = tenants_dir or settings.tenants_dir
    if tenants_dir is None and not directory.is_dir():
        click.echo(no_tenants_hint(directory))
        return
    found = check_tenants(directory, settings.environ, require_env=not skip_env)
    problems = found.problems
    if online and not problems and found.files:
        problems = check_online(_services())
    for note in found.notes:
        click.echo(f"{note} (note)")
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {directory}", err=True)
        sys.exit(1)
    if not found.files:
        click.echo(no_tenants_hint(directory))
        return
    click.echo(f"{found.files} tenant file(s) in {directory}: OK")


@main.command()
@click.argument("slug")
@click.option("--tenants", "tenants_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Tenant files folder (default: SALONBRIDGE_TENANTS, else config/tenants).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(slug: str, tenants_dir: Path | None, force: bool) -> None:
    """Write a commented tenant file for salon SLUG (lowercase letters, digits, dashes) from the example.

    Every setting is explained in the file; the environment variables it names are prefixed with the
    slug. Edit it, set the variables, then run `salonbridge check`.
    """
    from salonbridge.onboarding import InitError, write_tenant_file

    directory = tenants_dir or _settings().tenants_dir
    try:
        path, variables = write_tenant_file(directory, slug, force=force)
    except InitError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"wrote {path}")
    click.echo("next: edit it (name, timezone, branches, services, amocrm.base_url), set these environment variables:")
    for name in variables:
        click.echo(f"  {name}")
    click.echo("then run `salonbridge check`")


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending migrations (also done automatically by `run` and `demo`)."""
    from bridge.store.db import Store
    from salonbridge.preflight import EXIT_PREFLIGHT, database_problems

    settings = _settings()
    problems = database_problems(settings.database_url)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        sys.exit(EXIT_PREFLIGHT)
    Store(settings.database_url).migrate()
    click.echo("database is at the newest schema")


@main.command()
@click.option("--burst", is_flag=True, help="Exit once the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker that processes booking events (run as many as you like).

    Checks the database, Redis and tenant files first (exit 2 on a problem); once running it waits out a
    Redis or database outage, saying so once when it starts and once when it ends."""
    from jobs.worker import run_worker

    svc = _services(serving=True, settings=_checked_settings())
    _in_background(svc.settings)
    run_worker(svc, burst=burst)
    _exit_now(svc)


@main.command()
def clock() -> None:
    """Run the clock: outbox sweeper, crash recovery, catch-up polling (exactly one per install).

    Checks like `worker` before starting, and like it waits out Redis and database outages."""
    from jobs.clock import run_clock

    svc = _services(serving=True, settings=_checked_settings())
    _in_background(svc.settings)
    run_clock(svc)
    _exit_now(svc)


def _in_background(settings: Settings) -> None:
    """Lower this process's CPU priority to SALONBRIDGE_BACKGROUND_NICE (0 leaves it as started; the default is
    10 on PostgreSQL and 0 on SQLite, see ``config.settings.default_nice``).

    Workers and the clock can wait; a booking system waiting for a webhook's answer cannot. On a host whose
    CPUs are busy the scheduler then runs the web first (a nice-10 process gets about a tenth of a nice-0
    one's share), and an idle host runs everything as before. Never raises the priority: a process started
    at a higher niceness (systemd's ``Nice=``) keeps it; RQ's work horses inherit it."""
    import os

    current = os.getpriority(os.PRIO_PROCESS, 0)
    if settings.background_nice > current:
        os.nice(settings.background_nice - current)


def _exit_now(svc, code: int = 0) -> None:
    """Leave without the interpreter's final garbage collection (about 2 s for a worker or clock, which
    a deploy or Ctrl-C would wait for); everything is closed and flushed first."""
    import logging
    import os

    svc.close()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="Address of the web server.")
@click.option("--workers", default=2, show_default=True, help="Number of RQ worker processes.")
def run(bind: str, workers: int) -> None:
    """Run web + workers + clock in one command (docs/operations.md).

    Checks the database, Redis, tenant files and their variables first (one line per problem, exit 2);
    says "running on" once the web server listens; starts again, with back-off, any child that exits;
    Ctrl-C stops everything within 3 s."""
    from salonbridge.supervisor import Supervisor

    svc = _services(migrate=True, serving=True, settings=_checked_settings())
    if not svc.tenants:
        from salonbridge.checks import no_tenants_hint

        click.echo(f"warning: {no_tenants_hint(svc.settings.tenants_dir)}; until then every hook answers 404.",
                   err=True)
    supervisor = Supervisor(svc.settings, bind=bind, workers=workers)
    supervisor.start()
    if not supervisor.wait_until_listening():
        supervisor.stop()
        click.echo(f"error: the web server could not listen on {bind} (its lines above say why)", err=True)
        sys.exit(2)
    click.echo(f"salonbridge is running on http://{bind} (Ctrl-C to stop)")
    _exit_now(svc, supervisor.wait())


@main.command()
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--tenant", help="Tenant of lines that do not name one.")
@click.option("--source", default="generic", show_default=True, help="Source of lines that do not name one.")
@click.option("--dry-run", is_flag=True,
              help="Plan the file on a scratch store and print every action; send and store nothing.")
@click.option("--history", is_flag=True,
              help="History mode (as `import`): a repeat cycle due longer ago than clients.history_grace_days "
                   "gets no task, lead or message; no confirmation or welcome for these bookings.")
def replay(file, tenant: str | None, source: str, dry_run: bool, history: bool) -> None:
    """Feed a JSON-lines file of booking events through the same intake as live webhooks.

    Each line is either a webhook body (with --tenant/--source) or {"tenant", "source", "body"}.
    Already stored events are recognised as duplicates; the worker processes the rest.
    """
    from salonbridge.replay import replay_lines

    if dry_run:
        from salonbridge.dryrun import dry_run as plan_file
        from salonbridge.dryrun import summarize

        planned = []
        for number, lines in plan_file(_settings(), file, tenant, source):
            planned.append(lines)
            click.echo(f"line {number}:")
            for line in lines:
                click.echo(f"  {line}")
        counts = summarize(planned)
        click.echo("dry run, nothing sent: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        return
    svc = _services(migrate=True)
    summary = replay_lines(svc, file, default_tenant=tenant, default_source=source, history=history)
    click.echo(summary.render())
    if summary.rejected:
        sys.exit(1)


@main.command()
@click.option("--clients", default=50, show_default=True, help="Clients in the synthetic salon.")
@click.option("--seed", default=7, show_default=True,
              help="Random seed: same seed, same salon and same figures, except the amoCRM call count, which may "
                   "differ by a few (which actions share a batch depends on which worker recorded them first).")
@click.option("--instance", type=click.Path(file_okay=False, path_type=Path), default=Path("instance/demo"),
              show_default=True, help="Folder for the demo's database, Redis and sandbox (wiped first).")
@click.option("--dry-run", is_flag=True, help="Only plan the synthetic year and print the actions; send nothing.")
@click.option("--serve", is_flag=True, help="Keep everything running afterwards so the board can be browsed.")
def demo(clients: int, seed: int, instance: Path, dry_run: bool, serve: bool) -> None:
    """The whole system on embedded defaults: a synthetic salon's year of YCLIENTS webhooks posted over HTTP,
    processed by real workers into the built-in amoCRM sandbox, then the clock's first pass (repeat visits
    due, Lost clients, messages), then a summary of what amoCRM shows. With --serve it then prints the web
    app's address, a client's page and the amoCRM board, and keeps them running until Ctrl-C."""
    from salonbridge.demo import run_demo

    sys.exit(run_demo(instance=instance, clients=clients, seed=seed, dry_run=dry_run, serve=serve))


def _register_amocrm_commands() -> None:
    from salonbridge.amocrm_cmds import amocrm, sandbox, setup

    main.add_command(setup)
    main.add_command(amocrm)
    main.add_command(sandbox)


_register_amocrm_commands()


def _register_report_commands() -> None:
    from salonbridge.report_cmds import report

    main.add_command(report)


_register_report_commands()


@main.command("import")
@click.argument("tenant")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only visits on or after this day (YYYY-MM-DD).")
def import_history(tenant: str, file: Path, since: Any) -> None:
    """Import TENANT's visit history in history mode: from FILE (CSV or XLSX, one visit per row), or without
    FILE from the booking system's REST API (YCLIENTS/Altegio records of every branch, page by page, rate
    limit waited out; a run stopped by an error resumes at its page).

    Columns by header (English, Russian or Ukrainian names): date (and time), phone, email, name,
    client_id, booking_id, service, service_id, category, price, master, branch, status, comment,
    birthday, gender, source, reason, card_type, tags, duration, products and materials (each
    "title x2 unit = amount; ..."). Past visits become history: a repeat
    cycle due longer ago than clients.history_grace_days (tenant file, default 14) gets no amoCRM task,
    lead or message; cycles still due get their task. Running it again imports nothing twice; a run
    stopped half-way resumes. Invalid phones and merged duplicates are listed by row number.
    """
    from tqdm import tqdm

    from salonbridge.amocrm_cmds import _tenant
    from salonbridge.history_import import ImportFileError, run_api_import, run_import

    svc = _services(migrate=True)
    try:
        found = _tenant(svc, tenant)
        try:
            day = since.date() if since else None
            if file is None:
                summary = run_api_import(svc, found, day, progress=lambda _: tqdm(unit=" records", desc="import",
                                                                                  disable=None))
            else:
                summary = run_import(svc, found, file, day,
                                     progress=lambda rows: tqdm(rows, unit=" visits", desc="import", disable=None))
        except ImportFileError as exc:
            raise click.ClickException(str(exc)) from exc
    finally:
        svc.close()
    click.echo(summary.render())
    click.echo("amoCRM: the contacts and the tasks above go out with the worker's next sync (salonbridge run)")
    if summary.rejected or summary.stopped:
        sys.exit(1)


def _register_client_commands() -> None:
    from salonbridge import segment_cmds  # noqa: F401  (adds clients tag / clients send)
    from salonbridge.client_cmds import clients

    main.add_command(clients)


_register_client_commands()


def _register_reconnect_commands() -> None:
    from salonbridge.reconnect_cmds import reconnect

    main.add_command(reconnect)


_register_reconnect_commands()


def _register_user_commands() -> None:
    from salonbridge.users_cmds import users

    main.add_command(users)


_register_user_commands()


def _register_web_command() -> None:
    from salonbridge.web_cmd import web

    main.add_command(web)


_register_web_command()


def _register_events_commands() -> None:
    from salonbridge.events_cmds import events

    main.add_command(events)


_register_events_commands()


def _register_status_command() -> None:
    from salonbridge.status_cmd import status

    main.add_command(status)


_register_status_command()
