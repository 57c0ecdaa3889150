"""The account pages: list with filters and saved views, account page, forms that call the services.

Access: an account the user may not see is a 404 (``visible_accounts``); an action
the user may not take on a visible account is a 403 (``require``). The services
check again, so a forged request meets the same rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from patron.audit.models import AuditEvent
from patron.core.errors import Conflict, error_dict
from patron.core.pagination import BadCursor, encode_cursor, keyset_page
from patron.domain.access import Action, reach
from patron.domain.receivables import AGING_BUCKETS
from patron.exports.views import list_export
from patron.sales.models import Invoice, Order
from patron.sales.selectors import account_receivables, outstanding_by_account
from patron.segments.pages import account_category_mix, account_segments
from patron.staff.models import User

from . import duplicates, merge, services
from .access import can, require, role_of, visible_accounts
from .exports import export_source
from .forms import (
    AccountFilterForm,
    AccountForm,
    ContactForm,
    EmailForm,
    NoteForm,
    SavedViewForm,
    add_service_errors,
)
from .models import Account, Contact, CustomField, Industry, Region, SavedView
from .selectors import SORTS, AccountFilters, FilterError, account_timeline
from .selectors import account_list as select_accounts

PAGE_SIZE = 50
TIMELINE_SIZE = 30
HISTORY_SIZE = 50
# Query parameters that move through the list rather than filter it.
PAGING_PARAMS = ("after", "before")

ACTION_LABELS = {
    "ACCOUNT_CREATED": gettext_lazy("Account created"),
    "ACCOUNT_UPDATED": gettext_lazy("Account changed"),
    "CONTACT_ADDED": gettext_lazy("Contact added"),
    "CONTACT_UPDATED": gettext_lazy("Contact changed"),
    "CONTACT_REMOVED": gettext_lazy("Contact removed"),
    "ORDER_CREATED": gettext_lazy("Order created"),
    "ORDER_CONFIRMED": gettext_lazy("Order confirmed"),
    "ORDER_CANCELLED": gettext_lazy("Order cancelled"),
    "RETURN_RECORDED": gettext_lazy("Return recorded"),
    "INVOICE_ISSUED": gettext_lazy("Invoice issued"),
    "PAYMENT_RECORDED": gettext_lazy("Payment recorded"),
    "ACCOUNT_MERGED": gettext_lazy("Account merged into this one"),
    "DUPLICATE_DISMISSED": gettext_lazy("Marked as not a duplicate"),
}


def _user(request: HttpRequest) -> User:
    """The signed-in user (every view here is behind ``login_required``)."""
    return cast(User, request.user)


def _visible(request: HttpRequest, code: str) -> Account:
    """The account, if the user may see it; otherwise 404 (we do not say that it exists)."""
    qs = visible_accounts(request.user).select_related("owner__team", "region__parent__parent", "industry")
    return get_object_or_404(qs, code=code)


def _merged_redirect(request: HttpRequest, code: str, view: str) -> HttpResponse | None:
    """A merged account's pages lead to the account it joined, if the reader may see that one."""
    target = merge.merged_target(visible_accounts(request.user), code)
    if target is None:
        return None
    messages.info(
        request, _("%(code)s was merged into %(target)s; here is %(target)s.") % {"code": code, "target": target.code}
    )
    return redirect(view, code=target.code)


def _flip(sort: str) -> str:
    return sort[1:] if sort.startswith("-") else f"-{sort}"


def _filter_query(params: QueryDict) -> str:
    """The query string that describes the filters, without paging (what a saved view stores)."""
    pairs = [(k, v) for k in params for v in params.getlist(k) if k not in PAGING_PARAMS and v != ""]
    return urlencode(pairs)


def _page(qs: Any, sort: str, after: str | None, before: str | None) -> tuple[list[Account], str | None, str | None]:
    """A keyset page going forward (``after``) or backward (``before``); returns rows and both cursors."""
    field = sort.lstrip("-")
    if before:
        back = keyset_page(qs, sort=_flip(sort), cursor=before, limit=PAGE_SIZE)
        items = list(reversed(back.items))
        prev_cursor = encode_cursor(getattr(items[0], field), items[0].pk) if items and back.next_cursor else None
        next_cursor = encode_cursor(getattr(items[-1], field), items[-1].pk) if items else None
        return items, prev_cursor, next_cursor
    page = keyset_page(qs, sort=sort, cursor=after, limit=PAGE_SIZE)
    prev_cursor = encode_cursor(getattr(page.items[0], field), page.items[0].pk) if after and page.items else None
    return page.items, prev_cursor, page.next_cursor


