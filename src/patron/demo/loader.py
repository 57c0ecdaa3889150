"""Load the generated demo data set into the configured database.

Everything happens in one transaction, in batches: reference data first with
``bulk_create`` (matched by natural key, so regions or products someone already
entered are reused, not duplicated), then the accounts streamed from the
generator, written as prepared rows with one ``executemany`` per table and batch.
Each column goes through the backend's own adapter (``connection.ops.adapt_*``),
so the stored values are what ``bulk_create`` would store, at a third of the CPU:
building a model instance and preparing every field costs about 80 µs a row
(``method="orm"`` keeps that path for comparison; see benchmarks/RESULTS.md).

Rows get explicit ids (the generator's local ids plus the largest id already in
the table), so children can point at parents before anything is written, and
document numbers follow the ids exactly as the services derive them
(``SO00000042`` for order 42). Sequences are reset afterwards for PostgreSQL.

The data set is loaded once: a ``DEMO_DATA_LOADED`` audit event marks it, and a
second run changes nothing. A database that already holds accounts of its own is
left alone. Existing staff (and their passwords) are kept; missing demo staff are
created with the demo password.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max

from patron.accounts.models import Account, Activity, Contact, CustomField, Industry, Region, Tag
from patron.accounts.timeline import english_templates
from patron.audit.models import AuditEvent
from patron.core.bulk import adapter
from patron.domain.money import Money
from patron.sales.models import (
    Category,
    ExchangeRate,
    Invoice,
    Order,
    OrderLine,
    Payment,
    PaymentAllocation,
    Product,
    Return,
    ReturnLine,
)
from patron.staff.models import Team, User
from patron.web.demo_users import DEMO_PASSWORD

from .generator import AccountBundle, ActivityRec, DemoSpec, Reference, account_bundles, reference_data

MARKER = "DEMO_DATA_LOADED"
BATCH_ROWS = 20000  # rows buffered before a flush
AccountTag = Account.tags.through

# Models whose rows get explicit ids, in the order they are written.
STREAMED: tuple[type[models.Model], ...] = (
    Account,
    Contact,
    Order,
    OrderLine,
    Return,
    ReturnLine,
    Invoice,
    Payment,
    PaymentAllocation,
    Activity,
)
NUMBER_PREFIX = {Order: "SO", Return: "RT", Invoice: "INV", Payment: "PAY"}


@dataclass
class LoadResult:
    loaded: bool
    message: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def demo_marker() -> AuditEvent | None:
    return AuditEvent.objects.filter(action=MARKER).order_by("id").first()


@contextmanager
def _historic_timestamps(*model_classes: type[models.Model]) -> Iterator[None]:
    """Let ``bulk_create`` (``method="orm"``) keep the created/updated times the generator drew.

    ``auto_now``/``auto_now_add`` fields overwrite any value with the current time;
    history from three years ago needs its own times, so they are off during the load.
    """
    saved = []
    for model in model_classes:
        for f in model._meta.concrete_fields:
            if isinstance(f, models.DateField) and (f.auto_now or f.auto_now_add):
                saved.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def _max_id(model: type[models.Model]) -> int:
    return int(model._default_manager.aggregate(m=Max("id"))["m"] or 0)


# --- reference data -----------------------------------------------------------


@dataclass
class _Maps:
    regions: dict[str, int]
    industries: dict[str, int]
    products: dict[str, int]
    tags: dict[str, int]
    users: dict[str, int]


def _tree(model: Any, records: Any) -> dict[str, int]:
    """Create missing nodes of a tree (regions or categories) level by level; codes -> ids."""
    known = {code: (pk, path) for code, pk, path in model.objects.values_list("code", "id", "path")}
    pending = [r for r in records if r.code not in known]
    while pending:
        ready = [r for r in pending if r.parent is None or r.parent in known]
        if not ready:
            raise ValueError(f"{model.__name__}: parents missing for {[r.code for r in pending]}")
        objs = []
        for r in ready:
            parent = known.get(r.parent) if r.parent else None
            extra = {"level": r.level} if hasattr(r, "level") else {}
            objs.append(
                model(
                    code=r.code,
                    name_zh=r.name_zh,
                    name_en=r.name_en,
                    parent_id=parent[0] if parent else None,
                    path=(parent[1] if parent else "") + r.code + "/",
                    **extra,
                )
            )
        model.objects.bulk_create(objs)
        known = {code: (pk, path) for code, pk, path in model.objects.values_list("code", "id", "path")}
        pending = [r for r in pending if r.code not in known]
    return {code: pk for code, (pk, _path) in known.items()}


def _load_reference(ref: Reference, spec: DemoSpec) -> tuple[_Maps, dict[str, int]]:
    counts: dict[str, int] = {}
    regions = _tree(Region, ref.regions)
    counts["regions"] = len(ref.regions)
    existing = set(Industry.objects.values_list("code", flat=True))
    Industry.objects.bulk_create(
        [Industry(code=i.code, name_zh=i.name_zh, name_en=i.name_en) for i in ref.industries if i.code not in existing]
    )
    industries = dict(Industry.objects.values_list("code", "id"))
    counts["industries"] = len(ref.industries)
    categories = _tree(Category, ref.categories)
    counts["categories"] = len(ref.categories)
    existing = set(Product.objects.values_list("sku", flat=True))
    Product.objects.bulk_create(
        [
            Product(
                sku=p.sku,
                name=p.name,
                category_id=categories[p.category],
                unit=p.unit,
                list_price=p.list_price,
                unit_cost=p.unit_cost,
                currency=p.currency,
            )
            for p in ref.products
            if p.sku not in existing
        ]
    )
    products = dict(Product.objects.values_list("sku", "id"))
    counts["products"] = len(ref.products)
    existing = set(Tag.objects.values_list("name", flat=True))
    Tag.objects.bulk_create([Tag(name=t) for t in ref.tags if t not in existing])
    tags = dict(Tag.objects.values_list("name", "id"))
    existing = set(CustomField.objects.values_list("key", flat=True))
    CustomField.objects.bulk_create(
        [
            CustomField(
                key=f.key,
                label_zh=f.label_zh,
                label_en=f.label_en,
                kind=f.kind,
                choices=list(f.choices),
                position=f.position,
            )
            for f in ref.custom_fields
            if f.key not in existing
        ]
    )
    known_rates = set(ExchangeRate.objects.values_list("currency", "valid_from"))
    ExchangeRate.objects.bulk_create(
        [
            ExchangeRate(currency=r.currency, valid_from=r.valid_from, rate=r.rate)
            for r in ref.exchange_rates
            if (r.currency, r.valid_from) not in known_rates
        ]
    )
    counts["exchange rates"] = len(ref.exchange_rates)
    users = _load_staff(ref, spec)
    counts["staff"] = len(ref.users)
    return _Maps(regions, industries, products, tags, users), counts


def _load_staff(ref: Reference, spec: DemoSpec) -> dict[str, int]:
    """Teams and users that are missing; existing ones (and their passwords) stay as they are."""
    known_teams = {t.name for t in Team.objects.all()}
    Team.objects.bulk_create([Team(name=t.name) for t in ref.teams if t.name not in known_teams])
    teams = dict(Team.objects.values_list("name", "id"))
    existing = set(User.objects.filter(username__in=[u.username for u in ref.users]).values_list("username", flat=True))
    # One hash for all demo sign-ins: hashing is slow by design, and the password is public anyway.
    demo_hash = make_password(DEMO_PASSWORD)
    joined = dt.datetime.combine(spec.start - dt.timedelta(days=30), dt.time(9), tzinfo=dt.UTC)
    User.objects.bulk_create(
        [
            User(
                username=u.username,
                role=u.role,
                team_id=teams[u.team] if u.team else None,
                first_name=u.first_name,
                email=u.email,
                is_staff=u.is_staff,
                is_superuser=u.is_superuser,
                password=demo_hash if u.can_sign_in else make_password(None),
                date_joined=joined,
            )
            for u in ref.users
            if u.username not in existing
        ]
    )
    users = dict(User.objects.filter(username__in=[u.username for u in ref.users]).values_list("username", "id"))
    for t in ref.teams:
        Team.objects.filter(name=t.name, manager__isnull=True).update(manager_id=users[t.manager])
    return users


# --- the accounts -------------------------------------------------------------

COLUMNS: dict[Any, tuple[str, ...]] = {
    Account: (
        "id",
        "code",
        "name",
        "kind",
        "region_id",
        "industry_id",
        "owner_id",
        "is_key_account",
        "payment_terms_days",
        "credit_limit",
        "preferred_channel",
        "language",
        "birthday",
        "tax_id",
        "phone",
        "email",
        "address",
        "notes",
        "custom",
        "created_at",
        "updated_at",
        "first_order_date",
        "last_order_date",
    ),
    AccountTag: ("account_id", "tag_id"),
    Contact: (
        "id",
        "account_id",
        "name",
        "role",
        "title",
        "phone",
        "email",
        "email_consent",
        "email_consent_at",
        "sms_consent",
        "sms_consent_at",
        "is_primary",
    ),
    Order: (
        "id",
        "number",
        "account_id",
        "status",
        "channel",
        "currency",
        "order_date",
        "list_total",
        "net_total",
        "note",
        "created_by_id",
        "created_at",
        "confirmed_at",
        "cancelled_at",
    ),
    OrderLine: (
        "id",
        "order_id",
        "position",
        "product_id",
        "quantity",
        "list_unit_price",
        "net_unit_price",
        "line_total",
        "discounts",
    ),
    Return: (
        "id",
        "number",
        "order_id",
        "account_id",
        "return_date",
        "reason",
        "currency",
        "total",
        "created_by_id",
        "created_at",
    ),
    ReturnLine: ("id", "ret_id", "order_line_id", "quantity", "amount"),
    Invoice: (
        "id",
        "number",
        "account_id",
        "order_id",
        "currency",
        "issue_date",
        "due_date",
        "amount",
        "paid_amount",
        "status",
        "created_by_id",
        "created_at",
    ),
    Payment: (
        "id",
        "number",
        "account_id",
        "currency",
        "amount",
        "received_on",
        "method",
        "reference",
        "created_by_id",
        "created_at",
    ),
    PaymentAllocation: ("id", "payment_id", "invoice_id", "amount"),
    Activity: (
        "id",
        "account_id",
        "kind",
        "occurred_at",
        "actor_id",
        "subject",
        "event",
        "params",
        "body",
        "private",
        "ref_type",
        "ref_id",
    ),
}
WRITE_ORDER: tuple[Any, ...] = (Account, AccountTag, *STREAMED[1:])


class _Table:
    """One INSERT statement for a model, its column adapters and defaults for columns not given."""

    def __init__(self, model: Any, columns: tuple[str, ...]) -> None:
        meta = model._meta
        given = [meta.get_field(c) for c in columns]
        names = {f.attname for f in given}
        # Columns added to the model later get their default, so the loader keeps working.
        missing = [f for f in meta.concrete_fields if f.attname not in names and not f.primary_key]
        self.model = model
        self.columns = columns
        self.defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in missing)
        fields = [*given, *missing]
        qn = connection.ops.quote_name
        # Table and column names come from the model; values travel as parameters.
        names_sql = ", ".join(qn(f.column) for f in fields)
        params_sql = ", ".join(["%s"] * len(fields))
        self.sql = f"INSERT INTO {qn(meta.db_table)} ({names_sql}) VALUES ({params_sql})"  # noqa: S608
        self.adapters = [(i, fn) for i, f in enumerate(given) if (fn := adapter(f)) is not None]

    def prepare(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        adapters, defaults = self.adapters, self.defaults
        out = []
        for row in rows:
            values = list(row)
            for i, fn in adapters:
                if values[i] is not None:
                    values[i] = fn(values[i])
            out.append((*values, *defaults) if defaults else tuple(values))
        return out


class _Writer:
    """Buffers rows and writes them, parents first.

    ``method="rows"`` (the default) sends prepared rows with one ``executemany``
    per table and batch; ``method="orm"`` builds model instances and calls
    ``bulk_create``, about three times the CPU (see benchmarks/bench_demo_load.py).
    A writer thread overlapping inserts with generation was tried and measured
    slower: the GIL hand-offs between rows cost more than SQLite's work saves.
    """

    def __init__(self, batch_rows: int, method: str = "rows") -> None:
        if method not in ("rows", "orm"):
            raise ValueError("method is 'rows' or 'orm'")
        self.batch_rows = batch_rows
        self.method = method
        self.tables = {m: _Table(m, COLUMNS[m]) for m in WRITE_ORDER}
        self.buffers: dict[Any, list[tuple[Any, ...]]] = {m: [] for m in WRITE_ORDER}
        self.pending = 0
        self.written: dict[Any, int] = dict.fromkeys(WRITE_ORDER, 0)

    def add(self, model: Any, rows: list[tuple[Any, ...]]) -> None:
        self.buffers[model].extend(rows)
        self.pending += len(rows)

    def flush(self) -> None:
        with connection.cursor() as cursor:
            for model in WRITE_ORDER:
                rows = self.buffers[model]
                if not rows:
                    continue
                table = self.tables[model]
                if self.method == "orm":
                    model.objects.bulk_create([model(**dict(zip(table.columns, row, strict=True))) for row in rows])
                else:
                    cursor.executemany(table.sql, table.prepare(rows))
                self.written[model] += len(rows)
                rows.clear()
        self.pending = 0


# The generator's event names -> the timeline's (patron.accounts.timeline.EVENTS).
TIMELINE_EVENTS = {
    "order_draft": "order_draft",
    "order_confirmed": "order_confirmed",
    "order_cancelled": "order_cancelled",
    "return": "return_recorded",
    "invoice": "invoice_issued",
    "payment": "payment_received",
}


REF_MODELS: dict[str, Any] = {"order": Order, "return": Return, "invoice": Invoice, "payment": Payment}


class RowSink(Protocol):
    """Where ``_Converter`` puts rows: ``_Writer`` here, the COPY loader's chunks in copy_loader.py."""

    def add(self, model: Any, rows: list[tuple[Any, ...]]) -> None: ...


