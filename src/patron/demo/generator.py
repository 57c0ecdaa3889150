"""Deterministic demo data as plain records, generated one account at a time.

No Django, no clock, no I/O: everything follows from a ``DemoSpec`` (seed, size,
``today``). The same spec always gives the same records, so tests and
benchmarks can rely on them, and a loader can stream them into any database.

Shape of the data:

* reference data (``reference_data``): a region tree (China > provinces > cities),
  industries, a product catalogue with a category tree, tags, custom field
  definitions, teams and staff, monthly USD->CNY exchange rates;
* one ``AccountBundle`` per account (``account_bundles``): the account, its
  contacts and tags, orders with lines, returns, invoices, payments with their
  allocations, and timeline activities. Bundles are yielded one by one, so a
  million accounts never sit in memory together.

Records refer to reference data by natural key (region code, SKU, username) and
to each other by *local* ids, numbered from 1 per kind in generation order; a
loader adds the offset of the rows already in its tables.

Every account has its own random stream, seeded from (seed, account number), so
account 17 is the same whether 100 or 1,000,000 accounts are generated. Money is
computed with ``patron.domain.money`` exactly as the services do: a line total
is quantity x net unit price rounded half-up once; order totals are sums of lines;
invoices are what is left of an order after returns; an invoice's paid amount is
the sum of its allocations.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from patron.demo import catalogue as cat
from patron.domain.money import ROUNDING, quantize, quantum

CENT = Decimal("0.01")
DAY = dt.timedelta(days=1)
# Staff who are not demo sign-ins but own accounts, so teams look like teams.
EXTRA_REPS: tuple[tuple[str, str, str], ...] = (
    ("wangfang", "王芳", "South"),
    ("sunlei", "孙磊", "South"),
    ("zhoujie", "周杰", "North"),
)
STAFF_NAMES: dict[str, str] = {
    "admin": "",
    "manager": "李明",
    "manager2": "赵强",
    "sales": "张伟",
    "sales2": "李娜",
    "sales3": "刘洋",
    "finance": "陈静",
    "marketing": "杨丽",
}
# Who owns the accounts of each team's provinces, and how many of them.
OWNER_SHARES: dict[str, tuple[tuple[str, float], ...]] = {
    "South": (("sales", 22), ("sales2", 22), ("wangfang", 22), ("sunlei", 22), ("manager", 12)),
    "North": (("sales3", 40), ("zhoujie", 40), ("manager2", 20)),
}
FINANCE_USER = "finance"
USD_RATE_GUESS = 7.2  # only to size USD orders; stored rates come from ExchangeRate records


@dataclass(frozen=True, slots=True)
class DemoSpec:
    today: dt.date
    seed: int = 42
    accounts: int = 2000
    years: int = 3
    time_zone: str = "Asia/Shanghai"
    # When given, no timestamp is later than this (records dated today stay in the past).
    now: dt.datetime | None = None
    # The shape of the history. The defaults are the demo's; the scale set
    # (patron.demo.scale.scale_spec) buys less often, has many one-off buyers and
    # a timeline of recent weeks only, so a million accounts stay loadable.
    order_rate: float = 1.0  # multiplies every account's orders per year (and its spend, so orders keep their size)
    one_off_share: float = 0.0  # share of the accounts that are not key accounts which order once and never again
    timeline_days: int | None = None  # timeline entries of the last N days only; None keeps them all
    more_lines: int = 0  # companies' orders have up to this many more lines (the same lines in fewer orders)

    def __post_init__(self) -> None:
        if self.accounts < 1:
            raise ValueError("accounts must be at least 1")
        if not 1 <= self.years <= 20:
            raise ValueError("years must be between 1 and 20")
        if not 0 < self.order_rate <= 10:
            raise ValueError("order_rate must be above 0 and at most 10")
        if not 0 <= self.one_off_share <= 1:
            raise ValueError("one_off_share must be between 0 and 1")
        if self.timeline_days is not None and self.timeline_days < 0:
            raise ValueError("timeline_days must not be negative")
        if not 0 <= self.more_lines <= 20:
            raise ValueError("more_lines must be between 0 and 20")

    @property
    def start(self) -> dt.date:
        """The first day of the history: ``years`` years before ``today``."""
        year = self.today.year - self.years
        try:
            return self.today.replace(year=year)
        except ValueError:  # 29 February
            return self.today.replace(year=year, day=28)


# --- reference records --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegionRec:
    code: str
    name_zh: str
    name_en: str
    level: str
    parent: str | None
    path: str


@dataclass(frozen=True, slots=True)
class IndustryRec:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True, slots=True)
class CategoryRec:
    code: str
    name_zh: str
    name_en: str
    parent: str | None
    path: str


@dataclass(frozen=True, slots=True)
class ProductRec:
    sku: str
    name: str
    category: str
    unit: str
    list_price: Decimal
    unit_cost: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class CustomFieldRec:
    key: str
    label_zh: str
    label_en: str
    kind: str
    choices: tuple[str, ...]
    position: int


@dataclass(frozen=True, slots=True)
class TeamRec:
    name: str
    manager: str


@dataclass(frozen=True, slots=True)
class UserRec:
    username: str
    role: str
    team: str | None
    first_name: str
    email: str
    is_staff: bool
    is_superuser: bool
    can_sign_in: bool  # demo sign-ins get the demo password; other staff none


@dataclass(frozen=True, slots=True)
class RateRec:
    currency: str
    valid_from: dt.date
    rate: Decimal


@dataclass(frozen=True)
class Reference:
    regions: tuple[RegionRec, ...]
    industries: tuple[IndustryRec, ...]
    categories: tuple[CategoryRec, ...]
    products: tuple[ProductRec, ...]
    tags: tuple[str, ...]
    custom_fields: tuple[CustomFieldRec, ...]
    teams: tuple[TeamRec, ...]
    users: tuple[UserRec, ...]
    exchange_rates: tuple[RateRec, ...]


# --- per-account records ------------------------------------------------------


@dataclass(slots=True)
class AccountRec:
    id: int
    code: str
    name: str
    kind: str
    region: str
    industry: str | None
    owner: str | None
    is_key_account: bool
    payment_terms_days: int
    credit_limit: Decimal
    preferred_channel: str
    language: str
    birthday: dt.date | None
    tax_id: str
    phone: str
    email: str
    address: str
    notes: str
    custom: dict[str, str]
    created_at: dt.datetime
    first_order_date: dt.date | None = None
    last_order_date: dt.date | None = None
    tags: tuple[str, ...] = ()
    # How the account was drawn; not stored, handy for tests and analyses.
    currency: str = "CNY"
    payer: str = "prompt"
    lapsed_on: dt.date | None = None


@dataclass(slots=True)
class ContactRec:
    id: int
    account_id: int
    name: str
    role: str
    title: str
    phone: str
    email: str
    email_consent: bool
    email_consent_at: dt.datetime | None
    sms_consent: bool
    sms_consent_at: dt.datetime | None
    is_primary: bool


@dataclass(slots=True)
class OrderRec:
    id: int
    account_id: int
    status: str
    channel: str
    currency: str
    order_date: dt.date
    list_total: Decimal
    net_total: Decimal
    note: str
    created_by: str | None
    created_at: dt.datetime
    confirmed_at: dt.datetime | None
    cancelled_at: dt.datetime | None


@dataclass(slots=True)
class OrderLineRec:
    id: int
    order_id: int
    position: int
    sku: str
    quantity: Decimal
    list_unit_price: Decimal
    net_unit_price: Decimal
    line_total: Decimal
    discounts: list[dict[str, Any]]


@dataclass(slots=True)
class ReturnRec:
    id: int
    order_id: int
    account_id: int
    return_date: dt.date
    reason: str
    currency: str
    total: Decimal
    created_by: str | None
    created_at: dt.datetime


@dataclass(slots=True)
class ReturnLineRec:
    id: int
    return_id: int
    order_line_id: int
    quantity: Decimal
    amount: Decimal


@dataclass(slots=True)
class InvoiceRec:
    id: int
    account_id: int
    order_id: int | None
    currency: str
    issue_date: dt.date
    due_date: dt.date
    amount: Decimal
    paid_amount: Decimal
    status: str
    created_by: str | None
    created_at: dt.datetime


@dataclass(slots=True)
class PaymentRec:
    id: int
    account_id: int
    currency: str
    amount: Decimal
    received_on: dt.date
    method: str
    reference: str
    created_by: str | None
    created_at: dt.datetime


@dataclass(slots=True)
class AllocationRec:
    id: int
    payment_id: int
    invoice_id: int
    amount: Decimal


@dataclass(slots=True)
class ActivityRec:
    """A timeline entry. Entries about a document carry ``event`` and the figures for
    its subject; the loader writes the subject the way the services do, with the
    document's number. Notes and calls carry their own ``subject``."""

    id: int
    account_id: int
    kind: str
    occurred_at: dt.datetime
    actor: str | None
    subject: str = ""
    body: str = ""
    ref_type: str = ""  # order, return, invoice, payment
    ref_id: int = 0  # local id of the document
    event: str = ""  # order_draft, order_confirmed, order_cancelled, return, invoice, payment
    amount: Decimal | None = None
    currency: str = ""
    due: dt.date | None = None
    order_ref: int = 0  # local order id, for a return's subject


