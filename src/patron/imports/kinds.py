"""What each kind of import reads, and how its rows become records.

Accounts, contacts, products, returns and payments go through the same services as the
pages and the API, one savepoint per row, so an imported record is checked, audited and
put on the timeline exactly like a typed one. Orders, the large files, are checked line
by line with the order service's own rules and written in bulk.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from patron.accounts.access import can
from patron.accounts.duplicates import duplicates_of
from patron.accounts.models import Account, Activity, Contact, CustomField, Industry, Region
from patron.accounts.services import (
    ACCOUNT_FIELDS,
    CONTACT_FIELDS,
    account_create,
    account_update,
    contact_create,
    contact_update,
)
from patron.accounts.timeline import render_stored
from patron.audit.models import AuditEvent
from patron.audit.services import snapshot
from patron.core.bulk import BulkInsert
from patron.core.errors import FieldErrors
from patron.core.messages import text_error
from patron.domain.access import Action
from patron.domain.importing import Column, SourceRow
from patron.domain.money import Money, MoneyError, line_amount, minor_units
from patron.domain.text import TextError, check_code, normalise_email, normalise_phone, normalise_tax_id
from patron.sales.models import Category, Order, OrderLine, Payment, Product, Return
from patron.sales.services import (
    PRODUCT_FIELDS,
    RESERVED_NUMBERS,
    AllocationInput,
    LineInput,
    ReturnLineInput,
    build_lines,
    payment_record,
    product_create,
    product_update,
    refresh_order_dates,
    refresh_order_dates_many,
    return_create,
)
from patron.staff.models import User

from .run import Run, row_field

ACCOUNT_COLUMNS: tuple[Column, ...] = (
    Column("code", names=("客户编号", "客户编码", "客户代码", "编号", "代码", "account code", "customer code")),
    Column("name", names=("客户名称", "名称", "公司名称", "客户", "account name", "customer name", "company")),
    Column("kind", names=("类型", "客户类型", "type", "account type")),
    Column("region", names=("地区", "区域", "省份", "城市", "所在地区", "area")),
    Column("industry", names=("行业", "所属行业")),
    Column(
        "owner", names=("负责人", "业务员", "销售", "销售员", "客户经理", "salesperson", "account owner", "sales rep")
    ),
    Column("is_key_account", "bool", names=("大客户", "重点客户", "关键客户", "key account")),
    Column("payment_terms_days", "integer", names=("账期", "账期天数", "付款期限", "payment terms", "terms")),
    Column("credit_limit", "decimal", names=("信用额度", "授信额度", "credit limit")),
    Column("preferred_channel", names=("首选渠道", "首选联系渠道", "偏好渠道", "preferred channel")),
    Column("language", names=("语言",)),
    Column("birthday", "date", names=("生日", "出生日期", "date of birth")),
    Column("tax_id", names=("税号", "纳税人识别号", "统一社会信用代码", "信用代码", "tax id", "uscc", "vat number")),
    Column("phone", names=("电话", "联系电话", "手机", "手机号", "telephone", "mobile")),
    Column("email", names=("邮箱", "电子邮箱", "电子邮件", "e-mail")),
    Column("address", names=("地址", "详细地址")),
    Column("tags", "list", names=("标签",)),
    Column("notes", names=("备注", "私密备注", "内部备注", "private notes", "internal notes")),
)
CONTACT_COLUMNS: tuple[Column, ...] = (
    Column("account", required=True, names=("客户编号", "客户编码", "客户代码", "account code", "customer code")),
    Column("name", required=True, names=("联系人", "联系人姓名", "姓名", "contact", "contact name")),
    Column("role", names=("角色", "决策角色")),
    Column("title", names=("职务", "职位", "job title")),
    Column("phone", names=("电话", "手机", "手机号", "联系电话", "mobile")),
    Column("email", names=("邮箱", "电子邮箱", "电子邮件", "e-mail")),
    Column("email_consent", "bool", names=("同意邮件", "邮件同意", "email consent")),
    Column("sms_consent", "bool", names=("同意短信", "短信同意", "sms consent")),
    Column("is_primary", "bool", names=("主要联系人", "首要联系人", "primary", "primary contact")),
)
PRODUCT_COLUMNS: tuple[Column, ...] = (
    Column(
        "sku", required=True, names=("产品编号", "产品编码", "商品编码", "商品编号", "货号", "物料编码", "product code")
    ),
    Column("name", names=("产品名称", "商品名称", "品名", "名称", "product name", "product")),
    Column("category", names=("分类", "类别", "产品分类", "品类")),
    Column("unit", names=("单位", "计量单位")),
    Column("list_price", "decimal", names=("标价", "价格", "单价", "零售价", "list price", "price")),
    Column("unit_cost", "decimal", names=("成本", "单位成本", "成本价", "unit cost", "cost")),
    Column("currency", names=("币种", "货币")),
    Column("active", "bool", names=("在售", "启用", "有效")),
)
ORDER_COLUMNS: tuple[Column, ...] = (
    Column("number", required=True, names=("订单号", "订单编号", "单号", "order number", "order no", "order")),
    Column("account", required=True, names=("客户编号", "客户编码", "客户代码", "account code", "customer code")),
    Column("order_date", "date", required=True, names=("订单日期", "下单日期", "日期", "date")),
    Column("sku", required=True, names=("产品编号", "产品编码", "商品编码", "货号", "product code", "product")),
    Column("quantity", "decimal", required=True, names=("数量", "qty")),
    Column("net_unit_price", "decimal", names=("单价", "成交价", "成交单价", "unit price", "price")),
    Column("line_total", "decimal", names=("金额", "小计", "行金额", "成交金额", "line total", "amount")),
    Column("currency", names=("币种", "货币")),
    Column("channel", names=("渠道", "销售渠道")),
    Column("status", names=("状态", "订单状态")),
    Column("note", names=("备注", "note")),
)
RETURN_COLUMNS: tuple[Column, ...] = (
    Column("number", required=True, names=("退货单号", "退货编号", "return number")),
    Column("order", required=True, names=("订单号", "订单编号", "原订单号", "order number")),
    Column("sku", required=True, names=("产品编号", "产品编码", "商品编码", "货号", "product code", "product")),
    Column("quantity", "decimal", required=True, names=("数量", "退货数量", "qty")),
    Column("return_date", "date", required=True, names=("退货日期", "日期", "date")),
    Column("reason", names=("原因", "退货原因")),
)
PAYMENT_COLUMNS: tuple[Column, ...] = (
    Column("number", required=True, names=("收款单号", "回款单号", "付款编号", "payment number")),
    Column("account", required=True, names=("客户编号", "客户编码", "客户代码", "account code", "customer code")),
    Column("amount", "decimal", required=True, names=("金额", "收款金额", "回款金额", "付款金额")),
    Column(
        "received_on", "date", required=True, names=("收款日期", "回款日期", "到账日期", "日期", "date", "received")
    ),
    Column("currency", names=("币种", "货币")),
    Column("method", names=("方式", "收款方式", "付款方式", "payment method")),
    Column("reference", names=("参考号", "流水号", "银行流水号")),
    Column("invoice", names=("发票号", "发票编号", "invoice number")),
)


def columns_for(kind: str) -> tuple[Column, ...]:
    if kind == "accounts":
        custom = tuple(
            Column(f"custom.{f.key}", names=tuple(n for n in (f.label_zh, f.label_en) if n))
            for f in CustomField.objects.filter(active=True)
        )
        return ACCOUNT_COLUMNS + custom
    return {
        "contacts": CONTACT_COLUMNS,
        "products": PRODUCT_COLUMNS,
        "orders": ORDER_COLUMNS,
        "returns": RETURN_COLUMNS,
        "payments": PAYMENT_COLUMNS,
    }[kind]


def field_label(kind: str, key: str) -> str:
    """A field's name for the mapping page, in the reader's language."""
    if key.startswith("custom."):
        field = CustomField.objects.filter(key=key.removeprefix("custom.")).first()
        return field.label if field else key
    model: type[models.Model] = {
        "accounts": Account,
        "contacts": Contact,
        "products": Product,
        "orders": OrderLine if key in ("quantity", "net_unit_price", "line_total") else Order,
        "returns": Return,
        "payments": Payment,
    }[kind]
    extra = {
        "account": _("account code"),
        "sku": _("SKU"),
        "tags": _("tags"),
        "order": _("order number"),
        "invoice": _("invoice number"),
        "quantity": _("quantity"),
    }
    if key in extra:
        return str(extra[key])
    try:
        return str(getattr(model._meta.get_field(key), "verbose_name", key))
    except Exception:
        return key


# --- lookups ----------------------------------------------------------------------------


def not_a_choice() -> str:
    return _("“%(value)s” is not one of the choices.")


def no_account() -> str:
    return _("No account has the code “%(code)s”.")


def _fold(text: Any) -> str:
    return str(text).strip().casefold()


class Lookups:
    """Reference data by every name a file may use for it: code, Chinese or English name."""

    def __init__(self) -> None:
        self._cache: dict[str, dict[str, Any]] = {}

    def _named(self, kind: str, build: Callable[[], Iterable[tuple[Iterable[Any], Any]]]) -> dict[str, Any]:
        if kind not in self._cache:
            table: dict[str, Any] = {}
            for names, value in build():
                for name in names:
                    if name:
                        table.setdefault(_fold(name), value)
            self._cache[kind] = table
        return self._cache[kind]

    def region(self, raw: str) -> int | None:
        """By code or name; a path as the export writes it ("中国 / 广东 / 深圳") by its last part."""
        table = self._named("region", lambda: (((r.code, r.name_zh, r.name_en), r.pk) for r in Region.objects.all()))
        return table.get(_fold(raw)) or table.get(_fold(str(raw).rsplit("/", 1)[-1]))

    def industry(self, raw: str) -> int | None:
        table = self._named(
            "industry", lambda: (((i.code, i.name_zh, i.name_en), i.pk) for i in Industry.objects.all())
        )
        return table.get(_fold(raw))

    def category(self, raw: str) -> str | None:
        table = self._named(
            "category", lambda: (((c.code, c.name_zh, c.name_en), c.code) for c in Category.objects.all())
        )
        return table.get(_fold(raw))

    def user(self, raw: str) -> int | None:
        table = self._named(
            "user",
            lambda: (
                ((u.username, u.get_full_name(), f"{u.last_name}{u.first_name}"), u.pk)
                for u in User.objects.filter(is_active=True)
            ),
        )
        return table.get(_fold(raw))

    def choice(self, model: type[models.Model], field: str, raw: str) -> str | None:
        """A choice by its key or its label in either language."""

        def build() -> Iterable[tuple[Iterable[Any], Any]]:
            choices = getattr(model._meta.get_field(field), "choices", None) or []
            for key, label in choices:  # type: ignore[misc]
                names = [key]
                for language in ("en", "zh-hans"):
                    with translation.override(language):
                        names.append(str(label))
                yield names, key

        return self._named(f"{model._meta.label}.{field}", build).get(_fold(raw))


# --- accounts ---------------------------------------------------------------------------


def _duplicates_in_file(run: Run, rows: Sequence[SourceRow], key: str, normalise: Callable[[str], str]) -> None:
    first: dict[str, int] = {}
    for row in rows:
        raw = row.raw.get(key)
        if raw in (None, ""):
            continue
        value = normalise(str(raw).strip())
        if value in first:
            run.problem(
                row.number,
                key,
                _("“%(value)s” is also on row %(row)s; each may appear once in the file.")
                % {"value": str(raw).strip(), "row": first[value]},
            )
        else:
            first[value] = row.number


def _account_data(run: Run, row: SourceRow, values: dict[str, Any], lookups: Lookups) -> dict[str, Any]:
    data: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for key, value in values.items():
        if key in ("region", "industry", "owner", "kind", "preferred_channel", "language"):
            found = {
                "region": lookups.region,
                "industry": lookups.industry,
                "owner": lookups.user,
            }.get(key, lambda raw, key=key: lookups.choice(Account, key, raw))(value)
            if found is not None:
                data[key] = found
            elif key == "owner":
                run.problem(row.number, key, _("No active user is called “%(value)s”.") % {"value": value})
            elif key in ("region", "industry"):
                run.problem(
                    row.number,
                    key,
                    _("Unknown %(field)s “%(value)s”.") % {"field": field_label("accounts", key), "value": value},
                )
            else:
                run.problem(row.number, key, not_a_choice() % {"value": value})
        elif key.startswith("custom."):
            custom[key.removeprefix("custom.")] = value.isoformat() if isinstance(value, dt.date) else value
        else:
            data[key] = value
    if custom:
        data["custom"] = custom
    return data


def _normalised(fn: Callable[[str], str], value: Any) -> str:
    try:
        return fn(str(value or ""))
    except TextError:
        return ""


def _match_account(run: Run, row: SourceRow, values: dict[str, Any]) -> Account | None:
    """The account a row updates: by code, else by tax id, phone or email when exactly one has it."""
    code = values.get("code")
    if code:
        found = Account.objects.filter(code=code).select_related("owner__team").first()
        if found is not None:
            return _survivor(run, row.number, "code", found)
    for key, fn in (("tax_id", normalise_tax_id), ("phone", normalise_phone), ("email", normalise_email)):
        value = _normalised(fn, values.get(key))
        if not value:
            continue
        lookup = {f"{key}__iexact" if key == "email" else key: value}
        matches = list(Account.objects.filter(merged_into=None, **lookup).select_related("owner__team")[:2])
        if len(matches) == 1:
            account = matches[0]
            run.warn(
                row.number,
                key,
                _("Matched account %(code)s by its %(field)s; that account is updated and keeps its code.")
                % {"code": account.code, "field": field_label("accounts", key)},
            )
            return account
    return None


def _flag_duplicates(run: Run, row: SourceRow, account: Account) -> None:
    for match in duplicates_of(
        name=account.name, tax_id=account.tax_id, phone=account.phone, email=account.email, exclude_id=account.pk
    )[:3]:
        run.warn(
            row.number,
            "name",
            _("Possibly the same customer as %(code)s %(name)s (%(reasons)s).")
            % {"code": match.account.code, "name": match.account.name, "reasons": "; ".join(match.reason_texts)},
        )


def _survivor(run: Run, row: int, field: str, account: Account | None) -> Account | None:
    """A merged account's rows go to the account it was merged into."""
    if account is None or account.merged_into_id is None:
        return account
    survivor = Account.objects.select_related("owner__team").get(pk=account.merged_into_id)
    run.warn(
        row,
        field,
        _("Account %(code)s was merged into %(survivor)s; this row goes to %(survivor)s.")
        % {"code": account.code, "survivor": survivor.code},
    )
    return survivor


