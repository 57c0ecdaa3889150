"""Discount pages: policies and their rules, product sets, manual discount limits, and the simulator.

Everyone signed in may read policies, rules and product sets (a salesperson needs to know the terms).
Writing needs ``EDIT_DISCOUNTS`` (sales managers and admins): the buttons show only to them, and a POST
from anyone else is a 403. Limits need ``MANAGE_SETTINGS`` (admins). The simulator is for everyone who
records orders; its sandbox lives in the user's session and saves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patron.accounts.access import can, visible_accounts
from patron.accounts.models import Account
from patron.audit.models import AuditEvent
from patron.core.errors import Conflict, error_dict
from patron.domain.access import Action
from patron.sales.models import Product

from . import analysis, mappers, quoting, selectors, services, simulator
from .describe import Names, rule_sentences, rule_text
from .forms import (
    MIN_LINES,
    LimitForm,
    LineForm,
    PolicyForm,
    ProductSetForm,
    RuleForm,
    SimulatorForm,
    channel_choices,
    class_choices,
    line_forms,
    local_input,
    role_choices,
)
from .models import DiscountLimit, DiscountRule, Policy, ProductSet

HISTORY_SIZE = 50
SEARCH_SIZE = 20
QUERY_KEY = "discounts.simulator_query"
MAX_QUERY = 20_000

EVENT_LABELS: dict[str, Any] = {
    "DISCOUNT_POLICY_CREATED": gettext_lazy("Policy created"),
    "DISCOUNT_POLICY_UPDATED": gettext_lazy("Policy changed"),
    "DISCOUNT_POLICY_STATUS_CHANGED": gettext_lazy("Status changed"),
    "DISCOUNT_POLICY_COPIED": gettext_lazy("Copied from another policy"),
    "DISCOUNT_RULE_CREATED": gettext_lazy("Rule added"),
    "DISCOUNT_RULE_UPDATED": gettext_lazy("Rule changed"),
    "DISCOUNT_RULE_DELETED": gettext_lazy("Rule removed"),
}
POLICY_FIELDS: dict[str, Any] = {
    "name": gettext_lazy("Name"),
    "description": gettext_lazy("Description"),
    "customer_text": gettext_lazy("Text for customers"),
    "effective_from": gettext_lazy("Effective from"),
    "effective_to": gettext_lazy("Effective to"),
}


def _editor(request: HttpRequest) -> bool:
    return can(request.user, Action.EDIT_DISCOUNTS)


def _require_editor(request: HttpRequest) -> None:
    if not _editor(request):
        raise PermissionDenied(Action.EDIT_DISCOUNTS.value)


def _currency() -> str:
    return str(settings.PATRON_COMPANY_CURRENCY)


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _flash_errors(request: HttpRequest, exc: ValidationError | Conflict) -> None:
    if isinstance(exc, Conflict):
        messages.error(request, exc.message)
        return
    for problems in error_dict(exc).values():
        for message in problems:
            messages.error(request, message)


def _status_label(status: str) -> str:
    return str(dict(Policy.STATUSES).get(status, status))


# --- policies --------------------------------------------------------------------------------------------------


@login_required
@require_GET
def policy_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or ""
    known = [key for key, _label in Policy.STATUSES]
    if status not in known:
        status = ""
    counts = dict(Policy.objects.values_list("status").annotate(n=Count("id")).order_by())
    tabs = [("", _("All"), sum(counts.values()))] + [(k, label, counts.get(k, 0)) for k, label in Policy.STATUSES]
    context = {
        "policies": list(selectors.policy_list(status or None)),
        "tabs": tabs,
        "status": status,
        "can_edit": _editor(request),
        "can_simulate": can(request.user, Action.RECORD_ORDER),
        "can_limits": can(request.user, Action.MANAGE_SETTINGS),
        "can_analyse": analysis.may_read_analysis(request.user),
    }
    return render(request, "discounts/policy_list.html", context)


def _history(policy: Policy, rules: Sequence[DiscountRule]) -> list[dict[str, Any]]:
    events = (
        AuditEvent.objects.filter(
            Q(entity_type="policy", entity_id=str(policy.pk))
            | Q(entity_type="discountrule", entity_id__in=[str(r.pk) for r in rules])
        )
        .select_related("actor")
        .order_by("-at", "-id")[:HISTORY_SIZE]
    )
    out = []
    for event in events:
        changes = event.changes or {}
        details: list[tuple[str, Any, Any]] = []
        if event.action == "DISCOUNT_POLICY_STATUS_CHANGED" and "status" in changes:
            before, after = changes["status"]
            details.append((str(_("Status")), _status_label(before), _status_label(after)))
        elif event.action.startswith("DISCOUNT_RULE_") and "rule" in changes:
            before, after = changes["rule"]
            names = [v.get("name") for v in (before, after) if isinstance(v, dict)]
            if len(set(names)) > 1:
                details.append((str(_("Name")), names[0], names[1]))
            elif names:
                details.append((str(_("Rule")), None, names[0]))
            if isinstance(before, dict) and isinstance(after, dict) and before.get("priority") != after.get("priority"):
                details.append((str(_("Priority")), before.get("priority"), after.get("priority")))
        elif event.action == "DISCOUNT_POLICY_COPIED":
            source = (changes.get("from") or [None, None])[1]
            details.append((str(_("From policy")), None, f"#{source}"))
        else:
            for field, values in changes.items():
                if isinstance(values, list) and len(values) == 2:
                    details.append((str(POLICY_FIELDS.get(field, field)), values[0], values[1]))
        out.append(
            {
                "event": event,
                "label": str(EVENT_LABELS.get(event.action, event.action)),
                "details": details,
            }
        )
    return out


def _sentences(definition: Mapping[str, Any], names: Names) -> tuple[str, dict[str, str]]:
    """A rule in plain words, and its parts; a definition the words cannot follow says so instead of failing."""
    currency = _currency()
    try:
        return rule_text(definition, names, currency), rule_sentences(definition, names, currency)
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
        return _("This rule cannot be described; edit it to check it."), {}


def rule_cards(rules: Sequence[Any], names: Names) -> list[dict[str, Any]]:
    """Each rule (a stored one or a sandbox copy) with its plain-words sentence and parts."""
    cards = []
    for rule in rules:
        sentence, parts = _sentences(rule.definition, names)
        cards.append({"rule": rule, "sentence": sentence, "parts": parts})
    return cards


@login_required
@require_GET
def policy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(Policy.objects.select_related("owner"), pk=pk)
    rules = list(policy.rules.order_by("-priority", "id"))
    names = Names.for_rules([r.definition for r in rules])
    editable = policy.status != Policy.ARCHIVED
    actions = []
    if policy.status == Policy.DRAFT:
        actions.append(("active", _("Activate"), "primary"))
    if policy.status == Policy.ACTIVE:
        actions.append(("draft", _("Pause (back to draft)"), ""))
    if policy.status != Policy.ARCHIVED:
        actions.append(("archived", _("Archive"), "danger"))
    context = {
        "policy": policy,
        "cards": rule_cards(rules, names),
        "can_edit": _editor(request),
        "editable": editable,
        "status_actions": actions,
        "history": _history(policy, rules) if can(request.user, Action.EDIT_DISCOUNTS) else [],
        "can_simulate": can(request.user, Action.RECORD_ORDER) and policy.status != Policy.ARCHIVED,
        "can_what_if": analysis.may_run_what_if(request.user),
        "can_effect": analysis.may_read_analysis(request.user) and policy.status != Policy.DRAFT,
    }
    return render(request, "discounts/policy_detail.html", context)


def _policy_page(request: HttpRequest, form: PolicyForm, policy: Policy | None) -> HttpResponse:
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "discounts/policy_form.html", {"form": form, "policy": policy}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def policy_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A new draft (no ``pk``) or a policy's name, texts and window."""
    _require_editor(request)
    policy = get_object_or_404(Policy, pk=pk) if pk is not None else None
    if policy is not None and policy.status == Policy.ARCHIVED:
        messages.error(request, _("An archived policy cannot change; copy it into a new draft."))
        return redirect("discounts:policy_detail", policy.pk)
    if request.method == "GET":
        form = PolicyForm(initial=PolicyForm.initial_for(policy) if policy else None)
        return _policy_page(request, form, policy)
    form = PolicyForm(request.POST)
    if not form.is_valid():
        return _policy_page(request, form, policy)
    try:
        if policy is None:
            saved = services.policy_create(actor=request.user, data=form.service_data())
            messages.success(request, _("Policy “%(name)s” created as a draft. Add its rules.") % {"name": saved.name})
        else:
            saved = services.policy_update(actor=request.user, policy=policy, data=form.service_data())
            messages.success(request, _("Policy “%(name)s” saved.") % {"name": saved.name})
    except ValidationError as exc:
        form.add_service_errors(exc)
        return _policy_page(request, form, policy)
    except Conflict as exc:
        form.add_error(None, exc.message)
        return _policy_page(request, form, policy)
    return redirect("discounts:policy_detail", saved.pk)


