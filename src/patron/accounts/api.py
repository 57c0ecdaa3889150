"""REST endpoints for accounts, contacts, timelines and reference data.

Thin: parse with schemas, look records up within what the caller may see (404
otherwise), call the selectors and services, and return schemas.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import AwareDatetime

from patron.api.pagination import PageQuery, page_of
from patron.api.schemas import AccountRef, Amount, AmountIn, CodeIn, CodeName, Day, UserRef, file_response, responses
from patron.audit import selectors as audit_selectors
from patron.audit.services import audit_record
from patron.core.errors import FieldErrors
from patron.core.exports import export_response
from patron.domain.access import Action
from patron.exports import services as export_services
from patron.exports.api import ExportOut
from patron.staff.models import User

from . import duplicates, merge, selectors, services
from .access import can, require, visible_accounts
from .exports import export_source, filters_to_data
from .models import Account, Activity, Contact, CustomField, DuplicateDismissal, Industry, Region

router = Router(tags=["accounts"])

KINDS = Literal["company", "person"]
CHANNELS = Literal["phone", "email", "sms", "wechat", "visit"]
LANGUAGES = Literal["zh-hans", "en"]
CONTACT_ROLES = Literal["decider", "influencer", "buyer", "user", "finance", "other"]
ACCOUNT_SORTS = Literal["code", "-code", "name", "-name", "created_at", "-created_at"]
Text = Annotated[str, Field(max_length=2000)]
LongText = Annotated[str, Field(max_length=20000)]
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


# --- schemas ------------------------------------------------------------------


class AccountListItem(Schema):
    code: str
    name: str
    kind: str
    region: CodeName | None
    industry: CodeName | None
    owner: UserRef | None
    is_key_account: bool
    tags: list[str]
    credit_limit: Amount
    last_order_date: dt.date | None
    created_at: dt.datetime

    @staticmethod
    def resolve_tags(obj: Account) -> list[str]:
        return [t.name for t in obj.tags.all()]


class AccountOut(AccountListItem):
    payment_terms_days: int
    preferred_channel: str
    language: str
    birthday: dt.date | None
    tax_id: str
    phone: str
    email: str
    address: str
    notes: str | None = Field(description="Private notes; null for readers who may not see them.")
    custom: dict[str, Any]
    first_order_date: dt.date | None
    updated_at: dt.datetime

    @staticmethod
    def resolve_notes(obj: Account, context: Any) -> str | None:
        request = (context or {}).get("request")
        user = getattr(request, "auth", None)
        return obj.notes if can(user, Action.VIEW_PRIVATE_NOTES, obj) else None


class AccountPage(Schema):
    items: list[AccountListItem]
    next_cursor: str | None


class AccountQuery(PageQuery):
    q: str = Field("", max_length=200, description="Code, name, phone, email, tax id or a contact's name or phone.")
    owner: str | None = Field(None, max_length=150, description="Username of the owner.")
    region: str = Field("", max_length=20, description="Region code; includes every region below it.")
    industry: str = Field("", max_length=20, description="Industry code.")
    key_account: bool | None = None
    tag: list[str] = Field(default_factory=list, description="Accounts having every tag given (repeatable).")
    kind: KINDS | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    last_order_from: dt.date | None = None
    last_order_to: dt.date | None = None
    credit_limit_min: Annotated[Decimal, Field(max_digits=18, decimal_places=2)] | None = None
    credit_limit_max: Annotated[Decimal, Field(max_digits=18, decimal_places=2)] | None = None
    sort: ACCOUNT_SORTS = "code"


class AccountIn(Schema):
    code: Annotated[str, Field(max_length=100)]
    name: Annotated[str, Field(max_length=500)]
    kind: KINDS = "company"
    region: str | None = Field(None, max_length=20, description="Region code.")
    industry: str | None = Field(None, max_length=20, description="Industry code.")
    owner: str | None = Field(None, max_length=150, description="Username; the creator when left out.")
    is_key_account: bool = False
    tags: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=50)
    payment_terms_days: int = Field(30, ge=0, le=3650)
    credit_limit: AmountIn = "0"
    preferred_channel: CHANNELS = "phone"
    language: LANGUAGES = "zh-hans"
    birthday: Day | None = None
    tax_id: Text = ""
    phone: Text = ""
    email: Text = ""
    address: Text = ""
    notes: LongText = ""
    custom: dict[str, Annotated[str, Field(max_length=2000)] | None] = Field(
        default_factory=dict, description="Custom field values by key, as text."
    )


class AccountPatch(Schema):
    """Only the fields sent are changed; null clears region, industry, owner and birthday."""

    code: Annotated[str, Field(max_length=100)] | None = None
    name: Annotated[str, Field(max_length=500)] | None = None
    kind: KINDS | None = None
    region: str | None = Field(None, max_length=20)
    industry: str | None = Field(None, max_length=20)
    owner: str | None = Field(None, max_length=150)
    is_key_account: bool | None = None
    tags: list[Annotated[str, Field(max_length=50)]] | None = Field(None, max_length=50)
    payment_terms_days: int | None = Field(None, ge=0, le=3650)
    credit_limit: AmountIn | None = None
    preferred_channel: CHANNELS | None = None
    language: LANGUAGES | None = None
    birthday: Day | None = None
    tax_id: Text | None = None
    phone: Text | None = None
    email: Text | None = None
    address: Text | None = None
    notes: LongText | None = None
    custom: dict[str, Annotated[str, Field(max_length=2000)] | None] | None = None


class ContactOut(Schema):
    id: int
    name: str
    role: str
    title: str
    phone: str
    email: str
    email_consent: bool
    email_consent_at: dt.datetime | None
    sms_consent: bool
    sms_consent_at: dt.datetime | None
    is_primary: bool


class ContactIn(Schema):
    name: Annotated[str, Field(max_length=500)]
    role: CONTACT_ROLES = "other"
    title: Text = ""
    phone: Text = ""
    email: Text = ""
    email_consent: bool = False
    email_consent_at: AwareDatetime | None = None
    sms_consent: bool = False
    sms_consent_at: AwareDatetime | None = None
    is_primary: bool = False


class ContactPatch(Schema):
    name: Annotated[str, Field(max_length=500)] | None = None
    role: CONTACT_ROLES | None = None
    title: Text | None = None
    phone: Text | None = None
    email: Text | None = None
    email_consent: bool | None = None
    email_consent_at: AwareDatetime | None = None
    sms_consent: bool | None = None
    sms_consent_at: AwareDatetime | None = None
    is_primary: bool | None = None


class ActivityOut(Schema):
    id: int
    kind: str
    occurred_at: dt.datetime
    actor: UserRef | None
    subject: str
    event: str
    body: str
    private: bool
    ref_type: str
    ref_id: str

    @staticmethod
    def resolve_subject(obj: Activity) -> str:
        """Worded in the caller's language."""
        return obj.title