def import_accounts(run: Run, rows: Sequence[SourceRow]) -> None:
    lookups = Lookups()
    _duplicates_in_file(run, rows, "code", str)
    for fn, key in ((normalise_tax_id, "tax_id"),):
        _duplicates_in_file(run, rows, key, lambda v, fn=fn: _normalised(fn, v) or v)  # type: ignore[misc]
    for row in rows:
        run.tick()
        # A row with a bad cell still goes through the checks with the cells that are good,
        # so the report names every problem of the row at once (the run is rolled back anyway).
        values = run.parse(row)
        data = _account_data(run, row, values, lookups)
        account = _match_account(run, row, values)
        with run.attempt(row.number):
            if account is None and not values.get("name"):
                run.problem(row.number, "name", _("A new account needs a name."))
            elif account is None:
                created = account_create(actor=run.actor, data=data)
                run.record(row.number, created)
                _flag_duplicates(run, row, created)
            else:
                data.pop("code", None)
                fields = [f for f in data if f in ACCOUNT_FIELDS and f != "custom"]
                before = snapshot(account, fields) | {"custom": dict(account.custom)}
                if "tags" in data:
                    before["tags"] = sorted(account.tags.values_list("name", flat=True))
                updated = account_update(actor=run.actor, account=account, data=data)
                after = snapshot(updated, fields) | {"custom": dict(updated.custom)}
                if "tags" in data:
                    after["tags"] = sorted(updated.tags.values_list("name", flat=True))
                run.compared(row.number, updated, before, after)


