"""Coupons on orders: priced with the order's rules, redeemed in its transaction, given back on cancel.

``PROVIDER.hold`` runs in the order's transaction before it is priced: it reads and locks the
coupon rows of the codes (in id order, so two orders never wait on each other in a circle), and
the rows of the campaigns whose limits span codes (a budget, uses per account), makes the checks
that need no price (the code exists, its campaign runs, its dates, its account, its uses), and
gives the pricing engine's coupon rules. ``Hold.redeem``, once the order is priced and written,
checks the minimum spend and the budget against what each coupon gives on this order and records
the redemption. Any refusal raises, and the order is not recorded: a code is never used by an
order that failed, and 200 orders racing for one single-use code give exactly one redemption.

Cancelling an order, or returning all of it, reverses its redemptions: the use and the budget
come back, the record stays with when and why it was reversed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, Sum
from django.utils import formats, timezone

from patron.domain.coupons.codes import LENGTH, is_well_formed, normalize
from patron.domain.coupons.terms import CouponState, CouponTerms, parse_coupon_terms, refusals, valid_until
from patron.domain.explain import Reason
from patron.domain.pricing.rules import Benefit, Rule, Stacking
from patron.sales.hooks import DocumentsChanged

from .messages import reason_text
from .models import Campaign, Coupon, Redemption

INFINITE = Decimal("Infinity")


def rule_key(coupon: Coupon) -> str:
    return f"coupon:{coupon.pk}"


def coupon_rule(coupon: Coupon, terms: CouponTerms) -> Rule:
    """The coupon as one of the pricing engine's rules: a coupon that does not combine with discount
    policies combines with no rule applied before it."""
    campaign = coupon.campaign
    benefit = terms.benefit if coupon.amount is None else Benefit("cart_amount_off", amount=coupon.amount)
    return Rule(
        key=rule_key(coupon),
        name=campaign.name,
        benefit=benefit,
        what=terms.what,
        stacking=Stacking(combines_with=None if terms.with_policies else frozenset()),
        policy=campaign.name,
        policy_key=f"campaign:{campaign.pk}",
        source="coupon",
        code=coupon.code,
    )


def state_of(coupon: Coupon, account_uses: int = 0, has_ordered: bool = False) -> CouponState:
    campaign = coupon.campaign
    ends = [e for e in (campaign.ends_at, coupon.valid_until) if e is not None]
    return CouponState(
        code=coupon.code,
        currency=campaign.currency,
        starts=max(campaign.starts_at, coupon.issued_at),
        ends=min(ends) if ends else None,
        account=coupon.account_id,
        uses=coupon.uses,
        account_uses=account_uses,
        budget_used=campaign.budget_used,
        cancelled=coupon.cancelled_at is not None,
        has_ordered=has_ordered,
        shared=coupon.source == Coupon.SHARED,
    )


def has_ordered(terms: CouponTerms, account_id: int | None, *, besides: int | None = None) -> bool:
    """Whether the account has a live order (other than ``besides``, a draft whose lines change): only a
    first-order coupon asks."""
    if terms.kind != "first_order" or account_id is None:
        return False
    from patron.sales.models import Order

    orders = Order.objects.filter(account_id=account_id).exclude(status=Order.CANCELLED)
    if besides is not None:
        orders = orders.exclude(pk=besides)
    return orders.exists()


def _spans_codes(terms: dict[str, Any]) -> bool:
    return terms.get("budget") is not None or terms.get("uses_per_account") is not None


def account_uses(campaign: Campaign, account_id: int | None) -> int:
    if account_id is None or campaign.terms.get("uses_per_account") is None:
        return 0  # no limit per account: nothing to count
    return Redemption.objects.filter(campaign=campaign, account_id=account_id, reversed_at__isnull=True).count()


def reason_words(reason: Reason) -> str:
    """A refusal in the reader's words, its moments in local time."""
    params = {
        k: formats.date_format(timezone.localtime(v), "Y-m-d H:i") if isinstance(v, dt.datetime) else v
        for k, v in reason.params.items()
    }
    return reason_text(Reason(reason.code, params))


@dataclass(frozen=True)
class Found:
    coupon: Coupon
    terms: CouponTerms
    state: CouponState  # its uses, the account's uses and the budget as read (under lock when held)