@dataclass(slots=True)
class AccountBundle:
    account: AccountRec
    contacts: list[ContactRec] = field(default_factory=list)
    orders: list[OrderRec] = field(default_factory=list)
    lines: list[OrderLineRec] = field(default_factory=list)
    returns: list[ReturnRec] = field(default_factory=list)
    return_lines: list[ReturnLineRec] = field(default_factory=list)
    invoices: list[InvoiceRec] = field(default_factory=list)
    payments: list[PaymentRec] = field(default_factory=list)
    allocations: list[AllocationRec] = field(default_factory=list)
    activities: list[ActivityRec] = field(default_factory=list)

    def row_count(self) -> int:
        return (
            1
            + len(self.account.tags)
            + len(self.contacts)
            + len(self.orders)
            + len(self.lines)
            + len(self.returns)
            + len(self.return_lines)
            + len(self.invoices)
            + len(self.payments)
            + len(self.allocations)
            + len(self.activities)
        )


# --- reference data -----------------------------------------------------------


def _festival(table: dict[int, tuple[int, int]], year: int, default: tuple[int, int]) -> dt.date:
    month, day = table.get(year, default)
    return dt.date(year, month, day)


def spring_festival(year: int) -> dt.date:
    return _festival(cat.SPRING_FESTIVAL, year, (2, 1))


def mid_autumn(year: int) -> dt.date:
    return _festival(cat.MID_AUTUMN, year, (9, 20))


def _regions() -> tuple[RegionRec, ...]:
    rows = [RegionRec("CN", "中国", "China", "country", None, "CN/")]
    for p in cat.PROVINCES:
        rows.append(RegionRec(p.code, p.zh, p.en, "province", "CN", f"CN/{p.code}/"))
        for c in p.cities:
            code = f"{p.code}-{c.code}"
            rows.append(RegionRec(code, c.zh, c.en, "city", p.code, f"CN/{p.code}/{code}/"))
    return tuple(rows)


def _products(seed: int) -> tuple[tuple[CategoryRec, ...], tuple[ProductRec, ...]]:
    rng = random.Random(f"{seed}:catalogue")
    categories = [CategoryRec(code, zh, en, None, f"{code}/") for code, zh, en in cat.TOP_CATEGORIES]
    products: list[ProductRec] = []
    for code, parent, zh, en, _gift, cost_ratio in cat.SUBCATEGORIES:
        categories.append(CategoryRec(code, zh, en, parent, f"{parent}/{code}/"))
        n = 0
        for name, unit, price in cat.BASE_PRODUCTS[code]:
            for suffix, variant_unit, factor in cat.VARIANTS.get(code, (("", "", "1"),)):
                n += 1
                list_price = (Decimal(price) * Decimal(factor)).quantize(Decimal(1), ROUND_HALF_UP)
                if list_price >= 100:
                    list_price -= Decimal(rng.choice((0, 0, 2, 10)))  # prices end in 8 or 0, as shops like
                ratio = Decimal(str(round(cost_ratio + rng.uniform(-0.06, 0.06), 3)))
                products.append(
                    ProductRec(
                        sku=f"{code}-{n:02d}",
                        name=f"{name} {suffix}".strip(),
                        category=code,
                        unit=variant_unit or unit,
                        list_price=list_price.quantize(CENT),
                        unit_cost=(list_price * ratio).quantize(CENT, ROUND_HALF_UP),
                        currency="CNY",
                    )
                )
    for n, (code, name, unit, price) in enumerate(cat.EXPORT_PRODUCTS, start=1):
        list_price = Decimal(price)
        products.append(
            ProductRec(
                sku=f"EXP-{n:02d}",
                name=name,
                category=code,
                unit=unit,
                list_price=list_price,
                unit_cost=(list_price * Decimal("0.55")).quantize(CENT, ROUND_HALF_UP),
                currency="USD",
            )
        )
    return tuple(categories), tuple(products)