@login_required
@require_POST
def policy_status(request: HttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    policy = get_object_or_404(Policy, pk=pk)
    status = request.POST.get("status", "")
    if status not in dict(Policy.STATUSES):
        messages.error(request, _("Choose draft, active or archived."))
        return redirect("discounts:policy_detail", policy.pk)
    try:
        policy = services.policy_set_status(actor=request.user, policy=policy, status=status)
    except (ValidationError, Conflict) as exc:
        _flash_errors(request, exc)
    else:
        texts = {
            Policy.ACTIVE: _("“%(name)s” is active: orders are priced with its rules from now on."),
            Policy.DRAFT: _("“%(name)s” is paused: back to draft, it prices nothing."),
            Policy.ARCHIVED: _("“%(name)s” is archived."),
        }
        messages.success(request, texts[status] % {"name": policy.name})
    return redirect("discounts:policy_detail", policy.pk)


@login_required
@require_POST
def policy_copy(request: HttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    policy = get_object_or_404(Policy, pk=pk)
    copy = services.policy_copy(actor=request.user, policy=policy)
    messages.success(
        request, _("A draft copy of “%(name)s” was made; change it, then activate it.") % {"name": policy.name}
    )
    return redirect("discounts:policy_detail", copy.pk)


# --- rules -----------------------------------------------------------------------------------------------------


def _rule_page(
    request: HttpRequest,
    form: RuleForm,
    *,
    policy: Policy,
    rule: Any = None,
    sandbox: bool = False,
    preview: dict[str, Any] | None = None,
) -> HttpResponse:
    cancel = _simulator_url(request) if sandbox else reverse("discounts:policy_detail", args=[policy.pk])
    context = {
        "form": form,
        "policy": policy,
        "rule": rule,
        "sandbox": sandbox,
        "cancel_url": cancel,
        "preview": preview,
        "kind_fields": form.current_kind(),
    }
    status = 400 if form.is_bound and form.has_errors() and not _htmx(request) else 200
    return render(request, "discounts/rule_form.html", context, status=status)


def _rule_input(request: HttpRequest, rule: Mapping[str, Any] | None, accounts: Any = None) -> RuleForm:
    more = 2 if request.POST.get("action") == "more" else 0
    return RuleForm(request.POST, rule=rule, accounts=accounts, more_rows=more)


def _stored(rule: DiscountRule) -> dict[str, Any]:
    return {"name": rule.name, "priority": rule.priority, **rule.definition}


def _checked(form: RuleForm) -> dict[str, Any] | None:
    """The rule dict when the form and the rule's checks both pass; otherwise None, with the errors on the form."""
    data = form.rule_data()
    if data is None:
        return None
    try:
        services.checked_rule(data)
    except ValidationError as exc:
        form.add_service_errors(exc)
        return None
    return data


def _preview(form: RuleForm) -> dict[str, Any]:
    data = _checked(form)
    if data is None:
        return {"ok": False}
    names = Names.for_rules([data])
    return {"ok": True, "sentence": rule_text(data, names, _currency())}


def _described(rule: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stored rule's sentence for the editor's first view."""
    if not rule:
        return None
    return {"ok": True, "sentence": _sentences(rule, Names.for_rules([rule]))[0]}


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int | None = None, rule_pk: int | None = None) -> HttpResponse:
    """Add a rule to policy ``pk``, or edit rule ``rule_pk``; ``action=more`` gives more tier rows."""
    _require_editor(request)
    if rule_pk is not None:
        rule = get_object_or_404(DiscountRule.objects.select_related("policy"), pk=rule_pk)
        policy = rule.policy
    else:
        rule = None
        policy = get_object_or_404(Policy, pk=pk)
    if policy.status == Policy.ARCHIVED:
        messages.error(request, _("An archived policy cannot change; copy it into a new draft."))
        return redirect("discounts:policy_detail", policy.pk)
    stored = _stored(rule) if rule is not None else None
    if request.method == "GET":
        return _rule_page(request, RuleForm(rule=stored), policy=policy, rule=rule, preview=_described(stored))
    form = _rule_input(request, stored)
    action = request.POST.get("action", "save")
    if action == "more":
        form.is_valid()
        form.errors.clear()
        return _rule_page(request, form, policy=policy, rule=rule)
    data = form.rule_data()
    if data is None:
        return _rule_page(request, form, policy=policy, rule=rule)
    try:
        if rule is None:
            saved = services.rule_create(actor=request.user, policy=policy, data=data)
            messages.success(request, _("Rule “%(name)s” added.") % {"name": saved.name})
        else:
            saved = services.rule_update(actor=request.user, rule=rule, data=data)
            messages.success(request, _("Rule “%(name)s” saved.") % {"name": saved.name})
    except ValidationError as exc:
        form.add_service_errors(exc)
        return _rule_page(request, form, policy=policy, rule=rule)
    except Conflict as exc:
        form.add_error(None, exc.message)
        return _rule_page(request, form, policy=policy, rule=rule)
    return redirect(reverse("discounts:policy_detail", args=[policy.pk]) + f"#rule-{saved.pk}")


@login_required
@require_POST
def rule_delete(request: HttpRequest, rule_pk: int) -> HttpResponse:
    _require_editor(request)
    rule = get_object_or_404(DiscountRule.objects.select_related("policy"), pk=rule_pk)
    policy = rule.policy
    try:
        services.rule_delete(actor=request.user, rule=rule)
    except Conflict as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, _("Rule “%(name)s” removed.") % {"name": rule.name})
    return redirect("discounts:policy_detail", policy.pk)


@login_required
@require_POST
def rule_preview(request: HttpRequest) -> HttpResponse:
    """The rule being written, in plain words (htmx, as the form changes); saves nothing."""
    if not (_editor(request) or can(request.user, Action.RECORD_ORDER)):
        raise PermissionDenied(Action.EDIT_DISCOUNTS.value)
    accounts = None if _editor(request) else visible_accounts(request.user)
    form = _rule_input(request, None, accounts)
    preview = _preview(form)
    return render(request, "discounts/_rule_preview.html", {"preview": preview, "form": form})


# --- product sets ----------------------------------------------------------------------------------------------


@login_required
@require_GET
def product_set_list(request: HttpRequest) -> HttpResponse:
    sets = ProductSet.objects.annotate(product_count=Count("products")).order_by("name")
    rows = []
    for product_set in sets:
        sample = list(product_set.products.order_by("sku").values_list("sku", "name")[:5])
        rows.append({"set": product_set, "sample": sample})
    return render(request, "discounts/product_set_list.html", {"rows": rows, "can_edit": _editor(request)})


@login_required
@require_http_methods(["GET", "POST"])
def product_set_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _require_editor(request)
    product_set = get_object_or_404(ProductSet, pk=pk) if pk is not None else None
    if request.method == "GET":
        form = ProductSetForm(initial=ProductSetForm.initial_for(product_set) if product_set else None)
    else:
        form = ProductSetForm(request.POST)
        if form.is_valid():
            try:
                saved = services.product_set_save(actor=request.user, data=form.service_data(), product_set=product_set)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Product set “%(name)s” saved.") % {"name": saved.name})
                return redirect("discounts:product_set_list")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "discounts/product_set_form.html", {"form": form, "product_set": product_set}, status=status)


# --- manual discount limits ------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def limit_list(request: HttpRequest) -> HttpResponse:
    if not can(request.user, Action.MANAGE_SETTINGS):
        raise PermissionDenied(Action.MANAGE_SETTINGS.value)
    form: LimitForm
    if request.method == "POST":
        form = LimitForm(request.POST)
        if form.is_valid():
            try:
                services.discount_limit_set(actor=request.user, data=form.service_data())
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Limit saved."))
                return redirect("discounts:limits")
    else:
        initial: dict[str, Any] = {"who": "role"}
        edit = request.GET.get("edit", "")
        limit = DiscountLimit.objects.filter(pk=int(edit)).first() if edit.isdigit() else None
        if limit is not None:
            initial = {
                "who": "user" if limit.user_id else "role",
                "role": limit.role,
                "user": str(limit.user_id or ""),
                "category": str(limit.category_id or ""),
                "segment": limit.segment,
                "percent": "" if limit.percent is None else str(limit.percent),
                "amount": "" if limit.amount is None else str(limit.amount),
            }
        form = LimitForm(initial=initial)
    roles = dict(role_choices())
    limits = DiscountLimit.objects.select_related("user", "category").order_by(
        "role", "user__username", "segment", "category__path"
    )
    segments = dict(class_choices()) if any(limit.segment for limit in limits) else {}
    rows = [
        {
            "limit": limit,
            "who": roles.get(limit.role, limit.role) if limit.role else (limit.user.display_name if limit.user else ""),
            "is_user": limit.user_id is not None,
            "segment": segments.get(limit.segment, limit.segment),
        }
        for limit in limits
    ]
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request,
        "discounts/limits.html",
        {"form": form, "rows": rows, "currency": _currency()},
        status=status,
    )


# --- the simulator ---------------------------------------------------------------------------------------------


def _require_simulator(request: HttpRequest) -> None:
    if not can(request.user, Action.RECORD_ORDER):
        raise PermissionDenied(Action.RECORD_ORDER.value)


def _simulator_url(request: HttpRequest) -> str:
    query = request.session.get(QUERY_KEY) or ""
    return reverse("discounts:simulator") + (f"?{query}" if query else "")


def _rows(request: HttpRequest) -> int:
    raw = request.GET.get("rows", "")
    rows = int(raw) if raw.isdigit() and len(raw) < 4 else 5
    if request.GET.get("more"):
        rows += 3
    return rows


def _find_account(user: Any, text: str) -> Account | None:
    text = text.strip()
    accounts = visible_accounts(user)
    found = accounts.filter(code=text).first()
    if found is None:
        # "CODE · Name" as the search offers it, or a name typed in full that only one account has.
        code = text.split(" · ", 1)[0].strip()
        found = accounts.filter(code=code).first()
    if found is None:
        by_name = list(accounts.filter(name=text)[:2])
        found = by_name[0] if len(by_name) == 1 else None
    return found


LINE_FIELDS = {
    "product": "product",
    "quantity": "quantity",
    "manual.kind": "manual_kind",
    "manual.value": "manual_value",
}


def _line_errors(exc: ValidationError, kept: Sequence[LineForm], page_errors: list[str]) -> None:
    """``lines.2.quantity`` -> the quantity of the third line typed."""
    for key, problems in error_dict(exc).items():
        parts = key.split(".", 2)
        if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit() and int(parts[1]) < len(kept):
            form = kept[int(parts[1])]
            field = LINE_FIELDS.get(parts[2])
            for message in problems:
                form.add_error(field, message)
        else:
            page_errors.extend(problems)


def _simulate(
    request: HttpRequest,
    form: SimulatorForm,
    lines: Sequence[LineForm],
    found: tuple[simulator.Sandbox, Policy] | None,
    page_errors: list[str],
) -> dict[str, Any] | None:
    valid = form.is_valid()
    checked = [lf.is_valid() for lf in lines]  # every line, so that each shows its errors
    valid = all(checked) and valid
    if not valid:
        return None
    kept = [lf for lf in lines if not lf.is_blank()]
    if not kept:
        page_errors.append(_("Add at least one line: a product and a quantity."))
        return None
    d = form.cleaned_data
    account = None
    described = None
    if d["mode"] == "account":
        account = _find_account(request.user, d["account"])
        if account is None:
            form.add_error("account", _("No account you can see has this code."))
            return None
    else:
        described = simulator.Described(
            region=int(d["region"]) if d.get("region") else None,
            industry=int(d["industry"]) if d.get("industry") else None,
            classes=frozenset(d.get("classes") or []),
            stage=d.get("stage") or "",
            new_customer=bool(d.get("new_customer")),
        )
    currency = d["currency"]
    now = timezone.localtime(d["at"]) if d.get("at") else timezone.localtime()
    kwargs: dict[str, Any] = {
        "account": account,
        "described": described,
        "currency": currency,
        "channel": d["channel"],
        "now": now,
        "user": request.user,
    }
    try:
        requests = quoting.line_requests([lf.line() for lf in kept], currency=currency)
        live = simulator.simulate(requests, **kwargs)
        sandboxed = None
        skipped: tuple[str, ...] = ()
        if found is not None:
            sandbox, policy = found
            built = simulator.sandbox_book(sandbox, policy, mappers.compiled().book)
            skipped = built.skipped
            sandboxed = simulator.simulate(requests, book=built.book, **kwargs)
    except ValidationError as exc:
        _line_errors(exc, kept, page_errors)
        return None
    return {
        "account": account,
        "described": described,
        "now": now,
        "live": simulator.quote_panel(live, requests),
        "sandbox": simulator.quote_panel(sandboxed, requests) if sandboxed is not None else None,
        "comparison": simulator.compare(live.quote, sandboxed.quote) if sandboxed is not None else None,
        "names": {str(i + 1): r.product.name for i, r in enumerate(requests)},
        "channel_label": dict(channel_choices()).get(d["channel"], d["channel"]),
        "skipped": skipped,
    }


def _sandbox_context(request: HttpRequest, found: tuple[simulator.Sandbox, Policy] | None) -> dict[str, Any]:
    if found is None:
        policies = Policy.objects.exclude(status=Policy.ARCHIVED).order_by("status", "name")
        return {"sandbox": None, "sandbox_policies": policies}
    sandbox, policy = found
    names = Names.for_rules([r.definition for r in sandbox.rules])
    cards = rule_cards(sandbox.rules, names)
    stored = {r.pk: r for r in policy.rules.all()}
    for card in cards:
        item = card["rule"]
        original = stored.get(item.origin) if item.origin is not None else None
        if original is None:
            card["mark"] = "new"
        elif (original.name, original.priority, _canonical(original.definition)) != (
            item.name,
            item.priority,
            _canonical(item.definition),
        ):
            card["mark"] = "changed"
    kept = {r.origin for r in sandbox.rules}
    removed = [r.name for pk, r in stored.items() if pk not in kept]
    return {"sandbox": sandbox, "sandbox_policy": policy, "sandbox_cards": cards, "sandbox_removed": removed}


def _canonical(value: Any, key: str = "") -> Any:
    """A rule definition without its empty parts, so that a copy saved unchanged reads as unchanged
    (``combines_with: []``, "with nothing", is kept: it differs from leaving it out, "with anything")."""
    if isinstance(value, dict):
        out = {k: _canonical(v, k) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", {}, False) and (v != [] or k == "combines_with")}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


@login_required
@require_GET
def simulator_page(request: HttpRequest) -> HttpResponse:
    """Price a cart for an account (or one described) now or at another moment, and explain every line."""
    _require_simulator(request)
    asked = "mode" in request.GET
    rows = _rows(request)
    initial = {"mode": "account", "at": local_input(timezone.localtime()), "channel": "sales_rep"}
    preset = request.GET.get("account") if not asked else None
    if preset:
        initial["account"] = preset[:200]
    form = SimulatorForm(request.GET if asked else None, initial=initial)
    lines = line_forms(request.GET if asked else None, rows)
    found = simulator.sandbox_load(request.session)
    page_errors: list[str] = []
    result = None
    if asked:
        query = request.GET.copy()
        query.pop("more", None)
        encoded = query.urlencode()
        if len(encoded) <= MAX_QUERY:
            request.session[QUERY_KEY] = encoded
        if not request.GET.get("more"):
            result = _simulate(request, form, lines, found, page_errors)
    failed = asked and not request.GET.get("more") and result is None
    context = {
        "form": form,
        "lines": lines,
        "rows": max(len(lines), MIN_LINES),
        "result": result,
        "page_errors": page_errors,
        "product_options": _product_options(""),
        **_sandbox_context(request, found),
    }
    status = 400 if failed and not _htmx(request) else 200
    return render(request, "discounts/simulator.html", context, status=status)


def _product_options(text: str) -> list[tuple[str, str]]:
    products = Product.objects.filter(active=True)
    if text:
        products = products.filter(Q(sku__icontains=text) | Q(name__icontains=text))
    return [(p.sku, f"{p.name} · {p.list_price} {p.currency}") for p in products.order_by("sku")[:SEARCH_SIZE]]


@login_required
@require_GET
def simulator_accounts(request: HttpRequest) -> HttpResponse:
    """Accounts the user may see whose code or name holds what was typed (a datalist, for htmx)."""
    _require_simulator(request)
    text = (request.GET.get("account") or request.GET.get("q") or "").strip()[:100]
    accounts = visible_accounts(request.user)
    if text:
        accounts = accounts.filter(Q(code__icontains=text) | Q(name__icontains=text))
    options = [(a.code, a.name) for a in accounts.order_by("code")[:SEARCH_SIZE]]
    return render(request, "discounts/_options.html", {"options": options, "list_id": "account-options"})


@login_required
@require_GET
def simulator_products(request: HttpRequest) -> HttpResponse:
    _require_simulator(request)
    text = (request.GET.get("q") or "").strip()[:100]
    if not text:
        text = next((str(request.GET[k]) for k in request.GET if k.endswith("-product")), "").strip()[:100]
    options = _product_options(text)
    return render(request, "discounts/_options.html", {"options": options, "list_id": "product-options"})


# --- the sandbox -----------------------------------------------------------------------------------------------


@login_required
@require_POST
def sandbox_start(request: HttpRequest) -> HttpResponse:
    """Copy a policy's rules into the session to try changes on."""
    _require_simulator(request)
    raw = request.POST.get("policy", "")
    policy = Policy.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 19 else None
    if policy is None:
        messages.error(request, _("Choose a policy to try changes on."))
        return redirect(_simulator_url(request))
    try:
        sandbox = simulator.sandbox_start(policy)
    except ValidationError as exc:
        _flash_errors(request, exc)
        return redirect(_simulator_url(request))
    simulator.sandbox_keep(request.session, sandbox)
    messages.info(
        request,
        _("Sandbox: the rules of “%(name)s” are copied for you to change. Nothing is saved.") % {"name": policy.name},
    )
    return redirect(_simulator_url(request))


@login_required
@require_POST
def sandbox_clear(request: HttpRequest) -> HttpResponse:
    _require_simulator(request)
    simulator.sandbox_clear(request.session)
    messages.info(request, _("Sandbox discarded."))
    return redirect(_simulator_url(request))


def _loaded(request: HttpRequest) -> tuple[simulator.Sandbox, Policy]:
    found = simulator.sandbox_load(request.session)
    if found is None:
        raise Http404("no sandbox")
    return found


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_rule(request: HttpRequest, key: str | None = None) -> HttpResponse:
    """Add a rule to the sandbox (no ``key``) or change one: the rule form, checked as a stored rule, kept in
    the session only."""
    _require_simulator(request)
    sandbox, policy = _loaded(request)
    item = sandbox.rule(key) if key is not None else None
    if key is not None and item is None:
        raise Http404("no such sandbox rule")
    accounts = None if _editor(request) else visible_accounts(request.user)
    current = item.data() if item is not None else None
    if request.method == "GET":
        form = RuleForm(rule=current, accounts=accounts)
        return _rule_page(request, form, policy=policy, rule=item, sandbox=True, preview=_described(current))
    form = _rule_input(request, current, accounts)
    if request.POST.get("action") == "more":
        form.is_valid()
        form.errors.clear()
        return _rule_page(request, form, policy=policy, rule=item, sandbox=True)
    data = form.rule_data()
    if data is None:
        return _rule_page(request, form, policy=policy, rule=item, sandbox=True)
    try:
        simulator.sandbox_put(sandbox, data, key=key)
    except ValidationError as exc:
        form.add_service_errors(exc)
        return _rule_page(request, form, policy=policy, rule=item, sandbox=True)
    simulator.sandbox_keep(request.session, sandbox)
    messages.success(request, _("Sandbox rule “%(name)s” kept for this session.") % {"name": data["name"]})
    return redirect(_simulator_url(request))


@login_required
@require_POST
def sandbox_rule_remove(request: HttpRequest, key: str) -> HttpResponse:
    _require_simulator(request)
    sandbox, _policy = _loaded(request)
    try:
        simulator.sandbox_remove(sandbox, key)
    except KeyError:
        raise Http404("no such sandbox rule") from None
    simulator.sandbox_keep(request.session, sandbox)
    return redirect(_simulator_url(request))
