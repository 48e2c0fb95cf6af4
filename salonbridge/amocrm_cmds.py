"""amoCRM commands: ``setup``, ``amocrm connect``, ``amocrm status`` and the ``sandbox`` emulator.

Nothing here prints a token: the OAuth link carries only the client id and a signed state, and status
shows where a token comes from and when it expires.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bridge.amocrm.errors import AmoError, ReauthRequired


def _services() -> Any:
    from salonbridge.cli import _services as build  # late: cli.py registers these commands

    return build(migrate=True)


def _tenant(services: Any, slug: str) -> Any:
    tenant = services.tenants.get(slug)
    if tenant is None:
        known = ", ".join(sorted(services.tenants)) or "none"
        folder = services.settings.tenants_dir
        raise click.ClickException(f"unknown tenant {slug!r} (tenant files in {folder}: {known})")
    return tenant


# --- setup ---------------------------------------------------------------------------------------


@click.command()
@click.argument("tenant")
@click.option("--dry-run", is_flag=True,
              help="Read the account and print what would be created or renamed; write nothing (no POST/PATCH).")
def setup(tenant: str, dry_run: bool) -> None:
    """Create or reconcile TENANT's amoCRM pipelines, stages, custom fields and webhook.

    Safe to run again at any time: items are matched by the ids saved last time, then by name; renamed
    ones are renamed back, missing ones created, nothing is deleted. Prints one row per item
    (created / renamed / updated / reordered / unchanged / skipped). Exit 1 on an error.
    """
    from bridge.amocrm.provisioning import ProvisioningError, run_setup
    from salonbridge.preflight import amocrm_reachable

    svc = _services()
    found = _tenant(svc, tenant)
    why = amocrm_reachable(found.amocrm.base_url)
    if why is not None:
        svc.close()
        raise click.ClickException(
            f"cannot reach amoCRM at {found.amocrm.base_url} ({why}): check amocrm.base_url in "
            f"{found.path or tenant + '.yaml'} (the account's address, e.g. https://yoursalon.amocrm.ru)")
    try:
        report = run_setup(found, svc, dry_run=dry_run)
    except ProvisioningError as exc:
        raise click.ClickException(str(exc)) from exc
    except ReauthRequired as exc:
        raise click.ClickException(str(exc)) from exc
    except AmoError as exc:
        raise click.ClickException(f"setup stopped: {exc}\nRun it again: it picks up where it stopped.") from exc
    finally:
        svc.close()
    click.echo(report.render())


# --- amocrm connect / status ----------------------------------------------------------------------


@click.group()
def amocrm() -> None:
    """Connect salons to their amoCRM accounts and check the connections.

    Tokens are stored encrypted with SALONBRIDGE_TOKEN_KEY (else a key derived from SECRET_KEY);
    SALONBRIDGE_PUBLIC_URL is where amoCRM sends the admin back after consent. See docs/amocrm.md.
    """


@amocrm.command()
@click.argument("tenant")
@click.option("--token-env", metavar="VAR",
              help="Accept a private integration's long-lived token from environment variable VAR.")
@click.option("--long-lived", is_flag=True,
              help="Accept the long-lived token from the variable the tenant file names (amocrm.long_lived_token_env).")
@click.option("--code", metavar="CODE",
              help="Exchange a one-time authorization code copied from the integration's page in amoCRM "
                   "(valid 20 minutes, once), without a browser coming back to this install.")
def connect(tenant: str, token_env: str | None, long_lived: bool, code: str | None) -> None:
    """Connect TENANT to amoCRM.

    OAuth (default): prints the link an amoCRM account admin opens; after "Allow" amoCRM redirects to
    {SALONBRIDGE_PUBLIC_URL}/oauth/TENANT/callback, which stores the tokens encrypted. The link is valid
    for 30 minutes. Needs the variables named by amocrm.client_id_env and amocrm.client_secret_env.

    Code (--code CODE): the one-time code shown in amoCRM's integration settings is exchanged with the
    same Redirect URI the integration is registered with, and the tokens are stored encrypted.

    Long-lived token (--token-env VAR or --long-lived): the token is checked against the account, then
    stored encrypted. Used automatically when the tenant has no OAuth client configured.
    """
    from bridge.amocrm.connect import ConnectError, accept_long_lived, consent_url, expiry_text, redirect_uri

    svc = _services()
    try:
        found = _tenant(svc, tenant)
        if code:
            _exchange_code(svc, found, code.strip())
            return
        named = found.amocrm.long_lived_token_env
        oauth_configured = bool(found.amocrm.client_id_env and found.amocrm.client_secret_env)
        if long_lived or (not token_env and not oauth_configured and named):
            if not named:
                raise click.ClickException(f"tenant {tenant!r} names no amocrm.long_lived_token_env")
            token_env = named
        if token_env:
            token = (svc.settings.secret(token_env) or "").strip()
            if not token:
                raise click.ClickException(f"environment variable {token_env} is empty or not set")
            try:
                stored, account = accept_long_lived(found, svc, token)
            except ReauthRequired as exc:
                raise click.ClickException(
                    f"amoCRM refused the token in ${token_env} (wrong, expired or revoked); nothing was stored"
                ) from exc
            except AmoError as exc:
                raise click.ClickException(f"could not check the token: {exc}; nothing was stored") from exc
            click.echo(f"{tenant}: connected to amoCRM account «{account.get('name')}» with a long-lived token "
                       f"({expiry_text(stored.expires_at)}).")
            click.echo(f"Next: salonbridge setup {tenant}")
            return
        try:
            url = consent_url(found, svc.settings)
        except ConnectError as exc:
            raise click.ClickException(f"{exc}, or use --token-env VAR for a long-lived token") from exc
        click.echo(f"Open this link as an admin of the salon's amoCRM account and press Allow:\n\n  {url}\n")
        click.echo(f"The integration's Redirect URI must be exactly: {redirect_uri(tenant, svc.settings)}")
        click.echo("The link is valid for 30 minutes. Then run: salonbridge amocrm status " + tenant)
    finally:
        svc.close()


def _exchange_code(svc, tenant, code: str) -> None:
    from bridge.amocrm.connect import ConnectError, complete_authorization, expiry_text, redirect_uri
    from bridge.amocrm.errors import InvalidGrant

    try:
        stored = complete_authorization(tenant, svc, code, referer=None)
    except ConnectError as exc:
        raise click.ClickException(str(exc)) from exc
    except InvalidGrant as exc:
        raise click.ClickException(
            "amoCRM refused the code: it is used, older than 20 minutes, or belongs to another integration, or "
            f"the integration's Redirect URI is not {redirect_uri(tenant.slug, svc.settings)}; nothing was stored"
        ) from exc
    except AmoError as exc:
        raise click.ClickException(f"could not exchange the code: {exc}; nothing was stored") from exc
    click.echo(f"{tenant.slug}: connected to amoCRM by authorization code ({expiry_text(stored.expires_at)}).")
    click.echo(f"Next: salonbridge setup {tenant.slug}")


@amocrm.command()
@click.argument("tenants", nargs=-1)
@click.option("--offline", is_flag=True, help="Do not call amoCRM; report only what is stored.")
def status(tenants: tuple[str, ...], offline: bool) -> None:
    """Show each tenant's amoCRM connection: connected / needs_reauth / not connected / error.

    For a connected tenant also the token's source and expiry and the account name (GET /api/v4/account,
    which also proves the token still works). Exit 1 when any tenant is not connected.
    """
    from bridge.amocrm.connect import CONNECTED, connection_status, expiry_text

    svc = _services()
    try:
        slugs = list(tenants) or sorted(svc.tenants)
        if not slugs:
            from salonbridge.checks import no_tenants_hint

            click.echo(no_tenants_hint(svc.settings.tenants_dir))
            return
        healthy = True
        for slug in slugs:
            st = connection_status(_tenant(svc, slug), svc, probe=not offline)
            healthy &= st.state == CONNECTED
            parts = [f"{slug}: {st.state}"]
            if st.source:
                parts.append(f"{st.source}, {expiry_text(st.expires_at)}")
            if st.account_name:
                parts.append(f"account «{st.account_name}» (id {st.account_id})")
            if st.problem:
                parts.append(st.problem)
            if st.state != CONNECTED:
                parts.append(f"run `salonbridge amocrm connect {slug}`")
            click.echo(" · ".join(parts))
    finally:
        svc.close()
    if not healthy:
        sys.exit(1)


# --- sandbox -------------------------------------------------------------------------------------


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--state", "state", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON file holding the account (pipelines, leads, tokens…); kept across restarts. "
                   "Default: in memory, lost on exit.")
@click.option("--rps", default=7.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Requests per second before the emulator answers 429, as amoCRM does.")
@click.option("--block-after", default=20, show_default=True, type=click.IntRange(min=0),
              help="This many 429s within a minute turn into a 403 block for 15 min; 0 = never block.")
@click.option("--html-429", is_flag=True, help="Answer 429 with gateway HTML instead of JSON (both happen).")
@click.option("--error-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of API requests answered with --error-status before being processed.")
@click.option("--error-status", default=500, show_default=True, type=click.IntRange(500, 599),
              help="Status of the injected errors.")
@click.option("--slow-ms", default=0, show_default=True, type=click.IntRange(min=0),
              help="Latency added to every API request, in milliseconds.")
@click.option("--slow-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of API requests processed, then answered --slow-seconds late (past a client's timeout).")
@click.option("--slow-seconds", default=21.0, show_default=True, type=click.FloatRange(min=0),
              help="How late a --slow-rate answer is (the client's read timeout is 20 s).")
@click.option("--burst-429", default=0, show_default=True, type=click.IntRange(min=0),
              help="Answer the first N API requests with 429 (they count toward the 403 block).")
@click.option("--burst-retry-after", type=click.IntRange(min=0),
              help="Seconds the --burst-429 answers ask for, in Retry-After and the JSON retry_after.")
@click.option("--expire-token-after", type=click.IntRange(min=0),
              help="Expire the OAuth access token of the (N+1)-th API request once (0 = the next one).")
@click.option("--per-second-limit", type=click.IntRange(min=1),
              help="Also answer 429 past N requests within one calendar second (the strictest reading of 7/s).")
@click.option("--seed", type=int, help="Random seed for --error-rate and --slow-rate (same seed, same failures).")
@click.option("--client-id", default="sandbox-client-id", show_default=True, help="OAuth client id it accepts.")
@click.option("--client-secret", default="sandbox-client-secret", show_default=True,
              help="OAuth client secret it accepts.")
@click.option("--redirect-uri", help="OAuth redirect URI it accepts and redirects to after consent "
                                     "(default: {SALONBRIDGE_PUBLIC_URL}/oauth/<--tenant>/callback).")
@click.option("--tenant", default="sandbox", show_default=True,
              help="Tenant slug used to build the default --redirect-uri.")
@click.option("--refresh-grace", is_flag=True,
              help="Let a spent refresh token work until its successor is used (Kommo's behaviour).")
@click.option("--timezone", default="Europe/Moscow", show_default=True, help="The account's time zone.")
def sandbox(host: str, port: int, state: Path | None, rps: float, block_after: int, html_429: bool,
            error_rate: float, error_status: int, slow_ms: int, slow_rate: float, slow_seconds: float,
            burst_429: int, burst_retry_after: int | None, expire_token_after: int | None,
            per_second_limit: int | None, seed: int | None, client_id: str, client_secret: str,
            redirect_uri: str | None, tenant: str, refresh_grace: bool, timezone: str) -> None:
    """Run the amoCRM emulator: API v4, OAuth, 7 req/s limit, faults, webhook echoes, and a board at /.

    Point a tenant at it with `amocrm: {base_url: http://HOST:PORT}` in its YAML, mint a token
    (printed below), `salonbridge amocrm connect <tenant> --token-env VAR`, then `salonbridge setup`.
    Once `setup` has registered the webhook, the sandbox POSTs every change of leads and tasks to it,
    as amoCRM does. Faults can also be changed while it runs (`POST /_sandbox/faults`, see docs/amocrm.md).
    Ctrl-C stops it.
    """
    from amocrm_sandbox import Faults, SandboxOptions, serve
    from salonbridge.cli import _settings

    public_url = _settings().public_url
    redirect = redirect_uri or f"{public_url}/oauth/{tenant}/callback"
    options = SandboxOptions(
        requests_per_second=rps, block_after_429s=block_after or None, rate_limit_html=html_429,
        refresh_grace=refresh_grace, client_id=client_id, client_secret=client_secret, redirect_uri=redirect,
        timezone=timezone, per_second_limit=per_second_limit,
    )
    faults = Faults(error_rate=error_rate, error_status=error_status, slow_ms=slow_ms, slow_rate=slow_rate,
                    slow_seconds=slow_seconds, burst_429=burst_429, burst_retry_after=burst_retry_after,
                    expire_token_after=expire_token_after, seed=seed)
    base = f"http://{host}:{port}"
    click.echo(f"amoCRM sandbox: {base}  (tenant YAML: amocrm: {{base_url: {base}}})")
    click.echo(f"board:          {base}/   (pipelines, leads and tasks as an amoCRM user sees them)")
    click.echo(f"stats:          {base}/_sandbox/stats   (faults: {base}/_sandbox/faults)")
    click.echo(f"OAuth client:   id {client_id}, redirect URI {redirect}")
    click.echo("mint a token:   export AMO_TOKEN=$(curl -s -X POST " + base + "/_sandbox/tokens "
               "-d '{\"action\": \"long_lived\"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)"
               "[\"access_token\"])')")
    click.echo(f"                salonbridge amocrm connect {tenant} --token-env AMO_TOKEN")
    click.echo("                (other actions: pair, code, expire, revoke — see POST /_sandbox/tokens)")
    serve(host, port, state, requests_per_second=rps, block_after_429s=block_after or None, faults=faults,
          options=options)
