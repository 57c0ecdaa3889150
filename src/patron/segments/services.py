"""Writes of the segments app: classifications, and runs that place every account and record who moved."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can
from patron.accounts.models import Account
from patron.audit.services import audit_record
from patron.core.bulk import BulkInsert
from patron.domain.access import Action
from patron.domain.periods import Period, window_period
from patron.domain.segmentation import rfm
from patron.domain.segmentation.builtin import builtin_definitions
from patron.domain.segmentation.classify import Context, Fitted, classify_accounts, required_columns
from patron.domain.segmentation.definitions import Definition, DefinitionError, fingerprint, parse_definition
from patron.sales.models import Invoice, Order, Payment, Return

from .churn import ChurnFit, account_churn, uses_churn
from .indicators import MONEY_COLUMNS, account_indicators, copy_frame
from .messages import problem_text
from .models import Classification, Membership, SegmentRun, Snapshot

BUILTIN_NAMES = {
    "value_tier": ("价值分层", "Value tier"),
    "frequency_tier": ("购买频次分层", "Frequency tier"),
    "rfm": ("RFM 分群", "RFM segments"),
    "lifecycle": ("生命周期阶段", "Lifecycle stage"),
    "key_account_candidates": ("大客户候选", "Key account candidates"),
    "churn_risk": ("流失风险", "Churn risk"),
}
CHUNK = 5000


def require_editor(actor: Any) -> None:
    if not can(actor, Action.EDIT_SEGMENTS):
        raise PermissionDenied(Action.EDIT_SEGMENTS.value)


def checked_definition(data: Any) -> Definition:
    """The definition, or a ValidationError naming every field that is wrong ("definition.thresholds[1]")."""
    try:
        return parse_definition(data)
    except DefinitionError as exc:
        messages: dict[str, list[str]] = {}
        for problem in exc.problems:
            field = "definition" + (
                "." + problem.path if problem.path and not problem.path.startswith("[") else problem.path
            )
            messages.setdefault(field, []).append(problem_text(problem))
        raise ValidationError(messages) from None


def _clean(data: Mapping[str, Any], instance: Classification | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in ("name_zh", "name_en", "description"):
        if name in data:
            values[name] = str(data[name] or "").strip()
    if instance is None or "name_zh" in values:
        if not values.get("name_zh"):
            errors["name_zh"] = [_("Give the classification a name.")]
        elif len(values["name_zh"]) > 100:
            errors["name_zh"] = [_("At most 100 characters.")]
    if len(values.get("name_en", "")) > 100:
        errors["name_en"] = [_("At most 100 characters.")]
    if instance is None:
        key = str(data.get("key") or "").strip()
        if not key or len(key) > 40 or not key.replace("_", "").replace("-", "").isalnum() or not key.isascii():
            errors["key"] = [_("Use 1 to 40 letters, digits, dashes or underscores.")]
        elif Classification.objects.filter(key=key).exists():
            errors["key"] = [_("Another classification has this key.")]
        values["key"] = key
    window = data.get("window", instance.window if instance else "trailing_12_months")
    if window not in dict(Classification.WINDOWS):
        errors["window"] = [_("Choose one of the periods offered.")]
    values["window"] = window
    for name in ("window_start", "window_end"):
        raw = data.get(name, getattr(instance, name, None) if instance else None)
        if isinstance(raw, str) and raw:
            try:
                raw = dt.date.fromisoformat(raw)
            except ValueError:
                errors[name] = [_("Enter a date as YYYY-MM-DD.")]
                raw = None
        values[name] = raw or None
    if window == "custom" and not errors.keys() & {"window_start", "window_end"}:
        start, end = values["window_start"], values["window_end"]
        if start is None or end is None:
            errors["window_start" if start is None else "window_end"] = [_("A custom period needs both dates.")]
        elif end < start:
            errors["window_end"] = [_("The period must end on or after its first day.")]
    if "active" in data:
        values["active"] = bool(data["active"])
    if instance is None or "definition" in data:
        try:
            definition = checked_definition(data.get("definition"))
        except ValidationError as exc:
            errors.update(exc.message_dict)
        else:
            values["definition"] = data.get("definition")
            values["kind"] = definition.kind
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def classification_create(*, actor: Any, data: Mapping[str, Any]) -> Classification:
    require_editor(actor)
    values = _clean(data, None)
    classification = Classification.objects.create(updated_by=actor, **values)
    audit_record(
        actor=actor,
        action="CLASSIFICATION_CREATED",
        instance=classification,
        changes={"key": [None, classification.key], "definition": [None, classification.definition]},
    )
    return classification


@transaction.atomic
def classification_update(*, actor: Any, classification: Classification, data: Mapping[str, Any]) -> Classification:
    """Edits apply from the next run; snapshots keep the definition they were made with."""
    require_editor(actor)
    classification = Classification.objects.select_for_update().get(pk=classification.pk)
    values = _clean(data, classification)
    changes = {}
    for name, value in values.items():
        before = getattr(classification, name)
        if before != value:
            changes[name] = [
                before.isoformat() if isinstance(before, dt.date) else before,
                value.isoformat() if isinstance(value, dt.date) else value,
            ]
            setattr(classification, name, value)
    if changes:
        if "definition" in changes:
            classification.version += 1
        classification.updated_by = actor
        classification.save()
        audit_record(actor=actor, action="CLASSIFICATION_UPDATED", instance=classification, changes=changes)
    return classification


# Built-ins that read what only the Django side computes (probability alive from the churn models).
CHURN_RISK = {
    "kind": "rules",
    "classes": [
        {"key": "likely_lost", "label": "Likely lost", "when": {"indicator": "p_alive", "op": "<", "value": "0.3"}},
        {"key": "at_risk", "label": "At risk", "when": {"indicator": "p_alive", "op": "<", "value": "0.7"}},
        {"key": "active", "label": "Likely active", "when": {"indicator": "p_alive", "op": ">=", "value": "0.7"}},
    ],
    "otherwise": {"key": "no_history", "label": "No purchase history"},
}


# As the migration that added it wrote it.
BUILTIN_DESCRIPTIONS = {
    "churn_risk": "BG/NBD probability alive; one-time buyers lapse after three typical purchase intervals."
}


def all_builtin_definitions() -> dict[str, dict[str, Any]]:
    return {**builtin_definitions(), "churn_risk": CHURN_RISK}


def install_builtins() -> list[Classification]:
    """The built-in classifications that are missing, made; existing ones (perhaps edited) are left alone."""
    made = []
    for key, definition in all_builtin_definitions().items():
        zh, en = BUILTIN_NAMES.get(key, (key, key))
        classification, created = Classification.objects.get_or_create(
            key=key,
            defaults={
                "name_zh": zh,
                "name_en": en,
                "kind": parse_definition(definition).kind,
                "definition": definition,
                "builtin": True,
                "description": BUILTIN_DESCRIPTIONS.get(key, ""),
            },
        )
        if created:
            made.append(classification)
    return made


# --- runs ------------------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    run: SegmentRun
    snapshots: list[Snapshot]


def run_create(*, actor: Any, as_of: dt.date | None = None, account_ids: Sequence[int] | None = None) -> SegmentRun:
    if actor is not None:
        require_editor(actor)
    as_of = as_of or timezone.localdate()
    if as_of > timezone.localdate():
        raise ValidationError({"as_of": [_("A run cannot look into the future.")]})
    return SegmentRun.objects.create(
        as_of=as_of,
        scope=SegmentRun.INCREMENTAL if account_ids is not None else SegmentRun.FULL,
        created_by=actor,
    )


def _period(classification: Classification, as_of: dt.date) -> Period:
    return window_period(classification.window, as_of, classification.window_start, classification.window_end)


def run_perform(run: SegmentRun, *, account_ids: Sequence[int] | None = None) -> RunResult:
    """Measure, then classify and write everything in one transaction (progress visible as it goes).

    A failure at any step marks the run failed and changes no membership.
    """
    SegmentRun.objects.filter(pk=run.pk).update(status=SegmentRun.RUNNING, started_at=timezone.now())
    measured: _Measured | None = None
    try:
        measured = _measure(run, account_ids)
        with transaction.atomic():
            result = _store(run, measured, account_ids=account_ids)
    except Exception as exc:
        SegmentRun.objects.filter(pk=run.pk).update(
            status=SegmentRun.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    finally:
        if measured is not None and measured.churn is not None:
            measured.churn.close()
    run.refresh_from_db()
    return result


@dataclass
class _Placed:
    classification: Classification
    definition: Definition
    period: Period
    result: Any  # patron.domain.segmentation.classify.Classification
    values: pl.DataFrame


def _lap(run: SegmentRun, next_step: str) -> None:
    """Add the time since the last lap to the step that was running."""
    now = time.perf_counter()
    started = getattr(run, "_step_started", None)
    if started is not None:
        label = run._step_label  # type: ignore[attr-defined]
        run.timings[label] = round(run.timings.get(label, 0) + now - started, 2)
    run._step_started, run._step_label = now, next_step  # type: ignore[attr-defined]


def _progress(run: SegmentRun, step: str, done: int, total: int, label: str = "") -> None:
    """Show the step on the run, and note how long the previous one took."""
    _lap(run, label or step)
    SegmentRun.objects.filter(pk=run.pk).update(step=step, steps_done=done, steps_total=total, timings=run.timings)


@dataclass
class _Measured:
    classifications: list[Classification]
    periods: dict[int, Period]
    definitions: dict[int, Definition]
    frames: dict[tuple[dt.date, dt.date], pl.DataFrame]
    churn: _Beside | None
    steps: int

    def placements(self, run: SegmentRun, account_ids: Sequence[int] | None) -> Iterator[_Placed]:
        """Each classification placed, those that need no churn model first: they are written while
        the churn models are fitted beside them."""
        context = Context(currency=settings.PATRON_COMPANY_CURRENCY)
        needs_churn = {c.pk: uses_churn(required_columns(self.definitions[c.pk])) for c in self.classifications}
        churn: pl.DataFrame | None = None
        ordered = sorted(self.classifications, key=lambda c: needs_churn[c.pk])
        for index, classification in enumerate(ordered):
            definition = self.definitions[classification.pk]
            period = self.periods[classification.pk]
            frame = self.frames[(period.start, period.end)]
            if needs_churn[classification.pk]:
                if churn is None:
                    assert self.churn is not None
                    _progress(run, "churn", len(self.frames) + index, self.steps)
                    churn, fit = self.churn.result()
                    if account_ids is None:
                        run.churn_fit = fit.to_dict()
                        SegmentRun.objects.filter(pk=run.pk).update(churn_fit=run.churn_fit)
                frame = frame.join(churn.select("account_id", "p_alive", "clv"), on="account_id", how="left")
            _progress(run, "classify", len(self.frames) + index + 1, self.steps, f"classify {classification.key}")
            if definition.kind == Classification.LIFECYCLE:
                # A stage reads the whole history: an account that bought before the period is not a prospect.
                frame = frame.with_columns(pl.col("orders_ever").alias("purchase_count"))
            fitted = _last_fit(classification, definition) if account_ids is not None else None
            result = classify_accounts(definition, frame, context=context, fitted=fitted)
            columns = [c for c in required_columns(definition) if c in frame.columns and c != "region_path"]
            _progress(run, "write", len(self.frames) + index + 1, self.steps, f"write {classification.key}")
            yield _Placed(classification, definition, period, result, frame.select("account_id", *columns))


def _measure(run: SegmentRun, account_ids: Sequence[int] | None) -> _Measured:
    classifications = list(Classification.objects.filter(active=True).order_by("id"))
    later = (
        Snapshot.objects.filter(classification__in=classifications, as_of__gt=run.as_of)
        .values_list("classification__key", flat=True)
        .first()
    )
    if later:
        raise ValidationError(
            {"as_of": [_("%(key)s already has a snapshot after this day; runs go forward in time.") % {"key": later}]}
        )
    periods = {c.pk: _period(c, run.as_of) for c in classifications}
    definitions = {c.pk: parse_definition(c.definition) for c in classifications}
    windows = sorted({(p.start, p.end) for p in periods.values()})
    churn_needed = any(uses_churn(required_columns(d)) for d in definitions.values())
    steps = len(windows) + len(classifications) + (1 if churn_needed else 0)
    frames: dict[tuple[dt.date, dt.date], pl.DataFrame] = {}
    for done, (start, end) in enumerate(windows):
        _progress(run, "measure", done, steps)
        frames[(start, end)] = account_indicators(Period(start, end), today=run.as_of, account_ids=account_ids).frame
    # The churn models read their own rows and fit in numpy: on PostgreSQL on a thread of their own,
    # on the core left idle while the database writes the classifications that need no churn model.
    fit = last_churn_fit() if account_ids else None  # a partial run scores with the last full run's models
    churn = _Beside(lambda: account_churn(run.as_of, account_ids=account_ids, fit=fit)) if churn_needed else None
    # What the progress page shows until the run's transaction commits (later steps are inside it).
    SegmentRun.objects.filter(pk=run.pk).update(step="write", steps_done=len(windows), steps_total=steps)
    return _Measured(classifications, periods, definitions, frames, churn, steps)


class _Beside:
    """Run ``work`` on its own thread and connection where that is safe (PostgreSQL, outside a
    transaction, whose writes another connection would not see); otherwise when asked for."""

    def __init__(self, work: Callable[[], Any] | None) -> None:
        self.work = work
        self.future: Future[Any] | None = None
        self.pool: ThreadPoolExecutor | None = None
        if work is not None and connection.vendor == "postgresql" and not connection.in_atomic_block:
            self.pool = ThreadPoolExecutor(max_workers=1)
            self.future = self.pool.submit(self._run, work)

    @staticmethod
    def _run(work: Callable[[], Any]) -> Any:
        try:
            return work()
        finally:
            connections.close_all()  # this thread's connection

    def result(self) -> Any:
        if self.future is None:
            assert self.work is not None
            return self.work()
        return self.future.result()

    def close(self) -> None:
        """Wait for the thread if it still runs (a run that failed before it needed the result)."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


