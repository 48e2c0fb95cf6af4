"""``salonbridge reconnect``: the clients late for their usual rebooking, and the numbers per category and branch.

``reconnect`` is a group so that campaign commands can join ``list`` (its default): ``salonbridge
reconnect salon`` is ``salonbridge reconnect list salon``. Phones are masked in the table (it ends up
on screens and in chat screenshots) and complete in JSON and CSV, which are for the operator's tools.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from bridge.booking.phones import mask_phone
from pipelines.reconnect import COUNT_NAMES

CSV_COLUMNS = ("client_id", "name", "phone", "email", "category", "category_label", "branch", "branch_name",
               "last_visit", "interval_days", "interval_source", "expected", "days_late")
COUNT_TITLES = ("tracked", "learned", "due this week", "due this month", "at risk", "suppressed")


class _ListByDefault(click.Group):
    """A group whose first argument, when it names no command of the group, goes to ``list``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ListByDefault)
def reconnect() -> None:
    """Client Reconnect: regular clients late for their usual rebooking (docs/reconnect.md).

    `salonbridge reconnect TENANT [OPTIONS]` is short for `salonbridge reconnect list TENANT [OPTIONS]`.
    """


@reconnect.command("list")
@click.argument("tenant")
@click.option("--category", metavar="NAME", help="Only this category (its name in any language, or its key).")
@click.option("--branch", metavar="ID", help="Only clients whose latest visit in the category was at this branch.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="table: for reading (phones masked); json: overview and clients; csv: clients, UTF-8 with BOM "
                   "(opens in Excel).")
def list_clients(tenant: str, category: str | None, branch: str | None, fmt: str) -> None:
    """The at-risk clients of TENANT and the overview: expected this week / this month, at risk and
    suppressed by an upcoming booking, per category, per branch and in total.

    A client is at risk in a category when today is past their expected date (last visit + their own
    typical interval, or the category's periodicity before three visits) plus the tolerance, and they
    have no upcoming booking at all.
    """
    from bridge.store.reconnect import UnknownFilter, scan
    from salonbridge.amocrm_cmds import _tenant

    svc = _services()
    try:
        try:
            result = scan(svc.store, _tenant(svc, tenant), datetime.now(UTC), category=category, branch=branch)
        except UnknownFilter as exc:
            raise click.BadParameter(str(exc), param_hint=f"--{exc.what}") from exc
    finally:
        svc.close()
    if fmt == "json":
        click.echo(json.dumps({"overview": result.overview_json(), "clients": result.client_rows()},
                              ensure_ascii=False, indent=2))
    elif fmt == "csv":
        sys.stdout.buffer.write(_csv(result.client_rows()).encode("utf-8-sig"))
        sys.stdout.flush()
    else:
        click.echo(_render(result.overview_json(), result.client_rows(), result.tenant.name))


@reconnect.command("send")
@click.argument("tenant")
@click.option("--category", metavar="NAME", help="Contact the at-risk clients of this category (name or key).")
@click.option("--all", "all_", is_flag=True, help="Contact the at-risk clients of every category (each client "
              "once, about the category they are most overdue in).")
@click.option("--channel", type=click.Choice(["sms", "email", "both"]), default=None,
              help="How to reach them (default: the tenant file's reconnect.channel). both: SMS and email, each "
                   "where the client has one.")