class ActivityPage(Schema):
    items: list[ActivityOut]
    next_cursor: str | None


class NoteIn(Schema):
    kind: Literal["note", "call", "meeting"] = "note"
    subject: Annotated[str, Field(max_length=500)]
    body: LongText = ""
    occurred_at: AwareDatetime | None = None


class AuditEventOut(Schema):
    id: int
    at: dt.datetime
    actor: UserRef | None
    action: str
    entity_type: str
    entity_id: str
    changes: dict[str, Any]


class AuditPage(Schema):
    items: list[AuditEventOut]
    next_cursor: str | None


class CurrencyBalance(Schema):
    currency: str
    owed: Amount
    overdue: Amount
    aging: dict[str, Amount] = Field(description="Outstanding by days overdue: current, 1-30, 31-60, 61-90, 90+.")


class ReceivablesOut(Schema):
    account: str
    as_of: dt.date
    balances: list[CurrencyBalance]


class RegionOut(Schema):
    code: str
    name: str
    name_zh: str
    name_en: str
    level: str
    parent: str | None
    path: str

    @staticmethod
    def resolve_parent(obj: Region) -> str | None:
        return obj.parent.code if obj.parent is not None else None


class IndustryOut(Schema):
    code: str
    name: str
    name_zh: str
    name_en: str


class CustomFieldOut(Schema):
    key: str
    label: str
    label_zh: str
    label_en: str
    kind: str
    choices: list[Any]
    required: bool
    position: int


# --- helpers ------------------------------------------------------------------


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _accounts(user: Any) -> QuerySet[Account]:
    return visible_accounts(user).select_related("owner__team", "region", "industry").prefetch_related("tags")


