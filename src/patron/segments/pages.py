"""Reads for the segment pages and the API, on top of ``selectors``.

Counts as each reader may see them (a salesperson's own accounts; the stored snapshot
counts for those who see every account), movement added up in the database, pages of
members with the values and reasons that placed them, the RFM grid, the churn list, an
account's classes, and the editor's preview of counts before a definition is saved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import polars as pl
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, FloatField, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.accounts.access import require, scoped
from patron.accounts.models import Account, Region
from patron.core.exports import ExportSource
from patron.core.pagination import keyset_page
from patron.domain.access import Action
from patron.domain.periods import window_period
from patron.domain.segmentation import rfm
from patron.domain.segmentation.classify import Context, Fitted, Preview, cut_points, preview_counts, required_columns
from patron.domain.segmentation.definitions import (
    LifecycleDefinition,
    RfmDefinition,
    parse_definition,
)
from patron.domain.segmentation.indicators import INDICATORS, Kind
from patron.domain.spreadsheet import safe_cell

from . import selectors
from .indicators import account_indicators, query_frame
from .messages import class_label, class_labels, indicator_label, reason_text, value_text
from .models import Classification, Membership, SegmentRun, Snapshot, WrittenJSON
from .selectors import decoded, sees_all
from .services import checked_definition, run_create

# A run queued or running for longer than this has lost its worker; a new one may start.
STALE_RUN = timedelta(hours=6)
CHURN_CLASSES = ("at_risk", "churned")


def today() -> dt.date:
    return timezone.localdate()


def currency() -> str:
    return str(settings.PATRON_COMPANY_CURRENCY)


# --- snapshots and counts -----------------------------------------------------------------------------------------


def latest_snapshot(classification: Classification, day: dt.date | None = None) -> Snapshot | None:
    """The last snapshot on or before ``day`` (any day when None)."""
    qs = Snapshot.objects.filter(classification=classification)
    if day is not None:
        qs = qs.filter(as_of__lte=day)
    return qs.order_by("-as_of", "-id").first()


def _ordered(keys: Sequence[str], found: Mapping[str, int]) -> dict[str, int]:
    """Every class of the definition in its order, then classes of an older definition that still hold accounts."""
    out = {key: int(found.get(key, 0)) for key in keys}
    out.update({key: int(n) for key, n in found.items() if key not in out and n})
    return out


def class_counts(classification: Classification, user: Any, day: dt.date | None = None) -> dict[str, int]:
    """Accounts per class on ``day`` (today) that ``user`` may see."""
    keys = selectors.class_keys(classification)
    latest = latest_snapshot(classification)
    if sees_all(user) and latest is not None and (day is None or day >= latest.as_of):
        return _ordered(keys, latest.counts or {})
    day = day or today()
    return _ordered(keys, _counts_on(classification, user, [day])[day])


def _counts_on(classification: Classification, user: Any, days: Sequence[dt.date]) -> dict[dt.date, dict[str, int]]:
    """Accounts per class on each of ``days`` that ``user`` may see, in one grouped query: memberships that
    share their dates and class are counted together, then each group adds to the days it covers."""
    out: dict[dt.date, dict[str, int]] = {d: {} for d in days}
    if not days:
        return out
    rows = selectors.seen_by(Membership.objects.filter(classification=classification), user)
    rows = rows.filter(valid_from__lte=max(days)).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=min(days)))
    groups = rows.order_by().values_list("valid_from", "valid_to", "class_key").annotate(n=Count("id"))
    for start, end, key, n in groups:
        for day in days:
            if start <= day and (end is None or end > day):
                out[day][key] = out[day].get(key, 0) + n
    return out


def counts_series(classification: Classification, user: Any, limit: int = 24) -> list[tuple[dt.date, dict[str, int]]]:
    """Counts per class on the days of the last ``limit`` full runs, oldest first."""
    snapshots = selectors.counts_over_time(classification, limit)
    keys = selectors.class_keys(classification)
    if sees_all(user):
        return [(s.as_of, _ordered(keys, s.counts or {})) for s in snapshots]
    counted = _counts_on(classification, user, [s.as_of for s in snapshots])
    return [(s.as_of, _ordered(keys, counted[s.as_of])) for s in snapshots]


def snapshot_days(classification: Classification, limit: int = 2) -> list[dt.date]:
    """The last ``limit`` days with a snapshot, newest first."""
    days = (
        Snapshot.objects.filter(classification=classification)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .distinct()[:limit]
    )
    return list(days)


def default_movement_days(classification: Classification) -> tuple[dt.date, dt.date]:
    """The last two snapshot days; without two, a quarter ago and today."""
    days = snapshot_days(classification, 2)
    if len(days) == 2:
        return days[1], days[0]
    return today() - timedelta(days=91), today()


@dataclass
class Note:
    code: str
    params: dict[str, Any]
    text: str


def snapshot_notes(classification: Classification, snapshot: Snapshot | None) -> list[Note]:
    """The population reasons of a snapshot (quantiles that tied, accounts without a value ...), in words."""
    if snapshot is None:
        return []
    out = []
    for note in snapshot.notes or []:
        if isinstance(note, dict) and "code" in note:
            params = dict(note.get("params") or {})
            out.append(Note(note["code"], params, reason_text(note, snapshot.definition)))
    return out


def snapshot_cut_points(snapshot: Snapshot | None) -> list[tuple[str, list[str]]]:
    """The cut points a snapshot used, in words: ("", ["CNY 1,000.00", ...]) for one indicator or a score."""
    if snapshot is None:
        return []
    try:
        definition = parse_definition(snapshot.definition)
        fitted = Fitted.from_dict(snapshot.fitted)
        found = cut_points(definition, fitted)
    except (ValueError, KeyError, TypeError):
        return []
    indicator = getattr(definition, "indicator", None)
    columns = dict(rfm.AXES)
    out = []
    for band, values in found.items():
        name = columns.get(band, indicator)
        out.append((band, [value_text(name, v) if v is not None else _("none") for v in values]))
    return out


# --- movement -----------------------------------------------------------------------------------------------------


@dataclass
class MovementTable:
    """The matrix as rows (class before) and columns (class after), with labels; "" is "no class"."""

    movement: selectors.Movement
    keys: list[str]
    labels: dict[str, str]
    rows: list[tuple[str, list[tuple[str, int]]]]
    moved: int  # from one class to another
    entered: int  # in no class on the first day (new accounts, or no snapshot yet)
    left: int  # in no class on the second day (merged away)
    total: int


def movement_table(classification: Classification, movement: selectors.Movement) -> MovementTable:
    keys = list(movement.keys)
    for old, new in movement.matrix:
        for key in (old, new):
            if key and key not in keys:
                keys.append(key)
    present = {k for pair in movement.matrix for k in pair}
    shown = keys + ([""] if "" in present else [])
    labels = {key: class_label(classification, key) for key in shown}
    rows = [(old, [(new, movement.matrix.get((old, new), 0)) for new in shown]) for old in shown]
    matrix = movement.matrix
    return MovementTable(
        movement=movement,
        keys=shown,
        labels=labels,
        rows=rows,
        moved=sum(n for (a, b), n in matrix.items() if a and b and a != b),
        entered=sum(n for (a, b), n in matrix.items() if not a and b),
        left=sum(n for (a, b), n in matrix.items() if a and not b),
        total=sum(matrix.values()),
    )


# --- members with their reasons -----------------------------------------------------------------------------------


def values_shown(classification: Classification, values: Any) -> list[tuple[str, str]]:
    """(indicator name, value in words) for the values that placed an account, in the definition's order."""
    data = decoded(values)
    try:
        order = [c for c in required_columns(parse_definition(classification.definition)) if c in data]
    except ValueError:
        order = []
    order += [k for k in data if k not in order]
    return [(indicator_label(k), value_text(k, data.get(k))) for k in order if k != "region_path"]