@login_required
def account_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = AccountFilterForm(request.GET or None, user=user)
    if form.is_bound:
        form.is_valid()
    filters = form.filters() if form.is_bound else AccountFilters()
    if filters.sort not in SORTS:
        form.add_error(None, _("Unknown sort order; sorted by code."))
        filters.sort = "code"
    rows: list[Account] = []
    prev_cursor = next_cursor = None
    try:
        qs = select_accounts(user=user, filters=filters)
        rows, prev_cursor, next_cursor = _page(
            qs, filters.sort, request.GET.get("after") or None, request.GET.get("before") or None
        )
    except FilterError as exc:
        target = form.field_for_error(exc.field)
        form.add_error(target, str(exc))
    except BadCursor:
        messages.warning(request, _("That page link has expired; here is the first page."))
        rows, prev_cursor, next_cursor = _page(select_accounts(user=user, filters=filters), filters.sort, None, None)
    role = role_of(user)
    show_outstanding = bool(reach(role, Action.VIEW_RECEIVABLES)) and reach(role, Action.VIEW_ACCOUNT) <= reach(
        role, Action.VIEW_RECEIVABLES
    )
    outstanding = outstanding_by_account([a.pk for a in rows]) if show_outstanding and rows else {}
    query = _filter_query(request.GET)
    context = {
        "form": form,
        "rows": [(a, outstanding.get(a.pk)) for a in rows],
        "show_outstanding": show_outstanding,
        "sort": filters.sort,
        "prev_cursor": prev_cursor,
        "next_cursor": next_cursor,
        "query": query,
        "saved_views": SavedView.objects.filter(user=_user(request)),
        "save_form": SavedViewForm(initial={"query": query}),
        "can_create": can(user, Action.CREATE_ACCOUNT),
        "can_export": can(user, Action.EXPORT_ACCOUNTS),
        "sortable": {"code", "name", "created_at"},
    }
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.boosted and htmx.target == "account-results":
        return render(request, "accounts/_results.html", context)
    return render(request, "accounts/list.html", context)


@login_required
def account_export(request: HttpRequest) -> Any:
    """The list as filtered, as CSV or XLSX (``?format=xlsx``); a long list is offered as a background export."""
    user = request.user
    require(user, Action.EXPORT_ACCOUNTS)
    form = AccountFilterForm(request.GET or None, user=user)
    if form.is_bound and not form.is_valid():
        return HttpResponseBadRequest(_("Fix the filters before exporting."))
    filters = form.filters() if form.is_bound else AccountFilters()
    if filters.sort not in SORTS:
        filters.sort = "code"
    kind = request.GET.get("format", "csv")
    if kind not in ("csv", "xlsx"):
        return HttpResponseBadRequest(_("Export as csv or xlsx."))
    try:  # a bad filter fails here (the list is counted first), before any byte is sent
        return list_export(
            request, export_source(user, filters), kind, changes={"filters": [None, _filter_query(request.GET)]}
        )
    except FilterError as exc:
        return HttpResponseBadRequest(str(exc))


@login_required
@require_POST
def saved_view_save(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the view a name (at most 100 characters)."))
        return redirect(reverse("accounts:list") + "?" + request.POST.get("query", "")[:1000])
    query = _filter_query(QueryDict(form.cleaned_data["query"] or ""))
    SavedView.objects.update_or_create(
        user=request.user, name=form.cleaned_data["name"].strip(), defaults={"query": query}
    )
    messages.success(request, _("View “%(name)s” saved.") % {"name": form.cleaned_data["name"]})
    return redirect(reverse("accounts:list") + ("?" + query if query else ""))


@login_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=pk, user=_user(request))
    view.delete()
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect("accounts:list")


