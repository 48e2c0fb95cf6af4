"""Pipelines and their stages (§6): system stages in every pipeline, colour whitelist, 50/100 limits."""

from __future__ import annotations

from flask import Blueprint, Response

from amocrm_sandbox.hal import collection, link
from amocrm_sandbox.jsonio import json_response, no_content
from amocrm_sandbox.problems import ApiError
from amocrm_sandbox.runtime import rt
from amocrm_sandbox.seed import LOST, WON, new_pipeline, new_status, unsorted_status
from amocrm_sandbox.state import Data
from amocrm_sandbox.validation import (
    NOT_BLANK,
    NOT_SUPPORTED,
    TOO_MANY,
    ItemErrors,
    batch_body,
    object_body,
    request_id_of,
    validate_batch,
)

bp = Blueprint("sandbox_pipelines", __name__)

MAX_PIPELINES = 50
MAX_STATUSES = 100
COLORS = frozenset({  # the 21 writable colours (§6.4)
    "#fffeb2", "#fffd7f", "#fff000", "#ffeab2", "#ffdc7f", "#ffce5a", "#ffdbdb", "#ffc8c8", "#ff8f92",
    "#d6eaff", "#c1e0ff", "#98cbff", "#ebffb1", "#deff81", "#87f2c0", "#f9deff", "#f3beff", "#ccc8f9",
    "#eb93ff", "#f2f3f4", "#e6e8ea",
})
DEFAULT_COLOR = "#99ccff"
PIPELINE_KEYS = ("name", "sort", "is_main", "is_unsorted_on", "_embedded", "request_id")
STATUS_KEYS = ("name", "sort", "color", "request_id", "descriptions")


def render_status(data: Data, status: dict) -> dict:
    body = {k: status[k] for k in ("id", "name", "sort", "is_editable", "pipeline_id", "color", "type")}
    body["account_id"] = data["account"]["id"]
    body["_links"] = link(f"/api/v4/leads/pipelines/{status['pipeline_id']}/statuses/{status['id']}")
    return body


def render_pipeline(data: Data, pipeline: dict) -> dict:
    body = {k: pipeline[k] for k in ("id", "name", "sort", "is_main", "is_unsorted_on", "is_archive")}
    body["account_id"] = data["account"]["id"]
    body["_links"] = link(f"/api/v4/leads/pipelines/{pipeline['id']}")
    body["_embedded"] = {"statuses": [render_status(data, s) for s in pipeline["statuses"]]}
    return body


def pipeline_or_404(data: Data, pipeline_id: int) -> dict:
    pipeline = data["pipelines"].get(pipeline_id)
    if pipeline is None:
        raise ApiError(404, "Pipeline not found")
    return pipeline


def main_pipeline(data: Data) -> dict:
    return next(p for p in data["pipelines"].values() if p["is_main"])


def first_stage(pipeline: dict) -> dict:
    """Where a lead lands when only the pipeline is given: the first ordinary stage (not Unsorted)."""
    return next(s for s in pipeline["statuses"] if s["type"] == 0 and s["id"] not in (WON, LOST))


def _sorted_pipelines(data: Data) -> list[dict]:
    return sorted(data["pipelines"].values(), key=lambda p: (p["sort"], p["id"]))


def _check_status(item: dict, errs: ItemErrors, *, creating: bool, system_ok: bool = False) -> None:
    """``name`` and ``sort`` are required on create; 142/143 may only be renamed (by id, at pipeline
    creation); colours must come from the whitelist (§6.4)."""
    errs.unexpected(item, ("id", *STATUS_KEYS) if system_ok else STATUS_KEYS)
    system = system_ok and item.get("id") in (WON, LOST)
    if system_ok and "id" in item and not system:
        errs.add(NOT_SUPPORTED, "id")
    errs.string(item, "name", required=creating)
    errs.integer(item, "sort", required=creating and not system)
    if "color" in item and item["color"] not in COLORS:
        errs.add(NOT_SUPPORTED, "color")