def find(
    codes: Sequence[str],
    *,
    account_id: int | None,
    currency: str,
    now: dt.datetime,
    lock: bool = False,
    order_id: int | None = None,
) -> tuple[list[Found], dict[str, list[str]]]:
    """The coupons of ``codes``, and what refuses each before pricing (keyed ``coupons[i]``;
    ``order_id``: the draft they are for, which is not an earlier order of its account).

    All codes are read at once; with ``lock`` their rows are locked in id order, then the rows of
    the campaigns whose limits span codes (read again under the lock: their budget used)."""
    errors: dict[str, list[str]] = {}
    found: list[Found] = []
    seen: set[str] = set()
    normalized = [normalize(str(typed)) for typed in codes]
    coupons = Coupon.objects.select_related("campaign").filter(code__in=set(normalized)).order_by("pk")
    if lock:
        coupons = coupons.select_for_update(of=("self",))
    by_code = {c.code: c for c in coupons}
    campaigns: dict[int, Campaign] = {}  # one object per campaign, so two codes of one share its budget
    for coupon in by_code.values():
        campaigns.setdefault(coupon.campaign_id, coupon.campaign)
    guarded = sorted(pk for pk, c in campaigns.items() if _spans_codes(c.terms))
    if lock and guarded:
        campaigns.update({c.pk: c for c in Campaign.objects.select_for_update().filter(pk__in=guarded).order_by("pk")})
    for coupon in by_code.values():
        coupon.campaign = campaigns[coupon.campaign_id]
    for i, code in enumerate(normalized):
        where = f"coupons[{i}]"
        if code in seen:
            errors[where] = [reason_words(Reason("TWICE"))]
            continue
        seen.add(code)
        known = by_code.get(code)
        if known is None:
            errors[where] = [reason_words(Reason("MALFORMED" if _mistyped(code) else "UNKNOWN"))]
            continue
        coupon, campaign = known, known.campaign
        if campaign.status != Campaign.ACTIVE:
            errors[where] = [reason_words(Reason("NOT_RUNNING"))]
            continue
        if campaign.currency != currency:
            errors[where] = [reason_words(Reason("CURRENCY", {"currency": campaign.currency, "order": currency}))]
            continue
        terms = parse_coupon_terms(campaign.terms)
        state = state_of(coupon, account_uses(campaign, account_id), has_ordered(terms, account_id, besides=order_id))
        refused = refusals(terms, state, account=account_id, eligible_amount=INFINITE, now=now)
        if refused:
            errors[where] = [reason_words(r) for r in refused]
            continue
        found.append(Found(coupon, terms, state))
    if len(found) > 1:
        for i, item in enumerate(found):
            if not item.terms.with_coupons:
                errors.setdefault(f"coupons[{i}]", []).append(reason_words(Reason("NOT_WITH_COUPONS")))
    return found, errors


def _mistyped(code: str) -> bool:
    """Shaped like a running campaign's code, but its check character disagrees: a typing mistake."""
    prefixes = Campaign.objects.filter(status=Campaign.ACTIVE).values_list("prefix", flat=True).distinct()
    return any(
        code.startswith(p) and len(code) == len(p) + LENGTH + 1 and not is_well_formed(code, p) for p in prefixes
    )


def judge(
    item: Found, priced: Any, *, account_id: int | None, now: dt.datetime, state: CouponState | None = None
) -> tuple[Decimal, list[Reason]]:
    """What the coupon gives on a priced cart, and every reason it may not (minimum spend on the products
    it covers, counted before it; the budget against what it gives; nothing given at all). ``state``:
    the coupon's state if it changed since it was found (an earlier code of the same order used it)."""
    coupon, terms = item.coupon, item.terms
    key = rule_key(coupon)
    given = Decimal(0)
    eligible = Decimal(0)
    for cart_line, line in zip(priced.cart.lines, priced.quote.lines, strict=True):
        mine = sum((d.amount.amount for d in line.discounts if d.rule == key), Decimal(0))
        given += mine
        if terms.what.covers(cart_line.product, cart_line.category_path):
            eligible += line.net_amount.amount + mine
    state = state or item.state
    refused = list(refusals(terms, state, account=account_id, eligible_amount=eligible, now=now, discount=given))
    if given <= 0 and not refused:
        outcome = priced.quote.outcome(key)
        why = [r for r in (outcome.reasons if outcome is not None else ()) if r.code != "NO_BENEFIT"]
        if terms.benefit.kind == "gift" and (outcome is None or {r.code for r in why} <= {"NO_LINE_IN_SCOPE"}):
            why = [Reason("GIFT_NOT_IN_CART", {"free": terms.benefit.free})]
        refused.extend(why or [Reason("NO_BENEFIT")])
    return given, refused


