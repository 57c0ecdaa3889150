"""The pricing engine: ``price_cart(cart, book, profile, now=...)`` -> ``Quote``.

One pass over the candidate rules in a fixed order: source (policies, then coupons),
priority (higher first), line rules before cart rules at equal priority, then the
rule's key. The order is a property of the rules, never of how they were stored, so
the same cart gets the same quote from any copy of the same rule book.

Each rule in turn: does it target this account, is it in its window, which lines
are in its scope and meet its conditions, may it stack on what those lines already
have (exclusive rules, ``combines_with``), then how much it gives, cut to its caps
and to each line's floor price. Rules of one ``group`` are weighed together when
the first of them comes up: on each line only the one giving the most applies (for
cart rules, the one giving the most in all). A manual discount comes last and is
the only thing that may take a line below its floor (which then needs approval).

Rounding is money.py's rule 7.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from patron.domain.explain import Reason
from patron.domain.money import ROUNDING, Money, allocate, quantum
from patron.domain.pricing.cart import (
    AccountProfile,
    Cart,
    CartLine,
    LineDiscount,
    LineQuote,
    Quote,
    RuleOutcome,
)
from patron.domain.pricing.rules import Rule

ZERO = Decimal(0)
HUNDRED = Decimal(100)
UNIT = Decimal("0.0001")
SOURCE_RANK = {"policy": 0, "sandbox": 0, "coupon": 1}


def _order_key(rule: Rule) -> tuple[int, int, int, str]:
    return (SOURCE_RANK.get(rule.source, 2), -rule.priority, 0 if rule.benefit.on_lines else 1, rule.key)


# --- the compiled rule book ------------------------------------------------------------------------------------


def _who_keys(rule: Rule) -> list[tuple[str, object]]:
    """The index entries of a rule's most selective account condition; [] = everyone."""
    who = rule.who
    for tag, values in (
        ("a", who.accounts),
        ("c", who.classes),
        ("t", who.tags),
        ("r", who.regions),
        ("i", who.industries),
        ("s", who.stages),
    ):
        if values:
            return [(tag, v) for v in values]
    if who.new_customers:
        return [("n", True)]
    return []


def _what_keys(rule: Rule) -> list[tuple[str, int]]:
    what = rule.what
    return [("p", p) for p in what.products] + [("g", c) for c in what.categories]


class RuleBook:
    """Rules compiled into an index by account condition and by product and category,
    so that a quote looks only at rules that can concern its account and its lines.
    Build it once per change of the rules and share it: it is immutable."""

    __slots__ = ("_by_what", "_by_who", "_everyone", "_everything", "fingerprint", "rules")

    def __init__(self, rules: Iterable[Rule], *, fingerprint: str = "") -> None:
        ordered = sorted(rules, key=_order_key)
        keys = [r.key for r in ordered]
        if len(set(keys)) != len(keys):
            duplicates = sorted({k for k in keys if keys.count(k) > 1})
            raise ValueError(f"rule keys must be unique: {duplicates}")
        self.rules: tuple[Rule, ...] = tuple(ordered)
        self.fingerprint = fingerprint
        by_who: dict[tuple[str, object], list[int]] = {}
        by_what: dict[tuple[str, int], list[int]] = {}
        everyone: list[int] = []
        everything: list[int] = []
        for i, rule in enumerate(self.rules):
            who = _who_keys(rule)
            if not who:
                everyone.append(i)
            for k in who:
                by_who.setdefault(k, []).append(i)
            what = _what_keys(rule)
            if not what:
                everything.append(i)
            for k2 in what:
                by_what.setdefault(k2, []).append(i)
        self._everyone = frozenset(everyone)
        self._everything = frozenset(everything)
        self._by_who = {k: frozenset(v) for k, v in by_who.items()}
        self._by_what = {k: frozenset(v) for k, v in by_what.items()}

    def __len__(self) -> int:
        return len(self.rules)

    def candidates(self, cart: Cart, profile: AccountProfile) -> list[Rule]:
        """Rules whose most selective account condition and whose products touch this cart, in order."""
        who: set[int] = set(self._everyone)
        get = self._by_who.get
        empty: frozenset[int] = frozenset()
        if profile.account is not None:
            who |= get(("a", profile.account), empty)
        for cls in profile.classes:
            who |= get(("c", cls), empty)
        for t in profile.tags:
            who |= get(("t", t), empty)
        for r in profile.region_path:
            who |= get(("r", r), empty)
        if profile.industry is not None:
            who |= get(("i", profile.industry), empty)
        if profile.stage:
            who |= get(("s", profile.stage), empty)
        if not profile.has_ordered:
            who |= get(("n", True), empty)
        if not who:
            return []
        what: set[int] = set(self._everything)
        get_what = self._by_what.get
        for line in cart.lines:
            what |= get_what(("p", line.product), empty)
            for category in line.category_path:
                what |= get_what(("g", category), empty)
        return [self.rules[i] for i in sorted(who & what)]


