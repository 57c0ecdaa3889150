"""REST endpoints for segmentation: classifications, previews, runs, members, movement, an account's classes.

Reads are open to every signed-in role, each seeing only the accounts it may see (a
salesperson's counts, members and movers are their own accounts). Writes (create, edit,
recompute) need ``EDIT_SEGMENTS``. A recompute answers 202 at once and goes on in the
background; poll ``GET /segment-runs/{id}``. Reasons come as data (``code``, ``params``)
with their ``text`` in the caller's language.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status

from patron.accounts.access import visible_accounts
from patron.api.pagination import PageQuery
from patron.api.schemas import AccountRef, Day, file_response, responses
from patron.audit.services import audit_record
from patron.core.errors import error_dict
from patron.core.exports import export_response
from patron.core.pagination import keyset_page

from . import pages, selectors, services
from .messages import class_label, reason_text
from .models import Classification, Membership, SegmentRun

router = Router(tags=["segments"])

Key = Annotated[str, Path(max_length=40)]
RunId = Annotated[int, Path(ge=1, le=2**63 - 1)]
WINDOWS = Literal["trailing_12_months", "this_month", "this_quarter", "last_quarter", "this_year", "custom"]
ClassKey = Annotated[str, Field(max_length=64)]


# --- schemas ------------------------------------------------------------------


class ClassCount(Schema):
    key: str
    label: str
    count: int


class ReasonOut(Schema):
    code: str
    params: dict[str, Any]
    text: str


class CutPointsOut(Schema):
    band: str = Field(description='"" for one indicator or a score; "r", "f", "m" for RFM; a rule\'s leaf path.')
    values: list[str] = Field(description="The cut points used, as the reader sees them.")


class RunOut(Schema):
    id: int
    as_of: dt.date
    scope: str
    status: Literal["queued", "running", "done", "failed"]
    step: str
    step_label: str
    steps_done: int
    steps_total: int
    percent: int
    accounts: int
    moved: int
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_percent(obj: SegmentRun) -> int:
        return pages.run_percent(obj)

    @staticmethod
    def resolve_step_label(obj: SegmentRun) -> str:
        return pages.run_step_label(obj)


class ClassificationItem(Schema):
    key: str
    name: str = Field(description="In the caller's language.")
    name_zh: str
    name_en: str
    kind: str
    window: str
    window_start: dt.date | None
    window_end: dt.date | None
    active: bool
    builtin: bool
    version: int
    updated_at: dt.datetime
    as_of: dt.date | None = Field(description="Day of the latest snapshot; null before the first run.")
    counts: list[ClassCount] = Field(description="Accounts per class today, among those the caller may see.")


class ClassificationOut(ClassificationItem):
    description: str
    definition: dict[str, Any]
    notes: list[ReasonOut] = Field(description="What the latest run noticed about the population, in words.")
    cut_points: list[CutPointsOut]


class ClassificationIn(Schema):
    key: Annotated[str, Field(max_length=40)]
    name_zh: Annotated[str, Field(max_length=200)]
    name_en: Annotated[str, Field(max_length=200)] = ""
    description: Annotated[str, Field(max_length=5000)] = ""
    window: WINDOWS = "trailing_12_months"
    window_start: Day | None = None
    window_end: Day | None = None
    active: bool = True
    definition: dict[str, Any] = Field(description="See the definition shapes in the segmentation docs.")


class ClassificationPatch(Schema):
    """Only the fields sent change; a new definition applies from the next run."""

    name_zh: Annotated[str, Field(max_length=200)] | None = None
    name_en: Annotated[str, Field(max_length=200)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    window: WINDOWS | None = None
    window_start: Day | None = None
    window_end: Day | None = None
    active: bool | None = None
    definition: dict[str, Any] | None = None


class PreviewIn(Schema):
    definition: dict[str, Any]
    window: WINDOWS = "trailing_12_months"
    window_start: Day | None = None
    window_end: Day | None = None


class PreviewOut(Schema):
    total: int = Field(description="Accounts classified.")
    counts: list[ClassCount]
    notes: list[ReasonOut]
    cut_points: list[CutPointsOut]


class RunIn(Schema):
    as_of: Day | None = Field(None, description="The day to classify as of; today when left out.")


class MemberOut(Schema):
    account: AccountRef
    class_key: str
    label: str
    since: dt.date
    score: float | None
    values: dict[str, Any] = Field(description="The indicator values that placed it, as measured then.")
    reasons: list[ReasonOut]


class MemberPage(Schema):
    items: list[MemberOut]
    next_cursor: str | None


class MemberQuery(PageQuery):
    class_key: list[ClassKey] = Field(
        default_factory=list, description="Classes to list (repeatable); every class when left out."
    )
    as_of: Day | None = Field(None, description="The day; today when left out.")


class ExportQuery(Schema):
    class_key: list[ClassKey] = Field(default_factory=list, description="Classes (repeatable); every class if none.")
    as_of: Day | None = None
    format: Literal["csv", "xlsx"] = "csv"


class MovementQuery(Schema):
    before: Day | None = Field(None, description="Default: the day of the second latest snapshot.")
    after: Day | None = Field(None, description="Default: the day of the latest snapshot.")


class MovementCell(Schema):
    before_class: str = Field(description='"" for accounts in no class on the first day.')
    after_class: str
    count: int


class ClassLabel(Schema):
    key: str
    label: str


class MovementOut(Schema):
    before: dt.date
    after: dt.date
    classes: list[ClassLabel]
    cells: list[MovementCell]
    moved: int = Field(description="Accounts that went from one class to another.")
    entered: int = Field(description="Accounts in no class on the first day.")
    left: int = Field(description="Accounts in no class on the second day.")
    total: int


class MoverQuery(PageQuery):
    before: Day
    after: Day
    before_class: ClassKey = Field(description='"" for accounts in no class on the first day.')
    after_class: ClassKey


class MoverOut(Schema):
    account: AccountRef
    before_class: str
    after_class: str
    before_values: dict[str, Any]
    after_values: dict[str, Any]
    reasons: list[ReasonOut] = Field(description="Why it is in its class on the second day.")


class MoverPage(Schema):
    items: list[MoverOut]
    next_cursor: str | None


class PlacementOut(Schema):
    classification: str
    name: str
    class_key: str
    label: str
    since: dt.date
    previous_class: str | None
    previous_label: str | None
    previous_since: dt.date | None
    score: float | None
    values: dict[str, Any]
    reasons: list[ReasonOut]


# --- helpers ------------------------------------------------------------------


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _classification(key: str) -> Classification:
    return get_object_or_404(Classification, key=key)


_INDEX = re.compile(r"\[(\d+)\]")


def _dotted(exc: ValidationError) -> ValidationError:
    """Field names as the API's error locations read them: "definition.thresholds[1]" -> "definition.thresholds.1"."""
    return ValidationError({_INDEX.sub(r".\1", key): messages for key, messages in error_dict(exc).items()})


