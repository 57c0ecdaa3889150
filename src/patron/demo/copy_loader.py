"""Load a generated data set into PostgreSQL with COPY: the scale set's million accounts in minutes.

How it goes, all in one transaction (a failure leaves the database as it was):

1. Refuse a database that already holds accounts (or the demo/scale data set).
2. Reference data (regions, products, staff, ...) as ``load_demo`` writes it.
3. Worker processes (forked, one per core by default) generate disjoint chunks of
   accounts. A chunk's records are numbered from 1 (``generator.account_range``);
   the worker reports how many of each kind it made, this process adds the counts
   up in chunk order and sends each chunk its offsets, and the worker turns its
   records into rows with ``loader._Converter`` (the same conversion as the
   ``executemany`` loader) and into COPY text. Ids are therefore exactly the ones a
   single sequential load gives, whatever the number of workers.
4. This process streams each chunk's text into the tables with ``COPY ... FROM
   STDIN``, in chunk order, while the workers generate the next chunks.
5. Secondary indexes, unique and foreign-key constraints of the loaded tables are
   dropped before the COPY and rebuilt afterwards from their own definitions
   (``pg_get_indexdef``/``pg_get_constraintdef``), which builds each index once
   instead of updating it row by row and checks every foreign key with one join
   instead of a trigger per row. The schema afterwards is the one the migrations
   made. ``defer_indexes=False`` keeps them (slower; see benchmarks/RESULTS.md).
6. Sequences are moved past the loaded ids, the tables analysed, and the
   ``DEMO_DATA_LOADED`` marker written (so ``patron demo`` leaves the set alone).

The workers never touch the database: they are forked while this process holds
its connection, and a forked child that used (or closed) that socket would break
the parent's session; they exit through ``os._exit`` as multiprocessing's forked
children do, which closes nothing.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from django.db import connection, models, transaction

from patron.accounts.models import Account
from patron.audit.models import AuditEvent
from patron.sales.models import Invoice, Order, OrderLine, Payment, PaymentAllocation

from .generator import AccountBundle, DemoSpec, account_range, reference_data
from .loader import (
    COLUMNS,
    MARKER,
    NUMBER_PREFIX,
    STREAMED,
    WRITE_ORDER,
    AccountTag,
    RowSink,
    _Converter,
    _load_reference,
    _Maps,
    _max_id,
    _reset_sequences,
    demo_marker,
)

CHUNK_ACCOUNTS = 5000  # accounts per chunk: about 140,000 rows, 15 MB of COPY text
# The generator's kinds of local ids -> the models they number.
KINDS: dict[str, Any] = {
    "contact": STREAMED[1],
    "order": STREAMED[2],
    "line": STREAMED[3],
    "return": STREAMED[4],
    "return_line": STREAMED[5],
    "invoice": STREAMED[6],
    "payment": STREAMED[7],
    "allocation": STREAMED[8],
    "activity": STREAMED[9],
}
TABLE_NAMES: dict[Any, str] = {
    Account: "accounts",
    AccountTag: "account tags",
    **{model: name for name, model in zip(
        ("contacts", "orders", "order lines", "returns", "return lines", "invoices", "payments",
         "payment allocations", "timeline entries"),
        STREAMED[1:],
        strict=True,
    )},
}  # fmt: skip


class LoadFailed(RuntimeError):
    """A worker failed; the transaction is rolled back and the database is as it was."""


@dataclass
class TableStats:
    rows: int = 0
    copy_seconds: float = 0.0  # time spent in COPY for this table (the server's ingest included)
    index_seconds: float = 0.0  # rebuilding its deferred indexes and constraints


@dataclass
class CopyLoadResult:
    loaded: bool
    message: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per step
    tables: dict[str, TableStats] = field(default_factory=dict)
    workers: int = 0
    worker_seconds: dict[str, float] = field(default_factory=dict)  # CPU of the workers, summed
    rebuilt: dict[str, float] = field(default_factory=dict)  # "table.index or constraint" -> seconds


# --- COPY text ------------------------------------------------------------------

NULL = "\\N"
_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    """A value in COPY's text format: backslash, tab, newline and carriage return escaped."""
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