# --- contacts ---------------------------------------------------------------------------


def import_contacts(run: Run, rows: Sequence[SourceRow]) -> None:
    lookups = Lookups()
    accounts: dict[str, Account | None] = {}
    for row in rows:
        run.tick()
        values = run.parse(row)
        if "account" not in values or "name" not in values:
            continue
        code = values.pop("account")
        if code not in accounts:
            found = Account.objects.filter(code=code).select_related("owner__team").first()
            accounts[code] = _survivor(run, row.number, "account", found)
        account = accounts[code]
        if account is None:
            run.problem(row.number, "account", no_account() % {"code": code})
            continue
        if "role" in values:
            role = lookups.choice(Contact, "role", values["role"])
            if role is None:
                run.problem(row.number, "role", not_a_choice() % {"value": values["role"]})
                continue
            values["role"] = role
        # The same person again: by email, else phone, else name, within the account.
        existing = None
        for key in ("email", "phone", "name"):
            if values.get(key):
                existing = account.contacts.filter(**{f"{key}__iexact": values[key]}).first()
                if existing is not None:
                    break
        with run.attempt(row.number):
            if existing is None:
                run.record(row.number, contact_create(actor=run.actor, account=account, data=values))
            else:
                fields = [f for f in values if f in CONTACT_FIELDS]
                before = snapshot(existing, fields)
                contact = contact_update(actor=run.actor, contact=existing, data=values)
                after = snapshot(contact, fields)
                run.compared(row.number, contact, before, after)