def _check_pipeline(item: dict, errs: ItemErrors) -> None:
    errs.unexpected(item, PIPELINE_KEYS)
    errs.string(item, "name", required=True)
    errs.integer(item, "sort", required=True)
    for key in ("is_main", "is_unsorted_on"):
        if key not in item:
            errs.add(NOT_BLANK, key)
        errs.boolean(item, key)
    embedded = item.get("_embedded")
    statuses = embedded.get("statuses", []) if isinstance(embedded, dict) else []
    if not isinstance(statuses, list):
        errs.wrong_type("_embedded.statuses", "array")
        return
    if len(statuses) + 3 > MAX_STATUSES:
        errs.add(TOO_MANY, "_embedded.statuses", f"A pipeline holds at most {MAX_STATUSES} statuses.")
    for i, status in enumerate(statuses):
        if not isinstance(status, dict):
            errs.wrong_type(f"_embedded.statuses.{i}", "object")
            continue
        _check_status(status, errs.nested(f"_embedded.statuses.{i}"), creating=True, system_ok=True)


def _build_pipeline(data: Data, item: dict, now: int) -> dict:
    pipeline = new_pipeline(data, name=item["name"], sort=item["sort"], is_main=item["is_main"],
                            is_unsorted_on=item["is_unsorted_on"], now=now)
    sent = (item.get("_embedded") or {}).get("statuses", [])
    ordinary = sorted((s for s in sent if "id" not in s), key=lambda s: s["sort"])
    for number, spec in enumerate(ordinary, start=2):  # the server renumbers: 20, 30, … (§6.3)
        pipeline["statuses"].append(
            new_status(data, pipeline["id"], spec["name"], number * 10, spec.get("color", DEFAULT_COLOR)))
    for spec in (s for s in sent if "id" in s):
        next(s for s in pipeline["statuses"] if s["id"] == spec["id"])["name"] = spec["name"]
    pipeline["statuses"].sort(key=lambda s: s["sort"])
    return pipeline


def _make_main(data: Data, pipeline: dict) -> None:
    for other in data["pipelines"].values():
        other["is_main"] = other is pipeline


@bp.get("/api/v4/leads/pipelines")
def list_pipelines() -> Response:
    with rt().store.read() as data:
        return collection("pipelines", [render_pipeline(data, p) for p in _sorted_pipelines(data)], total=True)


@bp.get("/api/v4/leads/pipelines/<int:pipeline_id>")
def get_pipeline(pipeline_id: int) -> Response:
    with rt().store.read() as data:
        return json_response(render_pipeline(data, pipeline_or_404(data, pipeline_id)))


@bp.post("/api/v4/leads/pipelines")
def create_pipelines() -> Response:
    items = batch_body()
    runtime = rt()
    with runtime.store.write() as data:
        validate_batch(items, lambda item, errs: _check_pipeline(item, errs))
        if len(data["pipelines"]) + len(items) > MAX_PIPELINES:
            raise ApiError(422, f"An account holds at most {MAX_PIPELINES} pipelines")
        out = []
        for index, item in enumerate(items):
            pipeline = _build_pipeline(data, item, runtime.ts())
            data["pipelines"][pipeline["id"]] = pipeline
            if pipeline["is_main"]:
                _make_main(data, pipeline)
            out.append({**render_pipeline(data, pipeline), "request_id": request_id_of(item, index)})
        return collection("pipelines", out, total=True)


@bp.patch("/api/v4/leads/pipelines/<int:pipeline_id>")
def update_pipeline(pipeline_id: int) -> Response:
    item = object_body()
    with rt().store.write() as data:
        pipeline = pipeline_or_404(data, pipeline_id)

        def check(obj: dict, errs: ItemErrors) -> None:
            errs.unexpected(obj, ("name", "sort", "is_main", "is_unsorted_on", "request_id"))
            errs.string(obj, "name")
            errs.integer(obj, "sort")
            errs.boolean(obj, "is_main")
            errs.boolean(obj, "is_unsorted_on")

        validate_batch([item], check)
        for key in ("name", "sort"):
            if key in item:
                pipeline[key] = item[key]
        if item.get("is_main"):
            _make_main(data, pipeline)
        if "is_unsorted_on" in item:
            _toggle_unsorted(data, pipeline, item["is_unsorted_on"])
        return json_response(render_pipeline(data, pipeline))


def _toggle_unsorted(data: Data, pipeline: dict, on: bool) -> None:
    has = any(s["type"] == 1 for s in pipeline["statuses"])
    if on and not has:
        pipeline["statuses"].insert(0, unsorted_status(data, pipeline["id"]))
    elif not on and has:
        pipeline["statuses"] = [s for s in pipeline["statuses"] if s["type"] != 1]
    pipeline["is_unsorted_on"] = on