def _json(value: Any) -> str:
    if value is None:
        return NULL
    if not value:
        return "[]" if isinstance(value, list) else "{}"
    return _text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _plain(value: Any) -> str:
    """Numbers, booleans, dates and aware datetimes: their ``str`` is what PostgreSQL reads."""
    return NULL if value is None else str(value)


def _is_text(f: models.Field[Any, Any]) -> bool:
    return isinstance(f, models.CharField | models.TextField)


class CopyTable:
    """One model's COPY statement and the formatting of its rows (``COLUMNS`` order)."""

    def __init__(self, model: Any, columns: tuple[str, ...]) -> None:
        meta = model._meta
        given = [meta.get_field(c) for c in columns]
        names = {f.attname for f in given}
        # Columns added to the model later get their default, as in loader._Table.
        missing = [f for f in meta.concrete_fields if f.attname not in names and not f.primary_key]
        qn = connection.ops.quote_name
        self.model = model
        self.table = meta.db_table
        names_sql = ", ".join(qn(f.column) for f in [*given, *missing])
        self.sql = f"COPY {qn(meta.db_table)} ({names_sql}) FROM STDIN"
        self.text = [i for i, f in enumerate(given) if _is_text(f)]
        self.json = [i for i, f in enumerate(given) if isinstance(f, models.JSONField)]
        self.nullable = [i for i, f in enumerate(given) if f.null and i not in self.text and i not in self.json]
        self.tail = "".join("\t" + self.value(f, f.get_default()) for f in missing)

    @staticmethod
    def value(f: models.Field[Any, Any], value: Any) -> str:
        if value is None:
            return NULL
        if isinstance(f, models.JSONField):
            return _json(value)
        if _is_text(f):
            return _text(value)
        return str(value)

    def line(self, row: tuple[Any, ...]) -> str:
        values: list[Any] = list(row)
        for i in self.text:
            v = values[i]
            values[i] = NULL if v is None else _text(v)
        for i in self.json:
            values[i] = _json(values[i])
        for i in self.nullable:
            if values[i] is None:
                values[i] = NULL
        return "\t".join(map(str, values)) + self.tail


def copy_tables() -> dict[Any, CopyTable]:
    return {model: CopyTable(model, COLUMNS[model]) for model in WRITE_ORDER}


class _Chunk:
    """Collects one chunk's rows as COPY text (the ``RowSink`` that ``_Converter`` writes to)."""

    def __init__(self, tables: dict[Any, CopyTable]) -> None:
        self.tables = tables
        self.lines: dict[Any, list[str]] = {model: [] for model in tables}

    def add(self, model: Any, rows: list[tuple[Any, ...]]) -> None:
        self.lines[model].extend(map(self.tables[model].line, rows))

    def add_text(self, model: Any, lines: list[str]) -> None:
        self.lines[model].extend(lines)

    def data(self) -> dict[str, tuple[int, bytes]]:
        """Per table: rows and the COPY text, keyed by table name (models do not pickle by value)."""
        return {
            self.tables[m].table: (len(lines), ("\n".join(lines) + "\n").encode())
            for m, lines in self.lines.items()
            if lines
        }


# The columns the text writers below write, in order; ``_TextConverter`` refuses to run if
# loader.COLUMNS says otherwise.
TEXT_COLUMNS: dict[Any, tuple[str, ...]] = {
    Order: (
        *("id", "number", "account_id", "status", "channel", "currency", "order_date", "list_total"),
        *("net_total", "note", "created_by_id", "created_at", "confirmed_at", "cancelled_at"),
    ),
    OrderLine: (
        *("id", "order_id", "position", "product_id", "quantity", "list_unit_price", "net_unit_price"),
        *("line_total", "discounts"),
    ),
    Invoice: (
        *("id", "number", "account_id", "order_id", "currency", "issue_date", "due_date", "amount"),
        *("paid_amount", "status", "created_by_id", "created_at"),
    ),
    Payment: (
        *("id", "number", "account_id", "currency", "amount", "received_on", "method", "reference"),
        *("created_by_id", "created_at"),
    ),
    PaymentAllocation: ("id", "payment_id", "invoice_id", "amount"),
}