# --- evaluation ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    line: CartLine
    list_amount: Decimal
    current: Decimal
    floor: Decimal  # the amount the line may not go below without approval
    keys: frozenset[int]  # product id and category path, for scope tests (products and categories never collide:
    # they are kept apart by sign below)
    discounts: list[LineDiscount] = field(default_factory=list)
    applied: list[Rule] = field(default_factory=list)
    blocked_by: Rule | None = None


@dataclass(slots=True)
class _Proposal:
    rule: Rule
    amounts: dict[int, Decimal]  # line index -> amount
    details: dict[int, Reason]
    notes: dict[int, list[Reason]]
    reasons: list[Reason]
    hints: list[Reason]

    @property
    def total(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)


def _compatible(a: Rule, b: Rule) -> bool:
    if a.stacking.exclusive or b.stacking.exclusive:
        return False
    if a.stacking.combines_with is not None and b.stacking.group not in a.stacking.combines_with:
        return False
    return b.stacking.combines_with is None or a.stacking.group in b.stacking.combines_with


def _who_problem(rule: Rule, profile: AccountProfile) -> Reason | None:
    who = rule.who
    if who.accounts and profile.account not in who.accounts:
        return Reason("NOT_FOR_ACCOUNT", {"part": "accounts"})
    if who.classes and not (who.classes & profile.classes):
        return Reason("NOT_FOR_ACCOUNT", {"part": "classes", "wanted": sorted(who.classes)})
    if who.tags and not (who.tags & profile.tags):
        return Reason("NOT_FOR_ACCOUNT", {"part": "tags", "wanted": sorted(who.tags)})
    if who.regions and not (who.regions & set(profile.region_path)):
        return Reason("NOT_FOR_ACCOUNT", {"part": "regions", "wanted": sorted(who.regions)})
    if who.industries and profile.industry not in who.industries:
        return Reason("NOT_FOR_ACCOUNT", {"part": "industries", "wanted": sorted(who.industries)})
    if who.stages and profile.stage not in who.stages:
        return Reason("NOT_FOR_ACCOUNT", {"part": "stages", "wanted": sorted(who.stages)})
    if who.new_customers and profile.has_ordered:
        return Reason("NOT_NEW_CUSTOMER")
    return None


def _when_problem(rule: Rule, cart: Cart, profile: AccountProfile, now: dt.datetime) -> Reason | None:
    w = rule.when
    if w.starts is not None and now < w.starts:
        return Reason("NOT_STARTED", {"starts": w.starts})
    if w.ends is not None and now >= w.ends:
        return Reason("ENDED", {"ends": w.ends})
    if w.weekdays and now.isoweekday() not in w.weekdays:
        return Reason("WRONG_DAY", {"weekdays": sorted(w.weekdays), "today": now.isoweekday()})
    if w.hours is not None:
        start, end = w.hours
        clock = now.timetz().replace(tzinfo=None)
        inside = start <= clock < end if start < end else (clock >= start or clock < end)
        if not inside:
            return Reason("OUTSIDE_HOURS", {"from": start.isoformat("minutes"), "to": end.isoformat("minutes")})
    if w.channels and cart.channel not in w.channels:
        return Reason("WRONG_CHANNEL", {"channels": sorted(w.channels), "channel": cart.channel})
    if w.first_order and profile.has_ordered:
        return Reason("FIRST_ORDER_ONLY")
    return None