@login_required
def account_new(request: HttpRequest) -> HttpResponse:
    require(request.user, Action.CREATE_ACCOUNT)
    if request.method == "POST":
        form = AccountForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                account = services.account_create(actor=request.user, data=form.service_data())
            except ValidationError as exc:
                add_service_errors(form, exc)
            except IntegrityError:
                form.add_error("code", _("An account with this code already exists."))
            else:
                messages.success(request, _("Account %(code)s created.") % {"code": account.code})
                return redirect("accounts:detail", code=account.code)
    else:
        form = AccountForm(user=request.user, initial={"payment_terms_days": 30, "credit_limit": "0"})
    return render(request, "accounts/account_form.html", {"form": form, "account": None})


@login_required
def account_edit(request: HttpRequest, code: str) -> HttpResponse:
    account = _visible(request, code)
    require(request.user, Action.EDIT_ACCOUNT, account)
    if request.method == "POST":
        form = AccountForm(request.POST, user=request.user, account=account)
        if form.is_valid():
            try:
                with transaction.atomic():
                    account = services.account_update(actor=request.user, account=account, data=form.service_data())
            except ValidationError as exc:
                add_service_errors(form, exc)
            except IntegrityError:
                form.add_error("code", _("An account with this code already exists."))
            else:
                messages.success(request, _("Account %(code)s saved.") % {"code": account.code})
                return redirect("accounts:detail", code=account.code)
    else:
        form = AccountForm(user=request.user, account=account)
    return render(request, "accounts/account_form.html", {"form": form, "account": account})


def _permissions(user: Any, account: Account) -> dict[str, bool]:
    return {
        "edit": can(user, Action.EDIT_ACCOUNT, account),
        "private": can(user, Action.VIEW_PRIVATE_NOTES, account),
        "receivables": can(user, Action.VIEW_RECEIVABLES, account),
        "history": can(user, Action.VIEW_HISTORY, account),
        "order": can(user, Action.RECORD_ORDER, account),
        "payment": can(user, Action.RECORD_PAYMENT, account),
        "invoice": can(user, Action.RECORD_INVOICE, account),
    }


@login_required
def account_detail(request: HttpRequest, code: str) -> HttpResponse:
    user = request.user
    try:
        account = _visible(request, code)
    except Http404:
        if (moved := _merged_redirect(request, code, "accounts:detail")) is not None:
            return moved
        raise
    perms = _permissions(user, account)
    today = timezone.localdate()
    custom_values = [(cf, account.custom.get(cf.key)) for cf in CustomField.objects.filter(active=True)]
    timeline_cursor = request.GET.get("timeline") or None
    try:
        timeline = keyset_page(
            account_timeline(user=user, account=account),
            sort="-occurred_at",
            cursor=timeline_cursor,
            limit=TIMELINE_SIZE,
        )
    except BadCursor:
        timeline = keyset_page(
            account_timeline(user=user, account=account), sort="-occurred_at", cursor=None, limit=TIMELINE_SIZE
        )
    context: dict[str, Any] = {
        "account": account,
        "allowed": perms,
        "tags": list(account.tags.all()),
        "custom_values": custom_values,
        "contacts": list(account.contacts.all()),
        "orders": list(account.orders.order_by("-order_date", "-id")[:10]),
        "order_count": account.orders.count(),
        "timeline": timeline,
        "tab": "overview",
        "today": today,
        "company_currency": settings.PATRON_COMPANY_CURRENCY,
        "account_segments": account_segments(account, today),
        "category_mix": account_category_mix(account, today),
        "open_tasks": open_tasks(account),
        "open_opportunities": open_opportunities(account) if perms["edit"] else [],
    }
    if perms["receivables"]:
        context["receivables"] = sorted(account_receivables(account, today).items())
        context["aging_buckets"] = [name for name, _low, _high in AGING_BUCKETS]
        context["invoices"] = list(
            account.invoices.exclude(status=Invoice.VOID).order_by("status", "due_date", "-id")[:20]
        )
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == "timeline-entries":
        return render(request, "accounts/_timeline.html", context)
    return render(request, "accounts/detail.html", context)


def open_tasks(account: Account) -> list[Any]:
    """The account's open follow-ups, soonest first (the service app's, shown on the account's page)."""
    from patron.service.models import Task

    return list(Task.objects.filter(account=account, status=Task.OPEN).select_related("owner").order_by("due_at")[:10])


