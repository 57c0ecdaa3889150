"""The indicators a classification may read, and how the account population arrives.

The population is a ``polars.DataFrame`` with one row per account:

* ``account_id``: Int64 or String, unique;
* one column per indicator the definition reads (``required_columns(definition)`` in
  ``classify`` lists them), named by its key below; ``null`` where the indicator is
  undefined (no orders: ``recency_days``, ``average_order_value``,
  ``interpurchase_days`` ... are null; ``purchase_count`` and ``sales`` are 0);
* ``region_path``: List(Int64), the ids of the account's region and all its ancestors,
  whenever a rule reads ``region`` ("region in [Guangdong]" matches its cities);
* ``p_alive`` and ``clv`` are optional: when absent they are read as all null.

Column types. Money is **Float64 in the company currency** (a Decimal column is
accepted and cast to Float64 on entry). Stored amounts have at most 15 significant
digits, so the conversion is monotone and exact enough: ``a >= b`` between two such
decimals holds exactly when it holds between their nearest doubles, which is all that
thresholds and quantiles need. Explanations never show those floats: money is shown
as a Decimal string quantized to the currency's minor unit (``"12345.60"``), see
``display_value``. Counts may be any integer or float type; days and ratios are
numbers; ``key_account`` is Boolean; ``industry`` is a String (or Categorical) code;
``region`` an Int64 id. NaN and infinities are read as null.

Kinds decide which operators a rule may use on an indicator (``rules.OPS_BY_KIND``),
and ``higher_is_better`` says which way is good (False: lower is better, e.g. recency;
None: neither, e.g. industry). ``lower``/``upper`` are the values an indicator can
take, used to find classes no account can reach (a count below 0, a probability
above 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from patron.domain.money import minor_units, quantize

ACCOUNT_ID = "account_id"
REGION_PATH = "region_path"


class Kind(StrEnum):
    MONEY = "money"
    COUNT = "count"
    DAYS = "days"
    RATIO = "ratio"
    BOOL = "bool"
    CATEGORY = "category"
    REGION = "region"


NUMERIC_KINDS = frozenset({Kind.MONEY, Kind.COUNT, Kind.DAYS, Kind.RATIO})


@dataclass(frozen=True, slots=True)
class Indicator:
    key: str
    kind: Kind
    higher_is_better: bool | None
    lower: float | None = None  # least value the indicator can take (None: unbounded)
    upper: float | None = None
    optional: bool = False  # may be absent from the frame (read as null)

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def integral(self) -> bool:
        return self.kind is Kind.COUNT


def _i(
    key: str,
    kind: Kind,
    better: bool | None,
    *,
    lower: float | None = None,
    upper: float | None = None,
    optional: bool = False,
) -> Indicator:
    if lower is None and kind in {Kind.COUNT, Kind.DAYS, Kind.RATIO}:
        lower = 0.0
    return Indicator(key, kind, better, lower, upper, optional)


M, C, D, R = Kind.MONEY, Kind.COUNT, Kind.DAYS, Kind.RATIO

INDICATORS: Mapping[str, Indicator] = {
    i.key: i
    for i in (
        _i("purchase_count", C, True),
        _i("purchase_frequency", R, True),  # orders per 30 days over the period (or tenure, if shorter)
        _i("recency_days", D, False),  # days since the last order; null without orders
        _i("tenure_days", D, True),  # days since the account was created
        _i("sales", M, True),  # net of returns and cancellations
        _i("gross_profit", M, True),
        _i("average_order_value", M, True),
        _i("return_rate", R, False),
        _i("dso_days", D, False),  # days sales outstanding (collection cycle)
        _i("owed", M, False),
        _i("overdue", M, False),
        _i("overdue_1_30", M, False),
        _i("overdue_31_60", M, False),
        _i("overdue_61_90", M, False),
        _i("overdue_90_plus", M, False),
        _i("credit_used", R, False),  # owed / credit limit; null without a limit
        _i("interpurchase_days", D, False),  # mean days between orders; null under 2 orders
        _i("first_order_days", D, None),  # days since the first order; null without orders
        _i("key_account", Kind.BOOL, None),
        _i("industry", Kind.CATEGORY, None),
        _i("region", Kind.REGION, None),
        _i("p_alive", R, True, upper=1.0, optional=True),
        _i("clv", M, True, optional=True),
    )
}


def indicator(key: str) -> Indicator:
    return INDICATORS[key]


# --- values in explanations -----------------------------------------------------------------------------

RATIO_PLACES = Decimal("0.0001")
DAYS_PLACES = Decimal("0.1")


def to_number(value: Any) -> float | None:
    """A numeric indicator value as the float the vectorised pass compares (None for null, NaN, infinity)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    number = float(value)
    return number if math.isfinite(number) else None


def _decimal(value: Any) -> Decimal:
    # repr of a float is its shortest round-trip form: 1234.5, not 1234.5000000000002.
    return value if isinstance(value, Decimal) else Decimal(repr(float(value)))


def display_number(kind: Kind, value: Any, currency: str) -> Any:
    """A number as an explanation shows it: JSON-friendly and free of float noise.

    Money: a Decimal string in the currency's minor unit (``"1234.50"``). Counts and
    whole days: ``int``. Other days: a string with one decimal. Ratios: a string with
    four decimals. None stays None.
    """
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    exact = _decimal(value)
    if kind is Kind.MONEY:
        minor_units(currency)
        return str(quantize(exact, currency))
    if kind in {Kind.COUNT, Kind.DAYS} and exact == exact.to_integral_value():
        return int(exact)
    if kind is Kind.DAYS:
        return str(exact.quantize(DAYS_PLACES))
    if kind is Kind.COUNT:
        return str(exact.normalize())
    return str(exact.quantize(RATIO_PLACES))


def display_value(key: str, value: Any, currency: str) -> Any:
    """An indicator's value for an explanation (see ``display_number``)."""
    ind = INDICATORS[key]
    if value is None:
        return None
    if ind.kind is Kind.BOOL:
        return bool(value)
    if ind.kind is Kind.CATEGORY:
        return str(value)
    if ind.kind is Kind.REGION:
        return int(value)
    return display_number(ind.kind, value, currency)
