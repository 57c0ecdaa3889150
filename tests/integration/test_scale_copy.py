"""The COPY loader: the rows it writes are the row loader's, the books reconcile, the schema comes back whole.

The loads themselves need PostgreSQL (``postgresql_only``); the COPY text and the
command's fallback are checked on SQLite too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count, DecimalField, F, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce

from patron.accounts.models import Account, Activity, Contact
from patron.audit.models import AuditEvent
from patron.demo import copy_loader
from patron.demo.copy_loader import CopyTable, LoadFailed, _Chunk, _json, _text, _TextConverter, copy_tables, load_copy
from patron.demo.generator import AccountBundle, DemoSpec, account_bundles, reference_data
from patron.demo.loader import MARKER, STREAMED, WRITE_ORDER, AccountTag, _Converter, _load_reference, _Maps, load_demo
from patron.demo.scale import scale_spec
from patron.sales import services as sales
from patron.sales.models import Invoice, Order, OrderLine, Payment, Product, Return
from patron.staff.models import User
from tests.factories import make_account

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY loads need PostgreSQL")

TODAY = dt.date(2026, 11, 25)
SPEC = scale_spec(today=TODAY, seed=21, accounts=300)
ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=18, decimal_places=2))


# --- COPY text (any database) ------------------------------------------------------


def test_copy_text_escapes_what_copy_reads_as_special() -> None:
    assert _text("茶\t叶\\n\n\r") == "茶\\t叶\\\\n\\n\\r"
    assert _text("普洱 50g") == "普洱 50g"
    assert _json([]) == "[]"
    assert _json({}) == "{}"
    assert _json(None) == "\\N"
    assert _json({"note": 'a "quoted"\tvalue'}) == '{"note":"a \\\\"quoted\\\\"\\\\tvalue"}'


def _fake_maps(spec: DemoSpec) -> _Maps:
    ref = reference_data(spec)
    return _Maps(
        regions={r.code: n for n, r in enumerate(ref.regions, start=1)},
        industries={i.code: n for n, i in enumerate(ref.industries, start=1)},
        products={p.sku: n for n, p in enumerate(ref.products, start=1)},
        tags={t: n for n, t in enumerate(ref.tags, start=1)},
        users={u.username: n for n, u in enumerate(ref.users, start=1) if u.username != "sunlei"},  # one unknown
    )


def _text_of(converter: _Converter, bundles: list[AccountBundle], tables: dict[Any, CopyTable]) -> dict[str, Any]:
    out = _Chunk(tables)
    for bundle in bundles:
        converter.write(bundle, out)
    return out.data()


def test_the_text_writers_write_what_the_row_conversion_gives() -> None:
    """_TextConverter's own writers for the big tables against _Converter's rows formatted column by column."""
    tables = copy_tables()
    demo = DemoSpec(today=TODAY, seed=2, accounts=60)  # full timelines, dollars, statements
    odd = list(account_bundles(SPEC))[:40]
    for bundle in odd:  # text the generator never makes, so escaping is compared too
        for order in bundle.orders:
            order.note = "急\t件\\ \n"
        for payment in bundle.payments:
            payment.reference = "TT\r1"
    for spec, bundles in ((SPEC, list(account_bundles(SPEC))), (demo, list(account_bundles(demo))), (SPEC, odd)):
        maps = _fake_maps(spec)
        base = {model: 1000 * n for n, model in enumerate(STREAMED)}
        expected = _text_of(_Converter(maps, dict(base)), bundles, tables)
        written = _text_of(_TextConverter(maps, dict(base), tables), bundles, tables)
        assert written.keys() == expected.keys() == {tables[m].table for m in WRITE_ORDER}
        for table in expected:
            assert written[table] == expected[table], table
    assert b"\\t\xe4\xbb\xb6\\\\ \\n" in written[Order._meta.db_table][1]  # 急\t件\ newline, escaped


# --- loads on PostgreSQL -----------------------------------------------------------


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every loaded row, in id order (account tags without their sequence-made id)."""
    rows = {}
    with connection.cursor() as cursor:
        for model in WRITE_ORDER:
            table = model._meta.db_table
            if model is AccountTag:
                cursor.execute(f"SELECT account_id, tag_id FROM {table} ORDER BY 1, 2")
            else:
                cursor.execute(f"SELECT * FROM {table} ORDER BY id")
            rows[table] = cursor.fetchall()
    return rows