def _counts(classification: Any, counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"key": k, "label": class_label(classification, k), "count": n} for k, n in counts.items()]


def _reasons(reasons: Any, definition: Any) -> list[dict[str, Any]]:
    return [{"code": r.code, "params": r.params, "text": reason_text(r, definition)} for r in reasons]


def _item(classification: Classification, user: Any) -> dict[str, Any]:
    latest = pages.latest_snapshot(classification)
    return {
        "key": classification.key,
        "name": classification.name,
        "name_zh": classification.name_zh,
        "name_en": classification.name_en,
        "kind": classification.kind,
        "window": classification.window,
        "window_start": classification.window_start,
        "window_end": classification.window_end,
        "active": classification.active,
        "builtin": classification.builtin,
        "version": classification.version,
        "updated_at": classification.updated_at,
        "as_of": latest.as_of if latest else None,
        "counts": _counts(classification, pages.class_counts(classification, user)),
    }


def _detail(classification: Classification, user: Any) -> dict[str, Any]:
    latest = pages.latest_snapshot(classification)
    notes = pages.snapshot_notes(classification, latest)
    return {
        **_item(classification, user),
        "description": classification.description,
        "definition": classification.definition,
        "notes": [{"code": n.code, "params": n.params, "text": n.text} for n in notes],
        "cut_points": [{"band": b, "values": v} for b, v in pages.snapshot_cut_points(latest)],
    }


def _keys(classification: Classification, keys: list[str]) -> list[str]:
    known = selectors.class_keys(classification)
    if not keys:
        return known
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ValidationError({"class_key": [_("Unknown class: %(keys)s.") % {"keys": ", ".join(unknown)}]})
    return keys


def _query_invalid(exc: ValidationError) -> Any:
    """A refusal of a query parameter, located in the query rather than the body."""
    from ninja.errors import ValidationError as NinjaValidationError

    errors = [
        {"loc": ["query", field], "msg": message, "type": "value_error"}
        for field, messages in error_dict(exc).items()
        for message in messages
    ]
    return NinjaValidationError(errors)