def open_opportunities(account: Account) -> list[Any]:
    """The account's open opportunities, soonest close first (the pipeline app's, shown on the account's page)."""
    from patron.pipeline.selectors import account_open_opportunities

    return account_open_opportunities(account)


def _resolve_ids(events: list[AuditEvent]) -> dict[str, dict[str, str]]:
    """Names for the ids that account changes store (owner, region, industry), in a few queries."""
    wanted: dict[str, set[int]] = {"owner": set(), "region": set(), "industry": set()}
    for event in events:
        for field, pair in (event.changes or {}).items():
            if field in wanted and isinstance(pair, list):
                wanted[field].update(int(v) for v in pair if isinstance(v, int | str) and str(v).isdigit())
    names: dict[str, dict[str, str]] = {}
    names["owner"] = {str(u.pk): u.display_name() for u in User.objects.filter(pk__in=wanted["owner"])}
    names["region"] = {str(r.pk): r.name for r in Region.objects.filter(pk__in=wanted["region"])}
    names["industry"] = {str(i.pk): i.name for i in Industry.objects.filter(pk__in=wanted["industry"])}
    return names


HISTORY_MODELS: dict[str, Any] = {"account": Account, "contact": Contact, "order": Order, "invoice": Invoice}


def _model_field(entity: str, field: str) -> Any:
    model = HISTORY_MODELS.get(entity)
    if model is None:
        return None
    try:
        return model._meta.get_field(field)
    except FieldDoesNotExist:  # "tags", "lines": not model fields
        return None


def _field_label(entity: str, field: str, custom_labels: dict[str, str]) -> str:
    if field.startswith("custom."):
        return custom_labels.get(field.removeprefix("custom."), field)
    model_field = _model_field(entity, field)
    if model_field is not None:
        return str(getattr(model_field, "verbose_name", field))
    if field == "tags":
        return _("tags")
    return field


