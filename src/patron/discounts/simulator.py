"""The simulator: what a cart costs an account (or one only described) by the live rules, and by a sandbox.

A described account has no row: its profile (region, industry, classes, lifecycle stage,
whether it ordered before) is built here and priced by the same ``price_cart`` as every
order. A sandbox is a copy of one policy's rules kept in the user's session and never
saved: the live rule book with that policy's rules replaced by the copy is priced beside
the live one, and the two quotes are compared line by line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from patron.accounts.models import Account
from patron.domain.explain import Reason
from patron.domain.money import Money
from patron.domain.pricing import AccountProfile, Rule, RuleBook, price_cart
from patron.domain.pricing.cart import Quote
from patron.domain.problems import DefinitionError

from . import mappers, quoting, selectors, services
from .mappers import Catalogue, LineRequest
from .messages import reason_text
from .models import DiscountRule, Policy

SESSION_KEY = "discounts.sandbox"
MAX_SANDBOX_RULES = 200


# --- a described account ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Described:
    """An account that does not exist: what a rule may ask about one."""

    region: int | None = None
    industry: int | None = None
    classes: frozenset[str] = frozenset()  # "classification_key:class_key"
    stage: str = ""  # lifecycle stage key
    new_customer: bool = False


def described_profile(described: Described, catalogue: Catalogue) -> AccountProfile:
    """The profile ``mappers.account_profile`` would give an account like this one."""
    classes = set(described.classes)
    stage = described.stage
    if stage:
        classes = {c for c in classes if not c.startswith(mappers.LIFECYCLE + ":")}
        classes.add(f"{mappers.LIFECYCLE}:{stage}")
    else:
        stage = next((c.split(":", 1)[1] for c in classes if c.startswith(mappers.LIFECYCLE + ":")), "")
    return AccountProfile(
        account=None,
        region_path=catalogue.regions.get(described.region, ()) if described.region else (),
        industry=described.industry,
        classes=frozenset(classes),
        stage=stage,
        tags=frozenset(),
        has_ordered=not described.new_customer,
    )


def price_described(
    described: Described,
    lines: Sequence[LineRequest],
    *,
    currency: str,
    channel: str,
    now: dt.datetime,
    user: Any = None,
    book: RuleBook | None = None,
) -> quoting.Priced:
    active = mappers.compiled_for([described.region], [r.product.category_id for r in lines])
    cart = mappers.cart_for(lines, active.catalogue, currency=currency, channel=channel)
    profile = described_profile(described, active.catalogue)
    quote = price_cart(cart, book or active.book, profile, now=now)
    need = selectors.approval_needed(cart, quote, user) if user is not None else None
    quoting.refuse_surcharges(lines, quote)
    return quoting.Priced(cart=cart, quote=quote, need=need)


def simulate(
    lines: Sequence[LineRequest],
    *,
    account: Account | None = None,
    described: Described | None = None,
    currency: str,
    channel: str,
    now: dt.datetime,
    user: Any = None,
    book: RuleBook | None = None,
) -> quoting.Priced:
    """A quote for ``account`` or for ``described`` (one of them), by ``book`` or the live rules."""
    if account is not None:
        return quoting.price(account, lines, currency=currency, channel=channel, now=now, user=user, book=book)
    if described is None:
        raise ValueError("give an account or describe one")
    return price_described(described, lines, currency=currency, channel=channel, now=now, user=user, book=book)


def _shown(value: Any) -> str:
    if isinstance(value, Money):
        amount = number_format(value.amount, decimal_pos=2, use_l10n=True, force_grouping=True)
        return f"{value.currency} {amount}"
    if isinstance(value, Decimal):
        return number_format(value.normalize() if value == value.to_integral() else value, use_l10n=True)
    return str(value)


def need_text(reason: Reason) -> str:
    """Why manual discounts need approval, in the reader's words."""
    p = {k: _shown(v) for k, v in reason.params.items() if not isinstance(v, list | tuple)}
    if reason.code == "OVER_PERCENT_LIMIT":
        return _("Line %(line)s: a manual discount of %(percent)s%% is above your limit of %(limit)s%%.") % p
    if reason.code == "OVER_AMOUNT_LIMIT":
        return _("Manual discounts of %(amount)s in all are above your limit of %(limit)s.") % p
    if reason.code == "OVER_MANAGER_LIMIT":
        return _("More than a sales manager may approve: an admin decides.")
    return reason_text(reason)