# --- products ---------------------------------------------------------------------------


def import_products(run: Run, rows: Sequence[SourceRow]) -> None:
    lookups = Lookups()
    _duplicates_in_file(run, rows, "sku", str.casefold)
    for row in rows:
        run.tick()
        values = run.parse(row)
        if "sku" not in values:
            continue
        if "category" in values:
            code = lookups.category(values["category"])
            if code is None:
                run.problem(row.number, "category", _("Unknown category “%(value)s”.") % {"value": values["category"]})
                continue
            values["category"] = code
        if "currency" in values:
            values["currency"] = values["currency"].upper()
        product = Product.objects.filter(sku__iexact=values["sku"]).first()
        with run.attempt(row.number):
            if product is None:
                if "list_price" not in values:
                    run.problem(row.number, "list_price", _("A new product needs a list price."))
                    continue
                run.record(row.number, product_create(actor=run.actor, data=values))
            else:
                values.pop("sku")
                fields = [f for f in values if f in PRODUCT_FIELDS]
                before = snapshot(product, fields)
                changed = product_update(actor=run.actor, product=product, data=values)
                after = snapshot(changed, fields)
                run.compared(row.number, changed, before, after)


# --- orders -----------------------------------------------------------------------------


@dataclass
class _OrderGroup:
    number: str
    rows: list[SourceRow]
    values: list[dict[str, Any]]