class _TextConverter(_Converter):
    """``_Converter`` that writes the five biggest tables (orders, lines, invoices, payments,
    allocations: four fifths of the rows) straight to COPY text.

    The same values in the same columns as ``_Converter``'s rows formatted by
    ``CopyTable.line`` (tests/integration/test_scale_copy.py compares them), without
    a tuple per row and per-column checks: 5.2 instead of 6.3 µs a row over all
    tables, about 27 s of CPU less for the 24 million rows of 1,000,000 accounts.
    Most of what is left is ``str`` of datetimes and decimals.
    """

    def __init__(self, maps: _Maps, base: dict[Any, int], tables: dict[Any, CopyTable]) -> None:
        super().__init__(maps, base)
        for model, columns in TEXT_COLUMNS.items():
            if COLUMNS[model] != columns:
                raise RuntimeError(f"loader.COLUMNS changed for {model.__name__}; update TEXT_COLUMNS and its writer")
        self.tails = {model: tables[model].tail for model in TEXT_COLUMNS}
        # username -> id as text; no one (None) and unknown names give NULL, as _Converter's u()
        self.users: dict[str | None, str] = {name: str(pk) for name, pk in maps.users.items()}

    def order_rows(self, bundle: AccountBundle, aid: int, out: RowSink) -> None:
        assert isinstance(out, _Chunk)
        bo = self.base[Order]
        users, tail, prefix = self.users, self.tails[Order], NUMBER_PREFIX[Order]
        out.add_text(
            Order,
            [
                f"{bo + o.id}\t{prefix}{bo + o.id:08d}\t{aid}\t{_text(o.status)}\t{_text(o.channel)}"
                f"\t{_text(o.currency)}\t{o.order_date!s}\t{o.list_total!s}\t{o.net_total!s}\t{_text(o.note)}"
                f"\t{users.get(o.created_by, NULL)}"
                f"\t{o.created_at!s}\t{NULL if o.confirmed_at is None else o.confirmed_at!s}"
                f"\t{NULL if o.cancelled_at is None else o.cancelled_at!s}{tail}"
                for o in bundle.orders
            ],
        )

    def line_rows(self, bundle: AccountBundle, out: RowSink) -> None:
        assert isinstance(out, _Chunk)
        bl, bo = self.base[OrderLine], self.base[Order]
        products, tail = self.maps.products, self.tails[OrderLine]
        out.add_text(
            OrderLine,
            [
                f"{bl + ln.id}\t{bo + ln.order_id}\t{ln.position}\t{products[ln.sku]}\t{ln.quantity!s}"
                f"\t{ln.list_unit_price!s}\t{ln.net_unit_price!s}\t{ln.line_total!s}\t{_json(ln.discounts)}{tail}"
                for ln in bundle.lines
            ],
        )

    def invoice_rows(self, bundle: AccountBundle, aid: int, out: RowSink) -> None:
        assert isinstance(out, _Chunk)
        bi, bo = self.base[Invoice], self.base[Order]
        users, tail, prefix = self.users, self.tails[Invoice], NUMBER_PREFIX[Invoice]
        out.add_text(
            Invoice,
            [
                f"{bi + i.id}\t{prefix}{bi + i.id:08d}\t{aid}\t{NULL if i.order_id is None else bo + i.order_id}"
                f"\t{_text(i.currency)}\t{i.issue_date!s}\t{i.due_date!s}\t{i.amount!s}\t{i.paid_amount!s}\t{_text(i.status)}"
                f"\t{users.get(i.created_by, NULL)}\t{i.created_at!s}{tail}"
                for i in bundle.invoices
            ],
        )

    def payment_rows(self, bundle: AccountBundle, aid: int, out: RowSink) -> None:
        assert isinstance(out, _Chunk)
        bp, bi, ba = self.base[Payment], self.base[Invoice], self.base[PaymentAllocation]
        users, prefix = self.users, NUMBER_PREFIX[Payment]
        tail, allocation_tail = self.tails[Payment], self.tails[PaymentAllocation]
        out.add_text(
            Payment,
            [
                f"{bp + p.id}\t{prefix}{bp + p.id:08d}\t{aid}\t{_text(p.currency)}\t{p.amount!s}\t{p.received_on!s}"
                f"\t{_text(p.method)}\t{_text(p.reference)}\t{users.get(p.created_by, NULL)}\t{p.created_at!s}{tail}"
                for p in bundle.payments
            ],
        )
        out.add_text(
            PaymentAllocation,
            [
                f"{ba + a.id}\t{bp + a.payment_id}\t{bi + a.invoice_id}\t{a.amount!s}{allocation_tail}"
                for a in bundle.allocations
            ],
        )