BULK_ROWS = 200_000  # new memberships from which indexes are rebuilt once rather than kept up to date


@contextmanager
def _indexes_rebuilt_after(measured: _Measured, *, full: bool) -> Iterator[None]:
    """For a write larger than the table (the first run over many accounts), build the indexes once after it.

    Keeping three indexes up to date row by row doubled the first run's write; dropping and
    recreating them is part of the run's transaction, so a failure leaves them as they were, and
    recreating the one-open-row constraint checks what was written.
    """
    new = (
        sum(
            measured.frames[(measured.periods[c.pk].start, measured.periods[c.pk].end)].height
            for c in measured.classifications
            if not Membership.objects.filter(classification=c, valid_to__isnull=True).exists()
        )
        if full
        else 0
    )
    if new < BULK_ROWS or new <= Membership.objects.count():
        yield
        return
    editor = connection.SchemaEditorClass(connection, collect_sql=True)
    editor.deferred_sql = []  # set by __enter__, which would also switch SQLite's key checks off mid-transaction
    items = [*Membership._meta.indexes, *Membership._meta.constraints]
    table = connection.ops.quote_name(Membership._meta.db_table)
    with connection.cursor() as cursor:
        # On PostgreSQL the primary key's index too (a fifth of the write); SQLite's is the row id itself.
        keys = (
            [
                name
                for name, about in connection.introspection.get_constraints(cursor, Membership._meta.db_table).items()
                if about["primary_key"]
            ]
            if connection.vendor == "postgresql"
            else []
        )
        for name in keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
        for item in items:
            cursor.execute(str(item.remove_sql(Membership, editor)))
        yield
        for name in keys:
            pk = connection.ops.quote_name(Membership._meta.pk.column)
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} PRIMARY KEY ({pk})")
        for item in items:
            cursor.execute(str(item.create_sql(Membership, editor)))


