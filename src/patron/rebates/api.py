"""REST endpoints for rebates: programs and agreements, each account's accrual explained, settlements.

Writing programs and agreements needs ``EDIT_REBATES``; running, overriding and approving
settlements ``SETTLE_REBATES``. Approving a settlement twice answers 200 both times and pays once.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Path, Router, Schema, Status

from patron.accounts.access import visible_accounts
from patron.api.schemas import responses
from patron.domain.rebates import RebateResult

from . import services
from . import settlement as settling
from .accrual import accrual_result
from .messages import reason_text
from .models import RebateAccrual, RebateProgram, RebateSettlement, RebateSettlementLine

router = Router(tags=["rebates"])
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


class ProgramIn(Schema):
    name: Annotated[str, Field(max_length=200)]
    description: Annotated[str, Field(max_length=5000)] = ""
    customer_text: Annotated[str, Field(max_length=5000)] = ""
    period_kind: Literal["month", "quarter", "half_year", "year", "custom"] = "quarter"
    effective_from: dt.date
    effective_to: dt.date | None = None
    currency: Annotated[str, Field(max_length=3)] = "CNY"
    terms: dict[str, Any]
    eligibility: dict[str, Any] = {}
    payout_form: Literal["credit_note", "cash", "discount", "points"] = "credit_note"
    settlement_lag_days: Annotated[int, Field(ge=0, le=366)] = 30


class ProgramPatch(Schema):
    name: Annotated[str, Field(max_length=200)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    customer_text: Annotated[str, Field(max_length=5000)] | None = None
    effective_to: dt.date | None = None
    terms: dict[str, Any] | None = None
    eligibility: dict[str, Any] | None = None
    payout_form: Literal["credit_note", "cash", "discount", "points"] | None = None
    settlement_lag_days: Annotated[int, Field(ge=0, le=366)] | None = None


class ProgramOut(Schema):
    id: int
    name: str
    status: str
    period_kind: str
    effective_from: dt.date
    effective_to: dt.date | None
    currency: str
    terms: dict[str, Any]
    eligibility: dict[str, Any]
    payout_form: str
    settlement_lag_days: int
    version: int


class StatusIn(Schema):
    status: Literal["draft", "active", "closed"]


class AgreementIn(Schema):
    account: Annotated[str, Field(max_length=40, description="Account code.")]
    signed_on: dt.date
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    terms: dict[str, Any] | None = Field(None, description="The account's own tiers, threshold, cap or mode.")


class AgreementOut(Schema):
    id: int
    program: int
    account: str
    signed_on: dt.date
    valid_from: dt.date
    valid_to: dt.date | None
    terms: dict[str, Any] | None


class ReasonOut(Schema):
    code: str
    text: str


class AccrualOut(Schema):
    program: int
    program_name: str
    period_start: dt.date
    period_end: dt.date
    net_sales: str
    quantity: str
    gross_profit: str
    earned: str
    tier: int
    reasons: list[ReasonOut]
    next_tier: ReasonOut | None


class SettlementIn(Schema):
    program: int
    day: dt.date = Field(description="A day of the period to settle.")
    kind: Literal["final", "partial"] = "final"
    as_of: dt.date | None = None


class LineOut(Schema):
    id: int
    account: str
    period_start: dt.date
    net_sales: str
    tier: int
    earned: str
    paid_before: str
    due: str
    override: str | None
    comment: str


class SettlementOut(Schema):
    id: int
    program: int
    kind: str
    status: str
    period_start: dt.date
    period_end: dt.date
    as_of: dt.date
    computed: bool
    total: str
    lines: list[LineOut]


class OverrideIn(Schema):
    amount: Annotated[str, Field(max_length=30)] | None = Field(None, description="Empty: back to the computed due.")
    comment: Annotated[str, Field(max_length=2000)]


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _program_out(p: RebateProgram) -> dict[str, Any]:
    return {f: getattr(p, f) for f in ProgramOut.model_fields}


def _reason(reason: Any) -> dict[str, str]:
    return {"code": reason.code, "text": reason_text(reason)}


def _accrual_out(accrual: RebateAccrual, result: RebateResult) -> dict[str, Any]:
    program = accrual.agreement.program
    return {
        "program": program.pk,
        "program_name": program.name,
        "period_start": accrual.period_start,
        "period_end": accrual.period_end,
        "net_sales": str(result.volume.amount),
        "quantity": str(result.volume.quantity),
        "gross_profit": str(result.volume.profit),
        "earned": str(result.amount.amount),
        "tier": result.tier,
        "reasons": [_reason(r) for r in result.reasons],
        "next_tier": _reason(result.next_tier) if result.next_tier else None,
    }


def _settlement_out(s: RebateSettlement) -> dict[str, Any]:
    lines = s.lines.select_related("account").order_by("account__code", "period_start")
    return {
        "id": s.pk,
        "program": s.program_id,
        "kind": s.kind,
        "status": s.status,
        "period_start": s.period_start,
        "period_end": s.period_end,
        "as_of": s.as_of,
        "computed": s.computed_at is not None,
        "total": str(settling.settlement_total(s)),
        "lines": [
            {
                "id": ln.pk,
                "account": ln.account.code,
                "period_start": ln.period_start,
                "net_sales": str(ln.amount.normalize()),
                "tier": ln.tier,
                "earned": str(ln.earned),
                "paid_before": str(ln.paid_before),
                "due": str(ln.due),
                "override": None if ln.override is None else str(ln.override),
                "comment": ln.comment,
            }
            for ln in lines
        ],
    }


@router.get("/rebate-programs", response=responses({200: list[ProgramOut]}, 422), summary="List rebate programs")
def program_list(request: HttpRequest, status: Literal["draft", "active", "closed"] | None = None) -> Any:
    programs = RebateProgram.objects.all()
    if status:
        programs = programs.filter(status=status)
    return [_program_out(p) for p in programs]


@router.post("/rebate-programs", response=responses({201: ProgramOut}, 422), summary="Create a draft program")
def program_create(request: HttpRequest, payload: ProgramIn) -> Any:
    program = services.program_create(actor=_user(request), data=payload.dict())
    return Status(201, _program_out(program))


@router.get("/rebate-programs/{program_id}", response=responses({200: ProgramOut}, 404, 422), summary="A program")
def program_detail(request: HttpRequest, program_id: Id) -> Any:
    return _program_out(get_object_or_404(RebateProgram, pk=program_id))


@router.patch(
    "/rebate-programs/{program_id}", response=responses({200: ProgramOut}, 404, 409, 422), summary="Edit a program"
)
def program_update(request: HttpRequest, program_id: Id, payload: ProgramPatch) -> Any:
    program = get_object_or_404(RebateProgram, pk=program_id)
    data = payload.dict(exclude_unset=True)
    return _program_out(services.program_update(actor=_user(request), program=program, data=data))


@router.post(
    "/rebate-programs/{program_id}/status",
    response=responses({200: ProgramOut}, 404, 409, 422),
    summary="Activate or close a program",
)
def program_status(request: HttpRequest, program_id: Id, payload: StatusIn) -> Any:
    program = get_object_or_404(RebateProgram, pk=program_id)
    return _program_out(services.program_set_status(actor=_user(request), program=program, status=payload.status))


@router.post(
    "/rebate-programs/{program_id}/agreements",
    response=responses({201: AgreementOut}, 404, 422),
    summary="Tie an account to a program",
)
def agreement_create(request: HttpRequest, program_id: Id, payload: AgreementIn) -> Any:
    program = get_object_or_404(RebateProgram, pk=program_id)
    account = visible_accounts(_user(request)).filter(code=payload.account, merged_into__isnull=True).first()
    if account is None:
        raise ValidationError({"account": [_("Unknown account.")]})
    made = services.agreement_create(
        actor=_user(request),
        program=program,
        account=account,
        signed_on=payload.signed_on,
        valid_from=payload.valid_from,
        valid_to=payload.valid_to,
        terms=payload.terms,
    )
    return Status(
        201,
        {
            "id": made.pk,
            "program": program.pk,
            "account": account.code,
            "signed_on": made.signed_on,
            "valid_from": made.valid_from,
            "valid_to": made.valid_to,
            "terms": made.terms,
        },
    )


@router.get(
    "/accounts/{code}/rebates",
    response=responses({200: list[AccrualOut]}, 404, 422),
    summary="What the account has accrued this period under each agreement, and what it needs for the next tier",
)
def account_rebates(request: HttpRequest, code: Annotated[str, Path(max_length=40)]) -> Any:
    account = get_object_or_404(visible_accounts(_user(request)), code=code)
    accruals = (
        RebateAccrual.objects.filter(agreement__account=account, agreement__program__status=RebateProgram.ACTIVE)
        .select_related("agreement__program")
        .order_by("-period_start", "agreement__program__name")
    )
    return [_accrual_out(a, accrual_result(a)) for a in accruals]


@router.post(
    "/rebate-settlements",
    response=responses({200: SettlementOut}, 404, 409, 422),
    summary="Settle a period (found again when run again)",
)
def settlement_start(request: HttpRequest, payload: SettlementIn) -> Any:
    program = get_object_or_404(RebateProgram, pk=payload.program)
    made = settling.settlement_start(
        actor=_user(request), program=program, day=payload.day, kind=payload.kind, as_of=payload.as_of
    )
    return _settlement_out(made)


@router.get(
    "/rebate-settlements/{settlement_id}", response=responses({200: SettlementOut}, 404, 422), summary="A settlement"
)
def settlement_detail(request: HttpRequest, settlement_id: Id) -> Any:
    settling.require_settler(_user(request))
    return _settlement_out(get_object_or_404(RebateSettlement, pk=settlement_id))


@router.post(
    "/rebate-settlements/{settlement_id}/approve",
    response=responses({200: SettlementOut}, 404, 409, 422),
    summary="Approve and pay (once, however often it is asked)",
)
def settlement_approve(request: HttpRequest, settlement_id: Id) -> Any:
    found = get_object_or_404(RebateSettlement, pk=settlement_id)
    return _settlement_out(settling.settlement_approve(actor=_user(request), settlement=found))


@router.patch(
    "/rebate-settlement-lines/{line_id}",
    response=responses({200: LineOut}, 404, 409, 422),
    summary="Override a line's amount, with the reason",
)
def line_override(request: HttpRequest, line_id: Id, payload: OverrideIn) -> Any:
    line = get_object_or_404(RebateSettlementLine.objects.select_related("account"), pk=line_id)
    line = settling.settlement_line_override(
        actor=_user(request), line=line, amount=payload.amount, comment=payload.comment
    )
    out = _settlement_out(line.settlement)
    return next(ln for ln in out["lines"] if ln["id"] == line.pk)
