"""Segment pages: every classification with its counts and the latest run, one classification (distribution,
counts over time, notes, movement, RFM grid, churn list), its members and movers, the editor and exports.

Everyone signed in may look; each reader sees the accounts they may see (a salesperson, their own).
Creating, editing and recomputing need ``EDIT_SEGMENTS``: the controls are shown only to those who
have it, and a POST from anyone else is a 403.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from patron.accounts.access import can
from patron.audit.services import audit_record
from patron.core.errors import error_dict
from patron.core.exports import FORMATS, export_response
from patron.core.pagination import BadCursor
from patron.domain.access import Action
from patron.exports.lists import LISTS, replaying
from patron.exports.views import list_export
from patron.staff.models import User
from patron.web.charts import hbar_chart, line_chart

from . import pages, selectors, services
from .forms import JSON_KINDS, ClassificationForm, examples
from .messages import class_label, class_labels, reason_text
from .models import Classification, SegmentRun

PAGE_SIZE = 50
CHURN_SIZE = 20


def _editor(request: HttpRequest) -> bool:
    return can(request.user, Action.EDIT_SEGMENTS)


def _classification(key: str) -> Classification:
    return get_object_or_404(Classification, key=key)


def _day(request: HttpRequest, name: str, default: dt.date, errors: list[str]) -> dt.date:
    """A day from the query string; a malformed one is reported in ``errors`` and the default used."""
    raw = (request.GET.get(name) or "").strip()
    if not raw:
        return default
    try:
        day = parse_date(raw)
    except ValueError:
        day = None
    if day is None or not 1900 <= day.year <= 2999:
        errors.append(_("“%(value)s” is not a day; enter a date as YYYY-MM-DD.") % {"value": raw[:40]})
        return default
    return day


def _next_url(request: HttpRequest, cursor: str | None) -> str | None:
    if not cursor:
        return None
    params = request.GET.copy()
    params["after"] = cursor
    return "?" + params.urlencode()


def _members_url(classification: Classification, keys: list[str], day: dt.date | None = None) -> str:
    params: list[tuple[str, str]] = [("class", k) for k in keys]
    if day is not None:
        params.append(("as_of", day.isoformat()))
    return reverse("segments:members", args=[classification.key]) + "?" + urlencode(params)


def _distribution(
    classification: Classification, counts: dict[str, int], day: dt.date | None, user_scope: str, compact: bool = False
) -> Any:
    labels = class_labels(classification)
    points = [(labels.get(k, class_label(classification, k)), Decimal(n), f"{n:,}") for k, n in counts.items()]
    return hbar_chart(
        points,
        title=_("Accounts per class of %(name)s") % {"name": classification.name},
        desc=_("%(scope)s: %(values)s.")
        % {"scope": user_scope, "values": "; ".join(f"{label}: {text}" for label, _v, text in points)},
        hrefs=[_members_url(classification, [k], day) for k in counts],
        **({"width": 380, "label_width": 130, "value_room": 50, "row": 24} if compact else {}),
    )


def _scope_text(request: HttpRequest) -> str:
    if pages.sees_all(request.user):
        return _("Every account")
    return _("The accounts you can see")


# --- the list -----------------------------------------------------------------


def _run_context(run: SegmentRun | None) -> dict[str, Any]:
    return {
        "run": run,
        "run_busy": run is not None and run.status in (SegmentRun.QUEUED, SegmentRun.RUNNING),
        "run_percent": pages.run_percent(run) if run else 0,
        "run_step": pages.run_step_label(run) if run else "",
    }


@login_required
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    scope = _scope_text(request)
    cards = []
    for classification in selectors.classification_list():
        counts = pages.class_counts(classification, request.user)
        latest = pages.latest_snapshot(classification)
        cards.append(
            {
                "classification": classification,
                "latest": latest,
                "total": sum(counts.values()),
                "chart": _distribution(classification, counts, None, scope, compact=True) if latest else None,
            }
        )
    run = selectors.latest_run()
    context = {
        "cards": cards,
        **_run_context(run),
        "can_edit": _editor(request),
        "scope": scope,
    }
    return render(request, "segments/list.html", context)


@login_required
@require_POST
def run_start(request: HttpRequest) -> HttpResponse:
    """Recompute now: a run on the background queue (the one under way, if there is one)."""
    if not _editor(request):
        raise PermissionDenied(Action.EDIT_SEGMENTS.value)
    try:
        run, new = pages.run_start(actor=request.user)
    except ValidationError as exc:
        for problems in error_dict(exc).values():
            for message in problems:
                messages.error(request, message)
        return redirect("segments:list")
    if new:
        messages.success(request, _("Recompute started for %(day)s.") % {"day": run.as_of})
    else:
        messages.info(request, _("A recompute is already under way; here is its progress."))
    return redirect("segments:list")


@login_required
@require_GET
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's progress while it lasts; then a refresh of the page that shows it."""
    run = get_object_or_404(SegmentRun, pk=pk)
    if run.status in (SegmentRun.QUEUED, SegmentRun.RUNNING):
        return render(request, "segments/_run.html", _run_context(run))
    if getattr(request, "htmx", False):
        return HttpResponseClientRefresh()
    return redirect("segments:list")