def _chunks(items: Sequence[Any], size: int = 900) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _by(model: type[models.Model], field: str, keys: Iterable[str], **related: Any) -> dict[str, Any]:
    keys = sorted(set(keys))
    found: dict[str, Any] = {}
    for chunk in _chunks(keys):
        query = model.objects.filter(**{f"{field}__in": chunk})  # type: ignore[attr-defined]
        if related.get("select"):
            query = query.select_related(*related["select"])
        for obj in query:
            found[getattr(obj, field)] = obj
    return found


HEADER_FIELDS = ("account", "order_date", "currency", "channel", "status", "note")


def _same_order(order: Order, account: Account, header: dict[str, Any], lines: Sequence[OrderLine]) -> bool:
    existing = sorted((line.product_id, line.quantity, line.net_unit_price) for line in order.lines.all())
    new = sorted((line.product_id, line.quantity, line.net_unit_price) for line in lines)
    return (
        order.account_id == account.pk
        and order.order_date == header["order_date"]
        and order.currency == header["currency"]
        and existing == new
    )


def import_orders(run: Run, rows: Sequence[SourceRow]) -> None:
    """Lines grouped into orders by number; each order is checked as the order service checks it."""
    groups: dict[str, _OrderGroup] = {}
    for row in rows:
        values = run.parse(row)
        number = values.get("number") or str(row.raw.get("number") or "").strip()
        if not number:
            continue
        group = groups.setdefault(number, _OrderGroup(number, [], []))
        group.rows.append(row)
        group.values.append(values)
    lookups = Lookups()
    accounts = _by(
        Account,
        "code",
        (v["account"] for g in groups.values() for v in g.values if "account" in v),
        select=("owner__team",),
    )
    products = _by(Product, "sku", (v["sku"] for g in groups.values() for v in g.values if "sku" in v))
    existing = _by(Order, "number", groups)
    new_orders: list[tuple[_OrderGroup, Order, list[OrderLine]]] = []
    for group in groups.values():
        run.tick(len(group.rows))
        first_row = group.rows[0].number
        header: dict[str, Any] = {}
        for row, values in zip(group.rows, group.values, strict=True):
            for key in HEADER_FIELDS:
                if key not in values:
                    continue
                value = values[key]
                if key not in header:
                    header[key] = (value, row.number)
                elif header[key][0] != value:
                    run.problem(
                        row.number,
                        key,
                        _("Order %(number)s has “%(other)s” here but “%(value)s” on row %(row)s.")
                        % {"number": group.number, "other": value, "value": header[key][0], "row": header[key][1]},
                    )
        head = {key: value for key, (value, _row) in header.items()}
        try:
            check_code(group.number, "number")
            if group.number.lower() in RESERVED_NUMBERS:
                raise TextError("reserved", "reserved")
        except TextError as exc:
            message = text_error(exc) if exc.code != "reserved" else _("This number is reserved; choose another.")
            run.problem(first_row, "number", message)
        if any(run.failed(r.number) for r in group.rows):
            continue
        account = _survivor(run, first_row, "account", accounts.get(head.get("account", "")))
        if account is None:
            run.problem(first_row, "account", no_account() % {"code": head.get("account")})
            continue
        if not can(run.actor, Action.RECORD_ORDER, account):
            run.problem(
                first_row, "account", _("You may not record orders for account %(code)s.") % {"code": account.code}
            )
            continue
        head["currency"] = str(head.get("currency") or "CNY").upper()
        try:
            minor_units(head["currency"])
        except MoneyError:
            run.problem(first_row, "currency", _("Unknown currency “%(value)s”.") % {"value": head["currency"]})
            continue
        channel = "sales_rep"
        if head.get("channel"):
            channel = lookups.choice(Order, "channel", head["channel"]) or ""
            if not channel:
                run.problem(first_row, "channel", not_a_choice() % {"value": head["channel"]})
                continue
        status = Order.CONFIRMED
        if head.get("status"):
            status = lookups.choice(Order, "status", head["status"]) or ""
            if status not in (Order.CONFIRMED, Order.DRAFT):
                run.problem(first_row, "status", _("An imported order is confirmed or a draft."))
                continue
        order_date = head["order_date"]
        if order_date > timezone.localdate() + dt.timedelta(days=366) or order_date.year < 1900:
            run.problem(first_row, "order_date", _("An order date more than a year ahead is not accepted."))
            continue
        errors = FieldErrors()
        inputs = [
            LineInput(product=v["sku"], quantity=v["quantity"], net_unit_price=v.get("net_unit_price"))
            for v in group.values
        ]
        lines = build_lines(inputs, head["currency"], errors, products=products)
        line_rows = {index: row.number for index, row in enumerate(group.rows)}
        field_of = row_field(line_rows, first_row)
        for name, messages in errors.errors.items():
            at_row, at_field = field_of(name)
            for message in messages:
                run.problem(at_row, "sku" if at_field == "product" else at_field, str(message))
        if errors:
            continue
        for index, (line, values) in enumerate(zip(lines, group.values, strict=True)):
            given = values.get("line_total")
            if given is not None and given != line.line_total:
                run.problem(
                    line_rows[index],
                    "line_total",
                    _("The line total does not add up: %(quantity)s × %(price)s = %(total)s, the file says %(given)s.")
                    % {
                        "quantity": line.quantity.normalize(),
                        "price": line.net_unit_price.normalize(),
                        "total": Money(line.line_total, head["currency"]),
                        "given": given,
                    },
                )
        if run.failed(first_row) or any(run.failed(r) for r in line_rows.values()):
            continue
        order = existing.get(group.number)
        if order is not None:
            if _same_order(order, account, head, lines):
                run.unchanged += 1
                continue
            if order.account_id != account.pk:
                run.problem(
                    first_row,
                    "number",
                    _("Order number %(number)s is already used by another account.") % {"number": group.number},
                )
                continue
            if order.invoices.exists() or order.returns.exists():
                run.problem(
                    first_row,
                    "number",
                    _("Order %(number)s already has invoices or returns; an import cannot change it.")
                    % {"number": group.number},
                )
                continue
            _replace_order(run, first_row, order, head, lines, status, channel)
            continue
        order = Order(
            number=group.number,
            account=account,
            currency=head["currency"],
            channel=channel,
            status=status,
            order_date=order_date,
            note=head.get("note", ""),
            created_by=run.actor,
            list_total=sum((_list_amount(line, head["currency"]) for line in lines), Decimal(0)),
            net_total=sum((line.line_total for line in lines), Decimal(0)),
            confirmed_at=timezone.now() if status == Order.CONFIRMED else None,
        )
        new_orders.append((group, order, lines))
    if run.errors:
        return  # the run is rolled back anyway; writing would only take time
    _write_orders(run, new_orders)