def _readable(value: Any, choices: dict[str, Any]) -> Any:
    """A stored value as a reader wants it: a choice's label, an ISO moment in local time."""
    if isinstance(value, str):
        if value in choices:
            return str(choices[value])
        if len(value) > 19 and value[10:11] == "T":
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                return value
            if timezone.is_aware(moment):
                moment = timezone.localtime(moment)
            return moment.strftime("%Y-%m-%d %H:%M")
    return value


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _history_rows(
    events: list[AuditEvent], show_private: bool, merged_codes: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """Each event with its changes as (label, before, after); creations show only 'after', removals only 'before'."""
    names = _resolve_ids(events)
    custom_labels = {cf.key: cf.label for cf in CustomField.objects.all()}
    rows = []
    for event in events:
        changes: list[tuple[str, Any, Any]] = []
        stored = event.changes or {}
        if event.action == "ACCOUNT_MERGED":
            changes += _merge_details(stored)
            stored = {k: v for k, v in stored.items() if k not in merge.MERGE_DETAILS}
        elif event.action == "DUPLICATE_DISMISSED" and isinstance(stored.get("not_duplicate_of"), list):
            changes.append((_("Not a duplicate of"), None, stored["not_duplicate_of"][-1]))
            stored = {}
        for field, pair in sorted(stored.items()):
            if field == "notes" and not show_private:
                continue
            before, after = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
            if field == "custom" and (isinstance(before, dict) or isinstance(after, dict)):
                b, a = before or {}, after or {}
                for key in sorted(set(b) | set(a)):
                    if b.get(key) != a.get(key):
                        label = _field_label(event.entity_type, f"custom.{key}", custom_labels)
                        changes.append((label, b.get(key), a.get(key)))
                continue
            lookup = names.get(field) if event.entity_type == "account" else None
            if lookup is not None:
                before = lookup.get(str(before), before) if before is not None else None
                after = lookup.get(str(after), after) if after is not None else None
            model_field = _model_field(event.entity_type, field)
            choices = dict(getattr(model_field, "flatchoices", None) or [])
            before, after = _readable(before, choices), _readable(after, choices)
            if _is_empty(before) and _is_empty(after):
                continue
            changes.append((_field_label(event.entity_type, field, custom_labels), before, after))
        kind = "changed"
        if changes and all(_is_empty(b) for _, b, _ in changes):
            kind = "created"
        elif changes and all(_is_empty(a) for _, _, a in changes):
            kind = "removed"
        label = str(ACTION_LABELS.get(event.action, event.action))
        merged_from = (merged_codes or {}).get(event.account_id or 0)
        if merged_from:
            # An entry of an account since merged into this one says whose it was.
            label = _("%(what)s (on %(code)s)") % {"what": label, "code": merged_from}
        rows.append({"event": event, "label": label, "changes": changes, "kind": kind})
    return rows


def _merge_details(changes: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """What a merge event says beyond changed fields: which account joined, and how much came with it."""
    details: list[tuple[str, Any, Any]] = []
    merged = changes.get("merged_account")
    if isinstance(merged, list) and merged:
        details.append((_("Merged account"), None, merged[-1]))
    moved = changes.get("moved")
    if isinstance(moved, dict) and moved:
        details.append(
            (_("Records moved"), None, ", ".join(_moved_text(label, n) for label, n in sorted(moved.items())))
        )
    return details


def _moved_text(label: str, count: Any) -> str:
    from django.apps import apps

    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return f"{label}: {count}"
    return f"{model._meta.verbose_name_plural}: {count}"


@login_required
def account_history(request: HttpRequest, code: str) -> HttpResponse:
    try:
        account = _visible(request, code)
    except Http404:
        if (moved := _merged_redirect(request, code, "accounts:history")) is not None:
            return moved
        raise
    require(request.user, Action.VIEW_HISTORY, account)
    cursor = request.GET.get("after") or None
    # Accounts merged into this one bring their history along.
    events_qs = merge.merged_history(account)
    try:
        page = keyset_page(events_qs, sort="-at", cursor=cursor, limit=HISTORY_SIZE)
    except BadCursor:
        page = keyset_page(events_qs, sort="-at", cursor=None, limit=HISTORY_SIZE)
    show_private = can(request.user, Action.VIEW_PRIVATE_NOTES, account)
    return render(
        request,
        "accounts/history.html",
        {
            "account": account,
            "allowed": _permissions(request.user, account),
            "rows": _history_rows(
                page.items, show_private, dict(Account.objects.filter(merged_into=account).values_list("pk", "code"))
            ),
            "next_cursor": page.next_cursor,
            "tab": "history",
        },
    )


@login_required
def contact_new(request: HttpRequest, code: str) -> HttpResponse:
    account = _visible(request, code)
    require(request.user, Action.EDIT_ACCOUNT, account)
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(actor=request.user, account=account, data=form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc, {"email_consent_at": "email_consent", "sms_consent_at": "sms_consent"})
        else:
            messages.success(request, _("Contact %(name)s added.") % {"name": contact.name})
            return redirect(reverse("accounts:detail", args=[account.code]) + "#contacts")
    return render(request, "accounts/contact_form.html", {"form": form, "account": account, "contact": None})


def _contact(account: Account, pk: int) -> Contact:
    return get_object_or_404(Contact, pk=pk, account=account)


@login_required
def contact_edit(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    account = _visible(request, code)
    require(request.user, Action.EDIT_ACCOUNT, account)
    contact = _contact(account, pk)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(actor=request.user, contact=contact, data=form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc, {"email_consent_at": "email_consent", "sms_consent_at": "sms_consent"})
        else:
            messages.success(request, _("Contact %(name)s saved.") % {"name": form.cleaned_data["name"]})
            return redirect(reverse("accounts:detail", args=[account.code]) + "#contacts")
    return render(request, "accounts/contact_form.html", {"form": form, "account": account, "contact": contact})


@login_required
def contact_remove(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    account = _visible(request, code)
    require(request.user, Action.EDIT_ACCOUNT, account)
    contact = _contact(account, pk)
    if request.method == "POST":
        services.contact_remove(actor=request.user, contact=contact)
        messages.success(request, _("Contact %(name)s removed.") % {"name": contact.name})
        return redirect(reverse("accounts:detail", args=[account.code]) + "#contacts")
    return render(request, "accounts/contact_remove.html", {"account": account, "contact": contact})


@login_required
def note_new(request: HttpRequest, code: str) -> HttpResponse:
    account = _visible(request, code)
    require(request.user, Action.EDIT_ACCOUNT, account)
    kind = request.GET.get("kind", "note")
    form = NoteForm(request.POST or None, initial={"kind": kind if kind in {"note", "call", "meeting"} else "note"})
    if request.method == "POST" and form.is_valid():
        try:
            services.note_add(actor=request.user, account=account, **form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Added to the timeline."))
            return redirect(reverse("accounts:detail", args=[account.code]) + "#timeline")
    return render(request, "accounts/note_form.html", {"form": form, "account": account})


@login_required
def email_new(request: HttpRequest, code: str) -> HttpResponse:
    account = _visible(request, code)
    require(request.user, Action.EDIT_ACCOUNT, account)
    form = EmailForm(request.POST or None, account=account, initial={"contact": request.GET.get("contact")})
    if request.method == "POST" and form.is_valid():
        try:
            services.email_send(
                actor=request.user,
                account=account,
                contact=form.cleaned_data["contact"],
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The email is on its way."))
            return redirect(reverse("accounts:detail", args=[account.code]) + "#timeline")
    return render(
        request,
        "accounts/email_form.html",
        {"form": form, "account": account, "no_recipients": not form.fields["contact"].queryset.exists()},  # type: ignore[attr-defined]
    )


# --- possible duplicates and merging ------------------------------------------------------------


@login_required
def account_duplicates_notice(request: HttpRequest, code: str) -> HttpResponse:
    """The account page's pointer to its possible duplicates, loaded after the page so it costs the page nothing.

    Only those who can act on a duplicate (edit the account) are told about it.
    """
    account = _visible(request, code)
    found = duplicates.duplicates_for(request.user, account) if can(request.user, Action.EDIT_ACCOUNT, account) else []
    return render(request, "accounts/_duplicates_notice.html", {"account": account, "duplicates": found})


def _both(user: Any, action: Action, a: Account, b: Account) -> bool:
    return can(user, action, a) and can(user, action, b)


@login_required
def duplicate_list(request: HttpRequest) -> HttpResponse:
    """Pairs of accounts that look like one customer, with why, to merge or to set aside."""
    user = request.user
    require(user, Action.VIEW_ACCOUNT)
    account = _visible(request, request.GET["account"]) if request.GET.get("account") else None
    try:
        page, progress = duplicates.possible_duplicates(user, account=account, cursor=request.GET.get("after") or None)
    except BadCursor:
        page, progress = duplicates.possible_duplicates(user, account=account)
    rows = [
        {
            "pair": pair,
            "a": pair.account_a,
            "b": pair.account_b,
            "reasons": [duplicates.reason_text(r) for r in pair.reasons],
            "can_merge": _both(user, Action.MERGE_ACCOUNTS, pair.account_a, pair.account_b),
            "can_dismiss": _both(user, Action.EDIT_ACCOUNT, pair.account_a, pair.account_b),
        }
        for pair in page.items
    ]
    return render(
        request,
        "accounts/duplicates.html",
        {"rows": rows, "account": account, "next_cursor": page.next_cursor, "pending": progress.more},
    )


def _next_url(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


@login_required
@require_POST
def duplicate_dismiss(request: HttpRequest) -> HttpResponse:
    reachable = merge.reachable(request.user).select_related("owner__team")
    account = get_object_or_404(reachable, code=request.POST.get("account", ""))
    other = get_object_or_404(reachable, code=request.POST.get("other", ""))
    try:
        duplicates.duplicate_dismiss(actor=request.user, account=account, other=other)
    except ValidationError as exc:
        messages.error(request, " ".join(m for ms in error_dict(exc).values() for m in ms))
    else:
        messages.success(
            request,
            _("%(a)s and %(b)s are marked as different customers.") % {"a": account.code, "b": other.code},
        )
    return redirect(_next_url(request, reverse("accounts:duplicates")))


def _shown(account: Account, name: str) -> str:
    """A field's value as the merge page shows it."""
    if name.startswith("custom."):
        value = (account.custom or {}).get(name.removeprefix("custom."))
        return "—" if value in (None, "") else str(value)
    if name == "region":
        return account.region.full_name() if account.region else "—"
    if name in ("industry", "owner"):
        related = getattr(account, name)
        if related is None:
            return "—"
        return str(related.display_name()) if name == "owner" else str(related.name)
    model_field = cast(Any, Account._meta.get_field(name))
    value = getattr(account, name)
    if model_field.choices:
        return str(getattr(account, f"get_{name}_display")())
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if value in (None, ""):
        return "—"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _field_title(name: str, labels: dict[str, str]) -> str:
    if name.startswith("custom."):
        return labels.get(name.removeprefix("custom."), name.removeprefix("custom."))
    return str(cast(Any, Account._meta.get_field(name)).verbose_name)


def _merge_rows(
    user: Any, survivor: Account, other: Account, chosen: dict[str, str], errors: dict[str, list[str]]
) -> list[dict[str, Any]]:
    labels = {cf.key: cf.label for cf in CustomField.objects.all()}
    differing = set(merge.choosable(survivor, other))
    names = [*merge.MERGE_FIELDS, *(f"custom.{k}" for k in merge.custom_keys(survivor, other))]
    private = _both(user, Action.VIEW_PRIVATE_NOTES, survivor, other)
    rows = []
    for name in names:
        if name == "notes" and not private:
            continue
        rows.append(
            {
                "name": name,
                "label": _field_title(name, labels),
                "this": _shown(survivor, name),
                "other": _shown(other, name),
                "differs": name in differing,
                "choice": chosen.get(name, merge.THIS),
                "joinable": name in merge.JOINABLE,
                "errors": errors.get(f"fields.{name}", []),
            }
        )
    return rows


@login_required
def account_merge(request: HttpRequest, code: str) -> HttpResponse:
    """Both accounts side by side; the person merging picks, per differing field, which value stays."""
    user = request.user
    reachable = merge.reachable(user).select_related("owner__team", "region__parent__parent", "industry")
    survivor = get_object_or_404(reachable, code=code)
    other_code = request.POST.get("other") or request.GET.get("other") or ""
    other = reachable.filter(code=other_code).first()
    if other is None:
        messages.error(request, _("Choose the account to merge into %(code)s.") % {"code": code})
        return redirect(reverse("accounts:duplicates") + "?" + urlencode({"account": code}))
    require(user, Action.MERGE_ACCOUNTS, survivor)
    require(user, Action.MERGE_ACCOUNTS, other)
    errors: dict[str, list[str]] = {}
    chosen = merge.default_choices(survivor, other)
    if request.method == "POST":
        prefix = "choice."
        submitted = {k.removeprefix(prefix): str(v) for k, v in request.POST.items() if k.startswith(prefix)}
        chosen |= {k: v for k, v in submitted.items() if k in chosen}
        try:
            result = merge.account_merge(actor=user, survivor=survivor, merged=other, choices=submitted)
        except ValidationError as exc:
            errors = error_dict(exc)
        except Conflict as exc:
            errors = {exc.field or "__all__": [exc.message]}
        else:
            if result.already:
                messages.info(
                    request, _("%(other)s was already merged into %(code)s.") % {"other": other.code, "code": code}
                )
            else:
                messages.success(request, _("%(other)s merged into %(code)s.") % {"other": other.code, "code": code})
            return redirect("accounts:detail", code=result.survivor.code)
    elif survivor.merged_into_id is not None or other.merged_into_id is not None:
        errors = {"__all__": [_("One of these accounts was already merged; nothing is left to merge.")]}
    moving = {
        _("Contacts"): other.contacts.count(),
        _("Orders"): other.orders.count(),
        _("Timeline entries"): other.activities.count(),
    }
    if _both(user, Action.VIEW_RECEIVABLES, survivor, other):
        moving[_("Invoices")] = other.invoices.count()
        moving[_("Payments")] = other.payments.count()
    general = [m for field, ms in errors.items() if not field.startswith("fields.") for m in ms]
    return render(
        request,
        "accounts/merge.html",
        {
            "account": survivor,
            "other": other,
            "rows": _merge_rows(user, survivor, other, chosen, errors),
            "tags": sorted(
                set(survivor.tags.values_list("name", flat=True)) | set(other.tags.values_list("name", flat=True))
            ),
            "moving": moving,
            "errors": general,
            "field_errors": any(f.startswith("fields.") for f in errors),
            "blocked": bool(general) and request.method != "POST",
        },
        status=422 if errors and request.method == "POST" else 200,
    )