# --- the workers ----------------------------------------------------------------


def _worker(spec: DemoSpec, first_chunk: int, step: int, chunks: int, chunk_accounts: int, pipe: Connection) -> None:
    """Generate chunks first_chunk, first_chunk + step, ...; send counts, wait for offsets, send COPY text.

    Runs in a forked child: no database access here (see the module's docstring).
    """
    gc.disable()  # a chunk's records stay alive until converted; collections would scan them over and over
    chunk = first_chunk
    try:
        tables = copy_tables()
        ref = reference_data(spec)
        converter: _TextConverter | None = None
        for chunk in range(first_chunk, chunks, step):
            started = time.process_time()
            ids: dict[str, int] = {}
            start = chunk * chunk_accounts
            bundles = list(account_range(spec, ref, start, start + chunk_accounts, ids))
            generated = time.process_time()
            pipe.send(("counts", chunk, ids))
            if converter is None:
                kind, maps = pipe.recv()
                assert kind == "maps"
                converter = _TextConverter(maps, {}, tables)
            kind, offsets_for, base = pipe.recv()
            assert kind == "offsets"
            assert offsets_for == chunk
            converter.base = base
            out = _Chunk(tables)
            for bundle in bundles:
                converter.write(bundle, out)
            del bundles
            data = out.data()
            del out
            gc.collect()
            cpu = {"generate": generated - started, "convert": time.process_time() - generated}
            pipe.send(("data", chunk, data, cpu))
        pipe.send(("done", chunk))
    except BaseException:
        pipe.send(("error", chunk, traceback.format_exc()))
    finally:
        pipe.close()


# --- deferred indexes -------------------------------------------------------------


@dataclass
class _Deferred:
    table: str
    name: str
    create: str  # SQL that puts it back


def _defer_indexes(tables: list[str]) -> list[_Deferred]:
    """Drop the secondary indexes, unique and foreign-key constraints of ``tables``; return how to rebuild them.

    Primary keys and check constraints stay. A constraint that another table's foreign
    key depends on stays too (its drop fails inside a savepoint).
    """
    deferred: list[_Deferred] = []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
            FROM pg_constraint c
            WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('u', 'f')
            ORDER BY c.contype, c.conrelid::regclass::text, c.conname
            """,
            [tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """
            SELECT i.indrelid::regclass::text, ic.relname, pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
            WHERE i.indrelid = ANY(%s::regclass[])
              AND NOT EXISTS (
                SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')
              )
            ORDER BY i.indrelid::regclass::text, ic.relname
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        qn = connection.ops.quote_name
        kept_unique: list[str] = []
        for table, name, kind, definition in constraints:
            try:
                with transaction.atomic():
                    cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {qn(name)}")
            except Exception:
                if kind == "f":
                    raise
                kept_unique.append(name)  # another table's foreign key points at it
                continue
            deferred.append(_Deferred(table, name, f"ALTER TABLE {table} ADD CONSTRAINT {qn(name)} {definition}"))
        for table, name, definition in indexes:
            cursor.execute(f"DROP INDEX {qn(name)}")
            deferred.append(_Deferred(table, name, definition))
    # Rebuild plain indexes first, then unique constraints, then foreign keys (their checks are joins).
    order = {"INDEX": 0, "UNIQUE": 1, "FOREIGN": 2}

    def rank(d: _Deferred) -> int:
        if d.create.startswith("CREATE"):
            return order["INDEX"]
        return order["FOREIGN"] if " FOREIGN KEY " in d.create else order["UNIQUE"]

    return sorted(deferred, key=rank)