def _list_amount(line: OrderLine, currency: str) -> Decimal:
    return line_amount(line.quantity, Money(line.list_unit_price, currency)).amount


ORDER_INSERT = (
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
)
LINE_INSERT = (
    "order_id",
    "position",
    "product_id",
    "quantity",
    "list_unit_price",
    "net_unit_price",
    "line_total",
    "discounts",
)
ACTIVITY_INSERT = ("account_id", "kind", "occurred_at", "actor_id", "subject", "event", "params", "ref_type", "ref_id")
AUDIT_INSERT = ("at", "actor_id", "action", "entity_type", "entity_id", "account_id", "changes")


def _write_orders(run: Run, new_orders: Sequence[tuple[_OrderGroup, Order, list[OrderLine]]]) -> None:
    """Orders, lines, timeline entries and audit events in a few ``executemany`` calls (core/bulk.py)."""
    if not new_orders:
        return
    now = timezone.now()
    BulkInsert(Order, ORDER_INSERT).insert(
        [
            (
                o.number,
                o.account_id,
                o.status,
                o.channel,
                o.currency,
                o.order_date,
                o.list_total,
                o.net_total,
                o.note,
                run.actor.pk,
                now,
                o.confirmed_at,
            )
            for _group, o, _lines in new_orders
        ]
    )
    numbers = [order.number for _group, order, _lines in new_orders]
    ids: dict[str, int] = {}
    for chunk in _chunks(numbers):
        ids.update(Order.objects.filter(number__in=chunk).values_list("number", "id"))
    zone = timezone.get_current_timezone()
    lines: list[tuple[Any, ...]] = []
    activities: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    for group, order, order_lines in new_orders:
        order.pk = ids[order.number]
        lines.extend(
            (
                order.pk,
                line.position,
                line.product_id,
                line.quantity,
                line.list_unit_price,
                line.net_unit_price,
                line.line_total,
                line.discounts,
            )
            for line in order_lines
        )
        event = "order_confirmed" if order.status == Order.CONFIRMED else "order_draft"
        params = {"number": order.number, "total": str(Money(order.net_total, order.currency))}
        when = dt.datetime.combine(order.order_date, dt.time(12), tzinfo=zone)
        subject = render_stored(event, params)[:200]
        activities.append(
            (order.account_id, "order", when, run.actor.pk, subject, event, params, "order", str(order.pk))
        )
        changes = {
            "number": [None, order.number],
            "net_total": [None, str(order.net_total)],
            "currency": [None, order.currency],
            "status": [None, order.status],
            "import": [None, run.job.pk],
        }
        events.append((now, run.actor.pk, "ORDER_IMPORTED", "order", str(order.pk), order.account_id, changes))
        run.record(group.rows[0].number, order)
    BulkInsert(OrderLine, LINE_INSERT).insert(lines)
    BulkInsert(Activity, ACTIVITY_INSERT).insert(activities)
    BulkInsert(AuditEvent, AUDIT_INSERT).insert(events)
    refresh_order_dates_many([order.account_id for _group, order, _lines in new_orders])