def account_for(user: Any, code: str) -> Account:
    """The account with ``code`` if ``user`` may see it; 404 otherwise, whether or not it exists."""
    return get_object_or_404(_accounts(user), code=code)


def resolve_references(data: dict[str, Any]) -> dict[str, Any]:
    """Region and industry codes and owner usernames -> ids, naming the field of any that is unknown."""
    errors = FieldErrors()
    lookups: dict[str, tuple[Any, str, str]] = {
        "region": (Region, "code", _("Unknown region.")),
        "industry": (Industry, "code", _("Unknown industry.")),
        "owner": (User, "username", _("Unknown user.")),
    }
    for field, (model, key, message) in lookups.items():
        if field not in data or data[field] in (None, ""):
            if field in data:
                data[field] = None
            continue
        pk = model.objects.filter(**{key: data[field]}).values_list("pk", flat=True).first()
        if pk is None:
            errors.add(field, message)
        data[field] = pk
    errors.raise_if_any()
    return data


def _custom_filters(request: HttpRequest) -> dict[str, str]:
    """``?custom.<key>=value`` (number and date fields: ``min..max``)."""
    return {
        key.removeprefix("custom."): str(value)
        for key, value in request.GET.items()
        if key.startswith("custom.") and len(key) > len("custom.")
    }


# --- accounts -----------------------------------------------------------------


@router.get(
    "/accounts",
    response=responses({200: AccountPage}, 422),
    summary="List accounts",
    description="Filter by custom fields with `custom.<key>=value` query parameters, e.g. "
    "`custom.positioning=premium`; number and date fields take a range `min..max` (either side may be empty).",
)
def account_list(request: HttpRequest, query: Query[AccountQuery]) -> Any:
    filters = _account_filters(request, query)
    qs = selectors.account_list(user=_user(request), filters=filters).prefetch_related("tags")
    return page_of(qs, sort=query.sort, query=query)


@router.get(
    "/accounts/export",
    response=responses({202: ExportOut}, 403, 422),
    summary="Export accounts as CSV or XLSX",
    description="The same filters as `GET /api/accounts`, every matching account the caller may export, "
    "as `text/csv` (UTF-8 with a byte-order mark) or, with `format=xlsx`, an Excel workbook. "
    "Text that a spreadsheet would run as a formula is written with a leading apostrophe. "
    "CSV streams at any size. A workbook of more rows than the direct limit (5,000 by default) is written "
    "in the background instead: the answer is then 202 with the export, whose `file_url` is set once it is "
    "written (poll `GET /api/exports/{id}`; the `Location` header points there).",
    openapi_extra=file_response(),
)
def account_export(
    request: HttpRequest, response: HttpResponse, query: Query[AccountQuery], format: Literal["csv", "xlsx"] = "csv"
) -> Any:
    user = _user(request)
    require(user, Action.EXPORT_ACCOUNTS)
    filters = _account_filters(request, query)
    source = export_source(user, filters)
    # Counting first also makes a bad filter a 422 before any byte is sent.
    if source.more_than(export_services.direct_limit()) and format == "xlsx":
        job = export_services.export_job_start(
            actor=user, list_name="accounts", kind=format, filters=filters_to_data(filters)
        )
        response["Location"] = reverse("api:export_detail", args=[job.pk])
        return Status(202, job)
    audit_record(actor=user, action="ACCOUNTS_EXPORTED", instance=user, changes={"format": [None, format]})
    return export_response(format, "accounts", source.headings, source.rows())


def _account_filters(request: HttpRequest, query: AccountQuery) -> selectors.AccountFilters:
    owner_id = None
    if query.owner:
        owner_id = User.objects.filter(username=query.owner).values_list("pk", flat=True).first()
        if owner_id is None:
            raise selectors.FilterError("owner", _("Unknown user."))
    return selectors.AccountFilters(
        q=query.q,
        owner=owner_id,
        region=query.region,
        industry=query.industry,
        key_account=query.key_account,
        tags=query.tag,
        kind=query.kind or "",
        created_from=query.created_from,
        created_to=query.created_to,
        last_order_from=query.last_order_from,
        last_order_to=query.last_order_to,
        credit_limit_min=query.credit_limit_min,
        credit_limit_max=query.credit_limit_max,
        custom=_custom_filters(request),
        sort=query.sort,
    )