def _store(run: SegmentRun, measured: _Measured, *, account_ids: Sequence[int] | None) -> RunResult:
    with _indexes_rebuilt_after(measured, full=account_ids is None):
        return _store_all(run, measured.placements(run, account_ids), account_ids=account_ids)


def _store_all(run: SegmentRun, placed: Iterator[_Placed], *, account_ids: Sequence[int] | None) -> RunResult:
    full = account_ids is None
    snapshots = []
    accounts = moved = 0
    for item in placed:
        before = (
            Snapshot.objects.filter(classification=item.classification).order_by("-as_of", "-id").first()
            if not full
            else None
        )
        snapshot = Snapshot.objects.create(
            run=run,
            classification=item.classification,
            as_of=run.as_of,
            period_start=item.period.start,
            period_end=item.period.last_day,
            version=item.classification.version,
            definition=item.classification.definition,
            fitted=item.result.fitted.to_dict(),
            notes=[{"code": r.code, "params": r.params} for r in item.result.reasons],
            counts=dict(item.result.counts),
        )
        closed, delta = _write(item.classification, snapshot, item.result.memberships, item.values, account_ids)
        moved += closed
        if not full:
            # The last snapshot's counts and what this run moved; counting a million open rows takes seconds.
            if before is not None and before.version == item.classification.version:
                counts = {key: int(before.counts.get(key, 0)) + delta.get(key, 0) for key in item.result.counts}
            else:
                counts = open_counts(item.classification)
            snapshot.counts = counts
            snapshot.save(update_fields=["counts"])
        snapshots.append(snapshot)
        accounts = max(accounts, item.values.height)
    _lap(run, "done")
    SegmentRun.objects.filter(pk=run.pk).update(
        status=SegmentRun.DONE,
        timings=run.timings,
        accounts=accounts,
        moved=moved,
        finished_at=timezone.now(),
        step="done",
        steps_done=F("steps_total"),
    )
    return RunResult(run, sorted(snapshots, key=lambda s: s.classification_id))


