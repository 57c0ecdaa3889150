"""A rebate program's terms as data: what volume counts, the threshold, the tiers, the cap.

Written as a JSON-able dict, parsed by ``parse_terms`` into frozen ``RebateTerms``; every
problem is reported together, each naming its field (``tiers[1].from``), with the codes of
``patron.domain.pricing.rules`` (``required``, ``wrong_type``, ``unknown_field``,
``invalid_choice``, ``not_positive``, ``out_of_range``, ``not_increasing``, ``not_better``)
and ``mixed_tiers`` (percent and amount tiers in one program). The dict::

    {"basis": "amount",            # amount (net sales) | quantity | profit (gross profit)
     "mode": "retroactive",        # retroactive: the rate reached pays on all volume;
                                   # incremental: each band at its own rate
     "threshold": "10000",         # the least volume that earns anything (in the basis' unit)
     "tiers": [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "3"},
               {"from": "50000", "percent": "4"}],   # or {"from": ..., "amount": "500"}: a fixed sum
     "cap": "5000",                # the most one account earns in one period (optional)
     "what": {"categories": [4], "exclude_products": [9]},   # as discount rules write it; {} = all
     "documents": "all"}           # all confirmed orders | invoiced | paid

A percent is of the *value* of the volume: net sales for ``amount`` and ``quantity`` bases,
gross profit for ``profit``. With fixed amounts, retroactive pays the amount of the tier
reached and incremental pays the amounts of every tier reached, added up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from patron.domain.pricing.rules import What, parse_what, what_to_dict
from patron.domain.problems import Reader

BASES = ("amount", "quantity", "profit")
MODES = ("retroactive", "incremental")
DOCUMENTS = ("all", "invoiced", "paid")
MAX_TIERS = 20
_TOP = {"basis", "mode", "threshold", "tiers", "cap", "what", "documents"}
_TIER = {"from", "percent", "amount"}


@dataclass(frozen=True, slots=True)
class Tier:
    start: Decimal
    percent: Decimal | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RebateTerms:
    basis: str
    mode: str
    threshold: Decimal
    tiers: tuple[Tier, ...]
    cap: Decimal | None = None
    what: What = field(default_factory=What)
    documents: str = "all"

    @property
    def fixed(self) -> bool:
        """Tiers pay fixed amounts rather than a percent of the value."""
        return self.tiers[0].amount is not None


def parse_terms(data: Any) -> RebateTerms:
    """``RebateTerms`` from their dict, or ``DefinitionError`` with every problem found."""
    p = Reader(places=2)
    d: Mapping[str, Any] = p.obj(data, "", _TOP)
    if not isinstance(data, Mapping):
        p.problems.raise_if_any()
    basis = _choice(p, d, "basis", BASES, default="amount")
    mode = _choice(p, d, "mode", MODES, default="retroactive")
    documents = _choice(p, d, "documents", DOCUMENTS, default="all")
    places = 3 if basis == "quantity" else 2
    threshold = p.number(d, "threshold", "", places=places) or Decimal(0)
    cap = p.number(d, "cap", "", positive=True)
    what = parse_what(p, d.get("what"))
    tiers: list[Tier] = []
    raw = d.get("tiers")
    if raw is None or raw == []:
        p.add("tiers", "required")
    elif not isinstance(raw, list):
        p.add("tiers", "wrong_type", expected="list")
    elif len(raw) > MAX_TIERS:
        p.add("tiers", "out_of_range", min=1, max=MAX_TIERS)
    else:
        kinds: set[str] = set()
        for i, item in enumerate(raw):
            path = f"tiers[{i}]"
            t = p.obj(item, path, _TIER)
            if not isinstance(item, Mapping):
                continue
            start = p.number(t, "from", path, required=True, places=places)
            percent = p.number(t, "percent", path, positive=True, high=Decimal(100), places=4)
            amount = p.number(t, "amount", path, positive=True)
            if (percent is None) == (amount is None):
                if "percent" not in t and "amount" not in t:
                    p.add(f"{path}.percent", "required")
                elif percent is not None and amount is not None:
                    p.add(f"{path}.amount", "mixed_tiers")
                continue
            kinds.add("percent" if percent is not None else "amount")
            if start is None:
                continue
            tier = Tier(start, percent, amount)
            if tiers:
                before = tiers[-1]
                if start <= before.start:
                    p.add(f"{path}.from", "not_increasing", previous=str(before.start))
                    continue
                now, then = tier.percent or tier.amount, before.percent or before.amount
                if (
                    now is not None
                    and then is not None
                    and now <= then
                    and (tier.percent is None) == (before.percent is None)
                ):
                    field = "percent" if tier.percent is not None else "amount"
                    p.add(f"{path}.{field}", "not_better", previous=str(then))
            tiers.append(tier)
        if len(kinds) > 1:
            p.add("tiers", "mixed_tiers")
    p.problems.raise_if_any()
    return RebateTerms(
        basis=basis, mode=mode, threshold=threshold, tiers=tuple(tiers), cap=cap, what=what, documents=documents
    )


def _choice(p: Reader, d: Mapping[str, Any], name: str, allowed: tuple[str, ...], *, default: str) -> str:
    value = d.get(name, default)
    if value is None:
        return default
    if value not in allowed:
        p.add(name, "invalid_choice", allowed=list(allowed))
        return default
    return str(value)


def terms_to_dict(terms: RebateTerms) -> dict[str, Any]:
    tiers = [
        {"from": str(t.start), **({"percent": str(t.percent)} if t.percent is not None else {"amount": str(t.amount)})}
        for t in terms.tiers
    ]
    out: dict[str, Any] = {
        "basis": terms.basis,
        "mode": terms.mode,
        "threshold": str(terms.threshold),
        "tiers": tiers,
        "what": what_to_dict(terms.what),
        "documents": terms.documents,
    }
    if terms.cap is not None:
        out["cap"] = str(terms.cap)
    return out