def _schema() -> set[tuple[Any, ...]]:
    """The indexes and constraints of the loaded tables, as the catalog describes them."""
    tables = [m._meta.db_table for m in WRITE_ORDER]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)",
            [tables],
        )
        indexes = set(cursor.fetchall())
        cursor.execute(
            """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), condeferrable, condeferred,
                   convalidated
            FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])
            """,
            [tables],
        )
        return indexes | set(cursor.fetchall())


class _Undo(Exception):
    pass


@postgresql_only
@pytest.mark.django_db
def test_the_copy_load_writes_exactly_the_rows_of_the_row_loader() -> None:
    _load_reference(reference_data(SPEC), SPEC)  # shared, so both loads point at the same ids
    try:
        with transaction.atomic():
            assert load_demo(SPEC).loaded
            expected = _snapshot()
            raise _Undo
    except _Undo:
        pass
    assert not Account.objects.exists()
    result = load_copy(SPEC, workers=2, chunk_accounts=70)  # five chunks over two workers
    assert result.loaded, result.message
    loaded = _snapshot()
    assert loaded.keys() == expected.keys()
    for table, rows in expected.items():
        assert loaded[table] == rows, table
    assert result.counts["order lines"] == len(expected[OrderLine._meta.db_table]) > 2000


@pytest.fixture
def copied(db: None) -> dict[str, Any]:
    before = _schema()
    result = load_copy(SPEC, workers=2, chunk_accounts=110)
    assert result.loaded, result.message
    return {"result": result, "schema": before}


@postgresql_only
def test_loaded_books_reconcile_like_the_services_keep_them(copied: dict[str, Any]) -> None:
    lines_net = Coalesce(Sum("lines__line_total"), ZERO)
    assert not Order.objects.annotate(s=lines_net).exclude(net_total=F("s")).exists()
    assert not Return.objects.annotate(s=Sum("lines__amount")).exclude(total=F("s")).exists()
    allocated = Coalesce(Sum("allocations__amount"), ZERO)
    invoices = Invoice.objects.annotate(s=allocated)
    assert not invoices.exclude(paid_amount=F("s")).exists()
    assert not invoices.filter(paid_amount__gt=F("amount")).exists()
    assert not invoices.filter(status="paid").exclude(paid_amount=F("amount")).exists()
    assert not invoices.filter(status="open", paid_amount=F("amount")).exists()
    assert not Payment.objects.annotate(s=allocated).exclude(amount=F("s")).exists()
    assert not Invoice.objects.exclude(order__status="confirmed").exists()
    dates = Account.objects.annotate(
        first=Min("orders__order_date", filter=Q(orders__status="confirmed")),
        last=Max("orders__order_date", filter=Q(orders__status="confirmed")),
    )
    assert not dates.exclude(first_order_date=F("first")).exclude(first_order_date=None, first=None).exists()
    assert not dates.exclude(last_order_date=F("last")).exclude(last_order_date=None, last=None).exists()
    primaries = Account.objects.annotate(p=Count("contacts", filter=Q(contacts__is_primary=True)))
    assert set(primaries.values_list("p", flat=True)) == {1}
    order = Order.objects.order_by("-id").first()
    assert order is not None
    assert order.number == f"SO{order.pk:08d}"


@postgresql_only
def test_counts_schema_and_sequences_are_as_after_a_normal_load(copied: dict[str, Any]) -> None:
    result = copied["result"]
    assert result.counts["accounts"] == Account.objects.count() == 300
    assert result.counts["order lines"] == OrderLine.objects.count()
    assert result.counts["contacts"] == Contact.objects.count()
    assert result.counts["timeline entries"] == Activity.objects.count() > 0
    assert result.counts["key accounts"] == Account.objects.filter(is_key_account=True).count()
    assert 7 <= OrderLine.objects.count() / 300 <= 14  # about ten; 300 accounts vary
    assert _schema() == copied["schema"]  # every index and constraint back, validated, deferrable as before
    marker = AuditEvent.objects.get(action=MARKER)
    assert marker.changes["profile"] == "scale"
    assert marker.changes["accounts"] == 300
    # sequences continue after the loaded ids: the services keep working
    user = User.objects.get(username="sales")
    account = Account.objects.filter(owner=user).first()
    product = Product.objects.filter(currency="CNY").first()
    assert account is not None
    assert product is not None
    order = sales.order_create(
        actor=user, account=account, lines=[sales.LineInput(product=product, quantity="1")], confirm=True
    )
    assert order.pk > result.counts["orders"]
    assert make_account(None).pk > 300