@bp.delete("/api/v4/leads/pipelines/<int:pipeline_id>")
def delete_pipeline(pipeline_id: int) -> Response:
    with rt().store.write() as data:
        pipeline = pipeline_or_404(data, pipeline_id)
        if len(data["pipelines"]) == 1:
            raise ApiError(400, "The last pipeline can not be deleted")
        if any(lead["pipeline_id"] == pipeline_id for lead in data["leads"].values()):
            raise ApiError(400, "A pipeline with leads can not be deleted")
        del data["pipelines"][pipeline_id]
        if pipeline["is_main"]:
            _make_main(data, _sorted_pipelines(data)[0])
    return no_content()


# -- statuses ------------------------------------------------------------------------------------

def status_or_404(pipeline: dict, status_id: int) -> dict:
    found = next((s for s in pipeline["statuses"] if s["id"] == status_id), None)
    if found is None:
        raise ApiError(404, "Status not found")
    return found


@bp.get("/api/v4/leads/pipelines/<int:pipeline_id>/statuses")
def list_statuses(pipeline_id: int) -> Response:
    with rt().store.read() as data:
        pipeline = pipeline_or_404(data, pipeline_id)
        return collection("statuses", [render_status(data, s) for s in pipeline["statuses"]], total=True)


@bp.get("/api/v4/leads/pipelines/<int:pipeline_id>/statuses/<int:status_id>")
def get_status(pipeline_id: int, status_id: int) -> Response:
    with rt().store.read() as data:
        return json_response(render_status(data, status_or_404(pipeline_or_404(data, pipeline_id), status_id)))


@bp.post("/api/v4/leads/pipelines/<int:pipeline_id>/statuses")
def create_statuses(pipeline_id: int) -> Response:
    items = batch_body()
    with rt().store.write() as data:
        pipeline = pipeline_or_404(data, pipeline_id)
        validate_batch(items, lambda item, errs: _check_status(item, errs, creating=True))
        if len(pipeline["statuses"]) + len(items) > MAX_STATUSES:
            raise ApiError(422, f"A pipeline holds at most {MAX_STATUSES} statuses")
        out = []
        for index, item in enumerate(items):
            status = new_status(data, pipeline_id, item["name"], item["sort"], item.get("color", DEFAULT_COLOR))
            pipeline["statuses"].append(status)
            out.append({**render_status(data, status), "request_id": request_id_of(item, index)})
        pipeline["statuses"].sort(key=lambda s: (s["sort"], s["id"]))
        return collection("statuses", out, total=True)


@bp.patch("/api/v4/leads/pipelines/<int:pipeline_id>/statuses/<int:status_id>")
def update_status(pipeline_id: int, status_id: int) -> Response:
    item = object_body()
    with rt().store.write() as data:
        pipeline = pipeline_or_404(data, pipeline_id)
        status = status_or_404(pipeline, status_id)

        def check(obj: dict, errs: ItemErrors) -> None:
            _check_status(obj, errs, creating=False)
            if status["type"] == 1:
                errs.add(NOT_SUPPORTED, "id", "This status can not be edited.")

        validate_batch([item], check)
        editable = ("name",) if status_id in (WON, LOST) else ("name", "sort", "color")  # 142/143: rename only
        status.update({key: item[key] for key in editable if key in item})
        pipeline["statuses"].sort(key=lambda s: (s["sort"], s["id"]))
        return json_response(render_status(data, status))


@bp.delete("/api/v4/leads/pipelines/<int:pipeline_id>/statuses/<int:status_id>")
def delete_status(pipeline_id: int, status_id: int) -> Response:
    with rt().store.write() as data:
        pipeline = pipeline_or_404(data, pipeline_id)
        status = status_or_404(pipeline, status_id)
        if not status["is_editable"]:
            raise ApiError(400, "A system status can not be deleted")
        rest = [s for s in pipeline["statuses"] if s is not status]
        if not any(s["type"] == 0 and s["id"] not in (WON, LOST) for s in rest):
            raise ApiError(400, "The last status of a pipeline can not be deleted")
        pipeline["statuses"] = rest
        target = first_stage(pipeline)
        for lead in data["leads"].values():
            if lead["pipeline_id"] == pipeline_id and lead["status_id"] == status_id:
                lead["status_id"] = target["id"]  # its leads move to the first stage (§6.2)
    return no_content()