class Hold:
    """An order's coupons, read and locked in its transaction: their pricing rules, then their redemption."""

    def __init__(self, found: list[Found]) -> None:
        self.found = found
        self.rules = [coupon_rule(f.coupon, f.terms) for f in found]

    def redeem(self, *, order: Any, priced: Any, now: dt.datetime) -> None:
        errors: dict[str, list[str]] = {}
        taken: dict[int, int] = {}  # uses of each campaign by this order so far (two codes of one campaign)
        for i, item in enumerate(self.found):
            coupon, terms = item.coupon, item.terms
            campaign = coupon.campaign
            state = replace(
                item.state,
                account_uses=item.state.account_uses + taken.get(campaign.pk, 0),
                budget_used=campaign.budget_used,
            )
            given, refused = judge(item, priced, account_id=order.account_id, now=now, state=state)
            if refused:
                errors[f"coupons[{i}]"] = [reason_words(r) for r in refused]
                continue
            Redemption.objects.create(
                coupon=coupon,
                campaign=campaign,
                account_id=order.account_id,
                order=order,
                amount=given,
                currency=order.currency,
            )
            Coupon.objects.filter(pk=coupon.pk).update(uses=F("uses") + 1)
            coupon.uses += 1
            taken[campaign.pk] = taken.get(campaign.pk, 0) + 1
            if terms.budget is not None:
                Campaign.objects.filter(pk=campaign.pk).update(budget_used=F("budget_used") + given)
                campaign.budget_used += given
        if errors:
            raise ValidationError(errors)


class _Provider:
    def hold(
        self, *, account: Any, codes: Sequence[str], currency: str, now: dt.datetime, order_id: int | None = None
    ) -> Hold:
        found, errors = find(codes, account_id=account.pk, currency=currency, now=now, lock=True, order_id=order_id)
        if errors:
            raise ValidationError(errors)
        return Hold(found)

    def release(self, *, order: Any) -> list[str]:
        mine = Redemption.objects.filter(order_id=order.pk, reversed_at__isnull=True)
        live = mine.select_for_update()
        # Coupons, then their campaigns, locked in id order as an order's codes are (``find``), before a use
        # goes back: a draft changing and an order taking the same codes never wait on each other in a circle.
        coupons = Coupon.objects.select_for_update().filter(pk__in=mine.values("coupon_id")).order_by("pk")
        campaign_ids = {campaign for _pk, campaign in coupons.values_list("pk", "campaign_id")}
        if campaign_ids:
            list(Campaign.objects.select_for_update().filter(pk__in=campaign_ids).order_by("pk").values_list("pk"))
        codes = []
        for redemption in live.select_related("coupon").order_by("id"):
            redemption_reverse(redemption, reason="order lines changed")
            codes.append(redemption.coupon.code)
        return codes


PROVIDER = _Provider()


def redemption_reverse(redemption: Redemption, *, reason: str) -> bool:
    """Give the use and the budget back; False if it was reversed already."""
    reversed_now = Redemption.objects.filter(pk=redemption.pk, reversed_at__isnull=True).update(
        reversed_at=timezone.now(), reversed_reason=reason[:200]
    )
    if not reversed_now:
        return False
    Coupon.objects.filter(pk=redemption.coupon_id).update(uses=F("uses") - 1)
    budgeted = Campaign.objects.filter(pk=redemption.campaign_id, terms__has_key="budget")
    budgeted.update(budget_used=F("budget_used") - redemption.amount)
    return True


def _fully_returned(order_id: int) -> bool:
    from patron.sales.models import OrderLine, ReturnLine

    ordered = OrderLine.objects.filter(order_id=order_id).aggregate(q=Sum("quantity"))["q"] or Decimal(0)
    returned = ReturnLine.objects.filter(order_line__order_id=order_id).aggregate(q=Sum("quantity"))["q"] or Decimal(0)
    return ordered > 0 and returned >= ordered


def documents_changed(event: DocumentsChanged) -> None:
    """An order cancelled, or returned whole, gives its coupons back."""
    if event.kind in ("order_cancelled", "draft_cancelled"):
        reason = "order cancelled"
    elif event.kind == "return_recorded" and _fully_returned(event.order_id):
        reason = "order returned"
    else:
        return
    for redemption in Redemption.objects.select_for_update().filter(order_id=event.order_id, reversed_at__isnull=True):
        redemption_reverse(redemption, reason=reason)


def issued_until(campaign: Campaign, terms: CouponTerms, issued: dt.datetime) -> dt.datetime | None:
    return valid_until(issued, campaign.ends_at, terms.valid_days)