# --- one classification -------------------------------------------------------


def _counts_chart(classification: Classification, series: list[tuple[dt.date, dict[str, int]]]) -> Any:
    if len(series) < 2:
        return None
    keys: list[str] = []
    for _when, counts in series:
        keys += [k for k in counts if k not in keys]
    labels = class_labels(classification)
    days = [d.isoformat() for d, _c in series]
    lines = [(labels.get(k, class_label(classification, k)), [Decimal(c.get(k, 0)) for _d, c in series]) for k in keys]
    return line_chart(
        days,
        lines,
        title=_("Accounts per class over time"),
        desc=_("Accounts per class on each day a recompute ran, from %(first)s to %(last)s.")
        % {"first": days[0], "last": days[-1]},
        width=960,
        height=240,
    )


@login_required
@require_GET
def segment_detail(request: HttpRequest, key: str) -> HttpResponse:
    classification = _classification(key)
    user = request.user
    errors: list[str] = []
    today = pages.today()
    day = _day(request, "as_of", today, errors)
    default_before, default_after = pages.default_movement_days(classification)
    before = _day(request, "before", default_before, errors)
    after = _day(request, "after", default_after, errors)
    if after < before:
        errors.append(_("The second day of the movement must not come before the first."))
        before, after = default_before, default_after
    scope = _scope_text(request)
    counts = pages.class_counts(classification, user, day)
    snapshot = pages.latest_snapshot(classification, day)
    series = pages.counts_series(classification, user)
    table = pages.movement_table(classification, selectors.movement(classification, before, after, user=user))
    churn = pages.churn_page(classification, day, user, cursor=None, limit=CHURN_SIZE)
    context = {
        "classification": classification,
        "day": day,
        "today": today,
        "errors": errors,
        "scope": scope,
        "counts": [(k, class_label(classification, k), n) for k, n in counts.items()],
        "total": sum(counts.values()),
        "chart": _distribution(classification, counts, day, scope) if snapshot else None,
        "series_chart": _counts_chart(classification, series),
        "snapshot": snapshot,
        "notes": pages.snapshot_notes(classification, snapshot),
        "cut_points": pages.snapshot_cut_points(snapshot),
        "movement": table,
        "before": before,
        "after": after,
        "churn": churn,
        "churn_url": _members_url(classification, list(pages.CHURN_CLASSES), day),
        "can_edit": _editor(request),
        "is_rfm": classification.kind == Classification.RFM,
    }
    return render(request, "segments/detail.html", context, status=400 if errors else 200)


@login_required
@require_GET
def segment_rfm(request: HttpRequest, key: str) -> HttpResponse:
    """The R x FM grid (loaded after the page: it reads every member's values)."""
    classification = _classification(key)
    errors: list[str] = []
    day = _day(request, "as_of", pages.today(), errors)
    grid = pages.rfm_grid(classification, day, request.user)
    if grid is None:
        raise Http404("not an RFM classification")
    return render(request, "segments/_rfm_grid.html", {"grid": grid, "classification": classification, "day": day})


