"""What the pricing engine is asked about: a cart, the account it is for, and the answer."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from patron.domain.explain import Reason
from patron.domain.money import Money

MANUAL_KINDS = ("percent", "amount", "price")


@dataclass(frozen=True, slots=True)
class ManualDiscount:
    """A salesperson's extra discount on a line, applied after every rule and coupon.

    ``percent`` off the price the rules left; ``amount`` off each unit; ``price``: the
    net unit price asked for."""

    kind: str
    value: Decimal
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CartLine:
    key: str  # the line's position, as the caller numbers it
    product: int
    quantity: Decimal
    list_price: Decimal  # per unit, in the cart's currency
    category_path: tuple[int, ...] = ()  # the product's category and every one above it
    floor_price: Decimal | None = None  # per unit; below it only with approval
    unit_cost: Decimal | None = None
    manual: ManualDiscount | None = None
    sku: str = ""


@dataclass(frozen=True, slots=True)
class Cart:
    currency: str
    lines: tuple[CartLine, ...]
    channel: str = "sales_rep"


@dataclass(frozen=True, slots=True)
class AccountProfile:
    """What rules may ask about an account; ``account`` is None for one described in the simulator."""

    account: int | None = None
    region_path: tuple[int, ...] = ()  # the account's region and every one above it
    industry: int | None = None
    classes: frozenset[str] = frozenset()  # "classification_key:class_key"
    stage: str = ""  # lifecycle stage key
    tags: frozenset[int] = frozenset()
    has_ordered: bool = True  # False: a new customer, this would be the first order


@dataclass(frozen=True, slots=True)
class LineDiscount:
    """One discount on one line: which rule gave it, how much, and how it was worked out."""

    rule: str  # rule key; "manual" for the salesperson's
    name: str
    source: str  # policy | coupon | sandbox | manual
    amount: Money
    detail: Reason  # e.g. PERCENT_OFF {percent}, TIER {index, from, percent}
    notes: tuple[Reason, ...] = ()  # CAPPED_PER_LINE, CAPPED_PER_ORDER, LIMITED_BY_FLOOR
    policy: str = ""


@dataclass(frozen=True, slots=True)
class LineQuote:
    key: str
    product: int
    sku: str
    quantity: Decimal
    list_unit_price: Money
    list_amount: Money
    discounts: tuple[LineDiscount, ...]
    net_amount: Money
    net_unit_price: Money  # net amount / quantity, to 4 places: for display, the amount is what counts
    floor_amount: Money | None
    below_floor: bool  # under the floor after a manual discount: needs approval (rules never go there)
    margin: Money | None  # net amount - quantity x unit cost

    @property
    def discount_amount(self) -> Money:
        return self.list_amount - self.net_amount

    @property
    def manual_amount(self) -> Money:
        return sum((d.amount for d in self.discounts if d.source == "manual"), Money.zero(self.list_amount.currency))


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """Every rule the engine considered: applied or not, how much it gave, and why."""

    rule: str
    name: str
    policy: str
    source: str
    applied: bool
    amount: Money
    lines: tuple[str, ...]  # the lines it gave a discount on
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Quote:
    currency: str
    lines: tuple[LineQuote, ...]
    list_total: Money
    discount_total: Money
    net_total: Money
    outcomes: tuple[RuleOutcome, ...]
    hints: tuple[Reason, ...]  # NEXT_TIER, SPEND_MORE: what a little more would earn

    @property
    def below_floor(self) -> bool:
        return any(line.below_floor for line in self.lines)

    @property
    def manual_total(self) -> Money:
        return sum((line.manual_amount for line in self.lines), Money.zero(self.currency))

    def outcome(self, rule: str) -> RuleOutcome | None:
        return next((o for o in self.outcomes if o.rule == rule), None)

    @property
    def applied(self) -> tuple[RuleOutcome, ...]:
        return tuple(o for o in self.outcomes if o.applied)

    @property
    def not_applied(self) -> tuple[RuleOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.applied)