def reasons_shown(membership: Membership) -> list[str]:
    definition = membership.snapshot.definition if membership.snapshot_id else None
    return [reason_text(r, definition) for r in selectors.explain(membership)]


@dataclass
class MemberRow:
    account: Account
    membership: Membership | None
    label: str
    values: list[tuple[str, str]]
    reasons: list[str]
    previous: Membership | None = None
    previous_label: str = ""
    previous_values: list[tuple[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class MembersPage:
    rows: list[MemberRow]
    next_cursor: str | None


def _row(classification: Classification, account: Account, membership: Membership | None) -> MemberRow:
    if membership is None:
        return MemberRow(account, None, class_label(classification, ""), [], [])
    return MemberRow(
        account,
        membership,
        class_label(classification, membership.class_key),
        values_shown(classification, membership.values),
        reasons_shown(membership),
    )


def members_page(
    classification: Classification,
    keys: Sequence[str],
    day: dt.date,
    user: Any,
    *,
    cursor: str | None,
    limit: int,
    action: Action = Action.VIEW_ACCOUNT,
) -> MembersPage:
    """One page (by account code) of the accounts ``user`` may see in ``keys`` on ``day``, with why.

    An unknown class key raises ``selectors.UnknownSegment``; a foreign cursor ``BadCursor``.
    """
    accounts = selectors.accounts_in_segment(classification.key, list(keys), as_of=day)
    accounts = scoped(accounts, user, action).select_related("owner")
    page = keyset_page(accounts, sort="code", cursor=cursor, limit=limit)
    found = {
        m.account_id: m
        for m in selectors.memberships_on(classification, day)
        .filter(account_id__in=[a.pk for a in page.items])
        .select_related("snapshot")
    }
    return MembersPage([_row(classification, a, found.get(a.pk)) for a in page.items], page.next_cursor)


def movers_page(
    classification: Classification,
    before: dt.date,
    after: dt.date,
    *,
    from_class: str,
    to_class: str,
    user: Any,
    cursor: str | None,
    limit: int,
) -> MembersPage:
    """Accounts ``user`` may see that were in ``from_class`` on ``before`` and are in ``to_class`` on ``after``
    ("" for no class), with their values then and now and why they are where they are now."""
    on_before = selectors.memberships_on(classification, before)
    on_after = selectors.memberships_on(classification, after)
    accounts = scoped(Account.objects.all(), user, Action.VIEW_ACCOUNT).select_related("owner")
    if to_class:
        accounts = accounts.filter(id__in=on_after.filter(class_key=to_class).values("account_id"))
    else:
        accounts = accounts.exclude(id__in=on_after.values("account_id"))
    if from_class:
        accounts = accounts.filter(id__in=on_before.filter(class_key=from_class).values("account_id"))
    else:
        accounts = accounts.exclude(id__in=on_before.values("account_id"))
    if not from_class and not to_class:
        accounts = accounts.none()
    page = keyset_page(accounts, sort="code", cursor=cursor, limit=limit)
    ids = [a.pk for a in page.items]
    now = {m.account_id: m for m in on_after.filter(account_id__in=ids).select_related("snapshot")}
    then = {m.account_id: m for m in on_before.filter(account_id__in=ids).select_related("snapshot")}
    rows = []
    for account in page.items:
        row = _row(classification, account, now.get(account.pk))
        previous = then.get(account.pk)
        row.previous = previous
        row.previous_label = class_label(classification, previous.class_key if previous else "")
        row.previous_values = values_shown(classification, previous.values) if previous else []
        rows.append(row)
    return MembersPage(rows, page.next_cursor)


def churn_page(
    classification: Classification, day: dt.date, user: Any, *, cursor: str | None, limit: int
) -> MembersPage | None:
    """For a lifecycle classification: the accounts at risk or churned, with recency against their rhythm."""
    try:
        definition = parse_definition(classification.definition)
    except ValueError:
        return None
    if not isinstance(definition, LifecycleDefinition):
        return None
    page = members_page(classification, CHURN_CLASSES, day, user, cursor=cursor, limit=limit)
    floor = float(definition.min_rhythm_days)
    for row in page.rows:
        values = decoded(row.membership.values) if row.membership else {}
        gap = values.get("interpurchase_days")
        rhythm = max(float(gap), floor) if gap is not None else None
        last = row.account.last_order_date
        recency = (day - last).days if last is not None else None
        row.extra = {
            "recency": recency,
            "rhythm": rhythm,
            "late": round(recency / rhythm, 1) if recency is not None and rhythm else None,
            "one_time": gap is None,
        }
    return page


# --- the RFM grid -------------------------------------------------------------------------------------------------


@dataclass
class GridCell:
    r: int
    fm: int
    key: str
    label: str
    count: int
    color: int


@dataclass
class RfmGrid:
    bins: int
    rows: list[tuple[int, list[GridCell]]]  # R from high to low, cells FM 1..bins
    legend: list[tuple[str, str, int, int]]  # key, label, color, accounts
    missing: tuple[str, int]  # label of the class without orders, accounts
    total: int


def _cells_from_values(qs: QuerySet[Membership], counts: dict[tuple[int, int], int]) -> None:
    """Score memberships stored without their RFM code (before runs kept it) again from their values,
    with the cut points of the run that placed each: the three values come out of the stored JSON in
    the database, and the rows as one frame."""
    numbers = (Cast(KT(f"values__{c}"), FloatField()) for c in rfm.COLUMNS)
    sql, params = qs.order_by().values_list("snapshot_id", "account_id", *numbers).query.sql_with_params()
    schema = {"snapshot_id": pl.Int64, "account_id": pl.Int64, **dict.fromkeys(rfm.COLUMNS, pl.Float64)}
    frame = query_frame(sql, params, schema)
    snapshot_ids = frame["snapshot_id"].unique().to_list()
    snapshots = Snapshot.objects.filter(id__in=set(snapshot_ids)).values_list("id", "definition", "fitted")
    for snapshot_id, raw_definition, fitted in snapshots:
        try:
            old = parse_definition(raw_definition)
            cuts = Fitted.from_dict(fitted).cuts
        except (ValueError, KeyError, TypeError):
            continue
        if not isinstance(old, RfmDefinition) or not {"r", "f", "m"} <= set(cuts):
            continue
        part = frame.filter(pl.col("snapshot_id") == snapshot_id)
        scores = rfm.score_exprs(old, cuts)
        scored = part.select(scores["r"].alias("r"), ((scores["f"] + scores["m"] + 1) // 2).alias("fm")).drop_nulls()
        for r, fm, n in scored.group_by("r", "fm").len().iter_rows():
            counts[(int(r), int(fm))] = counts.get((int(r), int(fm)), 0) + int(n)


def rfm_grid(classification: Classification, day: dt.date, user: Any) -> RfmGrid | None:
    """Accounts per R x FM cell, each scored with the cut points of the run that placed it in its segment.

    The segment an account is in and the cell shown agree with the account's explanation:
    both read the values and cut points stored when it entered its segment.
    """
    try:
        definition = parse_definition(classification.definition)
    except ValueError:
        return None
    if not isinstance(definition, RfmDefinition):
        return None
    qs = selectors.seen_by(selectors.memberships_on(classification, day), user)
    by_class: dict[str, int] = {}
    counts: dict[tuple[int, int], int] = {}
    uncoded = False
    for class_key, score, n in qs.order_by().values_list("class_key", "score").annotate(n=Count("id")):
        by_class[class_key] = by_class.get(class_key, 0) + n
        if score is None:
            uncoded = uncoded or class_key != definition.missing.key
            continue
        cell = rfm.cell_of_code(int(score))  # the RFM code a run stored (services._score)
        counts[cell] = counts.get(cell, 0) + n
    if uncoded:
        _cells_from_values(qs.filter(score__isnull=True).exclude(class_key=definition.missing.key), counts)
    owner = rfm.grid(definition)
    keys = [s.key for s in definition.segments]
    colors = {key: i for i, key in enumerate(keys)}
    labels = class_labels(classification)
    grid_rows = []
    for r in range(definition.bins, 0, -1):
        cells = []
        for fm in range(1, definition.bins + 1):
            index = owner.get((r, fm))
            key = keys[index] if index is not None else ""
            cells.append(GridCell(r, fm, key, labels.get(key, key), counts.get((r, fm), 0), colors.get(key, 0)))
        grid_rows.append((r, cells))
    legend = [(key, labels.get(key, key), colors[key], by_class.get(key, 0)) for key in keys]
    missing_key = definition.missing.key
    return RfmGrid(
        definition.bins,
        grid_rows,
        legend,
        (labels.get(missing_key, missing_key), by_class.get(missing_key, 0)),
        sum(by_class.values()),
    )


# --- one account's classes ----------------------------------------------------------------------------------------


@dataclass
class AccountSegment:
    classification: Classification
    key: str
    label: str
    since: dt.date
    previous_label: str | None
    previous_since: dt.date | None
    values: list[tuple[str, str]]
    reasons: list[str]


def account_segments(account: Account, day: dt.date | None = None) -> list[AccountSegment]:
    """Each classification's class for ``account`` on ``day`` (today): since when, the class before, and why."""
    out = []
    for placement in selectors.account_placements(account, day):
        membership = placement.membership
        definition = membership.snapshot.definition
        previous = placement.previous
        out.append(
            AccountSegment(
                classification=placement.classification,
                key=membership.class_key,
                label=class_label(placement.classification, membership.class_key),
                since=membership.valid_from,
                previous_label=class_label(placement.classification, previous.class_key) if previous else None,
                previous_since=previous.valid_from if previous else None,
                values=values_shown(placement.classification, membership.values),
                reasons=[reason_text(r, definition) for r in placement.reasons],
            )
        )
    return out


# --- the editor's preview -----------------------------------------------------------------------------------------


def preview(
    data: Any,
    *,
    window: str = "trailing_12_months",
    window_start: dt.date | None = None,
    window_end: dt.date | None = None,
    as_of: dt.date | None = None,
) -> Preview:
    """Counts per class if ``data`` were run today over every account, without saving anything.

    An invalid definition raises ``ValidationError`` naming its fields ("definition.thresholds[1]").
    """
    definition = checked_definition(data)
    as_of = as_of or today()
    if window not in dict(Classification.WINDOWS):
        raise ValidationError({"window": [_("Choose one of the periods offered.")]})
    if window == "custom":
        if window_start is None or window_end is None:
            name = "window_start" if window_start is None else "window_end"
            raise ValidationError({name: [_("A custom period needs both dates.")]})
        if window_end < window_start:
            raise ValidationError({"window_end": [_("The period must end on or after its first day.")]})
    period = window_period(window, as_of, window_start, window_end)
    frame = account_indicators(period, today=as_of).frame
    if isinstance(definition, LifecycleDefinition):
        # A stage reads the whole history, as a run does (services._compute).
        frame = frame.with_columns(pl.col("orders_ever").alias("purchase_count"))
    return preview_counts(definition, frame, context=Context(currency=currency()))


def preview_cut_points(data: Any, found: Mapping[str, list[Any]]) -> list[tuple[str, list[str]]]:
    indicator = data.get("indicator") if isinstance(data, dict) else None
    columns = dict(rfm.AXES)
    return [
        (band, [value_text(columns.get(band, indicator), v) if v is not None else _("none") for v in values])
        for band, values in found.items()
    ]


# --- runs ---------------------------------------------------------------------------------------------------------


def active_run() -> SegmentRun | None:
    """A run queued or running now (one that has hung for hours does not count)."""
    since = timezone.now() - STALE_RUN
    return (
        SegmentRun.objects.filter(status__in=[SegmentRun.QUEUED, SegmentRun.RUNNING], created_at__gte=since)
        .order_by("-created_at", "-id")
        .first()
    )


def run_start(*, actor: Any, as_of: dt.date | None = None) -> tuple[SegmentRun, bool]:
    """A recompute of every account on ``as_of`` (today), handed to the background queue.

    Returns the run and whether it is new: while one is under way, asking again gives that
    one. A day before an existing snapshot is refused here, before anything is queued.
    """
    from .services import require_editor
    from .tasks import perform_run

    require_editor(actor)
    running = active_run()
    if running is not None:
        return running, False
    day = as_of or today()
    later = Snapshot.objects.filter(as_of__gt=day, classification__active=True).order_by("-as_of").first()
    if later is not None:
        raise ValidationError(
            {"as_of": [_("There is already a snapshot of %(day)s; runs go forward in time.") % {"day": later.as_of}]}
        )
    run = run_create(actor=actor, as_of=day)
    perform_run(run.pk)
    run.refresh_from_db()
    return run, True


def run_percent(run: SegmentRun) -> int:
    if run.status == SegmentRun.DONE:
        return 100
    if not run.steps_total:
        return 0
    return min(99, int(100 * run.steps_done / run.steps_total))


STEP_LABELS: dict[str, Any] = {
    "": gettext_lazy("Waiting for the background worker"),
    "measure": gettext_lazy("Measuring indicators"),
    "churn": gettext_lazy("Fitting the churn model"),
    "classify": gettext_lazy("Classifying accounts"),
    "write": gettext_lazy("Writing memberships"),
    "done": gettext_lazy("Done"),
}


def run_step_label(run: SegmentRun) -> str:
    return str(STEP_LABELS.get(run.step, run.step))


# --- export -------------------------------------------------------------------------------------------------------

EXPORT_NAME = "segment_accounts"


def _export_cell(indicator: str, value: Any, regions: Mapping[int, str]) -> Any:
    """A value as a spreadsheet wants it: numbers as numbers (money to the cent), names for regions."""
    if value is None:
        return ""
    kind = INDICATORS[indicator].kind if indicator in INDICATORS else None
    if kind is Kind.MONEY:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    if kind is Kind.BOOL:
        return _("Yes") if value else _("No")
    if kind is Kind.REGION:
        return regions.get(int(value), str(value))
    if isinstance(value, float) and value == int(value):
        return int(value)
    return value


def export_source(user: Any, classification: Classification, keys: Sequence[str], day: dt.date) -> ExportSource:
    """The accounts ``user`` may export that are in ``keys`` on ``day``: class, since when, and the values that
    placed them. Text cells pass through ``safe_cell``, so a spreadsheet never runs them as formulas."""
    require(user, Action.EXPORT_ACCOUNTS)
    accounts = selectors.accounts_in_segment(classification.key, list(keys), as_of=day)
    member = selectors.memberships_on(classification, day).filter(account_id=OuterRef("pk"))
    records = (
        scoped(accounts, user, Action.EXPORT_ACCOUNTS)
        .select_related("owner")
        .annotate(
            segment_class=Subquery(member.values("class_key")[:1]),
            segment_since=Subquery(member.values("valid_from")[:1]),
            segment_values=Subquery(member.values("values")[:1], output_field=WrittenJSON()),
        )
        .order_by("code", "id")
    )
    try:
        columns = [c for c in required_columns(parse_definition(classification.definition)) if c != "region_path"]
    except ValueError:
        columns = []
    regions = {r.pk: r.name for r in Region.objects.all()} if "region" in columns else {}
    labels = class_labels(classification)

    def cells(account: Any) -> list[Any]:
        values = decoded(account.segment_values)
        row = [
            account.code,
            account.name,
            account.owner.display_name() if account.owner else "",
            labels.get(account.segment_class or "", account.segment_class or ""),
            account.segment_since,
            *(_export_cell(c, values.get(c), regions) for c in columns),
        ]
        return [safe_cell(v) for v in row]

    headings = [_("Code"), _("Name"), _("Owner"), _("Class"), _("In this class since")]
    headings += [indicator_label(c) for c in columns]
    return ExportSource(name=EXPORT_NAME, headings=headings, records=records, cells=cells)


def account_category_mix(account: Account, today: dt.date) -> list[Any]:
    """What the account bought in the trailing twelve months, by top-level category (the account page)."""
    from patron.domain.periods import window_period

    from .selectors import category_mix

    period = window_period("trailing_12_months", today)
    return category_mix(account, period.start, period.end)