@postgresql_only
def test_a_second_load_and_a_database_with_accounts_are_refused(copied: dict[str, Any]) -> None:
    again = load_copy(scale_spec(today=TODAY, seed=1, accounts=50))
    assert not again.loaded
    assert "already loaded" in again.message
    assert Account.objects.count() == 300


@postgresql_only
@pytest.mark.django_db
def test_a_database_with_accounts_of_its_own_is_left_alone() -> None:
    make_account(None)
    before = _schema()
    result = load_copy(SPEC)
    assert not result.loaded
    assert "already holds 1 accounts" in result.message
    assert Account.objects.count() == 1
    assert not Order.objects.exists()
    assert _schema() == before


@postgresql_only
@pytest.mark.django_db
def test_a_failing_worker_leaves_the_database_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    real = copy_loader.account_range

    def failing(spec: DemoSpec, reference: Any, start: int, stop: int, ids: dict[str, int]) -> Any:
        if start >= 100:
            raise RuntimeError("boom in the generator")
        return real(spec, reference, start, stop, ids)

    monkeypatch.setattr(copy_loader, "account_range", failing)  # the forked workers inherit it
    before = _schema()
    with pytest.raises(LoadFailed, match="boom in the generator"):
        load_copy(SPEC, workers=2, chunk_accounts=50)
    assert not Account.objects.exists()
    assert not OrderLine.objects.exists()
    assert not AuditEvent.objects.filter(action=MARKER).exists()
    assert _schema() == before


@postgresql_only
@pytest.mark.django_db
def test_the_command_loads_with_copy_once() -> None:
    out = StringIO()
    call_command(
        "scale", "--accounts=150", "--seed=4", "--today=2026-11-25", "--workers=2", "--chunk-accounts=60", stdout=out
    )
    assert "Loaded the scale data set with COPY" in out.getvalue()
    assert "150 accounts" in out.getvalue()
    assert Account.objects.count() == 150
    out = StringIO()
    call_command("scale", "--accounts=150", stdout=out)
    assert "already loaded" in out.getvalue()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the fallback for databases without COPY")
@pytest.mark.django_db
def test_elsewhere_the_command_loads_small_sets_with_the_row_loader_and_refuses_large_ones() -> None:
    out = StringIO()
    call_command("scale", "--accounts=40", "--seed=4", "--today=2026-11-25", stdout=out)
    assert "with the demo loader" in out.getvalue()
    assert Account.objects.count() == 40
    assert OrderLine.objects.exists()
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("scale", "--accounts=20001", stdout=StringIO())
    with pytest.raises(ValueError, match="PostgreSQL"):
        load_copy(SPEC)


def test_the_text_writers_refuse_columns_they_do_not_know(monkeypatch: pytest.MonkeyPatch) -> None:
    from patron.demo import loader

    tables, maps = copy_tables(), _fake_maps(SPEC)
    changed = dict(loader.COLUMNS)
    changed[Order] = (*changed[Order][:-1], "extra", changed[Order][-1])
    monkeypatch.setattr(copy_loader, "COLUMNS", changed)
    with pytest.raises(RuntimeError, match="COLUMNS changed for Order"):
        _TextConverter(maps, {}, tables)


def test_rows_of_a_record_with_no_creator_carry_null() -> None:
    bundle = next(b for b in account_bundles(SPEC) if b.orders)
    web = dataclasses.replace(bundle, orders=[dataclasses.replace(bundle.orders[0], created_by=None)])
    tables = copy_tables()
    text = _text_of(_TextConverter(_fake_maps(SPEC), dict.fromkeys(STREAMED, 0), tables), [web], tables)
    assert text[Order._meta.db_table][1].split(b"\t")[10] == b"\\N"
