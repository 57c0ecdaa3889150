"""REST endpoints for opportunities: list, open, read, change, move between stages, and the forecast.

Whoever may edit accounts works on their opportunities: a salesperson their own accounts', a sales manager
the team's, an admin everyone's. An opportunity out of reach is 404; a role without a pipeline gets 403.
Moving to the stage it is in answers 200 and changes nothing; won to lost (or back) is a 409: reopen first.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status

from patron.accounts.access import visible_accounts
from patron.accounts.selectors import FilterError
from patron.api.pagination import PageQuery, page_of
from patron.api.schemas import AccountRef, Amount, AmountIn, Day, UserRef, responses

from . import selectors, services
from .models import Opportunity

router = Router(tags=["pipeline"])
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
STAGE = Literal["qualification", "needs_analysis", "proposal", "negotiation", "won", "lost"]


class DecisionMakerOut(Schema):
    contact: int
    name: str
    role: str
    attitude: str
    notes: str


class DocumentOut(Schema):
    id: int
    kind: str
    name: str
    file_name: str
    size: int
    uploaded_at: dt.datetime


class StageChangeOut(Schema):
    from_stage: str
    to_stage: str
    at: dt.datetime
    by: str | None
    note: str


class OpportunityOut(Schema):
    id: int
    account: AccountRef
    name: str
    stage: str
    amount: Amount
    currency: str
    probability: int
    expected_close: dt.date
    owner: UserRef
    lost_reason: str
    next_step: str
    description: str
    stage_since: dt.datetime
    closed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class OpportunityDetailOut(OpportunityOut):
    decision_makers: list[DecisionMakerOut]
    documents: list[DocumentOut]
    stage_history: list[StageChangeOut]


class OpportunityPage(Schema):
    items: list[OpportunityOut]
    next_cursor: str | None


class OpportunityQuery(PageQuery):
    stage: STAGE | Literal["open"] | None = Field(None, description="A stage, or `open` for every open one.")
    owner: str | None = Field(None, max_length=150, description="Username of the owner.")
    account: str | None = Field(None, max_length=40, description="Account code.")
    close_month: str | None = Field(
        None, max_length=7, description="Expected to close in this month, `YYYY-MM`.", examples=["2027-03"]
    )


class OpportunityIn(Schema):
    account: Annotated[str, Field(max_length=40, description="Account code.")]
    name: Annotated[str, Field(max_length=200)]
    stage: STAGE = "qualification"
    amount: AmountIn
    currency: Annotated[str, Field(max_length=3)] = "CNY"
    probability: Annotated[int, Field(ge=0, le=100)] | None = Field(
        None, description="Leave out for the stage's default (10, 25, 50, 75; won 100, lost 0)."
    )
    expected_close: Day
    owner: Annotated[str, Field(max_length=150)] | None = Field(None, description="Username; the account's owner.")
    lost_reason: Annotated[str, Field(max_length=300)] = ""
    next_step: Annotated[str, Field(max_length=300)] = ""
    description: Annotated[str, Field(max_length=10000)] = ""


class OpportunityPatch(Schema):
    name: Annotated[str, Field(max_length=200)] | None = None
    amount: AmountIn | None = None
    currency: Annotated[str, Field(max_length=3)] | None = None
    probability: Annotated[int, Field(ge=0, le=100)] | None = None
    expected_close: Day | None = None
    owner: Annotated[str, Field(max_length=150)] | None = None
    lost_reason: Annotated[str, Field(max_length=300)] | None = None
    next_step: Annotated[str, Field(max_length=300)] | None = None
    description: Annotated[str, Field(max_length=10000)] | None = None


class MoveIn(Schema):
    stage: STAGE
    probability: Annotated[int, Field(ge=0, le=100)] | None = Field(
        None, description="For an open stage; leave out for the stage's default."
    )
    lost_reason: Annotated[str, Field(max_length=300)] = Field("", description="Required to move to `lost`.")
    note: Annotated[str, Field(max_length=500)] = ""


class ForecastLineOut(Schema):
    key: str
    count: int
    open_amount: Amount
    won: Amount
    weighted: Amount


class ForecastOut(Schema):
    currency: str
    months: list[ForecastLineOut]
    by_stage: list[ForecastLineOut]
    by_owner: list[ForecastLineOut]
    weighted: Amount
    unconverted: int = Field(description="Opportunities left out: no exchange rate for their currency.")


class ForecastQuery(Schema):
    months: int = Field(selectors.FORECAST_MONTHS, ge=1, le=24, description="Months from this one.")


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _worker(request: HttpRequest) -> Any:
    user = _user(request)
    if not selectors.may_use_pipeline(user):
        raise PermissionDenied
    return user


def _find(request: HttpRequest, opportunity_id: int) -> Opportunity:
    user = _worker(request)
    return get_object_or_404(
        selectors.opportunities_visible(user).select_related("account", "owner", "account__owner__team"),
        pk=opportunity_id,
    )


def _detail(opportunity: Opportunity) -> dict[str, Any]:
    out: dict[str, Any] = {
        **{name: getattr(opportunity, name) for name in OpportunityOut.model_fields},
        "decision_makers": [
            {"contact": p.contact_id, "name": p.contact.name, "role": p.role, "attitude": p.attitude, "notes": p.notes}
            for p in opportunity.decision_makers.select_related("contact").order_by("id")
        ],
        "documents": [
            {
                "id": d.pk,
                "kind": d.kind,
                "name": d.name,
                "file_name": d.file_name,
                "size": d.file_size,
                "uploaded_at": d.uploaded_at,
            }
            for d in opportunity.documents.all()
        ],
        "stage_history": [
            {
                "from_stage": c.from_stage,
                "to_stage": c.to_stage,
                "at": c.at,
                "by": c.by.username if c.by else None,
                "note": c.note,
            }
            for c in opportunity.stage_changes.select_related("by").order_by("at", "id")
        ],
    }
    return out


@router.get("/opportunities", response=responses({200: OpportunityPage}, 422), summary="List opportunities")
def opportunity_list(request: HttpRequest, query: Query[OpportunityQuery]) -> Any:
    user = _worker(request)
    filters: dict[str, Any] = {"stage": query.stage, "owner": query.owner, "account": query.account}
    if query.close_month:
        try:
            year, month = (int(part) for part in query.close_month.split("-"))
            filters["month"] = dt.date(year, month, 1)
        except ValueError:
            raise FilterError("close_month", _("Give a month as YYYY-MM.")) from None
    return page_of(selectors.opportunity_list(user, filters), sort="expected_close", query=query)


@router.post("/opportunities", response=responses({201: OpportunityDetailOut}, 404, 422), summary="Open an opportunity")
def opportunity_create(request: HttpRequest, payload: OpportunityIn) -> Any:
    user = _worker(request)
    account = visible_accounts(user).filter(code=payload.account).first()
    if account is None:
        raise ValidationError({"account": [_("Unknown account.")]})
    data = payload.dict(exclude={"account"})
    if data.get("owner") is None:
        data.pop("owner", None)
    made = services.opportunity_create(actor=user, account=account, data=data)
    return Status(201, _detail(made))


@router.get(
    "/opportunities/{opportunity_id}",
    response=responses({200: OpportunityDetailOut}, 404, 422),
    summary="An opportunity, with its decision makers, documents and stage history",
)
def opportunity_detail(request: HttpRequest, opportunity_id: Id) -> Any:
    return _detail(_find(request, opportunity_id))


@router.patch(
    "/opportunities/{opportunity_id}",
    response=responses({200: OpportunityDetailOut}, 404, 422),
    summary="Change an opportunity (its stage changes by moving it)",
)
def opportunity_update(request: HttpRequest, opportunity_id: Id, payload: OpportunityPatch) -> Any:
    opportunity = _find(request, opportunity_id)
    data = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    return _detail(services.opportunity_update(actor=_user(request), opportunity=opportunity, data=data))


@router.post(
    "/opportunities/{opportunity_id}/move",
    response=responses({200: OpportunityDetailOut}, 404, 409, 422),
    summary="Move an opportunity to another stage (to the one it is in: nothing changes)",
)
def opportunity_move(request: HttpRequest, opportunity_id: Id, payload: MoveIn) -> Any:
    opportunity = _find(request, opportunity_id)
    moved = services.opportunity_move(
        actor=_user(request),
        opportunity=opportunity,
        stage=payload.stage,
        probability=payload.probability,
        lost_reason=payload.lost_reason,
        note=payload.note,
    )
    return _detail(moved)


def _lines(pairs: Any) -> list[dict[str, Any]]:
    return [
        {
            "key": key.isoformat()[:7] if isinstance(key, dt.date) else str(key),
            "count": line.count,
            "open_amount": line.open_amount,
            "won": line.won,
            "weighted": line.weighted,
        }
        for key, line in pairs
    ]


@router.get(
    "/pipeline/forecast",
    response=responses({200: ForecastOut}, 422),
    summary="The weighted forecast by expected close month, stage and owner, in the company currency",
)
def forecast(request: HttpRequest, query: Query[ForecastQuery]) -> Any:
    view = selectors.forecast(_worker(request), months=query.months)
    return {
        "currency": view.currency,
        "months": _lines(view.forecast.months),
        "by_stage": _lines(view.forecast.by_stage),
        "by_owner": _lines(view.by_owner),
        "weighted": view.forecast.total.weighted,
        "unconverted": view.unconverted,
    }