def _rebuild(deferred: list[_Deferred], stats: dict[str, float], each: dict[str, float]) -> None:
    with connection.cursor() as cursor:
        for d in deferred:
            started = time.perf_counter()
            cursor.execute(d.create)
            seconds = time.perf_counter() - started
            stats[d.table] = stats.get(d.table, 0.0) + seconds
            each[f"{d.table}.{d.name}"] = seconds


# --- the load -------------------------------------------------------------------


def _refusal() -> str | None:
    marker = demo_marker()
    if marker is not None:
        info = marker.changes or {}
        return (
            f"A demo or scale data set is already loaded (seed {info.get('seed')}, "
            f"{int(info.get('accounts') or 0):,} accounts, loaded {marker.at:%Y-%m-%d %H:%M}); nothing changed."
        )
    existing = Account.objects.count()
    if existing:
        return (
            f"The database already holds {existing:,} accounts; the scale data set is only loaded into a "
            "database without accounts. Nothing changed."
        )
    return None


def load_copy(
    spec: DemoSpec,
    *,
    workers: int = 2,
    chunk_accounts: int = CHUNK_ACCOUNTS,
    defer_indexes: bool = True,
    analyze: bool = True,
    progress: Callable[[int, int], None] | None = None,
    profile: str = "scale",
) -> CopyLoadResult:
    """Load ``spec``'s data set with COPY (PostgreSQL only), all or nothing; report what was done."""
    if connection.vendor != "postgresql":
        raise ValueError("the COPY loader needs PostgreSQL; use patron.demo.loader.load_demo elsewhere")
    if workers < 1 or chunk_accounts < 1:
        raise ValueError("workers and chunk_accounts must be at least 1")
    started = time.perf_counter()
    phases: dict[str, float] = {}
    chunks = -(-spec.accounts // chunk_accounts)
    workers = min(workers, chunks)
    with transaction.atomic():
        refusal = _refusal()
        if refusal is not None:
            return CopyLoadResult(loaded=False, message=refusal)
        context = multiprocessing.get_context("fork")
        pipes: list[Connection] = []
        processes = []
        for w in range(workers):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_worker,
                args=(spec, w, workers, chunks, chunk_accounts, child_end),
                name=f"patron-scale-{w}",
                daemon=True,
            )
            process.start()
            child_end.close()
            pipes.append(parent_end)
            processes.append(process)
        try:
            result = _load(spec, pipes, chunks, chunk_accounts, defer_indexes, analyze, progress, phases)
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
                process.join()
            for pipe in pipes:
                pipe.close()
        result.workers = workers
        AuditEvent.objects.create(
            action=MARKER,
            entity_type="demo",
            entity_id=str(spec.seed),
            changes={
                "seed": spec.seed,
                "accounts": spec.accounts,
                "years": spec.years,
                "today": spec.today.isoformat(),
                "profile": profile,
                "counts": result.counts,
            },
        )
    result.seconds = time.perf_counter() - started
    result.phases["total"] = result.seconds
    return result