def _rates(spec: DemoSpec) -> tuple[RateRec, ...]:
    """Monthly USD->CNY rates from the month before the history starts: a walk in 7.10-7.30."""
    rng = random.Random(f"{spec.seed}:rates")
    month = spec.start.replace(day=1) - DAY
    month = month.replace(day=1)
    rate = 7.15 + rng.uniform(-0.03, 0.05)
    rows = []
    while month <= spec.today:
        rows.append(RateRec("USD", month, Decimal(f"{rate:.4f}")))
        rate = min(7.30, max(7.10, rate + rng.gauss(0, 0.025)))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return tuple(rows)


def _users() -> tuple[tuple[TeamRec, ...], tuple[UserRec, ...]]:
    from patron.web.demo_users import DEMO_USERS  # constants only, no Django

    users = [
        UserRec(
            username=username,
            role=role,
            team=team,
            first_name=STAFF_NAMES.get(username, ""),
            email=f"{username}@patron.example",
            is_staff=role == "admin",
            is_superuser=role == "admin",
            can_sign_in=True,
        )
        for username, role, team in DEMO_USERS
    ]
    users += [
        UserRec(username, "salesperson", team, name, f"{username}@patron.example", False, False, False)
        for username, name, team in EXTRA_REPS
    ]
    managers = {u.team: u.username for u in users if u.role == "sales_manager" and u.team}
    teams = tuple(TeamRec(name, managers[name]) for name in sorted(managers))
    return teams, tuple(users)


def reference_data(spec: DemoSpec) -> Reference:
    categories, products = _products(spec.seed)
    teams, users = _users()
    return Reference(
        regions=_regions(),
        industries=tuple(IndustryRec(i.code, i.zh, i.en) for i in cat.INDUSTRIES),
        categories=categories,
        products=products,
        tags=cat.TAGS,
        custom_fields=(
            CustomFieldRec("value_positioning", "价值定位", "Value positioning", "choice", cat.VALUE_POSITIONING, 1),
            CustomFieldRec("purchasing_standard", "采购标准", "Purchasing standard", "text", (), 2),
            CustomFieldRec("annual_budget", "年度预算", "Annual budget", "number", (), 3),
            CustomFieldRec("contract_renewal", "续约日期", "Contract renewal", "date", (), 4),
        ),
        teams=teams,
        users=users,
        exchange_rates=_rates(spec),
    )


# --- seasonality --------------------------------------------------------------

# Demand by month, before festivals: quiet February, busy fourth quarter.
MONTH_FACTOR = (1.10, 0.75, 0.95, 1.0, 1.0, 1.05, 0.90, 0.90, 1.05, 1.15, 1.30, 1.35)


def season_factor(day: dt.date) -> float:
    """Business demand on ``day`` relative to an average day (weekdays of a company)."""
    factor = MONTH_FACTOR[day.month - 1]
    for festival in (spring_festival(day.year), spring_festival(day.year + 1)):
        before = (festival - day).days
        if 3 <= before <= 30:
            factor *= 1.8  # stocking up for the Spring Festival
        elif -10 <= before <= 2:
            factor *= 0.25  # the holiday itself
    if day.month == 10 and day.day <= 7:
        factor *= 0.4  # National Day week
    return factor


def _gift_season(day: dt.date) -> bool:
    for festival in (spring_festival(day.year), spring_festival(day.year + 1), mid_autumn(day.year)):
        if 3 <= (festival - day).days <= 30:
            return True
    return False


class _Calendar:
    """Demand per day for each buyer profile, over the whole history, computed once."""

    PROFILES = ("company", "ecommerce", "person")

    def __init__(self, start: dt.date, end: dt.date) -> None:
        self.start = start
        self.days = (end - start).days + 1
        tables: dict[str, list[float]] = {p: [] for p in self.PROFILES}
        self.gift: list[bool] = []
        for i in range(self.days):
            day = start + dt.timedelta(days=i)
            base = season_factor(day)
            weekday = day.weekday()
            company = base * (1.0 if weekday < 5 else 0.5 if weekday == 5 else 0.25)
            tables["company"].append(company)
            double11 = (day.month == 10 and day.day >= 15) or (day.month == 11 and day.day <= 8)
            tables["ecommerce"].append(company * (1.9 if double11 else 1.0))
            tables["person"].append(base * (1.3 if weekday >= 5 else 1.0))
            self.gift.append(_gift_season(day))
        self.tables = tables
        self.peak = {p: max(t) for p, t in tables.items()}
        self.mean = {p: sum(t) / len(t) for p, t in tables.items()}


# --- helpers ------------------------------------------------------------------

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


_USCC_VALUES = {ch: i for i, ch in enumerate(USCC_CHARS)}


def uscc(prefix: str, body: str) -> str:
    """A unified social credit code (统一社会信用代码) with its GB 32100 check character."""
    code = prefix + body
    values = _USCC_VALUES
    total = sum([values[ch] * w for ch, w in zip(code, USCC_WEIGHTS, strict=True)])
    return code + USCC_CHARS[(31 - total % 31) % 31]


_QUANTA: dict[str, Decimal] = {}


def _round(amount: Decimal, currency: str) -> Decimal:
    """``patron.domain.money.quantize`` with the currency's quantum looked up once: the same rule, the same result."""
    q = _QUANTA.get(currency)
    if q is None:
        q = _QUANTA[currency] = quantum(currency)
    return amount.quantize(q, rounding=ROUNDING)


# Small, fast draws: ``random.Random`` methods like randint and choices cost a few
# microseconds each, which adds up over millions of draws.


def _weighted(rng: random.Random, items: Sequence[Any], cum: Sequence[float]) -> Any:
    return items[bisect.bisect(cum, rng.random() * cum[-1])]


def _pick(rng: random.Random, items: Sequence[Any]) -> Any:
    return items[int(rng.random() * len(items))]


def _between(rng: random.Random, low: int, high: int) -> int:
    """An integer in [low, high], both included."""
    return low + int(rng.random() * (high - low + 1))