def last_churn_fit() -> ChurnFit | None:
    """The churn models of the last full run, to score a few changed accounts without fitting again."""
    latest = (
        SegmentRun.objects.filter(scope=SegmentRun.FULL, status=SegmentRun.DONE)
        .exclude(churn_fit={})
        .order_by("-as_of", "-id")
        .values_list("churn_fit", flat=True)
        .first()
    )
    return ChurnFit.from_dict(latest) if latest else None


def _last_fit(classification: Classification, definition: Definition) -> Any:
    """The cut points of the last full run, so a few changed accounts are placed as everyone else was."""

    latest = (
        Snapshot.objects.filter(classification=classification, run__scope=SegmentRun.FULL, run__status=SegmentRun.DONE)
        .order_by("-as_of", "-id")
        .values_list("fitted", flat=True)
        .first()
    )
    if latest and latest.get("fingerprint") == fingerprint(definition):
        return Fitted.from_dict(latest)
    return None


def open_counts(classification: Classification) -> dict[str, int]:

    rows = (
        Membership.objects.filter(classification=classification, valid_to__isnull=True)
        .values("class_key")
        .annotate(n=Count("id"))
    )
    return {row["class_key"]: row["n"] for row in rows}


def _open_rows(classification: Classification, account_ids: Sequence[int] | None) -> pl.DataFrame:
    """The open memberships (account, class) of a classification, of ``account_ids`` if given."""
    schema = {"account_id": pl.Int64, "old_class": pl.String}
    qs = Membership.objects.filter(classification=classification, valid_to__isnull=True)
    if account_ids is not None:
        if not account_ids:
            return pl.DataFrame(schema=schema)
        qs = qs.filter(account_id__in=list(account_ids))
    sql, params = qs.values_list("account_id", "class_key").query.sql_with_params()
    if connection.vendor == "postgresql":
        return copy_frame(sql, params, schema)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return pl.DataFrame(rows, schema=schema, orient="row")