# --- the sandbox -----------------------------------------------------------------------------------------------


@dataclass
class SandboxRule:
    key: str  # "R<id>" for a copy of a stored rule, "S<n>" for one added in the sandbox
    name: str
    priority: int
    definition: dict[str, Any]
    origin: int | None = None  # the stored rule it copies

    def data(self) -> dict[str, Any]:
        """As the rule form and ``services.checked_rule`` take it."""
        return {"name": self.name, "priority": self.priority, **self.definition}


@dataclass
class Sandbox:
    policy_id: int
    rules: list[SandboxRule] = field(default_factory=list)
    counter: int = 0
    changed: bool = False

    def rule(self, key: str) -> SandboxRule | None:
        return next((r for r in self.rules if r.key == key), None)

    def as_session(self) -> dict[str, Any]:
        return {
            "policy": self.policy_id,
            "counter": self.counter,
            "changed": self.changed,
            "rules": [
                {"key": r.key, "name": r.name, "priority": r.priority, "definition": r.definition, "origin": r.origin}
                for r in self.rules
            ],
        }

    @classmethod
    def from_session(cls, data: Any) -> Sandbox | None:
        try:
            return cls(
                policy_id=int(data["policy"]),
                counter=int(data.get("counter", 0)),
                changed=bool(data.get("changed", False)),
                rules=[
                    SandboxRule(
                        key=str(r["key"]),
                        name=str(r["name"]),
                        priority=int(r["priority"]),
                        definition=dict(r["definition"]),
                        origin=r.get("origin"),
                    )
                    for r in data.get("rules") or []
                ],
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


def sandbox_start(policy: Policy) -> Sandbox:
    """A copy of ``policy``'s rules to try changes on."""
    if policy.status == Policy.ARCHIVED:
        raise ValidationError({"policy": [_("Choose a draft or an active policy.")]})
    rules = [
        SandboxRule(key=r.key, name=r.name, priority=r.priority, definition=dict(r.definition), origin=r.pk)
        for r in policy.rules.order_by("-priority", "id")
    ]
    return Sandbox(policy_id=policy.pk, rules=rules)


def sandbox_load(session: Mapping[str, Any]) -> tuple[Sandbox, Policy] | None:
    """The user's sandbox and its policy; None when there is none (or its policy is gone)."""
    raw = session.get(SESSION_KEY)
    sandbox = Sandbox.from_session(raw) if raw else None
    if sandbox is None:
        return None
    policy = Policy.objects.filter(pk=sandbox.policy_id).first()
    return (sandbox, policy) if policy is not None else None


def sandbox_keep(session: MutableMapping[str, Any], sandbox: Sandbox) -> None:
    session[SESSION_KEY] = sandbox.as_session()


def sandbox_clear(session: MutableMapping[str, Any]) -> None:
    session.pop(SESSION_KEY, None)


def sandbox_put(sandbox: Sandbox, data: Mapping[str, Any], *, key: str | None = None) -> SandboxRule:
    """Add a rule (no ``key``) or replace one, checked as a stored rule would be; ValidationError by field."""
    definition = services.checked_rule({k: v for k, v in data.items() if k != "policy"})
    name = str(data.get("name") or "").strip()
    priority = int(data.get("priority") or 0)
    if key is None:
        if len(sandbox.rules) >= MAX_SANDBOX_RULES:
            raise ValidationError({"rule": [_("A sandbox holds at most %(n)s rules.") % {"n": MAX_SANDBOX_RULES}]})
        sandbox.counter += 1
        rule = SandboxRule(key=f"S{sandbox.counter}", name=name, priority=priority, definition=definition)
        sandbox.rules.append(rule)
    else:
        found = sandbox.rule(key)
        if found is None:
            raise KeyError(key)
        found.name, found.priority, found.definition = name, priority, definition
        rule = found
    sandbox.changed = True
    return rule


def sandbox_remove(sandbox: Sandbox, key: str) -> None:
    before = len(sandbox.rules)
    sandbox.rules = [r for r in sandbox.rules if r.key != key]
    if len(sandbox.rules) == before:
        raise KeyError(key)
    sandbox.changed = True


@dataclass(frozen=True)
class SandboxBook:
    book: RuleBook
    skipped: tuple[str, ...]  # names of sandbox rules that no longer hold (a product set emptied, say)


def sandbox_rules(sandbox: Sandbox, policy: Policy) -> tuple[list[Rule], list[str]]:
    set_ids = {s for r in sandbox.rules for s in ((r.definition.get("what") or {}).get("product_sets") or [])}
    sets = mappers.product_set_members(set_ids) if set_ids else {}
    rules: list[Rule] = []
    skipped: list[str] = []
    for item in sandbox.rules:
        stand_in = DiscountRule(pk=item.origin or 0, name=item.name, priority=item.priority, definition=item.definition)
        try:
            rule = mappers.domain_rule(stand_in, policy, sets, source="sandbox")
        except (DefinitionError, ValueError, TypeError):
            skipped.append(item.name)
            continue
        rules.append(replace(rule, key=item.key))
    return rules, skipped


def sandbox_book(sandbox: Sandbox, policy: Policy, live: RuleBook) -> SandboxBook:
    """The live rules with ``policy``'s replaced by the sandbox's (added, for a draft policy)."""
    mine, skipped = sandbox_rules(sandbox, policy)
    policy_key = f"P{policy.pk}"
    others = [r for r in live.rules if r.policy_key != policy_key]
    return SandboxBook(book=RuleBook([*others, *mine], fingerprint="sandbox"), skipped=tuple(skipped))


# --- live beside sandbox ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineDifference:
    key: str
    sku: str
    quantity: Decimal
    list_amount: Money
    live: Money
    sandbox: Money

    @property
    def difference(self) -> Money:
        return self.sandbox - self.live


@dataclass(frozen=True)
class Comparison:
    lines: tuple[LineDifference, ...]
    live_total: Money
    sandbox_total: Money
    live_discount: Money
    sandbox_discount: Money

    @property
    def difference(self) -> Money:
        return self.sandbox_total - self.live_total

    @property
    def changed(self) -> bool:
        return not self.difference.is_zero() or any(not d.difference.is_zero() for d in self.lines)


def compare(live: Quote, sandbox: Quote) -> Comparison:
    """The two quotes of one cart, line by line: what the sandbox changes (negative: cheaper)."""
    return Comparison(
        lines=tuple(
            LineDifference(
                key=a.key,
                sku=a.sku,
                quantity=a.quantity,
                list_amount=a.list_amount,
                live=a.net_amount,
                sandbox=b.net_amount,
            )
            for a, b in zip(live.lines, sandbox.lines, strict=True)
        ),
        live_total=live.net_total,
        sandbox_total=sandbox.net_total,
        live_discount=live.discount_total,
        sandbox_discount=sandbox.discount_total,
    )


def quote_panel(priced: quoting.Priced, requests: Sequence[LineRequest]) -> dict[str, Any]:
    """A quote as the pages show it (discounts/_quote.html): product names, applied and not, who must approve."""
    data = quoting.quote_data(priced)
    lines = []
    for line, request in zip(data["lines"], requests, strict=True):
        lines.append({**line, "name": request.product.name, "unit": request.product.unit})
    need = priced.need
    return {
        **data,
        "lines": lines,
        "applied": [r for r in data["rules"] if r["applied"]],
        "not_applied": [r for r in data["rules"] if not r["applied"]],
        "has_manual": not priced.quote.manual_total.is_zero(),
        "need_level": need.level if need else "",
        "need_reasons": [need_text(r) for r in need.reasons] if need else [],
    }