def _keys_from(request: HttpRequest, classification: Classification, errors: list[str]) -> list[str]:
    known = selectors.class_keys(classification)
    asked = [k for k in request.GET.getlist("class") if k]
    unknown = [k for k in asked if k not in known]
    if unknown:
        errors.append(_("Unknown class: %(keys)s.") % {"keys": ", ".join(k[:64] for k in unknown)})
        asked = [k for k in asked if k in known]
    return asked or known


@login_required
@require_GET
def segment_members(request: HttpRequest, key: str) -> HttpResponse:
    """The accounts in one or more classes on a day, paged, each with the values and reasons that placed it."""
    classification = _classification(key)
    errors: list[str] = []
    day = _day(request, "as_of", pages.today(), errors)
    keys = _keys_from(request, classification, errors)
    try:
        page = pages.members_page(
            classification, keys, day, request.user, cursor=request.GET.get("after") or None, limit=PAGE_SIZE
        )
    except BadCursor:
        page = pages.members_page(classification, keys, day, request.user, cursor=None, limit=PAGE_SIZE)
    export = (
        reverse("segments:export")
        + "?"
        + urlencode([("segment", classification.key), *(("class", k) for k in keys), ("as_of", day.isoformat())])
    )
    context = {
        "classification": classification,
        "day": day,
        "keys": keys,
        "chosen": [class_label(classification, k) for k in keys],
        "all_classes": [(k, class_label(classification, k)) for k in selectors.class_keys(classification)],
        "page": page,
        "next_url": _next_url(request, page.next_cursor),
        "errors": errors,
        "export_url": export,
        "can_export": can(request.user, Action.EXPORT_ACCOUNTS),
        "churn": classification.kind == Classification.LIFECYCLE and set(keys) <= set(pages.CHURN_CLASSES),
    }
    if context["churn"]:
        churn = pages.churn_page(
            classification, day, request.user, cursor=request.GET.get("after") or None, limit=PAGE_SIZE
        )
        if churn is not None:
            context["page"] = churn
    return render(request, "segments/members.html", context, status=400 if errors else 200)


@login_required
@require_GET
def segment_movers(request: HttpRequest, key: str) -> HttpResponse:
    """The accounts behind one cell of the movement table: where they were, where they are, and why."""
    classification = _classification(key)
    errors: list[str] = []
    default_before, default_after = pages.default_movement_days(classification)
    before = _day(request, "before", default_before, errors)
    after = _day(request, "after", default_after, errors)
    known = set(selectors.class_keys(classification)) | {""}
    from_class, to_class = request.GET.get("from", ""), request.GET.get("to", "")
    if from_class not in known or to_class not in known or not (from_class or to_class):
        return HttpResponseBadRequest(_("Choose a class on one day at least."))
    cursor = request.GET.get("after_cursor") or None
    kwargs: dict[str, Any] = {"from_class": from_class, "to_class": to_class, "user": request.user}
    try:
        page = pages.movers_page(classification, before, after, cursor=cursor, limit=PAGE_SIZE, **kwargs)
    except BadCursor:
        page = pages.movers_page(classification, before, after, cursor=None, limit=PAGE_SIZE, **kwargs)
    next_url = None
    if page.next_cursor:
        params = request.GET.copy()
        params["after_cursor"] = page.next_cursor
        next_url = "?" + params.urlencode()
    context = {
        "classification": classification,
        "before": before,
        "after": after,
        "from_label": class_label(classification, from_class),
        "to_label": class_label(classification, to_class),
        "page": page,
        "next_url": next_url,
        "errors": errors,
    }
    return render(request, "segments/movers.html", context, status=400 if errors else 200)