def _load(
    spec: DemoSpec,
    pipes: list[Connection],
    chunks: int,
    chunk_accounts: int,
    defer_indexes: bool,
    analyze: bool,
    progress: Callable[[int, int], None] | None,
    phases: dict[str, float],
) -> CopyLoadResult:
    clock = time.perf_counter()
    with connection.cursor() as cursor:
        # Check what is pending now: a table with deferred checks cannot be altered, and
        # dropping or adding a foreign key alters the table it points at too.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    ref = reference_data(spec)
    maps: _Maps
    maps, counts = _load_reference(ref, spec)
    for pipe in pipes:
        pipe.send(("maps", maps))
    tables = copy_tables()
    by_name = {t.table: (model, t) for model, t in tables.items()}
    models_in_order = [tables[m].table for m in WRITE_ORDER]
    stats = {t.table: TableStats() for t in tables.values()}
    now = time.perf_counter()
    phases["reference data"] = now - clock
    clock = now

    deferred: list[_Deferred] = []
    if defer_indexes:
        deferred = _defer_indexes(models_in_order)
    now = time.perf_counter()
    phases["drop indexes"] = now - clock
    clock = now

    base0 = {model: _max_id(model) for model in STREAMED}
    running = dict.fromkeys(KINDS, 0)
    chunk_counts: dict[int, dict[str, int]] = {}
    waiting: dict[int, dict[str, tuple[int, bytes]]] = {}
    worker_cpu: dict[str, float] = {}
    next_offsets = next_write = 0
    workers = len(pipes)
    copy_wait = 0.0  # time this process waited for data, i.e. the database was idle

    active = list(pipes)
    with connection.cursor() as cursor:
        while next_write < chunks:
            if not active:
                raise LoadFailed(f"the workers finished, yet chunk {next_write} never came")
            wait_started = time.perf_counter()
            ready = wait(active)
            copy_wait += time.perf_counter() - wait_started
            for ready_pipe in ready:
                assert isinstance(ready_pipe, Connection)
                pipe = ready_pipe
                try:
                    message = pipe.recv()
                except EOFError:
                    raise LoadFailed("a worker process ended without finishing its chunks") from None
                kind, chunk = message[0], message[1]
                if kind == "error":
                    raise LoadFailed(f"generating chunk {chunk} failed:\n{message[2]}")
                if kind == "done":
                    active.remove(pipe)
                if kind == "counts":
                    chunk_counts[chunk] = message[2]
                    while next_offsets in chunk_counts:
                        base = {model: base0[model] + running[k] for k, model in KINDS.items()}
                        base[Account] = base0[Account]
                        pipes[next_offsets % workers].send(("offsets", next_offsets, base))
                        for k, n in chunk_counts.pop(next_offsets).items():
                            running[k] += n
                        next_offsets += 1
                elif kind == "data":
                    waiting[chunk] = message[2]
                    for k, seconds in message[3].items():
                        worker_cpu[k] = worker_cpu.get(k, 0.0) + seconds
                    while next_write in waiting:
                        for name, (rows, data) in sorted(
                            waiting.pop(next_write).items(), key=lambda item: models_in_order.index(item[0])
                        ):
                            copy_started = time.perf_counter()
                            with cursor.copy(by_name[name][1].sql) as copy:
                                copy.write(data)
                            stats[name].rows += rows
                            stats[name].copy_seconds += time.perf_counter() - copy_started
                        next_write += 1
                        if progress is not None:
                            progress(min(next_write * chunk_accounts, spec.accounts), spec.accounts)
    now = time.perf_counter()
    phases["generate and copy"] = now - clock
    phases["waiting for workers"] = copy_wait
    clock = now

    qn = connection.ops.quote_name
    if analyze:
        # Statistics first: the foreign-key checks below are joins, planned with them.
        with connection.cursor() as cursor:
            for name in models_in_order:
                cursor.execute(f"ANALYZE {qn(name)}")
    now = time.perf_counter()
    phases["analyze"] = now - clock
    clock = now

    index_seconds: dict[str, float] = {}
    rebuilt: dict[str, float] = {}
    if deferred:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        _rebuild(deferred, index_seconds, rebuilt)
    for name, seconds in index_seconds.items():
        if name in stats:
            stats[name].index_seconds += seconds
    now = time.perf_counter()
    phases["rebuild indexes"] = now - clock
    clock = now

    _reset_sequences()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are INITIALLY DEFERRED
        if analyze:
            # Expression indexes have statistics of their own, gathered once they exist.
            cursor.execute(
                "SELECT DISTINCT indrelid::regclass::text FROM pg_index "
                "WHERE indrelid = ANY(%s::regclass[]) AND indexprs IS NOT NULL",
                [models_in_order],
            )
            for (table,) in cursor.fetchall():
                cursor.execute(f"ANALYZE {table}")
    phases["sequences"] = time.perf_counter() - clock

    for name, st in stats.items():
        counts[TABLE_NAMES[by_name[name][0]]] = st.rows
    counts["key accounts"] = _count_key_accounts()
    return CopyLoadResult(
        loaded=True,
        message="",
        counts=counts,
        phases=phases,
        tables={TABLE_NAMES[by_name[name][0]]: st for name, st in stats.items()},
        worker_seconds=worker_cpu,
        rebuilt=rebuilt,
    )


def _count_key_accounts() -> int:
    return Account.objects.filter(is_key_account=True).count()
