"""Cadences: managers' rules that plan follow-ups by themselves.

``cadence_save`` checks a cadence field by field. ``cadences_run`` (the background job, hourly) writes,
for each active cadence, the tasks its rule wants that are not there yet: one *open* task per cadence and
account for "every N days", one task *ever* for an event (a first order, entering a segment, a birthday).
The rules are data with two interpreters: the pure ``patron.domain.followups.cadence_due`` says what one
account is due from its facts (``account_facts``: the last contact on its timeline, its first order, the
segments it entered and when, its birthday), and ``_wanted`` says the same of all accounts at once as
queries, which ``cadence_run`` turns into ``INSERT ... SELECT`` statements in the database (a million
accounts without a row in Python); a test proves the two agree. The table's constraint and the keys make
a second run, or two at once, write nothing twice.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.constants import OnConflict
from django.db.models.functions import ExtractDay, ExtractMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can
from patron.accounts.models import Account, Activity
from patron.audit.services import audit_record
from patron.domain.access import Action
from patron.domain.followups import AFTER_FIRST_ORDER, BEFORE_BIRTHDAY, EVERY, FRESH_DAYS, ON_ENTERING, RULES, Facts
from patron.domain.followups import Cadence as Rule

from .models import Cadence, Task

logger = logging.getLogger("patron.service.cadences")
CHUNK = 100_000  # account ids a statement covers
WORKERS = 2  # PostgreSQL connections writing chunks at once
CONTACT_KINDS = ("call", "email", "meeting", "note")
CHANNEL_TASK = {"phone": Task.CALL, "email": Task.EMAIL, "sms": Task.SMS, "wechat": Task.WECHAT, "visit": Task.VISIT}


def require_writer(actor: Any) -> None:
    if not can(actor, Action.EDIT_SEGMENTS):  # managers and admins write the rules that plan others' work
        raise PermissionDenied(Action.EDIT_SEGMENTS.value)


@transaction.atomic
def cadence_save(*, actor: Any, data: Mapping[str, Any], cadence: Cadence | None = None) -> Cadence:
    from patron.coupons.services import target_problems

    require_writer(actor)
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = [_("This field is required.")]
    subject = str(data.get("subject") or "").strip() or name
    rule = data.get("rule")
    if rule not in RULES:
        errors["rule"] = [_("Choose one of: %(allowed)s.") % {"allowed": ", ".join(RULES)}]
    days: list[int] = []
    for text in str(data.get("days") or "").replace("，", ",").split(","):
        if text.strip():
            try:
                value = int(text)
            except ValueError:
                value = 0
            if not 1 <= value <= 3650:
                errors["days"] = [_("Whole days from 1 to 3650, separated by commas.")]
                break
            days.append(value)
    days = sorted(set(days))  # "3, 3, 30" is 3 and 30: a day twice would plan nothing more
    if not days and "days" not in errors:
        errors["days"] = [_("This field is required.")]
    if rule in ("every", "on_entering", "before_birthday") and len(days) > 1:
        errors["days"] = [_("One number of days for this rule.")]
    classes = [str(c) for c in data.get("classes") or []]
    if rule == "on_entering" and not classes:
        errors["classes"] = [_("Choose the segments whose entering asks for a contact.")]
    target = dict(data.get("target") or {})
    target_problems(target, errors)
    if errors:
        raise ValidationError(errors)
    values = {"name": name[:200], "subject": subject[:200], "rule": rule, "days": days, "classes": classes}
    values.update(target=target, active=bool(data.get("active", True)))
    if cadence is None:
        cadence = Cadence.objects.create(created_by=actor, **values)
        audit_record(actor=actor, action="CADENCE_CREATED", instance=cadence, changes={"rule": [None, values]})
    else:
        before = {k: getattr(cadence, k) for k in values}
        for key, new in values.items():
            setattr(cadence, key, new)
        cadence.save()
        audit_record(actor=actor, action="CADENCE_CHANGED", instance=cadence, changes={"rule": [before, values]})
    return cadence


def account_facts(ids: list[int], classes: set[str], day: dt.date) -> dict[int, Facts]:
    """What ``cadence_due`` reads of each account on ``day`` (the pure rules' side; see the module's doc)."""
    from patron.segments.models import Classification, Membership

    last = dict(
        Activity.objects.filter(account_id__in=ids, kind__in=CONTACT_KINDS)
        .values_list("account_id")
        .annotate(t=Max("occurred_at"))
        .order_by()
    )
    entered: dict[int, list[tuple[str, dt.date]]] = {}
    if classes:
        keys = {c.split(":", 1)[0] for c in classes}
        names = dict(Classification.objects.filter(key__in=keys).values_list("pk", "key"))
        current = Membership.objects.filter(
            account_id__in=ids, classification_id__in=list(names), valid_from__lte=day
        ).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))
        for account_id, classification_id, cls, since in current.values_list(
            "account_id", "classification_id", "class_key", "valid_from"
        ):
            entered.setdefault(account_id, []).append((f"{names[classification_id]}:{cls}", since))
    out = {}
    for pk, first, birthday in Account.objects.filter(pk__in=ids).values_list("pk", "first_order_date", "birthday"):
        contact = last.get(pk)
        out[pk] = Facts(
            last_contact=timezone.localtime(contact).date() if contact else None,
            first_order=first,
            entered=tuple(entered.get(pk, ())),
            birthday=birthday,
        )
    return out


def _start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _due_at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10)))


def _wanted(
    rule: Rule, accounts: QuerySet[Account], day: dt.date
) -> Iterator[tuple[QuerySet[Account], str, dt.date, bool]]:
    """What ``cadence_due`` says, as sets: (the accounts, the task's key, its due day, once ever) for each key
    and due day the rule can give on ``day``; an event's days are the few of its fresh week, one set each."""
    prefix = f"cadence:{rule.key}"
    if rule.rule == EVERY:
        (every,) = rule.days[:1] or (30,)
        # Due when the last contact's day plus ``every`` is today or before: no contact since the start of the
        # day after ``day - every`` (and none ever: due at once).
        contacted = Activity.objects.filter(
            account=OuterRef("pk"), kind__in=CONTACT_KINDS, occurred_at__gte=_start(day - dt.timedelta(days=every - 1))
        )
        yield accounts.filter(~Exists(contacted)), prefix, day, False
    elif rule.rule == AFTER_FIRST_ORDER:
        for days in rule.days:
            for late in range(FRESH_DAYS):  # due ``late`` days ago, still fresh
                due = day - dt.timedelta(days=late)
                first = due - dt.timedelta(days=days)
                yield accounts.filter(first_order_date=first), f"{prefix}:first:{days}", due, True
    elif rule.rule == ON_ENTERING:
        from patron.segments.models import Membership

        within = rule.days[0] if rule.days else 2
        for cls in sorted(rule.classes):
            key, _sep, class_key = cls.partition(":")
            for late in range(FRESH_DAYS):
                since = day - dt.timedelta(days=late)
                entered = Membership.objects.filter(
                    account=OuterRef("pk"), classification__key=key, class_key=class_key, valid_from=since
                ).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))
                yield (
                    accounts.filter(Exists(entered)),
                    f"{prefix}:{cls}:{since.isoformat()}",
                    since + dt.timedelta(days=within),
                    True,
                )
    elif rule.rule == BEFORE_BIRTHDAY:
        ahead = rule.days[0] if rule.days else 7
        born = accounts.filter(birthday__isnull=False).annotate(
            md=ExpressionWrapper(ExtractMonth("birthday") * 100 + ExtractDay("birthday"), output_field=IntegerField())
        )
        for year in (day.year, day.year + 1):
            # Birthdays this year falling from today to ``ahead`` days on (29 February on the 28th in other years).
            low, high = max(day, dt.date(year, 1, 1)), min(day + dt.timedelta(days=ahead), dt.date(year, 12, 31))
            if low > high:
                continue
            lo, hi = low.month * 100 + low.day, high.month * 100 + high.day
            match = Q(md__gte=lo, md__lte=hi)
            if not calendar.isleap(year) and lo <= 228 <= hi:
                match |= Q(md=229)
            yield born.filter(match), f"{prefix}:birthday:{year}", day, True


