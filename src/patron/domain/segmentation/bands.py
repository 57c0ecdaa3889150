"""Bands: cutting one number (an indicator or a score) into ordered classes.

Classes are ordered low to high; ``n`` classes need ``n - 1`` cut points. Class ``k``
holds the values ``v`` with ``cut[k-1] <= v < cut[k]``: a value equal to a cut goes
up. A cut of ``None`` is one no value reaches (the classes above it stay empty).

By **thresholds** the cut points are the definition's numbers.

By **quantiles** the definition gives fractions ``f`` (0 < f < 1) and the cut points
are fitted from the accounts that have a value: the plain cut for ``f`` is the value
at position ``round(f * n)`` (halves down) of the sorted values, so that about
``f * n`` accounts fall below it. Ties break that: when half of the base bought once,
the frequency cut points for 1/3 and 2/3 are both 1 and a class is empty. Two ways to
handle ties, chosen by the definition's ``ties``:

* ``"group"`` (default): equal values always share a class. Cut points are chosen
  among the distinct values so that the number of accounts below each cut is as close
  as possible to its target ``f * n`` (least total absolute difference), keeping the
  cut points strictly increasing while there are distinct values left; with fewer
  distinct values than classes, some classes stay empty and are reported.
* ``"rank"``: ordinal rank. Accounts are sorted by value, then by ``account_id``
  ascending, and cut at positions ``round(f * n)``: class sizes match the fractions
  exactly, and accounts with equal values on either side of a cut are split by their
  id (the lower id goes to the lower class). A cut is then a (value, account id) pair.

The fit reports ``tied`` (group: ties moved a cut point off its plain value; rank:
equal values were split by account id), the cut points actually used and the class
sizes, which the classification turns into ``QUANTILES_TIED`` and ``EMPTY_CLASSES``
reasons. (With integer days, a cut inside a run of equal values that stays at its
plain value is not reported: the run merely goes up whole.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_DOWN, Decimal
from typing import Any

import numpy as np
import polars as pl

TIES = ("group", "rank")


@dataclass(frozen=True, slots=True)
class Cuts:
    """Fitted cut points (see the module docstring); ``tie_ids`` only in rank mode."""

    values: tuple[float | None, ...]
    tie_ids: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"values": list(self.values)}
        if self.tie_ids is not None:
            out["tie_ids"] = list(self.tie_ids)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cuts:
        values = tuple(None if v is None else float(v) for v in data["values"])
        ids = data.get("tie_ids")
        return cls(values, None if ids is None else tuple(ids))


def band_expr(col: pl.Expr, cuts: Cuts, account_id: pl.Expr) -> pl.Expr:
    """The class index (Int32) of every value; null where the value is null."""
    parts: list[pl.Expr] = []
    for i, cut in enumerate(cuts.values):
        if cut is None:
            continue
        reached = col >= cut if cuts.tie_ids is None else (col > cut) | ((col == cut) & (account_id >= cuts.tie_ids[i]))
        parts.append(reached.cast(pl.Int32))
    if not parts:
        return pl.when(col.is_null()).then(pl.lit(None, pl.Int32)).otherwise(pl.lit(0, pl.Int32))
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def band_of(value: float | None, cuts: Cuts, account_id: Any = None) -> int | None:
    """The per-account twin of ``band_expr``."""
    if value is None:
        return None
    index = 0
    for i, cut in enumerate(cuts.values):
        if cut is None:
            continue
        if cuts.tie_ids is None:
            reached = value >= cut
        elif value == cut:
            if account_id is None:
                raise ValueError("account_id is needed to place a value tied with a rank cut point")
            reached = account_id >= cuts.tie_ids[i]
        else:
            reached = value > cut
        index += int(reached)
    return index


def tie_broken(value: float, cuts: Cuts) -> int | None:
    """In rank mode, the cut whose value equals ``value`` (the account's class then rests on its id)."""
    if cuts.tie_ids is None:
        return None
    for i, cut in enumerate(cuts.values):
        if cut is not None and cut == value:
            return i
    return None


@dataclass(frozen=True, slots=True)
class QuantileFit:
    cuts: Cuts
    plain: tuple[float | None, ...]  # the cut points before any tie handling
    tied: bool  # group: ties moved a cut point off its plain value; rank: equal values were split by id
    sizes: tuple[int, ...]  # accounts per class
    population: int

    @property
    def empty(self) -> tuple[int, ...]:
        return tuple(i for i, size in enumerate(self.sizes) if size == 0)


def fit_quantiles(
    values: np.ndarray,
    fractions: Sequence[Decimal],
    ties: str,
    ids: np.ndarray | None = None,
) -> QuantileFit:
    """Fit cut points to ``values`` (float64, sorted ascending, no NaN; with ``ids``, sorted
    by value then id, as rank mode needs)."""
    n = len(values)
    m = len(fractions)
    targets = [f * n for f in fractions]
    plain_pos = [min(n, int(t.to_integral_value(rounding=ROUND_HALF_DOWN))) for t in targets]
    plain = tuple(float(values[p]) if p < n else None for p in plain_pos)
    straddled = any(0 < p < n and values[p - 1] == values[p] for p in plain_pos)
    if n == 0:
        return QuantileFit(Cuts((None,) * m), plain, False, (0,) * (m + 1), 0)
    if ties == "rank":
        if ids is None:
            raise ValueError("rank mode needs the account ids")
        positions = plain_pos
        cuts = Cuts(
            tuple(float(values[p]) if p < n else None for p in positions),
            tuple(_py(ids[p]) if p < n else None for p in positions),
        )
        tied = straddled  # equal values were split by account id
    else:
        positions = _group_positions(values, targets)
        cuts = Cuts(tuple(float(values[p]) if p < n else None for p in positions))
        tied = straddled and cuts.values != plain  # ties moved a cut point
    bounds = [0, *positions, n]
    sizes = tuple(max(0, bounds[i + 1] - bounds[i]) for i in range(m + 1))
    return QuantileFit(cuts, plain, tied, sizes, n)


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _group_positions(values: np.ndarray, targets: Sequence[Decimal]) -> list[int]:
    """Cut positions at starts of runs of equal values, nearest their targets in total."""
    n, m = len(values), len(targets)
    if m == 0:
        return []
    starts = np.flatnonzero(values[1:] != values[:-1]) + 1  # where a new distinct value begins
    every = np.append(starts, n)  # n: a cut above every value
    near: set[int] = set()
    for t in targets:
        j = int(np.searchsorted(every, float(t)))
        near.update(int(c) for c in every[max(0, j - m - 1) : j + m + 1])
    cands = sorted(near)
    # Least total |position - target|, non-decreasing, each repeat (an empty class) costing
    # more than any distance so repeats are a last resort. Ties go to the lower position.
    penalty = Decimal(m * n + 1)
    cost = [abs(Decimal(c) - targets[0]) for c in cands]
    back: list[list[int]] = []
    for i in range(1, m):
        row: list[Decimal] = []
        pointers: list[int] = []
        best, arg = None, -1  # least cost over strictly lower candidates
        for ci, c in enumerate(cands):
            here = abs(Decimal(c) - targets[i])
            stay = cost[ci] + penalty
            if best is not None and best <= stay:
                row.append(best + here)
                pointers.append(arg)
            else:
                row.append(stay + here)
                pointers.append(ci)
            if best is None or cost[ci] < best:
                best, arg = cost[ci], ci
        cost = row
        back.append(pointers)
    ci = min(range(len(cands)), key=lambda k: (cost[k], k))
    chosen = [ci]
    for pointers in reversed(back):
        ci = pointers[ci]
        chosen.append(ci)
    return [cands[k] for k in reversed(chosen)]


def sorted_population(frame: pl.DataFrame, column: str, id_column: str, rank: bool) -> tuple[np.ndarray, Any]:
    """The non-null values of ``column`` sorted (by value, then id in rank mode), as numpy."""
    present = frame.select(pl.col(column).cast(pl.Float64), pl.col(id_column)).drop_nulls(column)
    if rank:
        present = present.sort([column, id_column])
        return present[column].to_numpy(), present[id_column].to_numpy()
    return np.sort(present[column].to_numpy()), None