_COLUMNS = ("classification_id", "account_id", "class_key", "score", "values", "snapshot_id", "valid_from")


def _insert(rows: pl.DataFrame) -> None:
    """New memberships, in the order of ``_COLUMNS``: one CSV stream on PostgreSQL, multi-row INSERTs elsewhere."""
    if connection.vendor == "postgresql":
        buffer = io.BytesIO()
        rows.write_csv(buffer, include_header=False)
        names = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)  # the attnames are the columns
        table = connection.ops.quote_name(Membership._meta.db_table)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)") as copy,
        ):
            copy.write(buffer.getvalue())
        return
    BulkInsert(Membership, list(_COLUMNS), raw=("values",)).insert(list(rows.iter_rows()))


def _score(memberships: pl.DataFrame) -> pl.Expr:
    """What a membership keeps as its score: a weighted score's value, or an RFM account's code (R, F
    and M digits, 545: the grid counts cells in the database from it; ten bins have no such code)."""
    if "score" in memberships.columns:
        return pl.col("score")
    if "r_score" in memberships.columns:
        widest = memberships.select(pl.max_horizontal(pl.col("r_score", "f_score", "m_score").max())).item()
        if widest is None or int(widest) <= rfm.CODE_BINS:
            return rfm.code_expr(pl.col("r_score"), pl.col("f_score"), pl.col("m_score"))
    return pl.lit(None, pl.Float64)