def _product_key(product: int) -> int:
    return -product  # products negative, categories positive: one set of ints per line


def _in_scope(rule: Rule, line: _Line) -> bool:
    what = rule.what
    keys = line.keys
    if what.exclude_products and line.line.product in what.exclude_products:
        return False
    if what.exclude_categories and not what.exclude_categories.isdisjoint(line.line.category_path):
        return False
    if what.everything:
        return True
    return line.line.product in what.products or not what.categories.isdisjoint(keys)


class _Pricing:
    def __init__(self, cart: Cart, profile: AccountProfile, now: dt.datetime) -> None:
        self.cart = cart
        self.profile = profile
        self.now = now
        self.cur = cart.currency
        self._quantum = quantum(cart.currency)
        q = self.q
        self.lines = [
            _Line(
                line=ln,
                list_amount=(amount := q(ln.quantity * ln.list_price)),
                current=amount,
                floor=q(ln.quantity * ln.floor_price) if ln.floor_price is not None else ZERO,
                keys=frozenset((*ln.category_path, _product_key(ln.product))),
            )
            for ln in cart.lines
        ]
        self.outcomes: list[RuleOutcome] = []
        self.hints: list[Reason] = []
        self._concerns: dict[str, bool] = {}
        self._scopes: dict[str, list[int]] = {}
        self._by_product: dict[int, list[int]] = {}
        self._by_category: dict[int, list[int]] = {}
        for i, ln in enumerate(cart.lines):
            self._by_product.setdefault(ln.product, []).append(i)
            for category in ln.category_path:
                self._by_category.setdefault(category, []).append(i)

    def q(self, amount: Decimal) -> Decimal:
        """money.quantize, with the currency's minor unit looked up once per quote."""
        return amount.quantize(self._quantum, rounding=ROUNDING)

    def money(self, amount: Decimal) -> Money:
        return Money(amount, self.cur)

    def scope(self, rule: Rule) -> list[int]:
        """The lines a rule's products and categories cover, in cart order: looked up by product and
        category in the cart's own index, not tested line by line (a cart meets hundreds of rules)."""
        found = self._scopes.get(rule.key)
        if found is not None:
            return found
        what = rule.what
        if what.everything:
            lines = set(range(len(self.lines)))
        else:
            lines = set()
            for product in what.products:
                lines.update(self._by_product.get(product, ()))
            for category in what.categories:
                lines.update(self._by_category.get(category, ()))
        if lines and (what.exclude_products or what.exclude_categories):
            lines = {i for i in lines if _in_scope(rule, self.lines[i])}
        found = sorted(lines)
        self._scopes[rule.key] = found
        return found

    def concerns(self, rule: Rule) -> bool:
        """Whether the rule targets this account now and has a line in scope (what cannot change in a pass)."""
        if rule.key not in self._concerns:
            self._concerns[rule.key] = (
                _who_problem(rule, self.profile) is None
                and _when_problem(rule, self.cart, self.profile, self.now) is None
                and bool(self.scope(rule))
            )
        return self._concerns[rule.key]

    # -- one rule ----------------------------------------------------------------------------------------------

    def propose(self, rule: Rule) -> _Proposal:
        prop = _Proposal(rule, {}, {}, {}, [], [])
        reason = _who_problem(rule, self.profile) or _when_problem(rule, self.cart, self.profile, self.now)
        if reason is not None:
            prop.reasons.append(reason)
            return prop
        scope = self.scope(rule)
        if not scope:
            prop.reasons.append(Reason("NO_LINE_IN_SCOPE"))
            return prop
        if (reason := self._category_minimum(rule)) is not None:
            prop.reasons.append(reason)
            return prop
        eligible = []
        w = rule.when
        for i in scope:
            ln = self.lines[i]
            if w.min_quantity is not None and ln.line.quantity < w.min_quantity:
                prop.reasons.append(
                    Reason(
                        "MIN_QUANTITY_NOT_MET",
                        {"line": ln.line.key, "missing": w.min_quantity - ln.line.quantity, "min": w.min_quantity},
                    )
                )
                continue
            if w.min_line_amount is not None and ln.list_amount < w.min_line_amount:
                prop.reasons.append(
                    Reason(
                        "MIN_LINE_AMOUNT_NOT_MET",
                        {"line": ln.line.key, "missing": self.money(w.min_line_amount - ln.list_amount)},
                    )
                )
                continue
            if ln.blocked_by is not None:
                prop.reasons.append(
                    Reason(
                        "EXCLUDED_BY",
                        {"line": ln.line.key, "rule": ln.blocked_by.key, "name": ln.blocked_by.name},
                    )
                )
                continue
            clash = next((a for a in ln.applied if not _compatible(a, rule)), None)
            if clash is not None:
                prop.reasons.append(
                    Reason("NOT_COMBINABLE", {"line": ln.line.key, "rule": clash.key, "name": clash.name})
                )
                continue
            if ln.current <= 0:
                prop.reasons.append(Reason("NOTHING_LEFT", {"line": ln.line.key}))
                continue
            eligible.append(i)
        if not eligible:
            return prop
        base = sum((self.lines[i].current for i in eligible), ZERO)
        if w.min_cart_amount is not None and base < w.min_cart_amount:
            missing = w.min_cart_amount - base
            prop.reasons.append(Reason("MIN_SPEND_NOT_MET", {"missing": self.money(missing), "min": w.min_cart_amount}))
            prop.hints.append(
                Reason("SPEND_MORE", {"rule": rule.key, "name": rule.name, "missing": self.money(missing)})
            )
            return prop
        if rule.benefit.on_lines:
            self._line_benefit(prop, eligible)
        else:
            self._cart_benefit(prop, eligible, base)
        self._cap_and_floor(prop)
        return prop

    def _category_minimum(self, rule: Rule) -> Reason | None:
        cm = rule.when.category_min
        if cm is None:
            return None
        inside = [ln for ln in self.lines if cm.category in ln.line.category_path]
        quantity = sum((ln.line.quantity for ln in inside), ZERO)
        amount = sum((ln.current for ln in inside), ZERO)
        if cm.quantity is not None and quantity < cm.quantity:
            return Reason("CATEGORY_MIN_NOT_MET", {"category": cm.category, "missing_quantity": cm.quantity - quantity})
        if cm.amount is not None and amount < cm.amount:
            return Reason(
                "CATEGORY_MIN_NOT_MET", {"category": cm.category, "missing_amount": self.money(cm.amount - amount)}
            )
        return None

    def _line_benefit(self, prop: _Proposal, eligible: Sequence[int]) -> None:
        b = prop.rule.benefit
        q = self.q
        kind = b.kind
        percent: Decimal | None = b.percent
        detail = Reason(kind.upper())
        if kind == "percent_off":
            detail = Reason("PERCENT_OFF", {"percent": b.percent})
        elif kind == "tiers":
            basis = sum(
                (self.lines[i].line.quantity if b.basis == "quantity" else self.lines[i].current for i in eligible),
                ZERO,
            )
            reached = [t for t in b.tiers if t.start <= basis]
            upcoming = next((t for t in b.tiers if t.start > basis), None)
            if upcoming is not None:
                missing = upcoming.start - basis
                params = {"rule": prop.rule.key, "name": prop.rule.name, "percent": upcoming.percent}
                params["missing"] = missing if b.basis == "quantity" else self.money(missing)
                params["basis"] = b.basis
                prop.hints.append(Reason("NEXT_TIER", params))
            if not reached:
                first = b.tiers[0]
                missing = first.start - basis
                prop.reasons.append(
                    Reason(
                        "BELOW_FIRST_TIER",
                        {
                            "basis": b.basis,
                            "missing": missing if b.basis == "quantity" else self.money(missing),
                            "percent": first.percent,
                        },
                    )
                )
                return
            tier = reached[-1]
            percent = tier.percent
            detail = Reason(
                "TIER", {"index": len(reached), "from": tier.start, "percent": tier.percent, "basis": b.basis}
            )
        gifted = ZERO  # gift: units given free so far, over the order
        for i in eligible:
            ln = self.lines[i]
            qty = ln.line.quantity
            if kind in ("percent_off", "tiers"):
                assert percent is not None
                amount = q(ln.current * percent / HUNDRED)
            elif kind == "amount_off_unit":
                assert b.amount is not None
                amount = min(ln.current, q(qty * b.amount))
                detail = Reason("AMOUNT_OFF_UNIT", {"amount": self.money(b.amount)})
            elif kind == "fixed_price":
                assert b.price is not None
                amount = max(ZERO, ln.current - q(qty * b.price))
                detail = Reason("FIXED_PRICE", {"price": self.money(b.price)})
                if amount == 0:
                    prop.reasons.append(Reason("PRICE_ALREADY_LOWER", {"line": ln.line.key}))
                    continue
            elif kind == "gift":
                take = min(qty.to_integral_value(rounding=ROUND_FLOOR), Decimal(b.free) - gifted)
                if take <= 0:
                    continue
                gifted += take
                amount = q(ln.current * take / qty)
                detail = Reason("GIFT", {"free_units": take})
            else:  # buy_get
                pack = b.buy + b.free
                units = qty.to_integral_value(rounding=ROUND_FLOOR)
                sets = int(units) // pack
                if sets == 0:
                    prop.reasons.append(
                        Reason("MIN_QUANTITY_NOT_MET", {"line": ln.line.key, "missing": pack - units, "min": pack})
                    )
                    continue
                free_units = sets * b.free
                amount = q(ln.current * free_units / qty)
                detail = Reason("BUY_GET", {"buy": b.buy, "free": b.free, "free_units": free_units})
            if amount > 0:
                prop.amounts[i] = amount
                prop.details[i] = detail
        if kind == "gift" and gifted == 0:
            prop.reasons.append(Reason("GIFT_NOT_IN_CART", {"free": b.free}))

    def _cart_benefit(self, prop: _Proposal, eligible: Sequence[int], base: Decimal) -> None:
        b = prop.rule.benefit
        if b.kind == "cart_amount_off":
            assert b.amount is not None
            total = min(base, self.q(b.amount))
            detail = Reason("CART_AMOUNT_OFF", {"amount": self.money(b.amount)})
        else:  # spend_save
            assert b.spend is not None
            assert b.save is not None
            if base < b.spend:
                missing = self.money(b.spend - base)
                prop.reasons.append(Reason("MIN_SPEND_NOT_MET", {"missing": missing, "min": b.spend}))
                prop.hints.append(
                    Reason("SPEND_MORE", {"rule": prop.rule.key, "name": prop.rule.name, "missing": missing})
                )
                return
            times = int(base // b.spend) if b.repeat else 1
            total = min(base, self.q(b.save * times))
            detail = Reason("SPEND_SAVE", {"spend": self.money(b.spend), "save": self.money(b.save), "times": times})
            if b.repeat:
                missing = self.money(b.spend * (times + 1) - base)
                prop.hints.append(
                    Reason("SPEND_MORE", {"rule": prop.rule.key, "name": prop.rule.name, "missing": missing})
                )
        cap = prop.rule.caps.per_order
        if cap is not None and total > cap:
            total = self.q(cap)
            prop.notes.setdefault(-1, []).append(Reason("CAPPED_PER_ORDER", {"cap": self.money(cap)}))
        shares = allocate(self.money(total), [self.lines[i].current for i in eligible])
        for i, share in zip(eligible, shares, strict=True):
            if share.amount > 0:
                prop.amounts[i] = share.amount
                prop.details[i] = detail

    def _cap_and_floor(self, prop: _Proposal) -> None:
        caps = prop.rule.caps
        order_notes = prop.notes.pop(-1, [])
        if caps.per_line is not None:
            for i, amount in list(prop.amounts.items()):
                if amount > caps.per_line:
                    prop.amounts[i] = self.q(caps.per_line)
                    prop.notes.setdefault(i, []).append(Reason("CAPPED_PER_LINE", {"cap": self.money(caps.per_line)}))
        if caps.per_order is not None and prop.rule.benefit.on_lines and prop.total > caps.per_order:
            indexes = sorted(prop.amounts)
            shares = allocate(self.money(caps.per_order), [prop.amounts[i] for i in indexes])
            for i, share in zip(indexes, shares, strict=True):
                prop.amounts[i] = share.amount
                prop.notes.setdefault(i, []).append(Reason("CAPPED_PER_ORDER", {"cap": self.money(caps.per_order)}))
        for i in prop.amounts:
            prop.notes.setdefault(i, []).extend(order_notes)
        for i, amount in list(prop.amounts.items()):
            ln = self.lines[i]
            room = max(ZERO, ln.current - ln.floor)
            if amount > room:
                withheld = amount - room
                note = Reason("LIMITED_BY_FLOOR", {"line": ln.line.key, "withheld": self.money(withheld)})
                if room == 0:
                    del prop.amounts[i]
                    prop.details.pop(i, None)
                    prop.notes.pop(i, None)
                    prop.reasons.append(Reason("AT_FLOOR", {"line": ln.line.key}))
                else:
                    prop.amounts[i] = room
                    prop.notes.setdefault(i, []).append(note)
            elif amount <= 0:
                del prop.amounts[i]

    def apply(self, prop: _Proposal, *, extra: Sequence[Reason] = ()) -> None:
        rule = prop.rule
        for i, amount in sorted(prop.amounts.items()):
            ln = self.lines[i]
            ln.current -= amount
            ln.discounts.append(
                LineDiscount(
                    rule=rule.key,
                    name=rule.name,
                    source=rule.source,
                    amount=self.money(amount),
                    detail=prop.details[i],
                    notes=tuple(prop.notes.get(i, ())),
                    policy=rule.policy,
                )
            )
            ln.applied.append(rule)
            if rule.stacking.exclusive:
                ln.blocked_by = rule
        applied = bool(prop.amounts)
        reasons = list(prop.reasons) + list(extra)
        if not applied and not reasons:
            reasons.append(Reason("NO_BENEFIT"))
        self.outcomes.append(
            RuleOutcome(
                rule=rule.key,
                name=rule.name,
                policy=rule.policy,
                source=rule.source,
                applied=applied,
                amount=self.money(prop.total),
                lines=tuple(self.lines[i].line.key for i in sorted(prop.amounts)),
                reasons=tuple(reasons),
            )
        )
        self.hints.extend(prop.hints)

    def apply_group(self, members: Sequence[Rule]) -> None:
        """Weigh a group's rules on the same state; per line the best wins (for cart rules, the best in all)."""
        proposals = [self.propose(rule) for rule in members]
        if any(not r.benefit.on_lines for r in members):
            best = max(proposals, key=lambda p: p.total)  # max keeps the first (the higher rule) on ties
            for prop in proposals:
                if prop is best or not prop.amounts:
                    self.apply(prop)
                else:
                    lost = Reason(
                        "BEATEN_IN_GROUP",
                        {"group": prop.rule.stacking.group, "rule": best.rule.key, "name": best.rule.name},
                    )
                    self.apply(_Proposal(prop.rule, {}, {}, {}, prop.reasons, []), extra=(lost,))
            return
        winners: dict[int, _Proposal] = {}
        for prop in proposals:
            for i, amount in prop.amounts.items():
                if i not in winners or amount > winners[i].amounts[i]:
                    winners[i] = prop
        for prop in proposals:
            lost_lines = [i for i in prop.amounts if winners[i] is not prop]
            extra = [
                Reason(
                    "BEATEN_IN_GROUP",
                    {
                        "group": prop.rule.stacking.group,
                        "line": self.lines[i].line.key,
                        "rule": winners[i].rule.key,
                        "name": winners[i].rule.name,
                    },
                )
                for i in lost_lines
            ]
            for i in lost_lines:
                del prop.amounts[i]
            self.apply(prop, extra=extra)

    # -- the salesperson's discount --------------------------------------------------------------------------

    def apply_manual(self) -> None:
        q = self.q
        for ln in self.lines:
            manual = ln.line.manual
            if manual is None:
                continue
            qty = ln.line.quantity
            if manual.kind == "percent":
                amount = q(ln.current * manual.value / HUNDRED)
                detail = Reason("MANUAL_PERCENT", {"percent": manual.value})
            elif manual.kind == "amount":
                amount = q(qty * manual.value)
                detail = Reason("MANUAL_AMOUNT", {"amount": self.money(manual.value)})
            else:
                amount = ln.current - q(qty * manual.value)
                detail = Reason("MANUAL_PRICE", {"price": self.money(manual.value)})
            notes: tuple[Reason, ...] = ()
            if amount > ln.current:
                amount = ln.current
            if amount <= 0:
                continue
            if ln.current - amount < ln.floor:
                notes = (Reason("BELOW_FLOOR", {"line": ln.line.key, "floor": self.money(ln.floor)}),)
            ln.current -= amount
            ln.discounts.append(
                LineDiscount(
                    rule="manual",
                    name=manual.reason,
                    source="manual",
                    amount=self.money(amount),
                    detail=detail,
                    notes=notes,
                )
            )

    def result(self) -> Quote:
        cur = self.cur
        lines = []
        for ln in self.lines:
            qty = ln.line.quantity
            unit_cost = ln.line.unit_cost
            lines.append(
                LineQuote(
                    key=ln.line.key,
                    product=ln.line.product,
                    sku=ln.line.sku,
                    quantity=qty,
                    list_unit_price=Money(ln.line.list_price, cur),
                    list_amount=Money(ln.list_amount, cur),
                    discounts=tuple(ln.discounts),
                    net_amount=Money(ln.current, cur),
                    net_unit_price=Money((ln.current / qty).quantize(UNIT, rounding=ROUND_HALF_UP), cur),
                    floor_amount=Money(ln.floor, cur) if ln.line.floor_price is not None else None,
                    # A list price already under the floor is the catalogue's business; a manual
                    # discount that leaves the line under it is the salesperson's, and needs approval.
                    below_floor=ln.current < ln.floor and any(d.source == "manual" for d in ln.discounts),
                    margin=Money(ln.current - self.q(qty * unit_cost), cur) if unit_cost is not None else None,
                )
            )
        list_total = sum((ln.list_amount for ln in self.lines), ZERO)
        net_total = sum((ln.current for ln in self.lines), ZERO)
        return Quote(
            currency=cur,
            lines=tuple(lines),
            list_total=Money(list_total, cur),
            discount_total=Money(list_total - net_total, cur),
            net_total=Money(net_total, cur),
            outcomes=tuple(self.outcomes),
            hints=_unique(self.hints),
        )


def _unique(reasons: Sequence[Reason]) -> tuple[Reason, ...]:
    seen: list[Reason] = []
    for r in reasons:
        if r not in seen:
            seen.append(r)
    return tuple(seen)


def price_cart(
    cart: Cart,
    book: RuleBook,
    profile: AccountProfile,
    *,
    now: dt.datetime,
    coupons: Sequence[Rule] = (),
) -> Quote:
    """Price every line of ``cart`` for ``profile`` at ``now`` by the rules of ``book``
    (and the rules of any coupons given), then the lines' manual discounts.

    ``now`` must be time-zone aware: windows, weekdays and hours are read in its zone.
    """
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    pricing = _Pricing(cart, profile, now)
    candidates = book.candidates(cart, profile)
    if coupons:
        candidates = sorted([*candidates, *coupons], key=_order_key)
    done: set[str] = set()
    for rule in candidates:
        if rule.key in done:
            continue
        group = rule.stacking.group
        # A rule that cannot concern this cart at all (another account, outside its window, none of
        # its products) must not move where its group is weighed: adding it changes nothing.
        members = (
            [r for r in candidates if r.stacking.group == group and r.key not in done and pricing.concerns(r)]
            if group and pricing.concerns(rule)
            else []
        )
        if len(members) > 1:
            pricing.apply_group(members)
            done.update(r.key for r in members)
        else:
            pricing.apply(pricing.propose(rule))
            done.add(rule.key)
    pricing.apply_manual()
    return pricing.result()