@login_required
@require_GET
def segment_export(request: HttpRequest) -> Any:
    """``?segment=KEY&class=...&as_of=...&format=csv|xlsx``: the members the user may export, as a file.

    The query string alone says what to export, so a background export can ask this view again for the
    same rows (``patron.exports.lists``); a long list is offered in the background once the exports app
    lists this view.
    """
    if not can(request.user, Action.EXPORT_ACCOUNTS):
        raise PermissionDenied(Action.EXPORT_ACCOUNTS.value)
    classification = get_object_or_404(Classification, key=request.GET.get("segment", "")[:40])
    errors: list[str] = []
    day = _day(request, "as_of", pages.today(), errors)
    keys = _keys_from(request, classification, errors)
    kind = request.GET.get("format", "csv")
    if kind not in FORMATS:
        errors.append(_("Export as csv or xlsx."))
    if errors:
        return HttpResponseBadRequest(" ".join(errors))
    source = pages.export_source(request.user, classification, keys, day)
    if replaying(request) or source.name in LISTS:
        return list_export(request, source, kind)
    user = cast(User, request.user)
    audit_record(
        actor=user,
        action="SEGMENT_ACCOUNTS_EXPORTED",
        instance=user,
        changes={"format": [None, kind], "segment": [None, f"{classification.key}: {', '.join(keys)}"]},
    )
    return export_response(kind, f"{source.name}-{classification.key}", source.headings, source.rows())


# --- the editor ---------------------------------------------------------------


def _editor_page(
    request: HttpRequest, form: ClassificationForm, classification: Classification | None, **extra: Any
) -> HttpResponse:
    context = {
        "form": form,
        "classification": classification,
        "examples": examples(),
        "json_kinds": JSON_KINDS,
        **extra,
    }
    # htmx swaps only successful answers: a preview with errors is still the page to show.
    status = 400 if form.is_bound and form.has_errors() and not getattr(request, "htmx", False) else 200
    return render(request, "segments/editor.html", context, status=status)


def _preview_context(form: ClassificationForm, data: dict[str, Any]) -> dict[str, Any] | None:
    try:
        result = pages.preview(
            data["definition"],
            window=data["window"],
            window_start=data["window_start"],
            window_end=data["window_end"],
        )
    except ValidationError as exc:
        form.add_service_errors(exc)
        return None
    definition = data["definition"]
    return {
        "total": result.total,
        "counts": [
            (key, class_label(definition, key), n, (100 * n / result.total) if result.total else 0)
            for key, n in result.counts.items()
        ],
        "notes": [reason_text(r, definition) for r in result.reasons],
        "cut_points": pages.preview_cut_points(definition, result.cut_points),
    }


@login_required
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, key: str | None = None) -> HttpResponse:
    """Create (no key) or edit a classification; ``action=preview`` counts the accounts per class without saving."""
    if not _editor(request):
        raise PermissionDenied(Action.EDIT_SEGMENTS.value)
    classification = _classification(key) if key is not None else None
    if request.method == "GET":
        return _editor_page(request, ClassificationForm(instance=classification), classification)
    action = request.POST.get("action", "save")
    form = ClassificationForm(request.POST, instance=classification, more_rows=2 if action == "more" else 0)
    if action == "more":
        form.is_valid()
        form.errors.clear()  # only more room for classes: nothing to complain about yet
        return _editor_page(request, form, classification)
    data = form.service_data()
    if data is None:
        return _editor_page(request, form, classification)
    if action == "preview":
        preview = _preview_context(form, data)
        return _editor_page(request, form, classification, preview=preview)
    try:
        if classification is None:
            saved = services.classification_create(actor=request.user, data=data)
            messages.success(request, _("%(name)s is saved. Recompute to place every account.") % {"name": saved.name})
        else:
            saved = services.classification_update(actor=request.user, classification=classification, data=data)
            messages.success(request, _("%(name)s is saved; the next recompute uses it.") % {"name": saved.name})
    except ValidationError as exc:
        form.add_service_errors(exc)
        return _editor_page(request, form, classification)
    return redirect("segments:detail", saved.key)