# --- duplicates and merging (declared before /accounts/{code}, which would take "duplicates") ---


class ReasonOut(Schema):
    code: str = Field(description="SAME_TAX_ID, SAME_PHONE, SAME_EMAIL, SAME_NAME, SIMILAR_NAME or TAX_ID_DIFFERS.")
    params: dict[str, Any]
    text: str = Field(description="The reason in the caller's language.")


def _reasons(reasons: Any) -> list[dict[str, Any]]:
    items = [r if isinstance(r, dict) else {"code": r.code, "params": dict(r.params)} for r in reasons]
    return [{**item, "text": duplicates.reason_text(item)} for item in items]


class DuplicatePairOut(Schema):
    account: AccountRef = Field(description="The older of the two (lower id).")
    other: AccountRef
    score: int = Field(description="0-100: how strongly the evidence says they are one customer.")
    reasons: list[ReasonOut]
    found_at: dt.datetime

    @staticmethod
    def resolve_account(obj: Any) -> Any:
        return obj.account_a

    @staticmethod
    def resolve_other(obj: Any) -> Any:
        return obj.account_b

    @staticmethod
    def resolve_reasons(obj: Any) -> list[dict[str, Any]]:
        return _reasons(obj.reasons)


class DuplicatePage(Schema):
    items: list[DuplicatePairOut]
    next_cursor: str | None
    pending: bool = Field(description="Accounts changed recently are still being compared; ask again for more.")


class DuplicatesQuery(PageQuery):
    account: str | None = Field(None, max_length=100, description="Only the pairs this account (code) is in.")


class DuplicateMatchOut(Schema):
    account: AccountRef
    score: int
    reasons: list[ReasonOut]


class DuplicateCheckIn(Schema):
    name: Annotated[str, Field(max_length=500)]
    tax_id: Text = ""
    phone: Text = ""
    email: Text = ""


class DismissIn(Schema):
    account: CodeIn
    other: CodeIn


class DismissOut(Schema):
    account: AccountRef
    other: AccountRef
    dismissed_by: UserRef
    dismissed_at: dt.datetime

    @staticmethod
    def resolve_account(obj: Any) -> Any:
        return obj.account_a

    @staticmethod
    def resolve_other(obj: Any) -> Any:
        return obj.account_b


class MergeIn(Schema):
    other: CodeIn = Field(description="Code of the account to merge into the one in the path; it is then hidden.")
    fields: dict[Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=10)]] = Field(
        default_factory=dict,
        description="For fields whose values differ, whose value stays: `this` (the default, unless it is blank), "
        '`other`, or for notes `both`. Custom fields as `custom.<key>`. Example: `{"phone": "other"}`.',
    )


class MergeOut(Schema):
    account: AccountRef
    merged: AccountRef
    already_merged: bool = Field(description="True when the pair had been merged before and nothing was done.")
    moved: dict[str, int] = Field(description='Records moved, by kind ("sales.order": 3).')


def _matches_out(user: Any, matches: list[duplicates.DuplicateMatch]) -> list[dict[str, Any]]:
    visible = set(visible_accounts(user).filter(pk__in=[m.account.pk for m in matches]).values_list("pk", flat=True))
    return [
        {"account": m.account, "score": m.score, "reasons": _reasons(m.reasons)}
        for m in matches
        if m.account.pk in visible
    ]


def _in_reach(user: Any, code: str, field: str) -> Account:
    """An account the caller may see, merged ones included (so a merge can say what became of them)."""
    account = merge.reachable(user).select_related("owner__team").filter(code=code).first()
    if account is None:
        raise ValidationError({field: [_("Unknown account.")]})
    return account


@router.get(
    "/accounts/duplicates",
    response=responses({200: DuplicatePage}, 422),
    summary="Possible duplicate accounts",
    description="Pairs of accounts the caller may both see that look like one customer (same tax id, phone or "
    "email, or names alike once legal forms, brackets and punctuation are ignored), strongest evidence first. "
    "Pairs marked as not duplicates are left out.",
)
def duplicate_list(request: HttpRequest, query: Query[DuplicatesQuery]) -> Any:
    user = _user(request)
    account = None
    if query.account:
        account = visible_accounts(user).filter(code=query.account).first()
        if account is None:
            raise selectors.FilterError("account", _("Unknown account."))
    page, progress = duplicates.possible_duplicates(user, account=account, cursor=query.cursor, limit=query.limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "pending": progress.more}


