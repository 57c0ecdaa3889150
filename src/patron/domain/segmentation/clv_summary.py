"""Per-customer recency-frequency summary of a transaction log: what the BG/NBD and Gamma-Gamma models read.

Conventions (Fader, Hardie & Lee 2005, and the CDNOW analyses that follow them):

* Purchases by the same customer on the same day are one transaction; their amounts are added.
* The *calibration* period runs from each customer's first purchase to ``calibration_end`` inclusive;
  the *holdout* period is the days after it, to ``holdout_end`` inclusive (by default the last date in
  the log). Customers whose first purchase is after ``calibration_end`` are not in the calibration
  cohort: they are left out of the summary and counted in ``Summary.later_customers``.
* Time is measured in units of ``time_unit_days`` days (7: weeks), from each customer's first purchase.
  ``frequency`` (x) counts the *repeat* transactions in calibration (all but the first);
  ``recency`` (t_x) is the time of the last calibration transaction, 0 for one-time buyers;
  ``T`` is the customer's age at the end of calibration.
* ``average_spend`` is the mean amount of the repeat transactions in calibration, without the first
  purchase (the convention of the Gamma-Gamma model, which models repeat spend); 0.0 where x = 0.

Everything is vectorised: one sort of the log, then ``bincount`` and ``reduceat``; no Python loop per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DateLike = dt.date | np.datetime64 | str

__all__ = ["DateLike", "Summary", "Transactions", "TransactionsError", "summarise", "to_day"]


class TransactionsError(ValueError):
    """A transaction log the summary cannot read; ``column`` and ``row`` (0-based) locate the first problem."""

    def __init__(self, message: str, *, column: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.row = row


def to_day(value: DateLike, name: str = "date") -> np.datetime64:
    """A date (``datetime.date``, ``numpy.datetime64`` or ISO ``YYYY-MM-DD`` text) as ``datetime64[D]``."""
    if isinstance(value, dt.datetime):
        value = value.date()
    try:
        day = np.datetime64(value, "D")  # type: ignore[call-overload]
    except (ValueError, TypeError):
        raise TransactionsError(f"{name} is not a date: {value!r}", column=name) from None
    if np.isnat(day):
        raise TransactionsError(f"{name} is missing", column=name)
    return day


def _as_date(day: np.datetime64) -> dt.date:
    value = day.astype("datetime64[D]").astype(object)
    assert isinstance(value, dt.date)
    return value


def _frozen(array: npt.ArrayLike, dtype: Any = None) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class Transactions:
    """A transaction log as three aligned columns: customer id, day and amount (one entry per purchase)."""

    customer_ids: np.ndarray
    dates: np.ndarray  # datetime64[D]
    amounts: np.ndarray  # float64

    @classmethod
    def from_columns(cls, customer_ids: Any, dates: Any, amounts: Any) -> Transactions:
        """Columns as numpy arrays or sequences; dates as ``datetime64``, ``datetime.date`` or ISO text."""
        ids = np.asarray(customer_ids)
        if ids.ndim != 1:
            raise TransactionsError("customer_id must be one column", column="customer_id")
        try:
            days = np.asarray(dates, dtype="datetime64[D]")
        except (ValueError, TypeError) as exc:
            raise TransactionsError(f"date: {exc}", column="date") from None
        try:
            money = np.asarray(amounts, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise TransactionsError(f"amount: {exc}", column="amount") from None
        if not (len(ids) == len(days) == len(money)):
            raise TransactionsError(
                f"columns differ in length: customer_id {len(ids)}, date {len(days)}, amount {len(money)}"
            )
        if days.ndim != 1 or money.ndim != 1:
            raise TransactionsError("date and amount must be one column each")
        if ids.dtype.kind == "f":
            bad = np.flatnonzero(~np.isfinite(ids))
            if bad.size:
                raise TransactionsError(
                    f"customer_id is missing at row {bad[0]}", column="customer_id", row=int(bad[0])
                )
        elif ids.dtype.kind == "O":
            missing = np.flatnonzero(np.equal(ids, np.array(None, dtype=object)))
            if missing.size:
                raise TransactionsError(
                    f"customer_id is missing at row {missing[0]}", column="customer_id", row=int(missing[0])
                )
        bad = np.flatnonzero(np.isnat(days))
        if bad.size:
            raise TransactionsError(f"date is missing at row {bad[0]}", column="date", row=int(bad[0]))
        bad = np.flatnonzero(~np.isfinite(money))
        if bad.size:
            raise TransactionsError(f"amount is not a number at row {bad[0]}", column="amount", row=int(bad[0]))
        return cls(ids, days, money)

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]]) -> Transactions:
        """``(customer_id, date, amount)`` rows (a convenience for small inputs and tests)."""
        listed = list(rows)
        if not listed:
            return cls.from_columns(np.array([], dtype=np.int64), np.array([], dtype="datetime64[D]"), [])
        ids, days, money = zip(*listed, strict=True)
        return cls.from_columns(list(ids), list(days), list(money))

    def __len__(self) -> int:
        return len(self.amounts)


@dataclass(frozen=True)
class Summary:
    """One entry per customer of the calibration cohort, in the order of ``customer_ids`` (sorted).

    Arrays are read-only. Times are in units of ``time_unit_days`` days.
    """

    customer_ids: np.ndarray
    first_purchase: np.ndarray  # datetime64[D]
    frequency: np.ndarray  # int64: repeat transactions in calibration (x)
    recency: np.ndarray  # float64: t_x, time from first to last calibration transaction
    T: np.ndarray  # float64: time from first purchase to calibration end
    average_spend: np.ndarray  # float64: mean amount of the repeat calibration transactions; 0 where x = 0
    holdout_frequency: np.ndarray  # int64: transactions after calibration end, to holdout end
    holdout_spend: np.ndarray  # float64: their amounts added
    calibration_end: dt.date
    holdout_end: dt.date
    time_unit_days: float
    later_customers: int  # customers whose first purchase is after calibration_end (not summarised)

    @property
    def customers(self) -> int:
        return len(self.frequency)

    @property
    def repeat_buyers(self) -> int:
        return int(np.count_nonzero(self.frequency))

    @property
    def repeat_transactions(self) -> int:
        return int(self.frequency.sum())

    @property
    def holdout_length(self) -> float:
        """Length of the holdout period in time units: calibration end to holdout end."""
        return (self.holdout_end - self.calibration_end).days / self.time_unit_days


def _sort_keys(ids: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, int, int, Callable[[np.ndarray], np.ndarray]]:
    """One int64 key per row that sorts by (customer, day), with ``key = code * span + day - first_day``.

    Returns ``(key, span, first_day, id_of)`` where ``id_of(codes)`` gives back the customer ids.
    Integer ids in a compact range are their own codes (one sort in all); other ids are coded by ``np.unique``.
    """
    day_numbers = days.astype(np.int64)
    first_day = int(day_numbers.min())
    span = int(day_numbers.max()) - first_day + 1
    if ids.dtype.kind in "iu":
        low, high = int(ids.min()), int(ids.max())
        if (high - low + 1) * span < 2**62:
            key = (ids.astype(np.int64) - low) * span + (day_numbers - first_day)
            return key, span, first_day, lambda codes: (codes + low).astype(ids.dtype)
    uniques, codes = np.unique(ids, return_inverse=True)
    if len(uniques) * span >= 2**62:
        raise TransactionsError("too many customers and days to summarise in one pass")
    key = codes.astype(np.int64).reshape(-1) * span + (day_numbers - first_day)
    return key, span, first_day, lambda codes: uniques[codes]


def summarise(
    transactions: Transactions | tuple[Any, Any, Any],
    *,
    calibration_end: DateLike,
    time_unit_days: float = 7.0,
    holdout_end: DateLike | None = None,
) -> Summary:
    """Summarise a transaction log per customer (see the module's conventions).

    ``transactions`` is a ``Transactions`` or a tuple of three columns ``(customer_ids, dates, amounts)``.
    """
    if not isinstance(transactions, Transactions):
        if not isinstance(transactions, tuple) or len(transactions) != 3:
            raise TransactionsError("give Transactions or a tuple of columns (customer_ids, dates, amounts)")
        transactions = Transactions.from_columns(*transactions)
    if not time_unit_days > 0:
        raise TransactionsError(f"time_unit_days must be positive, not {time_unit_days!r}")
    cal_day = to_day(calibration_end, "calibration_end")
    if len(transactions) == 0:
        raise TransactionsError("there are no transactions")
    ids, days, amounts = transactions.customer_ids, transactions.dates, transactions.amounts
    last_day = days.max()
    end_day = to_day(holdout_end, "holdout_end") if holdout_end is not None else max(last_day, cal_day)
    if end_day < cal_day:
        raise TransactionsError("holdout_end is before calibration_end", column="holdout_end")

    key, span, day_base, id_of = _sort_keys(ids, days)
    if np.all(key[1:] >= key[:-1]):  # already in (customer, day) order, as many exports are
        sorted_amounts = amounts
    else:
        # Stable sort: timsort on int64 finds the runs of a log grouped by customer or by date (5-10x
        # faster than quicksort on them here), and costs about 15% more on rows in random order.
        order = np.argsort(key, kind="stable")
        key = key[order]
        sorted_amounts = amounts[order]

    # One transaction per customer and day.
    new_tx = np.empty(len(key), dtype=bool)
    new_tx[0] = True
    np.not_equal(key[1:], key[:-1], out=new_tx[1:])
    tx_start = np.flatnonzero(new_tx)
    tx_key = key[tx_start]
    tx_amount = np.add.reduceat(sorted_amounts, tx_start)
    tx_customer_code = tx_key // span
    tx_day = tx_key % span + day_base

    # Customers: runs of the same code.
    new_customer = np.empty(len(tx_key), dtype=bool)
    new_customer[0] = True
    np.not_equal(tx_customer_code[1:], tx_customer_code[:-1], out=new_customer[1:])
    cust_start = np.flatnonzero(new_customer)
    n_customers = len(cust_start)
    tx_customer = np.cumsum(new_customer) - 1
    rank = np.arange(len(tx_key)) - cust_start[tx_customer]

    cal_number = int(cal_day.astype(np.int64))
    end_number = int(end_day.astype(np.int64))
    in_calibration = tx_day <= cal_number
    repeat = in_calibration & (rank > 0)
    frequency = np.bincount(tx_customer[repeat], minlength=n_customers)
    spend = np.bincount(tx_customer[repeat], weights=tx_amount[repeat], minlength=n_customers)
    n_calibration = np.bincount(tx_customer[in_calibration], minlength=n_customers)
    first_day = tx_day[cust_start]
    last_calibration_day = tx_day[cust_start + np.maximum(n_calibration - 1, 0)]
    in_holdout = ~in_calibration & (tx_day <= end_number)
    holdout_frequency = np.bincount(tx_customer[in_holdout], minlength=n_customers)
    holdout_spend = np.bincount(tx_customer[in_holdout], weights=tx_amount[in_holdout], minlength=n_customers)

    keep = first_day <= cal_number
    customer_ids = id_of(tx_customer_code[cust_start][keep])
    unit = float(time_unit_days)
    x = frequency[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        average = np.where(x > 0, spend[keep] / np.maximum(x, 1), 0.0)
    return Summary(
        customer_ids=_frozen(customer_ids),
        first_purchase=_frozen(first_day[keep].astype("datetime64[D]")),
        frequency=_frozen(x, np.int64),
        recency=_frozen((last_calibration_day[keep] - first_day[keep]) / unit, np.float64),
        T=_frozen((cal_number - first_day[keep]) / unit, np.float64),
        average_spend=_frozen(average, np.float64),
        holdout_frequency=_frozen(holdout_frequency[keep], np.int64),
        holdout_spend=_frozen(holdout_spend[keep], np.float64),
        calibration_end=_as_date(cal_day),
        holdout_end=_as_date(end_day),
        time_unit_days=unit,
        later_customers=int(n_customers - np.count_nonzero(keep)),
    )
