"""REST endpoints for what a discount policy would cost (what-if) and what it did (effect).

``POST /discount-policies/{id}/what-if`` replays the policy against a past period's confirmed
orders, per class of a classification: a small period answers 201 with the result at once; a
large one answers 202 with the run, which goes on in the background (poll
``GET /discount-policies/{id}/what-if/{run_id}`` for its progress and then its result).
Replaying needs ``EDIT_DISCOUNTS`` (admins and sales managers); reading what-if results and
effects is for admins, sales managers and finance. Amounts are text in the company currency.
How the figures are worked out: ``patron.discounts.analysis``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, Path, Router, Schema, Status

from patron.api.schemas import Amount, Day, responses

from . import analysis
from .models import Policy, WhatIfRun

router = Router(tags=["discount analysis"])

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


# --- schemas ------------------------------------------------------------------


class WhatIfIn(Schema):
    period: Literal["last_month", "last_quarter", "custom"] = Field(
        "last_month", description="Calendar month or quarter before today, or custom dates (start and end)."
    )
    start: Day | None = Field(None, description="First day, for a custom period.")
    end: Day | None = Field(None, description="Last day (included), for a custom period; not after today.")
    classification: Annotated[str, Field(max_length=40)] = Field(
        description="Key of the classification whose classes are the rows, e.g. value_tier."
    )
    classes_as_of: Literal["order_date", "period_end"] = Field(
        "order_date",
        description="Each account's class as of each order's date, or as of the period's last day "
        "(for the rows and for rules that target classes).",
    )


class NoteOut(Schema):
    code: str
    params: dict[str, Any]
    text: str


class WhatIfRowOut(Schema):
    key: str = Field(description='The class; "" for accounts in no class (and for the totals).')
    label: str
    accounts: int
    orders: int
    lines: int
    changed_orders: int = Field(description="Orders whose price the policy would have changed.")
    list_amount: Amount
    actual_discount: Amount = Field(description="List amount less the net amount the orders were sold at.")
    current_discount: Amount = Field(description="What the current rules (without this policy) would give.")
    policy_discount: Amount = Field(description="What the current rules and this policy would give.")
    actual_margin: Amount = Field(description="Net less quantity x unit cost, net of returns.")
    current_margin: Amount
    policy_margin: Amount


class WhatIfOut(Schema):
    id: int
    policy: int
    status: Literal["queued", "running", "done", "failed"]
    percent: int
    lines_total: int
    lines_done: int
    background: bool
    period: str
    start: dt.date
    end: dt.date
    classification: str
    classes_as_of: str
    currency: str | None
    segments: list[WhatIfRowOut]
    totals: WhatIfRowOut | None
    notes: list[NoteOut]
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    url: str = Field(description="The run's page.")


class WhatIfItem(Schema):
    id: int
    status: Literal["queued", "running", "done", "failed"]
    percent: int
    period: str
    start: dt.date
    end: dt.date
    classification: str
    classes_as_of: str
    created_at: dt.datetime
    created_by: str | None


class EffectFiguresOut(Schema):
    accounts: int = Field(description="Accounts with orders in the period.")
    orders: int
    sales: Amount = Field(description="Net of returns.")
    margin: Amount
    discount: Amount = Field(description="Discount the policy gave them in the period.")


class EffectGroupOut(Schema):
    before: EffectFiguresOut
    during: EffectFiguresOut


class EffectChangeOut(Schema):
    accounts: int = Field(description="Accounts with orders in both periods.")
    sales_before: Amount
    sales_during: Amount
    margin_before: Amount
    margin_during: Amount
    orders_before: Amount
    orders_during: Amount


class DidOut(Schema):
    sales: Amount
    margin: Amount
    orders: Amount


class PeriodOut(Schema):
    start: dt.date
    end: dt.date


class DuringOut(PeriodOut):
    running: bool = Field(description="The policy is still running: the period so far.")


class MonthlyOut(Schema):
    targeted: list[Amount]
    comparison: list[Amount]


class EffectOut(Schema):
    policy: int
    name: str
    status: str
    currency: str
    targeting: str = Field(
        description='"who_or_discount": accounts a rule is for by its "who" on the first day, and any that got '
        "a discount from the policy; the comparison group is every other account with orders."
    )
    before: PeriodOut
    during: DuringOut
    targeted: EffectGroupOut
    comparison: EffectGroupOut
    targeted_change: EffectChangeOut = Field(description="Per account, over accounts with orders in both periods.")
    comparison_change: EffectChangeOut
    did: DidOut | None = Field(description="Difference-in-differences per account; null without both groups.")
    did_mix: DidOut | None = Field(
        description="The same, comparison weighed by the targeted mix of province and industry."
    )
    mix_coverage: str | None = Field(description="Share of targeted accounts whose cell had comparison accounts.")
    discount_total: Amount = Field(description="Every discount the policy ever gave.")
    discount_orders: int
    months: list[str]
    monthly: MonthlyOut = Field(description="Sales per account of each group's accounts with orders in both periods.")
    notes: list[NoteOut]


# --- helpers ------------------------------------------------------------------


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _run_out(run: WhatIfRun) -> dict[str, Any]:
    rows, totals = analysis.whatif_rows(run)
    return {
        "id": run.pk,
        "policy": run.policy_id,
        "status": run.status,
        "percent": run.percent,
        "lines_total": run.lines_total,
        "lines_done": run.lines_done,
        "background": run.background,
        "period": run.period,
        "start": run.start,
        "end": run.end,
        "classification": run.classification_key,
        "classes_as_of": run.classes_as_of,
        "currency": (run.result or {}).get("currency"),
        "segments": rows,
        "totals": totals,
        "notes": analysis.whatif_notes(run),
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "url": reverse("discounts:what_if_run", args=[run.pk]),
    }


# --- endpoints ----------------------------------------------------------------


@router.post(
    "/discount-policies/{policy_id}/what-if",
    response=responses({201: WhatIfOut, 202: WhatIfOut}, 404, 422),
    summary="Replay a policy against a past period's orders",
    description="201 with the result when the period is small; 202 with the run, going on in the background, "
    "when it is large. Needs the right to edit discounts.",
)
def what_if_start(request: HttpRequest, policy_id: Id, payload: WhatIfIn) -> Any:
    user = _user(request)
    analysis.require_runner(user)
    policy = get_object_or_404(Policy, pk=policy_id)
    run = analysis.whatif_start(actor=user, policy=policy, data=payload.dict())
    return Status(202 if run.is_busy else 201, _run_out(run))


@router.get(
    "/discount-policies/{policy_id}/what-if",
    response=responses({200: list[WhatIfItem]}, 404, 422),
    summary="A policy's latest what-if runs",
)
def what_if_list(request: HttpRequest, policy_id: Id) -> Any:
    analysis.require_reader(_user(request))
    policy = get_object_or_404(Policy, pk=policy_id)
    return [
        {
            "id": run.pk,
            "status": run.status,
            "percent": run.percent,
            "period": run.period,
            "start": run.start,
            "end": run.end,
            "classification": run.classification_key,
            "classes_as_of": run.classes_as_of,
            "created_at": run.created_at,
            "created_by": run.created_by.display_name() if run.created_by else None,
        }
        for run in analysis.whatif_runs(policy)
    ]


@router.get(
    "/discount-policies/{policy_id}/what-if/{run_id}",
    response=responses({200: WhatIfOut}, 404, 422),
    summary="A what-if run: its progress, then its result",
)
def what_if_detail(request: HttpRequest, policy_id: Id, run_id: Id) -> Any:
    analysis.require_reader(_user(request))
    run = get_object_or_404(WhatIfRun.objects.select_related("classification"), pk=run_id, policy_id=policy_id)
    analysis.expire_if_stalled(run)
    return _run_out(run)


@router.get(
    "/discount-policies/{policy_id}/effect",
    response=responses({200: EffectOut}, 404, 409, 422),
    summary="What an active or archived policy did: targeted accounts against those it did not reach",
    description="409 for a draft, or a policy that has not started yet.",
)
def policy_effect(request: HttpRequest, policy_id: Id) -> Any:
    analysis.require_reader(_user(request))
    policy = get_object_or_404(Policy, pk=policy_id)
    return analysis.effect_data(analysis.effect(policy))