@router.post(
    "/accounts/duplicates/check",
    response=responses({200: list[DuplicateMatchOut]}, 422),
    summary="Accounts that a record would duplicate",
    description="Before creating an account: the existing accounts the caller may see that look like it.",
)
def duplicate_check(request: HttpRequest, payload: DuplicateCheckIn) -> Any:
    matches = duplicates.duplicates_of(
        name=payload.name, tax_id=payload.tax_id, phone=payload.phone, email=payload.email
    )
    return _matches_out(_user(request), matches)


@router.post(
    "/accounts/duplicates/dismiss",
    response=responses({200: DismissOut}, 403, 422),
    summary="Mark two accounts as not duplicates",
    description="They are not suggested as a pair again. Needs the right to edit both; saying it twice is harmless.",
)
def duplicate_dismiss(request: HttpRequest, payload: DismissIn) -> Any:
    user = _user(request)
    account = _in_reach(user, payload.account, "account")
    other = _in_reach(user, payload.other, "other")
    dismissal = duplicates.duplicate_dismiss(actor=user, account=account, other=other)
    return DuplicateDismissal.objects.select_related("account_a", "account_b", "dismissed_by").get(pk=dismissal.pk)


@router.post("/accounts", response=responses({201: AccountOut}, 409, 422), summary="Create an account")
def account_create(request: HttpRequest, payload: AccountIn) -> Any:
    user = _user(request)
    require(user, Action.CREATE_ACCOUNT)
    data = resolve_references(payload.model_dump(exclude_unset=True))
    account = services.account_create(actor=user, data=data)
    return Status(201, account_for(user, account.code))


@router.get("/accounts/{code}", response=responses({200: AccountOut}, 404), summary="Get an account")
def account_detail(request: HttpRequest, code: str) -> Any:
    return account_for(_user(request), code)


@router.patch("/accounts/{code}", response=responses({200: AccountOut}, 404, 409, 422), summary="Change an account")
def account_update(request: HttpRequest, code: str, payload: AccountPatch) -> Any:
    user = _user(request)
    account = account_for(user, code)
    require(user, Action.EDIT_ACCOUNT, account)
    data = resolve_references(payload.model_dump(exclude_unset=True))
    account = services.account_update(actor=user, account=account, data=data)
    # Reassigned beyond the caller's reach, the account is still shown once, as it now is.
    return _accounts(user).filter(pk=account.pk).first() or account


@router.get(
    "/accounts/{code}/duplicates",
    response=responses({200: list[DuplicateMatchOut]}, 404),
    summary="Possible duplicates of an account",
)
def account_duplicates(request: HttpRequest, code: str) -> Any:
    user = _user(request)
    return _matches_out(user, duplicates.duplicates_for(user, account_for(user, code)))


@router.post(
    "/accounts/{code}/merge",
    response=responses({200: MergeOut}, 403, 404, 409, 422),
    summary="Merge another account into this one",
    description="Everything the other account has (contacts, orders, returns, invoices, payments, credit notes, "
    "timeline, tags, custom fields) moves to this one; the other is kept, marked as merged and hidden, and its "
    "history is shown with this account's. Needs the right to merge both accounts (managers for their teams, "
    "admins). Sending the same merge again returns the first result with `already_merged`; merging into an "
    "account that was itself merged away is a 409 on `account`, into itself a 422 on `other`.",
)
def account_merge(request: HttpRequest, code: str, payload: MergeIn) -> Any:
    user = _user(request)
    survivor = merge.reachable(user).select_related("owner__team").filter(code=code).first()
    if survivor is None:
        raise Http404
    other = _in_reach(user, payload.other, "other")
    result = merge.account_merge(actor=user, survivor=survivor, merged=other, choices=payload.fields)
    return {
        "account": result.survivor,
        "merged": result.merged,
        "already_merged": result.already,
        "moved": result.moved,
    }


# --- contacts -----------------------------------------------------------------


def _contact_for(user: Any, contact_id: int) -> Contact:
    return get_object_or_404(
        Contact.objects.select_related("account"), pk=contact_id, account__in=visible_accounts(user)
    )


