"""REST endpoints for discounts: the quote, policies and their rules, product sets, limits.

``POST /quotes`` prices a cart for an account by the active rules and explains every
line: which rule gave what, and for each rule considered that did not apply, why.
It also says whether the caller's manual discounts need approval, and from whom.
Reading policies is open to every signed-in role; writing needs ``EDIT_DISCOUNTS``.
Reasons come as data (``code``, ``params``) with their ``text`` in the caller's language.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Path, Router, Schema, Status
from pydantic import BaseModel

from patron.api.schemas import AmountIn, CodeIn, UserRef, responses
from patron.core.errors import error_dict

from . import quoting, selectors, services
from .mappers import quote_context
from .models import DiscountLimit, DiscountRule, Policy, ProductSet

router = Router(tags=["discounts"])

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Text = Annotated[str, Field(max_length=5000)]
_INDEX = re.compile(r"\[(\d+)\]")


# --- schemas ------------------------------------------------------------------
# The quote's output models are plain pydantic models: they are built from dicts, and a quote
# explains dozens of rules, so ninja's attribute-resolving Schema would cost milliseconds a quote.
# Its input models are plain too: ninja's Schema runs a resolver for every line of the cart.


class ReasonOut(BaseModel):
    code: str
    params: dict[str, Any]
    text: str


class ManualIn(BaseModel):
    kind: Literal["percent", "amount", "price"] = Field(
        description="percent off what the rules left; amount off each unit; or the net unit price asked for."
    )
    value: AmountIn
    reason: Annotated[str, Field(max_length=500)] = ""


class QuoteLineIn(BaseModel):
    product: CodeIn | int = Field(description="SKU (text) or product id (number).")
    quantity: AmountIn = Field(examples=["12"])
    manual: ManualIn | None = None


class QuoteIn(BaseModel):
    account: CodeIn = Field(description="Account code.")
    lines: list[QuoteLineIn] = Field(max_length=500)
    currency: Annotated[str, Field(max_length=3)] = "CNY"
    channel: Literal["sales_rep", "web_shop", "store", "phone"] = "sales_rep"
    at: dt.datetime | None = Field(None, description="Price as of this moment (with its zone); now when left out.")


class DiscountOut(BaseModel):
    rule: str
    rule_id: int | None
    name: str
    policy: str
    source: str
    amount: str
    how: ReasonOut
    notes: list[ReasonOut]


class QuoteLineOut(BaseModel):
    line: str
    sku: str
    quantity: str
    list_unit_price: str
    list_amount: str
    net_amount: str
    net_unit_price: str
    floor_amount: str | None
    below_floor: bool
    margin: str | None
    discounts: list[DiscountOut]


class RuleOutcomeOut(BaseModel):
    rule: str
    rule_id: int | None
    name: str
    policy: str
    source: str
    applied: bool
    amount: str
    lines: list[str]
    reasons: list[ReasonOut]


class ApprovalOut(BaseModel):
    level: Literal["manager", "admin"] | None = Field(
        description="Who must approve the manual discounts; null: nobody."
    )
    reasons: list[ReasonOut]


class QuoteOut(BaseModel):
    currency: str
    list_total: str
    discount_total: str
    net_total: str
    manual_total: str
    lines: list[QuoteLineOut]
    rules: list[RuleOutcomeOut] = Field(description="Every rule considered, applied or not, with why.")
    hints: list[ReasonOut] = Field(description="What a little more would earn (next tier, spend more).")
    approval: ApprovalOut | None


class RuleIn(Schema):
    name: Annotated[str, Field(max_length=200)]
    priority: int = 0
    who: dict[str, Any] | None = None
    what: dict[str, Any] | None = None
    when: dict[str, Any] | None = None
    benefit: dict[str, Any]
    stacking: dict[str, Any] | None = None
    caps: dict[str, Any] | None = None


class RulePatch(Schema):
    name: Annotated[str, Field(max_length=200)] | None = None
    priority: int | None = None
    who: dict[str, Any] | None = None
    what: dict[str, Any] | None = None
    when: dict[str, Any] | None = None
    benefit: dict[str, Any] | None = None
    stacking: dict[str, Any] | None = None
    caps: dict[str, Any] | None = None


class RuleOut(Schema):
    id: int
    policy: int
    name: str
    priority: int
    definition: dict[str, Any]
    updated_at: dt.datetime


class PolicyIn(Schema):
    name: Annotated[str, Field(max_length=200)]
    description: Text = ""
    customer_text: Text = ""
    effective_from: dt.datetime | None = None
    effective_to: dt.datetime | None = None


class PolicyPatch(Schema):
    name: Annotated[str, Field(max_length=200)] | None = None
    description: Text | None = None
    customer_text: Text | None = None
    effective_from: dt.datetime | None = None
    effective_to: dt.datetime | None = None


class PolicyItem(Schema):
    id: int
    name: str
    status: Literal["draft", "active", "archived"]
    effective_from: dt.datetime | None
    effective_to: dt.datetime | None
    owner: UserRef
    version: int
    rule_count: int
    updated_at: dt.datetime


class PolicyOut(PolicyItem):
    description: str
    customer_text: str
    published_at: dt.datetime | None
    rules: list[RuleOut]


class StatusIn(Schema):
    status: Literal["draft", "active", "archived"]


class ProductSetIn(Schema):
    name: Annotated[str, Field(max_length=200)]
    description: Text = ""
    products: list[int] = Field(default_factory=list, max_length=10000)


class ProductSetOut(Schema):
    id: int
    name: str
    description: str
    products: list[int]


class LimitIn(Schema):
    role: Literal["admin", "sales_manager", "salesperson", "finance", "marketing", ""] = ""
    user: int | None = None
    category: int | None = None
    segment: Annotated[str, Field(max_length=110)] = Field(
        "", description='"classification:class": the limit for accounts in that segment; empty: every account.'
    )
    percent: AmountIn | None = Field(None, description="Manual discount per line, percent; empty: no limit.")
    amount: AmountIn | None = Field(None, description="Manual discount per order, in money; empty: no limit.")


class LimitOut(Schema):
    id: int
    role: str
    user: int | None
    category: int | None
    segment: str
    percent: str | None
    amount: str | None


# --- helpers ------------------------------------------------------------------


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _dotted(exc: ValidationError) -> ValidationError:
    return ValidationError({_INDEX.sub(r".\1", key): messages for key, messages in error_dict(exc).items()})


def _rule_out(rule: DiscountRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "policy": rule.policy_id,
        "name": rule.name,
        "priority": rule.priority,
        "definition": rule.definition,
        "updated_at": rule.updated_at,
    }


def _policy_out(policy: Policy) -> dict[str, Any]:
    rules = list(policy.rules.order_by("-priority", "id"))
    return {
        "id": policy.pk,
        "name": policy.name,
        "status": policy.status,
        "effective_from": policy.effective_from,
        "effective_to": policy.effective_to,
        "owner": policy.owner,
        "version": policy.version,
        "rule_count": len(rules),
        "updated_at": policy.updated_at,
        "description": policy.description,
        "customer_text": policy.customer_text,
        "published_at": policy.published_at,
        "rules": [_rule_out(r) for r in rules],
    }


def _with_rule_errors(call: Any) -> Any:
    try:
        return call()
    except ValidationError as exc:
        raise _dotted(exc) from None


# --- the quote ----------------------------------------------------------------


@router.post("/quotes", response=responses({200: QuoteOut}, 422), summary="Price a cart for an account, explained")
def quote_create(request: HttpRequest, payload: QuoteIn) -> Any:
    user = _user(request)
    context = quote_context(user, payload.account)
    account = context.account
    if account is None:
        raise ValidationError({"account": [_("Unknown account.")]})
    if payload.at is not None and payload.at.tzinfo is None:
        raise ValidationError({"at": [_("Give the moment with its time zone, e.g. 2026-12-01T10:00:00+08:00.")]})
    held = context.held
    lines = quoting.line_requests([line.model_dump() for line in payload.lines], currency=payload.currency, held=held)
    priced = quoting.price(
        account,
        lines,
        currency=payload.currency,
        channel=payload.channel,
        now=payload.at,
        user=user,
        held=held,
        profile=context.profile,
    )
    # Built from data that already has the schema's shape: sent as it is, not validated once more.
    return HttpResponse(
        json.dumps(quoting.quote_data(priced), ensure_ascii=False, separators=(",", ":")),
        content_type="application/json",
    )


# --- policies and rules -------------------------------------------------------


@router.get("/discount-policies", response=responses({200: list[PolicyItem]}, 422), summary="List discount policies")
def policy_list(request: HttpRequest, status: Literal["draft", "active", "archived"] | None = None) -> Any:
    return list(selectors.policy_list(status))


@router.post("/discount-policies", response=responses({201: PolicyOut}, 422), summary="Create a draft policy")
def policy_create(request: HttpRequest, payload: PolicyIn) -> Any:
    policy = services.policy_create(actor=_user(request), data=payload.dict())
    return Status(201, _policy_out(policy))


@router.get(
    "/discount-policies/{policy_id}", response=responses({200: PolicyOut}, 404, 422), summary="A policy and its rules"
)
def policy_detail(request: HttpRequest, policy_id: Id) -> Any:
    return _policy_out(get_object_or_404(Policy.objects.select_related("owner"), pk=policy_id))


@router.patch(
    "/discount-policies/{policy_id}", response=responses({200: PolicyOut}, 404, 409, 422), summary="Edit a policy"
)
def policy_update(request: HttpRequest, policy_id: Id, payload: PolicyPatch) -> Any:
    policy = get_object_or_404(Policy, pk=policy_id)
    data = payload.dict(exclude_unset=True)
    policy = services.policy_update(actor=_user(request), policy=policy, data=data)
    return _policy_out(policy)


@router.post(
    "/discount-policies/{policy_id}/status",
    response=responses({200: PolicyOut}, 404, 409, 422),
    summary="Activate, pause (back to draft) or archive a policy",
)
def policy_status(request: HttpRequest, policy_id: Id, payload: StatusIn) -> Any:
    policy = get_object_or_404(Policy, pk=policy_id)
    return _policy_out(services.policy_set_status(actor=_user(request), policy=policy, status=payload.status))


@router.post(
    "/discount-policies/{policy_id}/copy",
    response=responses({201: PolicyOut}, 404, 422),
    summary="Copy into a new draft",
)
def policy_copy(request: HttpRequest, policy_id: Id) -> Any:
    policy = get_object_or_404(Policy, pk=policy_id)
    return Status(201, _policy_out(services.policy_copy(actor=_user(request), policy=policy)))


@router.post(
    "/discount-policies/{policy_id}/rules",
    response=responses({201: RuleOut}, 404, 409, 422),
    summary="Add a rule to a policy",
)
def rule_create(request: HttpRequest, policy_id: Id, payload: RuleIn) -> Any:
    policy = get_object_or_404(Policy, pk=policy_id)
    data = payload.dict(exclude_none=True)
    rule = _with_rule_errors(lambda: services.rule_create(actor=_user(request), policy=policy, data=data))
    return Status(201, _rule_out(rule))


@router.patch("/discount-rules/{rule_id}", response=responses({200: RuleOut}, 404, 409, 422), summary="Edit a rule")
def rule_update(request: HttpRequest, rule_id: Id, payload: RulePatch) -> Any:
    rule = get_object_or_404(DiscountRule.objects.select_related("policy"), pk=rule_id)
    data = payload.dict(exclude_unset=True)
    rule = _with_rule_errors(lambda: services.rule_update(actor=_user(request), rule=rule, data=data))
    return _rule_out(rule)


@router.delete("/discount-rules/{rule_id}", response=responses({204: None}, 404, 409, 422), summary="Remove a rule")
def rule_delete(request: HttpRequest, rule_id: Id) -> Any:
    rule = get_object_or_404(DiscountRule.objects.select_related("policy"), pk=rule_id)
    services.rule_delete(actor=_user(request), rule=rule)
    return Status(204, None)


# --- product sets and limits --------------------------------------------------


def _set_out(product_set: ProductSet) -> dict[str, Any]:
    return {
        "id": product_set.pk,
        "name": product_set.name,
        "description": product_set.description,
        "products": sorted(product_set.products.values_list("id", flat=True)),
    }


@router.get("/product-sets", response=responses({200: list[ProductSetOut]}, 422), summary="List product sets")
def product_set_list(request: HttpRequest) -> Any:
    return [_set_out(s) for s in ProductSet.objects.all()]


@router.post("/product-sets", response=responses({201: ProductSetOut}, 422), summary="Create a product set")
def product_set_create(request: HttpRequest, payload: ProductSetIn) -> Any:
    data = payload.dict()
    product_set = _with_rule_errors(lambda: services.product_set_save(actor=_user(request), data=data))
    return Status(201, _set_out(product_set))


@router.put("/product-sets/{set_id}", response=responses({200: ProductSetOut}, 404, 422), summary="Edit a product set")
def product_set_update(request: HttpRequest, set_id: Id, payload: ProductSetIn) -> Any:
    product_set = get_object_or_404(ProductSet, pk=set_id)
    data = payload.dict()
    saved = _with_rule_errors(
        lambda: services.product_set_save(actor=_user(request), data=data, product_set=product_set)
    )
    return _set_out(saved)


def _limit_out(limit: DiscountLimit) -> dict[str, Any]:
    return {
        "id": limit.pk,
        "role": limit.role,
        "user": limit.user_id,
        "category": limit.category_id,
        "segment": limit.segment,
        "percent": None if limit.percent is None else str(limit.percent),
        "amount": None if limit.amount is None else str(limit.amount),
    }


@router.get("/discount-limits", response=responses({200: list[LimitOut]}, 422), summary="Manual discount limits")
def limit_list(request: HttpRequest) -> Any:
    limits = DiscountLimit.objects.order_by("role", "user_id", "segment", "category_id")
    return [_limit_out(limit) for limit in limits]


@router.put("/discount-limits", response=responses({200: LimitOut}, 422), summary="Set a role's or a user's limit")
def limit_set(request: HttpRequest, payload: LimitIn) -> Any:
    return _limit_out(services.discount_limit_set(actor=_user(request), data=payload.dict()))