class _Converter:
    """Turns generator records into rows (in ``COLUMNS`` order) with database ids.

    ``base`` is what each model's local ids are shifted by; by default the largest id
    already in its table (the COPY loader passes each chunk's own).
    """

    def __init__(self, maps: _Maps, base: dict[Any, int] | None = None) -> None:
        self.maps = maps
        self.base = base if base is not None else {m: _max_id(m) for m in STREAMED}
        self.english = english_templates()
        self.user = maps.users.get

    def number(self, model: Any, local_id: int) -> str:
        return f"{NUMBER_PREFIX[model]}{self.base[model] + local_id:08d}"

    def _event(self, a: ActivityRec) -> tuple[str, dict[str, str]]:
        """The timeline event and its parameters, as the services record them."""
        assert a.amount is not None
        money = str(Money(a.amount, a.currency))
        values = {
            "number": self.number(REF_MODELS[a.ref_type], a.ref_id),
            "total": money,
            "amount": money,
            "due": a.due.isoformat() if a.due else "",
            "order": self.number(Order, a.order_ref) if a.order_ref else "",
        }
        return TIMELINE_EVENTS[a.event], values

    def write(self, bundle: AccountBundle, out: RowSink) -> None:
        """All rows of one account; a table per method, so a writer can replace one (copy_loader does)."""
        aid = self.base[Account] + bundle.account.id
        self.account_rows(bundle, aid, out)
        self.contact_rows(bundle, aid, out)
        self.order_rows(bundle, aid, out)
        self.line_rows(bundle, out)
        self.return_rows(bundle, aid, out)
        self.invoice_rows(bundle, aid, out)
        self.payment_rows(bundle, aid, out)
        self.activity_rows(bundle, aid, out)

    def account_rows(self, bundle: AccountBundle, aid: int, out: RowSink) -> None:
        u = self.user
        maps = self.maps
        acc = bundle.account
        out.add(
            Account,
            [
                (
                    aid,
                    acc.code,
                    acc.name,
                    acc.kind,
                    maps.regions[acc.region],
                    maps.industries[acc.industry] if acc.industry else None,
                    u(acc.owner) if acc.owner else None,
                    acc.is_key_account,
                    acc.payment_terms_days,
                    acc.credit_limit,
                    acc.preferred_channel,
                    acc.language,
                    acc.birthday,
                    acc.tax_id,
                    acc.phone,
                    acc.email,
                    acc.address,
                    acc.notes,
                    acc.custom,
                    acc.created_at,
                    acc.created_at,
                    acc.first_order_date,
                    acc.last_order_date,
                )
            ],
        )
        out.add(AccountTag, [(aid, maps.tags[t]) for t in acc.tags])

    def contact_rows(self, bundle: AccountBundle, aid: int, out: RowSink) -> None:
        b = self.base
        out.add(
            Contact,
            [
                (
                    b[Contact] + c.id,
                    aid,
                    c.name,
                    c.role,
                    c.title,
                    c.phone,
                    c.email,
                    c.email_consent,
                    c.email_consent_at,
                    c.sms_consent,
                    c.sms_consent_at,
                    c.is_primary,
                )
                for c in bundle.contacts
            ],
        )

    def order_rows(self, bundle: AccountBundle, aid: int, out: RowSink) -> None:
        b = self.base
        u = self.user
        out.add(
            Order,
            [
                (
                    b[Order] + o.id,
                    self.number(Order, o.id),
                    aid,
                    o.status,
                    o.channel,
                    o.currency,
                    o.order_date,
                    o.list_total,
                    o.net_total,
                    o.note,
                    u(o.created_by) if o.created_by else None,
                    o.created_at,
                    o.confirmed_at,
                    o.cancelled_at,
                )
                for o in bundle.orders
            ],
        )

    def line_rows(self, bundle: AccountBundle, out: RowSink) -> None:
        b = self.base
        products = self.maps.products
        out.add(
            OrderLine,
            [
                (
                    b[OrderLine] + ln.id,
                    b[Order] + ln.order_id,
                    ln.position,
                    products[ln.sku],
                    ln.quantity,
                    ln.list_unit_price,
                    ln.net_unit_price,
                    ln.line_total,
                    ln.discounts,
                )
                for ln in bundle.lines
            ],
        )

    def return_rows(self, bundle: AccountBundle, aid: int, out: RowSink) -> None:
        b = self.base
        u = self.user
        out.add(
            Return,
            [
                (
                    b[Return] + r.id,
                    self.number(Return, r.id),
                    b[Order] + r.order_id,
                    aid,
                    r.return_date,
                    r.reason,
                    r.currency,
                    r.total,
                    u(r.created_by) if r.created_by else None,
                    r.created_at,
                )
                for r in bundle.returns
            ],
        )
        out.add(
            ReturnLine,
            [
                (b[ReturnLine] + r.id, b[Return] + r.return_id, b[OrderLine] + r.order_line_id, r.quantity, r.amount)
                for r in bundle.return_lines
            ],
        )

    def invoice_rows(self, bundle: AccountBundle, aid: int, out: RowSink) -> None:
        b = self.base
        u = self.user
        out.add(
            Invoice,
            [
                (
                    b[Invoice] + i.id,
                    self.number(Invoice, i.id),
                    aid,
                    b[Order] + i.order_id if i.order_id else None,
                    i.currency,
                    i.issue_date,
                    i.due_date,
                    i.amount,
                    i.paid_amount,
                    i.status,
                    u(i.created_by) if i.created_by else None,
                    i.created_at,
                )
                for i in bundle.invoices
            ],
        )

    def payment_rows(self, bundle: AccountBundle, aid: int, out: RowSink) -> None:
        b = self.base
        u = self.user
        out.add(
            Payment,
            [
                (
                    b[Payment] + p.id,
                    self.number(Payment, p.id),
                    aid,
                    p.currency,
                    p.amount,
                    p.received_on,
                    p.method,
                    p.reference,
                    u(p.created_by) if p.created_by else None,
                    p.created_at,
                )
                for p in bundle.payments
            ],
        )
        out.add(
            PaymentAllocation,
            [
                (b[PaymentAllocation] + a.id, b[Payment] + a.payment_id, b[Invoice] + a.invoice_id, a.amount)
                for a in bundle.allocations
            ],
        )

    def activity_rows(self, bundle: AccountBundle, aid: int, out: RowSink) -> None:
        b = self.base
        u = self.user
        private = Activity.PRIVATE_KINDS
        rows = []
        for a in bundle.activities:
            event, params = self._event(a) if a.event else ("", {})
            rows.append(
                (
                    b[Activity] + a.id,
                    aid,
                    a.kind,
                    a.occurred_at,
                    u(a.actor) if a.actor else None,
                    (self.english[event] % params)[:200] if event else a.subject,
                    event,
                    params,
                    a.body,
                    a.kind in private,
                    a.ref_type,
                    str(b[REF_MODELS[a.ref_type]] + a.ref_id) if a.ref_type else "",
                )
            )
        out.add(Activity, rows)