def _membership_out(classification: Classification, m: Membership) -> dict[str, Any]:
    return {
        "account": m.account,
        "class_key": m.class_key,
        "label": class_label(classification, m.class_key),
        "since": m.valid_from,
        "score": m.score,
        "values": selectors.decoded(m.values),
        "reasons": _reasons(selectors.explain(m), m.snapshot.definition),
    }


# --- classifications ----------------------------------------------------------


@router.get("/segments", response=responses({200: list[ClassificationItem]}), summary="Classifications with counts")
def segment_list(request: HttpRequest) -> Any:
    user = _user(request)
    return [_item(c, user) for c in selectors.classification_list()]


@router.post(
    "/segments/preview",
    response=responses({200: PreviewOut}, 422),
    summary="Counts per class for a definition, without saving it",
    description="Classifies every account as a run today would. Needs the right to edit classifications.",
)
def segment_preview(request: HttpRequest, payload: PreviewIn) -> Any:
    services.require_editor(_user(request))
    try:
        result = pages.preview(
            payload.definition,
            window=payload.window,
            window_start=payload.window_start,
            window_end=payload.window_end,
        )
    except ValidationError as exc:
        raise _dotted(exc) from None
    return {
        "total": result.total,
        "counts": _counts(payload.definition, dict(result.counts)),
        "notes": _reasons(result.reasons, payload.definition),
        "cut_points": [
            {"band": b, "values": v} for b, v in pages.preview_cut_points(payload.definition, result.cut_points)
        ],
    }


@router.post("/segments", response=responses({201: ClassificationOut}, 422), summary="Create a classification")
def segment_create(request: HttpRequest, payload: ClassificationIn) -> Any:
    user = _user(request)
    try:
        classification = services.classification_create(actor=user, data=payload.dict())
    except ValidationError as exc:
        raise _dotted(exc) from None
    return Status(201, _detail(classification, user))


@router.get("/segments/{key}", response=responses({200: ClassificationOut}, 404, 422), summary="One classification")
def segment_detail(request: HttpRequest, key: Key) -> Any:
    return _detail(_classification(key), _user(request))


@router.patch(
    "/segments/{key}", response=responses({200: ClassificationOut}, 404, 422), summary="Edit a classification"
)
def segment_update(request: HttpRequest, key: Key, payload: ClassificationPatch) -> Any:
    user = _user(request)
    services.require_editor(user)
    classification = _classification(key)
    data = payload.dict(exclude_unset=True)
    try:
        classification = services.classification_update(actor=user, classification=classification, data=data)
    except ValidationError as exc:
        raise _dotted(exc) from None
    return _detail(classification, user)


# --- members, movement, export ------------------------------------------------


@router.get(
    "/segments/{key}/accounts",
    response=responses({200: MemberPage}, 404, 422),
    summary="Accounts in a segment on a day",
    description="Ordered by account code; only accounts the caller may see. Each with the values and reasons "
    "that placed it.",
)
def segment_accounts(request: HttpRequest, key: Key, query: Query[MemberQuery]) -> Any:
    user = _user(request)
    classification = _classification(key)
    try:
        keys = _keys(classification, query.class_key)
    except ValidationError as exc:
        raise _query_invalid(exc) from None
    day = query.as_of or pages.today()
    accounts = selectors.accounts_in_segment(classification.key, keys, as_of=day, user=user)
    page = keyset_page(accounts, sort="code", cursor=query.cursor or None, limit=query.limit)
    found = {
        m.account_id: m
        for m in selectors.memberships_on(classification, day)
        .filter(account_id__in=[a.pk for a in page.items])
        .select_related("account", "snapshot")
    }
    items = [_membership_out(classification, found[a.pk]) for a in page.items if a.pk in found]
    return {"items": items, "next_cursor": page.next_cursor}


@router.get(
    "/segments/{key}/movement",
    response=responses({200: MovementOut}, 404, 422),
    summary="Accounts that moved between classes from one day to another",
)
def segment_movement(request: HttpRequest, key: Key, query: Query[MovementQuery]) -> Any:
    classification = _classification(key)
    before, after = pages.default_movement_days(classification)
    before, after = query.before or before, query.after or after
    if after < before:
        raise _query_invalid(ValidationError({"after": [_("The second day must not come before the first.")]}))
    movement = selectors.movement(classification, before, after, user=_user(request))
    table = pages.movement_table(classification, movement)
    return {
        "before": before,
        "after": after,
        "classes": [{"key": k, "label": table.labels[k]} for k in table.keys],
        "cells": [
            {"before_class": old, "after_class": new, "count": n} for (old, new), n in sorted(movement.matrix.items())
        ],
        "moved": table.moved,
        "entered": table.entered,
        "left": table.left,
        "total": table.total,
    }