def _write(
    classification: Classification,
    snapshot: Snapshot,
    memberships: pl.DataFrame,
    values: pl.DataFrame,
    account_ids: Sequence[int] | None,
) -> tuple[int, dict[str, int]]:
    """Close the rows of accounts that changed class (or left: merged), open rows for their new class.

    ``account_ids`` are the accounts a partial run looked at (None: all); one of them that was not
    placed has left, and its open rows close.

    Returns how many open rows were closed, and the change in each class's count.
    """
    new = memberships.select("account_id", "class_key", _score(memberships).alias("score"))
    old = _open_rows(classification, account_ids)
    joined = new.join(old, on="account_id", how="full", coalesce=True)
    changed = joined.filter(
        pl.col("class_key").is_null() | pl.col("old_class").is_null() | (pl.col("class_key") != pl.col("old_class"))
    )
    to_close = changed.filter(pl.col("old_class").is_not_null())["account_id"].to_list()
    for start in range(0, len(to_close), CHUNK):
        Membership.objects.filter(
            classification=classification, valid_to__isnull=True, account_id__in=to_close[start : start + CHUNK]
        ).update(valid_to=snapshot.as_of)
    opening = changed.filter(pl.col("class_key").is_not_null()).select("account_id", "class_key", "score")
    if opening.height:
        # Money to the cent and ratios to six places, so stored values read as what was measured.
        rounded = [
            pl.col(c).round(2 if c in MONEY_COLUMNS else 6) if values.schema[c] == pl.Float64 else pl.col(c)
            for c in values.columns
            if c != "account_id"
        ]
        encoded = values.select("account_id", pl.struct(rounded).struct.json_encode().alias("values"))
        rows = opening.join(encoded, on="account_id", how="left").select(
            pl.lit(classification.pk, pl.Int64).alias("classification_id"),
            "account_id",
            "class_key",
            "score",
            pl.col("values").fill_null("{}"),
            pl.lit(snapshot.pk, pl.Int64).alias("snapshot_id"),
            pl.lit(snapshot.as_of, pl.Date).alias("valid_from"),
        )
        _insert(rows)
    delta: dict[str, int] = {}
    for column, sign in (("old_class", -1), ("class_key", 1)):
        for key, count in changed.drop_nulls(column).group_by(column).len().iter_rows():
            delta[key] = delta.get(key, 0) + sign * count
    return len(to_close), delta


# --- what to recompute -------------------------------------------------------------------------------------------


def changed_accounts(since: dt.datetime) -> list[int]:
    """Accounts with an order, return, invoice or payment recorded, confirmed or cancelled after ``since``,
    and both sides of a merge made since: the merged account leaves its classes (and their counts) now,
    not at the next full run, and the survivor is measured with what it took over."""

    ids: set[int] = set()
    # updated_at is indexed and a merge sets it; merged_at alone would read every account.
    merges = Account.objects.filter(updated_at__gt=since, merged_at__gt=since).order_by()
    for merged, survivor in merges.values_list("pk", "merged_into_id"):
        ids.update((merged, survivor))
    # One query per timestamp, so each reads its own index (SQLite will not combine them for an OR).
    for stamp in ("created_at", "confirmed_at", "cancelled_at"):
        # No ORDER BY: the models' default order would have SQLite walk the date index instead.
        ids.update(Order.objects.filter(**{f"{stamp}__gt": since}).order_by().values_list("account_id", flat=True))
    for model in (Return, Invoice, Payment):
        ids.update(model.objects.filter(created_at__gt=since).order_by().values_list("account_id", flat=True))
    return sorted(ids)


def recompute_changed(*, now: dt.datetime | None = None) -> SegmentRun | None:
    """An incremental run for the accounts that changed since the last run started, if any did.

    Nothing happens while another run is going, or before the first full run (there are
    no cut points to place changed accounts against yet).
    """
    if SegmentRun.objects.filter(status__in=[SegmentRun.QUEUED, SegmentRun.RUNNING]).exists():
        return None
    last = SegmentRun.objects.filter(status=SegmentRun.DONE).order_by("-started_at").first()
    if last is None or last.started_at is None:
        return None
    ids = changed_accounts(last.started_at)
    if not ids:
        return None
    today = timezone.localdate(now) if now else timezone.localdate()
    run = run_create(actor=None, as_of=max(today, last.as_of), account_ids=ids)
    run_perform(run, account_ids=ids)
    return run