def _below(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


def _cum(weights: Sequence[float]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


@dataclass(slots=True)
class _Traits:
    """How one account buys and pays; drawn once, used for every order."""

    spend: float  # expected yearly spend in the order currency
    frequency: float  # expected orders per year
    profile: str
    currency: str
    affinity_cum: list[float]
    favourites: list[ProductRec]
    channel: str
    discount_share: float
    discount_range: tuple[int, int]
    lines: tuple[int, int]
    payer: str
    statement: bool
    methods: tuple[tuple[str, ...], list[float]]
    one_off: bool = False  # orders once and never again


class _Generator:
    def __init__(self, spec: DemoSpec, ref: Reference) -> None:
        self.spec = spec
        self.tz = ZoneInfo(spec.time_zone)
        self.calendar = _Calendar(spec.start, spec.today)
        self.ids: dict[str, int] = {}
        self.cities = [(p, c) for p in cat.PROVINCES for c in p.cities]
        self.city_cum = _cum([p.weight * c.weight / sum(x.weight for x in p.cities) for p, c in self.cities])
        self.industry_cum = _cum([i.weight for i in cat.INDUSTRIES])
        self.owner_cum = {team: _cum([w for _, w in shares]) for team, shares in OWNER_SHARES.items()}
        top_of = {code: parent for code, parent, *_ in cat.SUBCATEGORIES}
        gift_codes = {code for code, _, _, _, gift, _ in cat.SUBCATEGORIES if gift}
        self.by_top: dict[str, list[ProductRec]] = {code: [] for code, _, _ in cat.TOP_CATEGORIES}
        self.gifts: list[ProductRec] = []
        self.export: list[ProductRec] = []
        for p in ref.products:
            if p.currency != "CNY":
                self.export.append(p)
                continue
            self.by_top[top_of[p.category]].append(p)
            if p.category in gift_codes:
                self.gifts.append(p)
        self.tops = [code for code, _, _ in cat.TOP_CATEGORIES]
        self.heavy = {p.sku for p in self.by_top["EQUIP"]}
        self.float_prices = {p.sku: float(p.list_price) for p in ref.products}
        # Lists drawn from for every account, built once (the same floats as building them each time).
        self.span = (spec.today - spec.start).days
        self.owners = {team: [u for u, _ in shares] for team, shares in OWNER_SHARES.items()}
        self.forms = [f for f, _ in cat.COMPANY_FORMS]
        self.cums = {
            "forms": _cum([w for _, w in cat.COMPANY_FORMS]),
            "person channel": _cum((50, 30, 20)),
            "company channel False": _cum((35, 30, 20, 15 + 25 * False)),
            "company channel True": _cum((35, 30, 20, 15 + 25 * True)),
            "terms False": _cum((6, 2.5, 1.5 + 3 * False)),
            "terms True": _cum((6, 2.5, 1.5 + 3 * True)),
            "person order channel": _cum((55, 35, 10)),
            "person methods": _cum((50, 35, 15)),
            "company order channel": _cum((60, 25, 15)),
            "payers": _cum((65, 20, 7, 6, 2)),
            "methods 25": _cum((60, 25, 10, 8, 4, 5)),
            "methods 6": _cum((60, 6, 10, 8, 4, 5)),
        }
        # The first moment the timeline keeps (midnight, local time), or None for all of it.
        self.timeline_since: dt.datetime | None = None
        if spec.timeline_days is not None:
            first_day = spec.today - dt.timedelta(days=spec.timeline_days)
            self.timeline_since = dt.datetime.combine(first_day, dt.time(), tzinfo=self.tz)

    # ids and times

    def _id(self, kind: str) -> int:
        value = self.ids.get(kind, 0) + 1
        self.ids[kind] = value
        return value

    def _at(self, rng: random.Random, day: dt.date, first_hour: int = 9, last_hour: int = 18) -> dt.datetime:
        second = first_hour * 3600 + int(rng.random() * (last_hour - first_hour) * 3600)
        moment = dt.datetime(
            day.year, day.month, day.day, second // 3600, second // 60 % 60, second % 60, tzinfo=self.tz
        )
        if self.spec.now is not None and moment > self.spec.now:
            moment = self.spec.now
        return moment

    # the account

    def _person_name(self, rng: random.Random) -> tuple[str, str, str]:
        """Surname and one given character (three in ten) or two; with their pinyin."""
        surname, s_py = _pick(rng, cat.SURNAMES)
        if rng.random() < 0.3:
            given, g_py = _pick(rng, cat.GIVEN)
            return surname + given, s_py, g_py
        (g1, p1), (g2, p2) = _pick(rng, cat.GIVEN), _pick(rng, cat.GIVEN)
        return surname + g1 + g2, s_py, p1 + p2

    def _mobile(self, rng: random.Random) -> str:
        return f"1{_pick(rng, '35789')}{_below(rng, 10**9):09d}"

    def account(self, index: int, rng: random.Random) -> tuple[AccountRec, _Traits]:
        spec = self.spec
        province, city = _weighted(rng, self.cities, self.city_cum)
        is_person = rng.random() < 0.10
        industry = None if is_person else _weighted(rng, cat.INDUSTRIES, self.industry_cum)
        is_key = not is_person and rng.random() < 0.09
        owner = _weighted(rng, self.owners[province.team], self.owner_cum[province.team])
        place = f"{province.zh}市{city.zh}" if province.municipality else f"{province.zh}省{city.zh}市"
        address = f"{place}{_pick(rng, cat.ROADS)}{_between(rng, 1, 999)}号"
        if rng.random() < 0.3:
            address += f"{_pick(rng, 'ABCD')}座{_between(rng, 2, 28)}{_between(rng, 1, 20):02d}室"
        currency = "CNY"
        birthday = None
        if is_person:
            name, s_py, g_py = self._person_name(rng)
            phone = self._mobile(rng)
            email = f"{g_py}{s_py}{_between(rng, 1, 999)}@{_pick(rng, cat.PERSONAL_MAIL)}" if rng.random() < 0.7 else ""
            tax_id = ""
            birthday = dt.date(_between(rng, 1962, 2003), _between(rng, 1, 12), _between(rng, 1, 28))
            language = "zh-hans"
            channel = _weighted(rng, ("wechat", "sms", "phone"), self.cums["person channel"])
        else:
            assert industry is not None
            (b1, p1), (b2, p2) = rng.sample(cat.BRAND, 2)
            suffix, slug = _pick(rng, industry.suffixes)
            form = _weighted(rng, self.forms, self.cums["forms"])
            prefix = province.zh if province.municipality else city.zh + ("市" if rng.random() < 0.5 else "")
            name = f"{prefix}{b1}{b2}{suffix}{form}"
            domain = f"{p1}{p2}{slug}.{_pick(rng, ('com', 'cn', 'com.cn'))}"
            phone = f"{city.area_code}-{_between(rng, 10**7, 10**8 - 1)}"
            email = f"{_pick(rng, ('info', 'sales', 'service', 'contact'))}@{domain}"
            rand = rng.random
            body = "".join([USCC_CHARS[int(rand() * 31)] for _ in range(9)])  # _pick, nine times
            tax_id = uscc("91" + city.admin_code, body)
            if industry.code in ("MANUFACTURING", "ECOMMERCE", "WHOLESALE") and rng.random() < 0.08:
                currency = "USD"
            language = "en" if currency == "USD" else "zh-hans"
            channel = _weighted(rng, ("phone", "wechat", "email", "visit"), self.cums[f"company channel {is_key}"])

        # spend and rhythm
        if is_person:
            spend = rng.lognormvariate(math.log(3000), 0.8)
            frequency = min(24.0, max(1.0, rng.lognormvariate(math.log(3), 0.6)))
            profile = "person"
        else:
            assert industry is not None
            spend = rng.lognormvariate(math.log(60000 * industry.spend), 1.1) * (6 if is_key else 1)
            median_freq = (18 if is_key else 8) * industry.frequency
            frequency = min(60.0, max(1.0, rng.lognormvariate(math.log(median_freq), 0.5)))
            profile = "ecommerce" if industry.code == "ECOMMERCE" else "company"
        if currency == "USD":
            spend /= USD_RATE_GUESS
        if spec.order_rate != 1.0:
            frequency *= spec.order_rate
            spend *= spec.order_rate
        terms = 0 if is_person else _weighted(rng, (30, 60, 90), self.cums[f"terms {is_key}"])

        # history: first purchase, lapse, prospects without orders
        span = self.span
        prospect = rng.random() < 0.04
        first: dt.date | None = None
        lapsed_on = None
        if prospect:
            created = spec.today - dt.timedelta(days=_between(rng, 3, min(span, 540)))
        else:
            first = spec.start + dt.timedelta(days=int(rng.random() * max(1, span - 2)))
            created = first - dt.timedelta(days=1 + int(rng.expovariate(1 / 14)))
            tenure = (spec.today - first).days
            if tenure > 270 and rng.random() < 0.18:
                candidate = spec.today - dt.timedelta(days=_between(rng, 180, 540))
                if candidate > first + dt.timedelta(days=60):
                    lapsed_on = candidate
        created_at = self._at(rng, created, 8, 18)

        # tags and custom fields
        tags: list[str] = []
        if is_key and rng.random() < 0.6:
            tags.append("VIP")
        if industry is not None and industry.code in ("RETAIL", "RESTAURANT", "HOTEL") and rng.random() < 0.15:
            tags.append("连锁")
        if rng.random() < 0.08:
            tags.append("展会客户")
        price_sensitive = rng.random() < 0.12
        if price_sensitive:
            tags.append("价格敏感")
        contract = not is_person and rng.random() < (0.5 if is_key else 0.06)
        if contract:
            tags.append("年度合同")
        if (spec.today - created).days < 120 and rng.random() < 0.5:
            tags.append("新开业")
        if (industry is not None and industry.code == "ECOMMERCE" and rng.random() < 0.7) or (
            is_person and rng.random() < 0.2
        ):
            tags.append("线上渠道")
        if not is_key and spend > 150000 and rng.random() < 0.3:
            tags.append("重点培育")
        if rng.random() < 0.08:
            tags.append("节日礼品")
        if currency == "USD":
            tags.append("出口")

        custom: dict[str, str] = {}
        if not is_person:
            if is_key or rng.random() < 0.5:
                custom["value_positioning"] = "price" if price_sensitive else _pick(rng, cat.VALUE_POSITIONING)
            if is_key or rng.random() < 0.25:
                custom["purchasing_standard"] = _pick(rng, cat.PURCHASING_STANDARDS)
            if is_key or rng.random() < 0.3:
                yearly_cny = spend * (USD_RATE_GUESS if currency == "USD" else 1)
                custom["annual_budget"] = str(max(5000, int(round(yearly_cny * rng.uniform(0.9, 1.6), -3))))
            if contract:
                renewal = spec.today + dt.timedelta(days=_between(rng, -60, 330))
                custom["contract_renewal"] = renewal.isoformat()

        monthly_cny = spend * (USD_RATE_GUESS if currency == "USD" else 1) / 12
        floor = 50000 if is_key else 10000
        credit = 0 if is_person else max(floor, int(round(monthly_cny * max(terms, 30) / 30 * 1.5, -4)))
        notes = _pick(rng, cat.ACCOUNT_NOTES) if (is_key or rng.random() < 0.1) and not is_person else ""

        affinity = cat.PERSON_AFFINITY if industry is None else industry.affinity
        affinity_cum = _cum(affinity)
        favourites = [self._any_product(rng, affinity_cum, currency) for _ in range(_between(rng, 3, 10))]
        if is_person:
            order_channel = _weighted(rng, ("web_shop", "store", "phone"), self.cums["person order channel"])
            lines = (1, 3)
            discount = (0.05, (5, 10))
            payer = "immediate"
            person_methods = ("wechat_pay", "alipay", "cash")
            methods: tuple[tuple[str, ...], list[float]] = (person_methods, self.cums["person methods"])
        else:
            assert industry is not None
            order_channel = _weighted(rng, ("sales_rep", "phone", "web_shop"), self.cums["company order channel"])
            lines = (2, 7 + spec.more_lines) if is_key else (1, 4 + spec.more_lines)
            if is_key:
                discount = (0.7, (3, 12))
            elif industry.code == "WHOLESALE":
                discount = (0.6, (5, 15))
            else:
                discount = (0.15, (2, 8))
            payer = _weighted(rng, ("prompt", "late", "slow", "partial", "bad"), self.cums["payers"])
            if currency == "USD":
                methods = (("bank_transfer",), [1.0])
            else:
                bills = 25 if is_key or industry.code == "MANUFACTURING" else 6
                methods = (
                    ("bank_transfer", "acceptance_bill", "wechat_pay", "alipay", "cheque", "cash"),
                    self.cums[f"methods {bills}"],
                )
        traits = _Traits(
            spend=spend,
            frequency=frequency,
            profile=profile,
            currency=currency,
            affinity_cum=affinity_cum,
            favourites=favourites,
            channel=order_channel,
            discount_share=discount[0],
            discount_range=discount[1],
            lines=lines,
            payer=payer,
            statement=is_key and payer in ("prompt", "late") and rng.random() < 0.5,
            methods=methods,
        )
        if spec.one_off_share and not is_key:  # no draw for the demo, whose streams stay as they were
            traits.one_off = rng.random() < spec.one_off_share
        account = AccountRec(
            id=index + 1,
            code=f"C{index + 1:06d}",
            name=name,
            kind="person" if is_person else "company",
            region=f"{province.code}-{city.code}",
            industry=industry.code if industry else None,
            owner=owner,
            is_key_account=is_key,
            payment_terms_days=terms or 30,
            credit_limit=Decimal(credit).quantize(CENT),
            preferred_channel=channel,
            language=language,
            birthday=birthday,
            tax_id=tax_id,
            phone=phone,
            email=email,
            address=address,
            notes=notes,
            custom=custom,
            created_at=created_at,
            first_order_date=first,  # replaced by the confirmed orders' dates below
            tags=tuple(tags),
            currency=currency,
            payer=payer,
            lapsed_on=lapsed_on,
        )
        return account, traits

    def contacts(self, rng: random.Random, account: AccountRec) -> list[ContactRec]:
        if account.kind == "person":
            specs: list[str] = ["other"]
        elif account.is_key_account:
            specs = ["decider", "buyer", "influencer", "finance", "user"][: _between(rng, 3, 5)]
            if rng.random() < 0.35:
                specs.append(_pick(rng, ("buyer", "user", "influencer")))
        else:
            specs = [_pick(rng, ("buyer", "buyer", "decider"))]
            if rng.random() < 0.45:
                specs.append(_pick(rng, ("finance", "decider", "user")))
        primary = 0
        if account.is_key_account and rng.random() < 0.5:
            primary = 1  # the buyer is the day-to-day contact
        domain = account.email.partition("@")[2]
        rows: list[ContactRec] = []
        used: set[str] = set()
        for position, role in enumerate(specs):
            if account.kind == "person":
                name, phone, email = account.name, account.phone, account.email
                title = ""
            else:
                name, s_py, g_py = self._person_name(rng)
                while name in used:
                    name, s_py, g_py = self._person_name(rng)
                phone = self._mobile(rng) if rng.random() < 0.95 else ""
                email = f"{g_py}.{s_py}@{domain}" if domain and rng.random() < 0.8 else ""
                title = _pick(rng, cat.CONTACT_TITLES[role])
            used.add(name)
            email_consent = bool(email) and rng.random() < 0.55
            sms_consent = bool(phone) and rng.random() < 0.45
            rows.append(
                ContactRec(
                    id=self._id("contact"),
                    account_id=account.id,
                    name=name,
                    role=role,
                    title=title,
                    phone=phone,
                    email=email,
                    email_consent=email_consent,
                    email_consent_at=self._consent_at(rng, account) if email_consent else None,
                    sms_consent=sms_consent,
                    sms_consent_at=self._consent_at(rng, account) if sms_consent else None,
                    is_primary=position == primary,
                )
            )
        return rows

    def _consent_at(self, rng: random.Random, account: AccountRec) -> dt.datetime:
        day = account.created_at.date() + dt.timedelta(days=_between(rng, 0, 90))
        return self._at(rng, min(day, self.spec.today))

    # products and orders

    def _any_product(self, rng: random.Random, affinity_cum: list[float], currency: str) -> ProductRec:
        if currency != "CNY":
            return _pick(rng, self.export)
        return _pick(rng, self.by_top[_weighted(rng, self.tops, affinity_cum)])

    def _order_dates(self, rng: random.Random, account: AccountRec, traits: _Traits) -> list[dt.date]:
        """Orders as a Poisson process thinned by the seasonal demand curve."""
        first = account.first_order_date
        if first is None:
            return []
        if traits.one_off:
            return [first]
        cal = self.calendar
        table = cal.tables[traits.profile]
        peak = cal.peak[traits.profile]
        rate = traits.frequency / 365 / cal.mean[traits.profile]  # orders per day at demand 1.0
        start = (first - cal.start).days
        end_day = account.lapsed_on or self.spec.today
        end = (end_day - cal.start).days + 1
        dates = [first]
        t = float(start)
        while True:
            t += rng.expovariate(rate * peak)
            if t >= end:
                break
            d = int(t)
            if d > start and rng.random() * peak < table[d]:
                dates.append(cal.start + dt.timedelta(days=d))
        return dates

    def _lines(
        self, rng: random.Random, order_id: int, day: dt.date, traits: _Traits, account: AccountRec, target: float
    ) -> list[OrderLineRec]:
        # The hottest loop of the generator (10 million lines at scale): draws are taken
        # inline (rand() instead of _pick and friends, the same numbers in the same order).
        rand = rng.random
        cur = traits.currency
        count = _between(rng, *traits.lines)
        per_line = target / count
        gift_season = cur == "CNY" and self.calendar.gift[(day - self.calendar.start).days]
        company_gifts = gift_season and account.kind == "company"
        gifts, favourites, heavy, prices = self.gifts, traits.favourites, self.heavy, self.float_prices
        ids = self.ids
        rows: list[OrderLineRec] = []
        used: set[str] = set()
        for _ in range(count):
            product = None
            for _attempt in range(4):
                if company_gifts and rand() < 0.3:
                    candidate = gifts[int(rand() * len(gifts))]
                elif rand() < 0.7:
                    candidate = favourites[int(rand() * len(favourites))]
                else:
                    candidate = self._any_product(rng, traits.affinity_cum, cur)
                sku = candidate.sku
                if sku in used:
                    continue
                if sku in heavy and prices[sku] > 2 * per_line and rand() < 0.9:
                    continue  # a machine only now and then, on small orders
                product = candidate
                break
            if product is None:
                continue
            sku = product.sku
            used.add(sku)
            raw = per_line / prices[sku] * rng.lognormvariate(0, 0.3)
            if product.unit == "kg":
                quantity = Decimal(max(1, round(raw * 2))) / 2
            else:
                quantity = Decimal(min(2000, max(1, round(raw))))
            list_price = product.list_price
            net = list_price
            breakdown: list[dict[str, Any]] = []
            if rand() < traits.discount_share:
                pct = Decimal(_between(rng, *traits.discount_range))
                net = (list_price * (100 - pct) / 100).quantize(CENT, ROUND_HALF_UP)
                off = list_price - net
                breakdown.append(
                    {
                        "source": "manual",
                        "per_unit": str(off.quantize(Decimal("0.0001"))),
                        "amount": str(_round(off * quantity, cur)),
                        "percent": str((off / list_price * 100).quantize(CENT)),
                    }
                )
            line_id = ids["line"] = ids.get("line", 0) + 1
            # line_total is line_amount(quantity, Money(net, cur)): net x quantity rounded once
            total = _round(net * quantity, cur)
            position = len(rows) + 1
            rows.append(OrderLineRec(line_id, order_id, position, sku, quantity, list_price, net, total, breakdown))
        return rows

    def bundle(self, index: int) -> AccountBundle:
        spec = self.spec
        rng = random.Random(f"{spec.seed}:{index}")
        account, traits = self.account(index, rng)
        bundle = AccountBundle(account=account, contacts=self.contacts(rng, account))
        today = spec.today
        cur = traits.currency
        finance = FINANCE_USER
        events: list[ActivityRec] = []
        confirmed: list[OrderRec] = []
        mean_order = traits.spend / traits.frequency

        since = self.timeline_since

        def activity(kind: str, at: dt.datetime, actor: str | None, **extra: Any) -> None:
            if since is None or at >= since:
                events.append(ActivityRec(0, account.id, kind, at, actor, **extra))

        for day in self._order_dates(rng, account, traits):
            order_id = self._id("order")
            lines = self._lines(rng, order_id, day, traits, account, mean_order * rng.lognormvariate(-0.1, 0.45))
            if not lines:
                continue
            channel = traits.channel if rng.random() < 0.85 else _pick(rng, ("sales_rep", "phone", "web_shop"))
            if account.kind == "person" and channel == "sales_rep":
                channel = "store"
            created_by = None if channel == "web_shop" else account.owner
            created_at = self._at(rng, day)
            status = "confirmed"
            if (today - day).days <= 14 and rng.random() < 0.08:
                status = "draft"
            elif rng.random() < 0.015:
                status = "cancelled"
            note = ""
            if 3 <= (spring_festival(day.year + (day.month > 6)) - day).days <= 30 and rng.random() < 0.3:
                note = "春节备货"
            elif traits.profile == "ecommerce" and day.month in (10, 11) and rng.random() < 0.4:
                note = "双十一备货"
            elif rng.random() < 0.03:
                note = "加急，请尽快发货"
            order = OrderRec(
                id=order_id,
                account_id=account.id,
                status=status,
                channel=channel,
                currency=cur,
                order_date=day,
                # line_amount() at list prices, as order_create sums them; quantize() is its rounding step
                list_total=sum([_round(ln.list_unit_price * ln.quantity, cur) for ln in lines], Decimal(0)),
                net_total=sum((ln.line_total for ln in lines), Decimal(0)),
                note=note,
                created_by=created_by,
                created_at=created_at,
                confirmed_at=None,
                cancelled_at=None,
            )
            bundle.orders.append(order)
            bundle.lines.extend(lines)
            money = {"amount": order.net_total, "currency": cur, "ref_type": "order", "ref_id": order_id}
            if status == "draft":
                activity("order", created_at, created_by, event="order_draft", **money)
                continue
            if status == "cancelled":
                cancelled_day = min(today, day + dt.timedelta(days=_between(rng, 0, 5)))
                order.cancelled_at = max(created_at, self._at(rng, cancelled_day))
                activity("order", created_at, created_by, event="order_draft", **money)
                activity("order", order.cancelled_at, created_by, event="order_cancelled", **money)
                continue
            order.confirmed_at = min(
                created_at + dt.timedelta(minutes=_between(rng, 1, 180)), self._at(rng, day, 23, 24)
            )
            activity("order", order.confirmed_at, created_by, event="order_confirmed", **money)
            confirmed.append(order)

            # a return now and then, soon after delivery and before the invoice
            returned = Decimal(0)
            return_day = day + dt.timedelta(days=_between(rng, 2, 20))
            if rng.random() < 0.05 and return_day <= today:
                ret_id = self._id("return")
                picked = rng.sample(lines, 2 if len(lines) > 2 and rng.random() < 0.2 else 1)
                ret_lines = []
                for ln in picked:
                    qty = ln.quantity if ln.quantity <= 2 else Decimal(_between(rng, 1, max(1, int(ln.quantity) // 3)))
                    amount = _round(ln.net_unit_price * qty, cur)  # line_amount(qty, Money(net, cur))
                    ret_lines.append(ReturnLineRec(self._id("return_line"), ret_id, ln.id, qty, amount))
                total = sum((r.amount for r in ret_lines), Decimal(0))
                ret_at = self._at(rng, return_day)
                reason = _pick(rng, cat.RETURN_REASONS)
                bundle.returns.append(
                    ReturnRec(ret_id, order_id, account.id, return_day, reason, cur, total, account.owner, ret_at)
                )
                bundle.return_lines.extend(ret_lines)
                activity(
                    "return",
                    ret_at,
                    account.owner,
                    event="return",
                    body=reason,
                    amount=total,
                    currency=cur,
                    ref_type="return",
                    ref_id=ret_id,
                    order_ref=order_id,
                )
                returned = total

            # the invoice: what is left of the order after returns
            invoiceable = order.net_total - returned
            issue = day if account.kind == "person" else day + dt.timedelta(days=_pick(rng, (0, 0, 1, 2, 3, 5, 7)))
            if returned:
                issue = max(issue, return_day)
            if invoiceable <= 0 or issue > today or rng.random() < 0.03:
                continue
            due = issue + dt.timedelta(days=account.payment_terms_days)
            invoice = InvoiceRec(
                id=self._id("invoice"),
                account_id=account.id,
                order_id=order_id,
                currency=cur,
                issue_date=issue,
                due_date=due,
                amount=invoiceable,
                paid_amount=Decimal(0),
                status="open",
                created_by=finance,
                created_at=self._at(rng, issue, 9, 12),
            )
            bundle.invoices.append(invoice)
            activity(
                "invoice",
                invoice.created_at,
                finance,
                event="invoice",
                amount=invoiceable,
                currency=cur,
                due=due,
                ref_type="invoice",
                ref_id=invoice.id,
            )

        if confirmed:
            account.first_order_date = min(o.order_date for o in confirmed)
            account.last_order_date = max(o.order_date for o in confirmed)
        else:
            account.first_order_date = None
            account.last_order_date = None

        self._payments(rng, bundle, traits, activity)
        self._touches(rng, bundle, activity)

        events.sort(key=lambda a: (a.occurred_at, a.ref_id))
        for event in events:
            event.id = self._id("activity")
        bundle.activities = events
        return bundle

    # payments

    def _pay_date(self, rng: random.Random, payer: str, invoice: InvoiceRec) -> dt.date | None:
        if rng.random() < 0.1:  # nobody is perfectly regular
            payer = {"prompt": "late", "late": "prompt", "slow": "late", "bad": "slow"}.get(payer, payer)
        terms = (invoice.due_date - invoice.issue_date).days
        if payer == "immediate":
            return invoice.issue_date
        if payer == "prompt":
            return invoice.issue_date + dt.timedelta(days=int(terms * rng.uniform(0.3, 1.0)))
        if payer == "late":
            return invoice.due_date + dt.timedelta(days=_between(rng, 3, 60))
        if payer == "slow":
            return invoice.due_date + dt.timedelta(days=_between(rng, 40, 180))
        if payer == "bad":
            return None if rng.random() < 0.6 else invoice.due_date + dt.timedelta(days=_between(rng, 60, 240))
        return invoice.due_date + dt.timedelta(days=_between(rng, -5, 20))  # partial payers, first part

    def _payments(self, rng: random.Random, bundle: AccountBundle, traits: _Traits, activity: Any) -> None:
        account = bundle.account
        today = self.spec.today
        cur = traits.currency
        plan: list[tuple[dt.date, list[tuple[InvoiceRec, Decimal]]]] = []
        if traits.statement:
            # Key accounts on monthly statements (月结): one payment for a month's invoices.
            months: dict[tuple[int, int], list[InvoiceRec]] = {}
            for inv in bundle.invoices:
                months.setdefault((inv.issue_date.year, inv.issue_date.month), []).append(inv)
            for invoices in months.values():
                pay = self._pay_date(rng, traits.payer, invoices[-1])
                if pay is not None:
                    plan.append((pay, [(inv, inv.amount) for inv in invoices]))
        else:
            for inv in bundle.invoices:
                pay = self._pay_date(rng, traits.payer, inv)
                if pay is None:
                    continue
                if traits.payer == "partial" and inv.amount >= 200 and rng.random() < 0.7:
                    first = quantize(inv.amount * Decimal(_between(rng, 30, 70)) / 100, cur)
                    later = inv.due_date + dt.timedelta(days=_between(rng, 30, 150))
                    plan.append((pay, [(inv, first)]))
                    plan.append((later, [(inv, inv.amount - first)]))
                else:
                    plan.append((pay, [(inv, inv.amount)]))
        plan.sort(key=lambda item: (item[0], item[1][0][0].id))
        methods, method_cum = traits.methods
        for day, parts in plan:
            day = max(day, max(inv.issue_date for inv, _ in parts))
            if day > today:
                continue  # not received yet: the invoice stays open, overdue once past its due date
            method = _weighted(rng, methods, method_cum)
            collected = method in ("cash", "wechat_pay") and account.kind == "company" and rng.random() < 0.5
            created_by = account.owner if collected else FINANCE_USER
            payment = PaymentRec(
                id=self._id("payment"),
                account_id=account.id,
                currency=cur,
                amount=sum((amount for _, amount in parts), Decimal(0)),
                received_on=day,
                method=method,
                reference=self._reference(rng, method, day),
                created_by=created_by,
                created_at=self._at(rng, day, 10, 18),
            )
            bundle.payments.append(payment)
            for inv, amount in parts:
                bundle.allocations.append(AllocationRec(self._id("allocation"), payment.id, inv.id, amount))
                inv.paid_amount += amount
            activity(
                "payment",
                payment.created_at,
                created_by,
                event="payment",
                amount=payment.amount,
                currency=cur,
                ref_type="payment",
                ref_id=payment.id,
            )
        for inv in bundle.invoices:
            inv.status = "paid" if inv.paid_amount == inv.amount else "open"

    def _reference(self, rng: random.Random, method: str, day: dt.date) -> str:
        ymd = day.isoformat().replace("-", "")  # what {day:%Y%m%d} gives, at a fifth of the time
        if method == "bank_transfer":
            return f"TT{ymd}{_below(rng, 10**6):06d}"
        if method == "acceptance_bill":
            return f"BA{_below(rng, 10**12):012d}"
        if method == "alipay":
            return f"{ymd}2200{_below(rng, 10**12):012d}"
        if method == "wechat_pay":
            return f"4200{ymd}{_below(rng, 10**10):010d}"
        if method == "cheque":
            return f"CHQ{_below(rng, 10**8):08d}"
        return ""

    # calls, meetings, notes and emails

    def _touches(self, rng: random.Random, bundle: AccountBundle, activity: Any) -> None:
        account = bundle.account
        today = self.spec.today
        start = account.created_at.date()
        if self.timeline_since is not None:
            start = max(start, self.timeline_since.date())
        months = max(1, (today - start).days // 30)
        if account.lapsed_on is not None:
            months = max(1, (account.lapsed_on - start).days // 30 + 2)
        per_month = 1.0 if account.is_key_account else 0.25 if account.kind == "company" else 0.05
        count = min(40, int(months * per_month * rng.uniform(0.5, 1.5)))
        kinds = ("call", "meeting", "note", "email")
        kind_cum = _cum((45, 15 + 20 * account.is_key_account, 25, 15))
        subjects = {
            "call": cat.CALL_SUBJECTS,
            "meeting": cat.MEETING_SUBJECTS,
            "note": cat.NOTE_SUBJECTS,
            "email": cat.EMAIL_SUBJECTS,
        }
        span = max(1, (today - start).days)
        for _ in range(count):
            kind = _weighted(rng, kinds, kind_cum)
            day = start + dt.timedelta(days=_below(rng, span))
            activity(kind, self._at(rng, day), account.owner, subject=_pick(rng, subjects[kind]))
        # finance chases some overdue invoices by phone
        for inv in bundle.invoices:
            if inv.status == "open" and inv.due_date < today - dt.timedelta(days=15) and rng.random() < 0.5:
                day = inv.due_date + dt.timedelta(days=_between(rng, 7, max(7, (today - inv.due_date).days)))
                activity("call", self._at(rng, min(day, today)), FINANCE_USER, subject=cat.CHASE_SUBJECT)


def account_bundles(spec: DemoSpec, reference: Reference | None = None) -> Iterator[AccountBundle]:
    """Yield one bundle per account, in account order; local ids continue across bundles."""
    generator = _Generator(spec, reference or reference_data(spec))
    for index in range(spec.accounts):
        yield generator.bundle(index)


def account_range(
    spec: DemoSpec, reference: Reference, start: int, stop: int, ids: dict[str, int]
) -> Iterator[AccountBundle]:
    """Yield the bundles of accounts ``start`` to ``stop - 1``, counting local ids in ``ids``.

    ``ids`` maps a kind of record ("order", "line", ...) to the last local id used; an
    empty dict numbers the range's records from 1. Ranges can so be generated apart (in
    parallel) and shifted into place afterwards: the k-th order of a range is order
    (orders of all earlier ranges) + k of the whole set, as ``account_bundles`` numbers it.
    """
    generator = _Generator(spec, reference)
    generator.ids = ids
    for index in range(start, min(stop, spec.accounts)):
        yield generator.bundle(index)
