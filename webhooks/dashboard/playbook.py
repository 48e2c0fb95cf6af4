"""The playbook page: the three pipelines with leads per stage, the repeat-visit tasks, the messages
sent, and one client's timeline (events → actions → amoCRM ids, linked into the salon's amoCRM)."""

from __future__ import annotations

from flask import abort, render_template, request

from bridge.store import insights
from config.tenants import Tenant
from pipelines.catalog import category_label
from pipelines.stages import PIPELINE_NAMES, STAGE_NAMES, STAGES, Pipeline
from webhooks.context import current_services
from webhooks.dashboard.auth import page_language, tenant_page
from webhooks.dashboard.blueprint import bp

CANCELLED_SHOWN = 30


def pipelines_of(tenant: Tenant, language: str) -> list[dict]:
    """Each pipeline with every stage in funnel order and its count (stage names as amoCRM shows them)."""
    policy = current_services().policy(tenant.slug)
    counts = insights.leads_by_stage(current_services().store, tenant.slug)
    names = STAGE_NAMES.get(language, STAGE_NAMES["en"])
    out = []
    for pipeline in Pipeline:
        own = policy.stage_names.get(pipeline, {})
        stages = [(own.get(s) or names[pipeline][s], counts.get(pipeline.value, {}).get(s, 0))
                  for s in STAGES[pipeline]]
        out.append({"name": PIPELINE_NAMES.get(language, PIPELINE_NAMES["en"])[pipeline], "stages": stages,
                    "total": sum(n for _, n in stages)})
    return out


@bp.get("/t/<slug>/playbook")
@tenant_page
def playbook(tenant: Tenant):
    store = current_services().store
    lang = page_language()
    query = request.args.get("q", "").strip()[:100]
    return render_template(
        "dash_playbook.html", pipelines=pipelines_of(tenant, lang),
        task_counts=insights.task_counts(store, tenant.slug),
        tasks=insights.repeat_tasks(store, tenant.slug)  # open and restored, nearest deadline first
        + insights.repeat_tasks(store, tenant.slug, ("cancelled_by_booking",), CANCELLED_SHOWN, latest_first=True),
        messages=insights.messages_sent(store, tenant.slug), query=query,
        found=insights.find_clients(store, tenant.slug, query) if query else None,
        label=lambda c: category_label(c, lang),
    )


@bp.get("/t/<slug>/clients/<int:client_id>/timeline")
@tenant_page
def timeline(tenant: Tenant, client_id: int):
    found = insights.client_timeline(current_services().store, tenant.slug, client_id)
    if found is None:
        abort(404)
    lang = page_language()
    return render_template("dash_timeline.html", tl=found, amo=tenant.amocrm.base_url.rstrip("/"),
                           label=lambda c: category_label(c, lang), stage=lambda p, s: stage_name(tenant, p, s, lang))


def stage_name(tenant: Tenant, pipeline: str | None, stage: str, language: str) -> str:
    """A stage as amoCRM shows it (the tenant's own name, else the language's)."""
    try:
        key = Pipeline(pipeline)
    except ValueError:
        return stage
    own = current_services().policy(tenant.slug).stage_names.get(key, {}).get(stage)
    return own or STAGE_NAMES.get(language, STAGE_NAMES["en"])[key].get(stage, stage)