@router.get(
    "/segments/{key}/movers",
    response=responses({200: MoverPage}, 404, 422),
    summary="The accounts behind one cell of the movement",
)
def segment_movers(request: HttpRequest, key: Key, query: Query[MoverQuery]) -> Any:
    classification = _classification(key)
    if not query.before_class and not query.after_class:
        raise _query_invalid(ValidationError({"after_class": [_("Name a class on one day at least.")]}))
    page = pages.movers_page(
        classification,
        query.before,
        query.after,
        from_class=query.before_class,
        to_class=query.after_class,
        user=_user(request),
        cursor=query.cursor or None,
        limit=query.limit,
    )
    items = []
    for row in page.rows:
        now = row.membership
        items.append(
            {
                "account": row.account,
                "before_class": row.previous.class_key if row.previous else "",
                "after_class": now.class_key if now else "",
                "before_values": selectors.decoded(row.previous.values) if row.previous else {},
                "after_values": selectors.decoded(now.values) if now else {},
                "reasons": _reasons(selectors.explain(now), now.snapshot.definition) if now else [],
            }
        )
    return {"items": items, "next_cursor": page.next_cursor}


@router.get(
    "/segments/{key}/export",
    response=responses({}, 404, 422),
    summary="Export a segment's accounts as CSV or XLSX",
    description="Every account in the classes asked for on the day, that the caller may export, with its class, "
    "since when, and the indicator values that placed it. Text a spreadsheet would run as a formula is written "
    "with a leading apostrophe.",
    openapi_extra=file_response(),
)
def segment_export(request: HttpRequest, key: Key, query: Query[ExportQuery]) -> Any:
    user = _user(request)
    classification = _classification(key)
    try:
        keys = _keys(classification, query.class_key)
    except ValidationError as exc:
        raise _query_invalid(exc) from None
    source = pages.export_source(user, classification, keys, query.as_of or pages.today())
    audit_record(
        actor=user,
        action="SEGMENT_ACCOUNTS_EXPORTED",
        instance=user,
        changes={"format": [None, query.format], "segment": [None, f"{classification.key}: {', '.join(keys)}"]},
    )
    return export_response(query.format, f"{pages.EXPORT_NAME}-{classification.key}", source.headings, source.rows())


# --- runs ---------------------------------------------------------------------


@router.post(
    "/segment-runs",
    response=responses({202: RunOut}, 422),
    summary="Recompute every classification in the background",
    description="Answers at once with the run; poll `GET /segment-runs/{id}` (the `Location` header) for its "
    "progress. While a run is under way, asking again answers with that run.",
)
def run_start(request: HttpRequest, response: HttpResponse, payload: RunIn) -> Any:
    try:
        run, _new = pages.run_start(actor=_user(request), as_of=payload.as_of)
    except ValidationError as exc:
        raise _dotted(exc) from None
    response["Location"] = reverse("api:segment_run_detail", args=[run.pk])
    return Status(202, run)


@router.get("/segment-runs", response=responses({200: list[RunOut]}), summary="The latest recomputes")
def run_list(request: HttpRequest) -> Any:
    return list(SegmentRun.objects.order_by("-created_at", "-id")[:20])


@router.get(
    "/segment-runs/{run_id}",
    response=responses({200: RunOut}, 404, 422),
    summary="One recompute and its progress",
    url_name="segment_run_detail",
)
def run_detail(request: HttpRequest, run_id: RunId) -> Any:
    return get_object_or_404(SegmentRun, pk=run_id)


# --- an account's classes -----------------------------------------------------


@router.get(
    "/accounts/{code}/segments",
    response=responses({200: list[PlacementOut]}, 404, 422),
    summary="An account's class in each classification, and why",
)
def account_segments(request: HttpRequest, code: Annotated[str, Path(max_length=100)], as_of: Day | None = None) -> Any:
    account = get_object_or_404(visible_accounts(_user(request)), code=code)
    out = []
    for placement in selectors.account_placements(account, as_of):
        m, previous, c = placement.membership, placement.previous, placement.classification
        out.append(
            {
                "classification": c.key,
                "name": c.name,
                "class_key": m.class_key,
                "label": class_label(c, m.class_key),
                "since": m.valid_from,
                "previous_class": previous.class_key if previous else None,
                "previous_label": class_label(c, previous.class_key) if previous else None,
                "previous_since": previous.valid_from if previous else None,
                "score": m.score,
                "values": selectors.decoded(m.values),
                "reasons": _reasons(placement.reasons, m.snapshot.definition),
            }
        )
    return out