@router.get(
    "/accounts/{code}/contacts", response=responses({200: list[ContactOut]}, 404), summary="List an account's contacts"
)
def contact_list(request: HttpRequest, code: str) -> Any:
    return list(account_for(_user(request), code).contacts.all())


@router.post("/accounts/{code}/contacts", response=responses({201: ContactOut}, 404, 409, 422), summary="Add a contact")
def contact_create(request: HttpRequest, code: str, payload: ContactIn) -> Any:
    user = _user(request)
    account = account_for(user, code)
    contact = services.contact_create(actor=user, account=account, data=payload.model_dump(exclude_unset=True))
    return Status(201, contact)


@router.patch(
    "/contacts/{contact_id}", response=responses({200: ContactOut}, 404, 409, 422), summary="Change a contact"
)
def contact_update(request: HttpRequest, contact_id: Id, payload: ContactPatch) -> Any:
    user = _user(request)
    contact = _contact_for(user, contact_id)
    return services.contact_update(actor=user, contact=contact, data=payload.model_dump(exclude_unset=True))


@router.delete("/contacts/{contact_id}", response=responses({204: None}, 404, 409), summary="Remove a contact")
def contact_delete(request: HttpRequest, contact_id: Id) -> Any:
    user = _user(request)
    services.contact_remove(actor=user, contact=_contact_for(user, contact_id))
    return Status(204, None)


# --- timeline, history, receivables -------------------------------------------


@router.get(
    "/accounts/{code}/timeline",
    response=responses({200: ActivityPage}, 404, 422),
    summary="An account's timeline, newest first",
)
def timeline(request: HttpRequest, code: str, query: Query[PageQuery]) -> Any:
    user = _user(request)
    account = account_for(user, code)
    qs = selectors.account_timeline(user=user, account=account)
    return page_of(qs, sort="-occurred_at", query=query)


@router.post(
    "/accounts/{code}/notes",
    response=responses({201: ActivityOut}, 404, 409, 422),
    summary="Log a note, call or meeting",
)
def note_add(request: HttpRequest, code: str, payload: NoteIn) -> Any:
    user = _user(request)
    account = account_for(user, code)
    activity = services.note_add(
        actor=user,
        account=account,
        kind=payload.kind,
        subject=payload.subject,
        body=payload.body,
        occurred_at=payload.occurred_at,
    )
    return Status(201, activity)


@router.get(
    "/accounts/{code}/history",
    response=responses({200: AuditPage}, 404, 422),
    summary="The audit trail of an account, newest first",
)
def history(request: HttpRequest, code: str, query: Query[PageQuery]) -> Any:
    user = _user(request)
    account = account_for(user, code)
    require(user, Action.VIEW_HISTORY, account)
    # Accounts merged into this one bring their history along.
    page = page_of(merge.merged_history(account), sort="-at", query=query)
    if not can(user, Action.VIEW_PRIVATE_NOTES, account):
        # The trail records private notes as they changed; readers who may not see them get the rest.
        for event in page.items:
            event.changes = merge.without_private_snapshots(audit_selectors.without_private(event.changes))
    return page


@router.get(
    "/accounts/{code}/receivables",
    response=responses({200: ReceivablesOut}, 404),
    summary="What an account owes, by currency, with aging",
)
def receivables(request: HttpRequest, code: str) -> Any:
    from patron.sales.selectors import account_receivables

    user = _user(request)
    account = account_for(user, code)
    require(user, Action.VIEW_RECEIVABLES, account)
    today = timezone.localdate()
    balances = account_receivables(account, today)
    return {
        "account": account.code,
        "as_of": today,
        "balances": [{"currency": currency, **values} for currency, values in sorted(balances.items())],
    }


# --- reference data -----------------------------------------------------------


@router.get("/regions", response=responses({200: list[RegionOut]}), tags=["reference data"], summary="Regions")
def region_list(request: HttpRequest) -> Any:
    return list(Region.objects.select_related("parent"))


@router.get("/industries", response=responses({200: list[IndustryOut]}), tags=["reference data"], summary="Industries")
def industry_list(request: HttpRequest) -> Any:
    return list(Industry.objects.all())


@router.get(
    "/custom-fields",
    response=responses({200: list[CustomFieldOut]}),
    tags=["reference data"],
    summary="The custom fields of accounts",
)
def custom_field_list(request: HttpRequest) -> Any:
    return list(CustomField.objects.filter(active=True))
