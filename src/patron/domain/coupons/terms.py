"""A coupon campaign's terms, and why a given coupon may or may not be used on a given order.

Terms are data, checked field by field (each problem names its path)::

    {"kind": "spend_save",                       # what the campaign is, in the marketer's words
     "benefit": {"kind": "spend_save", "spend": "300", "save": "50"},   # the pricing engine's benefit
     "what": {"categories": [3], "exclude_products": [17]},             # products it applies to
     "min_spend": "200",                         # the order's amount on those products, at least
     "valid_days": 30,                           # from issue; or only the campaign's window
     "uses_per_code": 1, "uses_per_account": 1,  # none: no limit
     "budget": "20000",                          # discount given, at most, over the campaign
     "with_policies": true, "with_coupons": false}

``refusals`` answers, before anything is written, with every reason a coupon cannot be used
now (expired, not yet valid, used up, another account's, the account's uses spent, minimum
spend missed by how much, budget spent, a first-order coupon for a customer who has ordered), so
a till or a salesperson can say exactly why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from patron.domain.explain import Reason
from patron.domain.money import Money
from patron.domain.pricing.rules import Benefit, What, benefit_to_dict, parse_benefit, parse_what, what_to_dict
from patron.domain.problems import Reader

KINDS = (
    "percent_off",
    "amount_off",
    "spend_save",
    "gift",
    "first_order",
    "loyal_reward",
    "birthday",
    "holiday",
    "points_exchange",
    "rebate",  # a rebate paid as a discount on future orders
)
# Which of the pricing engine's benefits each kind may give.
BENEFITS = {
    "percent_off": {"percent_off"},
    "amount_off": {"cart_amount_off"},
    "spend_save": {"spend_save"},
    "gift": {"gift", "buy_get"},  # units of the gift product, free
    "rebate": {"cart_amount_off"},
}
ANY_BENEFIT = {"percent_off", "amount_off_unit", "cart_amount_off", "spend_save", "buy_get", "gift"}
_TOP = {
    "kind",
    "benefit",
    "what",
    "min_spend",
    "valid_days",
    "uses_per_code",
    "uses_per_account",
    "budget",
    "with_policies",
    "with_coupons",
    "points",
}
MAX_USES = 1_000_000
MAX_DAYS = 3660


@dataclass(frozen=True, slots=True)
class CouponTerms:
    kind: str
    benefit: Benefit
    what: What = field(default_factory=What)
    min_spend: Decimal | None = None
    valid_days: int | None = None
    uses_per_code: int | None = 1
    uses_per_account: int | None = None
    budget: Decimal | None = None
    with_policies: bool = True
    with_coupons: bool = False
    points: Decimal | None = None  # what a points exchange costs


def parse_coupon_terms(data: Any) -> CouponTerms:
    """``CouponTerms`` from their dict, or ``DefinitionError`` with every problem found."""
    p = Reader(places=2)
    d: Mapping[str, Any] = p.obj(data, "", _TOP)
    if not isinstance(data, Mapping):
        p.problems.raise_if_any()
    kind = d.get("kind")
    if kind not in KINDS:
        p.add("kind", "required" if kind is None else "invalid_choice", allowed=list(KINDS))
        kind = "percent_off"
    benefit = parse_benefit(p, d.get("benefit"))
    allowed = BENEFITS.get(kind, ANY_BENEFIT)
    if d.get("benefit") is not None and benefit.kind not in allowed:
        p.add("benefit.kind", "invalid_choice", allowed=sorted(allowed))
    what = parse_what(p, d.get("what"))

    def limit(name: str, default: int | None) -> int | None:
        if d.get(name) is None:
            return default
        return p.integer(d, name, "", low=1, high=MAX_USES, default=1)

    points = p.number(d, "points", "", positive=True)
    if kind == "points_exchange" and points is None:
        p.add("points", "required")
    terms = CouponTerms(
        kind=kind,
        benefit=benefit,
        what=what,
        min_spend=p.number(d, "min_spend", "", positive=True),
        valid_days=None
        if d.get("valid_days") is None
        else p.integer(d, "valid_days", "", low=1, high=MAX_DAYS, default=1),
        uses_per_code=limit("uses_per_code", 1),
        uses_per_account=limit("uses_per_account", None),
        budget=p.number(d, "budget", "", positive=True),
        with_policies=p.flag(d, "with_policies", "") if "with_policies" in d else True,
        with_coupons=p.flag(d, "with_coupons", ""),
        points=points,
    )
    p.problems.raise_if_any()
    return terms


def coupon_terms_to_dict(terms: CouponTerms) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": terms.kind,
        "benefit": benefit_to_dict(terms.benefit),
        "what": what_to_dict(terms.what),
        "uses_per_code": terms.uses_per_code,
        "uses_per_account": terms.uses_per_account,
        "with_policies": terms.with_policies,
        "with_coupons": terms.with_coupons,
    }
    for name in ("min_spend", "budget", "points"):
        value = getattr(terms, name)
        if value is not None:
            out[name] = str(value)
    if terms.valid_days is not None:
        out["valid_days"] = terms.valid_days
    return out


@dataclass(frozen=True, slots=True)
class CouponState:
    """What the records say of one coupon at the moment of the check."""

    code: str
    currency: str
    starts: dt.datetime  # the later of the campaign's start and the coupon's issue
    ends: dt.datetime | None  # the earlier of the campaign's end and issue + valid_days
    account: int | None = None  # bound to one account, or anyone's
    uses: int = 0  # of this code
    account_uses: int = 0  # of this campaign by the account asking
    budget_used: Decimal = Decimal(0)
    cancelled: bool = False
    has_ordered: bool = False  # the account asking has an order already (a first-order coupon refuses it)
    shared: bool = False  # one public code for many: its uses are not limited per code


def valid_until(issued: dt.datetime, campaign_ends: dt.datetime | None, valid_days: int | None) -> dt.datetime | None:
    ends = [e for e in (campaign_ends, issued + dt.timedelta(days=valid_days) if valid_days else None) if e]
    return min(ends) if ends else None


def refusals(
    terms: CouponTerms,
    state: CouponState,
    *,
    account: int | None,
    eligible_amount: Decimal,
    now: dt.datetime,
    discount: Decimal = Decimal(0),
) -> tuple[Reason, ...]:
    """Every reason the coupon cannot be used now on an order whose products in scope come to
    ``eligible_amount`` (``discount``: what it would give, checked against the budget)."""
    out: list[Reason] = []

    def money(amount: Decimal) -> Money:
        return Money(amount, state.currency)

    if state.cancelled:
        out.append(Reason("CANCELLED", {"code": state.code}))
    if now < state.starts:
        out.append(Reason("NOT_YET_VALID", {"starts": state.starts}))
    if state.ends is not None and now >= state.ends:
        out.append(Reason("EXPIRED", {"ended": state.ends}))
    if state.account is not None and state.account != account:
        out.append(Reason("OTHER_ACCOUNT", {}))
    if terms.kind == "first_order" and state.has_ordered:
        out.append(Reason("FIRST_ORDER_ONLY", {}))
    if terms.uses_per_code is not None and not state.shared and state.uses >= terms.uses_per_code:
        out.append(Reason("USED_UP", {"uses": terms.uses_per_code}))
    if terms.uses_per_account is not None and state.account_uses >= terms.uses_per_account:
        out.append(Reason("ACCOUNT_USED_UP", {"uses": terms.uses_per_account}))
    if terms.min_spend is not None and eligible_amount < terms.min_spend:
        out.append(
            Reason("MIN_SPEND", {"missing": money(terms.min_spend - eligible_amount), "min": money(terms.min_spend)})
        )
    if terms.budget is not None and state.budget_used + discount > terms.budget:
        out.append(Reason("BUDGET_SPENT", {"left": money(max(terms.budget - state.budget_used, Decimal(0)))}))
    return tuple(out)


def face_value(terms: CouponTerms) -> Decimal | None:
    """What one code can give at most over its uses, where its benefit says (an amount off, a spend-and-save
    without repeat); None where it depends on the cart (a percent, a gift, a repeating save)."""
    b = terms.benefit
    each = None
    if b.kind == "cart_amount_off":
        each = b.amount
    elif b.kind == "spend_save" and not b.repeat:
        each = b.save
    if each is None:
        return None
    return each * (terms.uses_per_code or 1)


def codes_within_budget(terms: CouponTerms, issued: int) -> int | None:
    """How many more codes the budget covers at their face value, counting those out already; None: no
    limit on issuing (no budget, or no face value: then only redemption stops at the budget)."""
    face = face_value(terms)
    if terms.budget is None or not face:
        return None
    left = terms.budget - face * issued
    return max(int(left // face), 0)