def _replace_order(
    run: Run, row: int, order: Order, head: dict[str, Any], lines: list[OrderLine], status: str, channel: str
) -> None:
    """A draft or line-only change to an order nothing was invoiced or returned against."""
    before = {
        "order_date": order.order_date.isoformat(),
        "currency": order.currency,
        "channel": order.channel,
        "status": order.status,
        "note": order.note,
        "list_total": str(order.list_total),
        "net_total": str(order.net_total),
        "lines": [
            [
                line.position,
                line.product_id,
                str(line.quantity),
                str(line.list_unit_price),
                str(line.net_unit_price),
                str(line.line_total),
                line.discounts,
            ]
            for line in order.lines.all()
        ],
    }
    order.lines.all().delete()
    order.order_date = head["order_date"]
    order.currency = head["currency"]
    order.channel = channel
    order.status = status
    order.note = head.get("note", order.note)
    order.net_total = sum((line.line_total for line in lines), Decimal(0))
    order.list_total = sum((_list_amount(line, order.currency) for line in lines), Decimal(0))
    order.save()
    for line in lines:
        line.order = order
    OrderLine.objects.bulk_create(lines)
    AuditEvent.objects.create(
        actor=run.actor,
        action="ORDER_REIMPORTED",
        entity_type="order",
        entity_id=str(order.pk),
        account_id=order.account_id,
        changes={"net_total": [None, str(order.net_total)], "import": [None, run.job.pk]},
    )
    refresh_order_dates(order.account_id)
    run.record(row, order, {"before": before, "after": {"net_total": str(order.net_total)}})


# --- returns ----------------------------------------------------------------------------