@click.option("--dry-run", is_flag=True, help="Show who would be contacted; send nothing, record nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (scripts).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: for reading (phones masked); json: complete, for tools.")
def send(tenant: str, category: str | None, all_: bool, channel: str | None, dry_run: bool, yes: bool,
         fmt: str) -> None:
    """Send the first Reconnect message to TENANT's at-risk clients of one category (--category) or of all
    (--all). Shows how many and to whom first and asks unless --yes.

    Messages are marketing: opt-out, quiet hours and the frequency cap apply, and the clock sends them
    (`salonbridge clock` or `run` must be running). Each contacted client gets a note on their amoCRM
    contact (and a Lost clients lead and/or a call task if reconnect.create_lost_lead /
    create_call_task say so). The follow-up goes by itself reconnect.follow_up_after_days later unless
    the client rebooked. A client is never contacted twice for the same lateness.
    """
    from bridge.campaigns import UnknownFilter, preview
    from bridge.campaigns import send as run_campaign
    from salonbridge.amocrm_cmds import _tenant

    if bool(category) == all_:
        raise click.UsageError("give either --category NAME or --all")
    svc = _services()
    try:
        salon = _tenant(svc, tenant)
        now = datetime.now(UTC)
        try:
            campaign = preview(svc.store, salon, now, category=category, channel=channel)
        except UnknownFilter as exc:
            raise click.BadParameter(str(exc), param_hint=f"--{exc.what}") from exc
        if fmt == "json" and (dry_run or not campaign.recipients):
            click.echo(json.dumps({**campaign.summary(), "dry_run": dry_run,
                                   "clients": [r.row() for r in campaign.recipients]}, ensure_ascii=False, indent=2))
            return
        if fmt == "table":
            click.echo(_render_campaign(campaign))
        if not campaign.recipients or dry_run:
            if fmt == "table":
                click.echo("dry run: nothing sent" if dry_run else "nobody to contact")
            return
        if not yes:
            click.confirm(f"Send to {len(campaign.recipients)} client(s)?", abort=True, err=True)
        with click.progressbar(length=len(campaign.recipients), label="contacting", file=sys.stderr) as bar:
            result = run_campaign(svc.store, campaign, svc.policy(salon.slug), datetime.now(UTC), progress=bar.update)
    finally:
        svc.close()
    if fmt == "json":
        click.echo(json.dumps({**campaign.summary(), **result.summary(),
                               "clients": [r.row() for r in campaign.recipients]}, ensure_ascii=False, indent=2))
        return
    click.echo(f"campaign {result.campaign}: {result.contacted} client(s) contacted, {result.messages} message(s) "
               "scheduled (the clock sends them, out of quiet hours)")
    for skipped in result.skipped:
        click.echo(f"  not contacted: client #{skipped['client_id']}: {skipped['reason']}")


def _render_campaign(campaign: Any) -> str:
    s = campaign.summary()
    what = campaign.label() or "every category"
    lines = [f"Reconnect campaign for {campaign.tenant.name}: {what}, channel {campaign.channel}",
             f"to contact: {s['recipients']} client(s); already contacted for this lateness: "
             f"{s['already_contacted']}; no address for the channel: {s['unreachable']}"]
    if s["follow_up_after_days"]:
        lines.append(f"follow-up: after {s['follow_up_after_days']} days unless the client rebooks")
    rows = [[r.client.contact.name or f"#{r.client.client_id}", mask_phone(r.client.contact.phone) or "-",
             _mask_email(r.client.contact.email), r.target.category_label, str(r.target.last_visit),
             str(r.target.days_late), "+".join(r.target.channels)] for r in campaign.recipients]
    if rows:
        lines += [""] + _table(["client", "phone", "email", "category", "last visit", "days late", "via"], rows)
    return "\n".join(lines)


def _mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return "-"
    user, _, domain = email.partition("@")
    return f"{user[:1]}***@{domain}"


def _services() -> Any:
    from salonbridge.cli import _services as build  # late: cli.py registers these commands

    return build(migrate=True)


def _csv(rows: list[dict[str, Any]]) -> str:
    """Through the one CSV writer of every report (``bridge.tables``)."""
    from bridge.tables import Column, Table, csv_lines

    return b"".join(csv_lines(Table("clients", tuple(Column(c, c) for c in CSV_COLUMNS), rows))).decode("utf-8-sig")


def _render(overview: dict[str, Any], clients: list[dict[str, Any]], salon: str) -> str:
    def counts(row: dict[str, Any]) -> list[str]:
        return [str(row[n]) for n in COUNT_NAMES]

    lines = [f"Reconnect: {salon}, {overview['today']} (at risk: more than {overview['tolerance_days']} days past "
             f"the expected date, no upcoming booking)", ""]
    rows = [[c["label"], *counts(c)] for c in overview["categories"]] + [["total", *counts(overview["total"])]]
    lines += _table(["category", *COUNT_TITLES], rows) + [""]
    rows = [[f"{b['name'] or b['branch'] or '(none)'}", *counts(b)] for b in overview["branches"]]
    lines += _table(["branch", *COUNT_TITLES], rows) + [""]
    lines.append(f"at-risk clients: {len(clients)}")
    rows = [[c["name"] or f"#{c['client_id']}", mask_phone(c["phone"]) or "-", c["category_label"], c["last_visit"],
             f"{c['interval_days']} d ({'own' if c['interval_source'] == 'learned' else 'periodicity'})",
             c["expected"], str(c["days_late"])] for c in clients]
    if rows:
        lines += _table(["client", "phone", "category", "last visit", "interval", "expected", "days late"], rows)
    return "\n".join(lines)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned text columns, numbers right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if c.lstrip("-").isdigit() else c.ljust(w)
                         for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), *(line([str(c) for c in r]) for r in rows)]