def _reset_sequences() -> None:
    """PostgreSQL sequences do not see explicit ids; SQLite needs nothing."""
    statements = connection.ops.sequence_reset_sql(no_style(), [*STREAMED, AccountTag])
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def load_demo(
    spec: DemoSpec,
    *,
    batch_rows: int = BATCH_ROWS,
    method: str = "rows",
    progress: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Load the data set once; report what was done (or why nothing was)."""
    started = time.perf_counter()
    with transaction.atomic():
        marker = demo_marker()
        if marker is not None:
            info = marker.changes or {}
            return LoadResult(
                loaded=False,
                message=(
                    f"The demo data set is already loaded (seed {info.get('seed')}, "
                    f"{int(info.get('accounts') or 0):,} accounts, loaded {marker.at:%Y-%m-%d %H:%M}); nothing changed."
                ),
            )
        existing = Account.objects.count()
        if existing:
            return LoadResult(
                loaded=False,
                message=(
                    f"The database already holds {existing:,} accounts of its own; the demo data set is only "
                    "loaded into a database without accounts. Nothing changed."
                ),
            )
        ref = reference_data(spec)
        maps, counts = _load_reference(ref, spec)
        converter = _Converter(maps)
        writer = _Writer(batch_rows, method)
        key_accounts = 0
        done = 0
        with _historic_timestamps(Account, Order, Return, Invoice, Payment):
            for bundle in account_bundles(spec, ref):
                converter.write(bundle, writer)
                key_accounts += bundle.account.is_key_account
                done += 1
                if writer.pending >= batch_rows:
                    writer.flush()
                    if progress is not None:
                        progress(done, spec.accounts)
            writer.flush()
        _reset_sequences()
        names = {
            Account: "accounts",
            AccountTag: "account tags",
            Contact: "contacts",
            Order: "orders",
            OrderLine: "order lines",
            Return: "returns",
            ReturnLine: "return lines",
            Invoice: "invoices",
            Payment: "payments",
            PaymentAllocation: "payment allocations",
            Activity: "timeline entries",
        }
        counts.update({names[m]: n for m, n in writer.written.items()})
        counts["key accounts"] = key_accounts
        AuditEvent.objects.create(
            action=MARKER,
            entity_type="demo",
            entity_id=str(spec.seed),
            changes={
                "seed": spec.seed,
                "accounts": spec.accounts,
                "years": spec.years,
                "today": spec.today.isoformat(),
                "counts": counts,
            },
        )
    return LoadResult(loaded=True, message="", counts=counts, seconds=time.perf_counter() - started)


def rows_loaded(counts: dict[str, int]) -> int:
    """Rows written for the accounts (reference data excluded)."""
    skip = {"regions", "industries", "categories", "products", "exchange rates", "staff", "key accounts"}
    return sum(n for k, n in counts.items() if k not in skip)