def import_returns(run: Run, rows: Sequence[SourceRow]) -> None:
    groups: dict[str, list[tuple[SourceRow, dict[str, Any]]]] = defaultdict(list)
    for row in rows:
        values = run.parse(row)
        if values.get("number"):
            groups[values["number"]].append((row, values))
    for number, members in groups.items():
        run.tick(len(members))
        first_row = members[0][0].number
        if any(run.failed(r.number) for r, _v in members):
            continue
        orders = {v.get("order") for _r, v in members}
        dates = {v.get("return_date") for _r, v in members}
        if len(orders) > 1 or len(dates) > 1:
            run.problem(
                first_row,
                "order" if len(orders) > 1 else "return_date",
                _("The lines of return %(number)s must share one order and one date.") % {"number": number},
            )
            continue
        order = Order.objects.filter(number=members[0][1]["order"]).select_related("account__owner__team").first()
        if order is None:
            run.problem(
                first_row, "order", _("No order has the number “%(value)s”.") % {"value": members[0][1]["order"]}
            )
            continue
        earlier = Return.objects.filter(number=number).first()
        if earlier is not None:
            if earlier.order_id == order.pk:
                run.unchanged += 1
            else:
                run.problem(first_row, "number", _("Return number %(number)s is already used.") % {"number": number})
            continue
        by_sku = {line.product.sku.casefold(): line for line in order.lines.select_related("product")}
        inputs = []
        line_rows = {}
        for index, (row, values) in enumerate(members):
            line = by_sku.get(str(values["sku"]).casefold())
            if line is None:
                run.problem(
                    row.number, "sku", _("Order %(order)s has no line with this product.") % {"order": order.number}
                )
                continue
            line_rows[index] = row.number
            inputs.append(ReturnLineInput(order_line=line, quantity=values["quantity"]))
        if len(inputs) != len(members):
            continue
        with run.attempt(first_row, row_field(line_rows, first_row)):
            ret = return_create(
                actor=run.actor,
                order=order,
                lines=inputs,
                return_date=members[0][1]["return_date"],
                reason=members[0][1].get("reason", ""),
                number=number,
            )
            run.record(first_row, ret)


# --- payments ---------------------------------------------------------------------------


def import_payments(run: Run, rows: Sequence[SourceRow]) -> None:
    lookups = Lookups()
    groups: dict[str, list[tuple[SourceRow, dict[str, Any]]]] = defaultdict(list)
    for row in rows:
        values = run.parse(row)
        if values.get("number"):
            groups[values["number"]].append((row, values))
    for number, members in groups.items():
        run.tick(len(members))
        first_row, head = members[0]
        if any(run.failed(r.number) for r, _v in members):
            continue
        for row, values in members[1:]:
            for key in ("account", "received_on", "currency", "method"):
                if values.get(key) != head.get(key):
                    run.problem(
                        row.number,
                        key,
                        _("Payment %(number)s has another value on row %(row)s.")
                        % {"number": number, "row": first_row.number},
                    )
        if run.errors and any(run.failed(r.number) for r, _v in members):
            continue
        found = Account.objects.filter(code=head["account"]).select_related("owner__team").first()
        account = _survivor(run, first_row.number, "account", found)
        if account is None:
            run.problem(first_row.number, "account", no_account() % {"code": head["account"]})
            continue
        method = "bank_transfer"
        if head.get("method"):
            method = lookups.choice(Payment, "method", head["method"]) or ""
            if not method:
                run.problem(first_row.number, "method", not_a_choice() % {"value": head["method"]})
                continue
        currency = str(head.get("currency") or "CNY").upper()
        # One row per invoice the payment settles; rows without an invoice leave it to oldest first.
        allocations = None
        amount = head["amount"]
        if any(v.get("invoice") for _r, v in members):
            allocations = [AllocationInput(invoice=v.get("invoice", ""), amount=v["amount"]) for _r, v in members]
            amount = sum((v["amount"] for _r, v in members), Decimal(0))
        elif len(members) > 1:
            run.problem(
                members[1][0].number,
                "number",
                _("Payment %(number)s is on several rows without invoices.") % {"number": number},
            )
            continue
        line_rows = {index: r.number for index, (r, _v) in enumerate(members)}
        existed = Payment.objects.filter(number=number).exists()
        with run.attempt(first_row.number, row_field(line_rows, first_row.number)):
            payment = payment_record(
                actor=run.actor,
                account=account,
                amount=amount,
                currency=currency,
                received_on=head["received_on"],
                method=method,
                reference=head.get("reference", ""),
                allocations=allocations,
                number=number,
            )
            if existed or payment.replayed:
                run.unchanged += 1
            else:
                run.record(first_row.number, payment)


IMPORTERS: dict[str, Callable[[Run, Sequence[SourceRow]], None]] = {
    "accounts": import_accounts,
    "contacts": import_contacts,
    "products": import_products,
    "orders": import_orders,
    "returns": import_returns,
    "payments": import_payments,
}
