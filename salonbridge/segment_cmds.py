"""``salonbridge clients tag`` and ``clients send``: a segment tagged in amoCRM, or sent a message campaign.

The segment is chosen with the same filters as ``clients segment`` (and ``--segment NAME`` for a saved one).
Both only record work: the amoCRM sync adds the tags, the clock sends the messages.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from salonbridge.client_cmds import _filter_options, clients, opened, segment_from


def _bad(exc: Any) -> click.BadParameter:
    return click.BadParameter(str(exc), param_hint=f"--{exc.field}")


@clients.command("tag")
@click.argument("tenant")
@_filter_options
@click.option("--add", "tags", multiple=True, required=True, metavar="TAG",
              help="A tag to add (repeat for several; from the tenant's clients.tags when it defines a set).")
def tag_segment(tenant: str, saved: str | None, where: tuple[str, ...], tags: tuple[str, ...], **given: Any) -> None:
    """Add tags to every client of TENANT matching the filters: on their cards here and on their amoCRM
    contacts (the next amoCRM sync, batched; tags people set are kept)."""
    from bridge.client_card import CardError
    from bridge.segment_campaigns import CampaignError, tag

    with opened(tenant, migrate=True) as (found, store):
        chosen = segment_from(found, saved, where, given)
        try:
            result = tag(store, found, chosen, tags, datetime.now(UTC))
        except (CampaignError, CardError) as exc:
            raise _bad(exc) from exc
    click.echo(f"{result['clients']} client(s) tagged {', '.join(tags)} ({result['newly_tagged']} newly); "
               "the amoCRM contacts follow with the next sync")


@clients.command("send")
@click.argument("tenant")
@_filter_options
@click.option("--name", "campaign", required=True,
              help="The campaign's name (letters, digits, . _ -): sending it again reaches nobody twice.")
@click.option("--text", required=True, help="The message (up to 500 characters); it goes out in the tenant's "
              "`campaign` template: '<name>, <text> <link to the client's page>'.")
@click.option("--channel", type=click.Choice(["sms", "email", "both"]), default=None,
              help="Default: the tenant file's reconnect.channel.")
@click.option("--dry-run", is_flag=True, help="Show who would get it; record nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (scripts).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def send_segment(tenant: str, saved: str | None, where: tuple[str, ...], campaign: str, text: str,
                 channel: str | None, dry_run: bool, yes: bool, fmt: str, **given: Any) -> None:
    """Send a message campaign to the clients of TENANT matching the filters. Blacklisted and opted-out
    clients are never messaged; quiet hours and the frequency cap apply (the clock sends)."""
    from bridge.booking.phones import mask_phone
    from bridge.segment_campaigns import CampaignError, audience, send
    from bridge.tenancy import policy_of

    with opened(tenant, migrate=True) as (found, store):
        chosen = segment_from(found, saved, where, given)
        try:
            people = audience(store, found, chosen, name=campaign, text=text, channel=channel)
        except CampaignError as exc:
            raise _bad(exc) from exc
        summary = people.summary()
        if fmt == "json" and (dry_run or not people.recipients):
            click.echo(json.dumps({**summary, "dry_run": dry_run, "clients": [r.row() for r in people.recipients]},
                                  ensure_ascii=False, indent=2))
            return
        if fmt == "table":
            left = summary["left_out"]
            click.echo(f"campaign {campaign} for {found.name}, channel {people.channel}: "
                       f"{len(people.recipients)} client(s); left out: {left['blacklisted']} blacklisted, "
                       f"{left['opted_out']} opted out, {left['no_address']} with no address for the channel")
            for r in people.recipients[:20]:
                click.echo(f"  #{r.client_id}  {r.name or '-'}  {mask_phone(r.phone) or '-'}")
            if len(people.recipients) > 20:
                click.echo(f"  … and {len(people.recipients) - 20} more")
        if dry_run or not people.recipients:
            if fmt == "table":
                click.echo("dry run: nothing sent" if dry_run else "nobody to message")
            return
        if not yes:
            click.confirm(f"Send to {len(people.recipients)} client(s)?", abort=True, err=True)
        with click.progressbar(length=len(people.recipients), label="planning", file=sys.stderr) as bar:
            result = send(store, people, policy_of(found), datetime.now(UTC), progress=bar.update)
    if fmt == "json":
        click.echo(json.dumps({**summary, **result.summary()}, ensure_ascii=False, indent=2))
        return
    click.echo(f"campaign {campaign}: {result.contacted} client(s), {result.messages} message(s) scheduled "
               "(the clock sends them, out of quiet hours)")
    for skipped in result.skipped:
        click.echo(f"  not messaged: client #{skipped['client_id']}: {skipped['reason']}")