def _insert(cadence: Cadence, accounts: QuerySet[Account], key: str, due: dt.date, once: bool) -> int:
    """One ``INSERT ... SELECT``: a task for each of ``accounts`` without one of ``key`` (an open one, or any
    when ``once``); conflicts with a task written a moment ago by another run are skipped."""
    taken = Task.objects.filter(account=OuterRef("pk"), source_key=key)
    if not once:
        taken = taken.filter(status=Task.OPEN)
    kind = Case(
        *(When(preferred_channel=channel, then=Value(task)) for channel, task in CHANNEL_TASK.items()),
        default=Value(Task.CALL),
        output_field=CharField(),
    )
    values = {
        "account_id": F("pk"),
        "owner_id": F("owner_id"),
        "kind": kind,
        "subject": Value(cadence.subject, output_field=CharField()),
        "due_at": Value(_due_at(due), output_field=DateTimeField()),
        "source": Value(Task.CADENCE, output_field=CharField()),
        "source_key": Value(key, output_field=CharField()),
        "status": Value(Task.OPEN, output_field=CharField()),
        "created_at": Value(timezone.now(), output_field=DateTimeField()),
    }
    fields: list[Any] = [Task._meta.get_field(name) for name in values]
    for f in Task._meta.concrete_fields:  # the defaults: no outcome or notes yet, not recurring (NULLs left out)
        if not f.primary_key and f not in fields and f.get_default() is not None:
            values[f.attname] = Value(f.get_default(), output_field=f)
            fields.append(f)
    # Aliases of our own, so the outer SELECT names the columns in the table's order whatever the ORM's order.
    aliased = {f"c_{name}": expression for name, expression in values.items()}
    select, params = accounts.filter(~Exists(taken)).order_by().values(**aliased).query.sql_with_params()
    quote = connection.ops.quote_name
    # Table and column names come from the model, values travel as parameters.
    sql = (
        f"{connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)} {quote(Task._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT {', '.join(quote(a) for a in aliased)} FROM ({select}) AS wanted "
        f"{connection.ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(int(cursor.rowcount), 0)


def _run_chunk(cadence: Cadence, rule: Rule, accounts: QuerySet[Account], low: int, day: dt.date) -> int:
    chunk = accounts.filter(pk__gte=low, pk__lt=low + CHUNK)
    return sum(_insert(cadence, wanted, key, due, once) for wanted, key, due, once in _wanted(rule, chunk, day))


def _run_chunk_apart(cadence: Cadence, rule: Rule, accounts: QuerySet[Account], low: int, day: dt.date) -> int:
    """A chunk on a connection of this thread's own, closed after."""
    try:
        return _run_chunk(cadence, rule, accounts, low, day)
    finally:
        connection.close()


def cadence_run(cadence: Cadence, day: dt.date) -> int:
    """Write the tasks the cadence wants on ``day``; how many it wrote.

    Set-based: for each key the rule can give (``_wanted``), one ``INSERT ... SELECT`` per range of ``CHUNK``
    account ids, in the database, no account read into Python; each statement commits on its own (SQLite's
    writers wait for one chunk, not for a million accounts). On PostgreSQL, outside a transaction,
    ``WORKERS`` connections write chunks at once: most of the time is the server's (the tasks' indexes and
    the checks of their foreign keys), which then uses more than one core."""
    from patron.coupons.delivery import targeted

    rule = Rule(cadence.pk, cadence.rule, tuple(cadence.days), frozenset(cadence.classes))
    accounts = targeted(cadence.target, day).filter(owner__isnull=False, owner__is_active=True)
    span = accounts.aggregate(low=Min("pk"), high=Max("pk"))
    lows = [] if span["low"] is None else list(range(span["low"], span["high"] + 1, CHUNK))
    apart = connection.vendor == "postgresql" and not connection.in_atomic_block and WORKERS > 1 and len(lows) > 1
    if apart:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            made = sum(pool.map(lambda low: _run_chunk_apart(cadence, rule, accounts, low, day), lows))
    else:
        made = sum(_run_chunk(cadence, rule, accounts, low, day) for low in lows)
    Cadence.objects.filter(pk=cadence.pk).update(last_run_at=timezone.now(), last_run_tasks=made)
    return made


def cadences_run(day: dt.date | None = None) -> dict[int, int]:
    """Every active cadence, once: what the job runs each hour."""
    day = day or timezone.localdate()
    out = {}
    for cadence in Cadence.objects.filter(active=True):
        out[cadence.pk] = cadence_run(cadence, day)
        logger.info("cadence %s: %s tasks on %s", cadence.pk, out[cadence.pk], day)
    return out
