"""Pages for what a discount policy would cost (what-if) and what it did (effect).

Admins, sales managers and finance read them; replaying a policy needs ``EDIT_DISCOUNTS``
(admins and sales managers): the form is shown only to them, and a POST from anyone else is
a 403. A small what-if is worked out while the user waits; a large one runs in the background
and its page shows its progress until the result is there.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRefresh

from patron.core.errors import Conflict, error_dict
from patron.segments.models import Classification
from patron.web.charts import GroupedBars, grouped_bars, line_chart

from . import analysis
from .models import Policy, WhatIfRun

RUN_FIELDS = ("period", "start", "end", "classification", "classes_as_of")


def _reader(request: HttpRequest) -> None:
    analysis.require_reader(request.user)


# --- the question -------------------------------------------------------------


class WhatIfForm(forms.Form):
    period = forms.ChoiceField(
        label=gettext_lazy("Period"), choices=WhatIfRun.PERIODS, widget=forms.RadioSelect, initial=WhatIfRun.LAST_MONTH
    )
    start = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=gettext_lazy("To (included)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    classification = forms.ChoiceField(label=gettext_lazy("Rows: the classes of"))
    classes_as_of = forms.ChoiceField(
        label=gettext_lazy("Each account's class as of"),
        choices=WhatIfRun.AS_OF_CHOICES,
        widget=forms.RadioSelect,
        initial=WhatIfRun.ORDER_DATE,
        help_text=gettext_lazy("Used for the rows and for rules that target classes."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(c.key, c.name) for c in Classification.objects.order_by("-builtin", "key")]
        field = self.fields["classification"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices
        if any(key == "value_tier" for key, _label in choices):
            self.fields["classification"].initial = "value_tier"


def _form_page(request: HttpRequest, policy: Policy, form: WhatIfForm | None, status: int = 200) -> HttpResponse:
    today = timezone.localdate()
    context = {
        "policy": policy,
        "form": form,
        "runs": analysis.whatif_runs(policy),
        "can_run": analysis.may_run_what_if(request.user),
        "last_month": analysis.period_dates(WhatIfRun.LAST_MONTH, today),
        "last_quarter": analysis.period_dates(WhatIfRun.LAST_QUARTER, today),
        "inline_lines": analysis.inline_limit(),
    }
    return render(request, "discounts/analysis/what_if_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def what_if(request: HttpRequest, pk: int) -> HttpResponse:
    """The question (period, classification, as of which day), and the earlier runs of this policy."""
    _reader(request)
    policy = get_object_or_404(Policy, pk=pk)
    if request.method == "GET":
        return _form_page(request, policy, WhatIfForm() if analysis.may_run_what_if(request.user) else None)
    analysis.require_runner(request.user)
    form = WhatIfForm(request.POST)
    form.is_valid()  # the service checks again and names each problem by its field
    data = {name: request.POST.get(name, "") for name in RUN_FIELDS}
    for name in ("start", "end"):
        if name in form.cleaned_data and form.cleaned_data[name] is not None:
            data[name] = form.cleaned_data[name].isoformat()
    if form.errors.get("start") or form.errors.get("end"):
        return _form_page(request, policy, form, status=400)
    try:
        run = analysis.whatif_start(actor=request.user, policy=policy, data=data)
    except ValidationError as exc:
        for field, messages in error_dict(exc).items():
            for message in messages:
                form.add_error(field if field in form.fields else None, message)
        return _form_page(request, policy, form, status=400)
    return redirect("discounts:what_if_run", pk=run.pk)


# --- one run ------------------------------------------------------------------


def _whatif_charts(rows: list[dict[str, Any]], currency: str) -> tuple[GroupedBars, GroupedBars] | None:
    if not rows:
        return None
    groups = [row["label"] for row in rows]

    def column(name: str) -> list[Decimal]:
        return [Decimal(row[name]) for row in rows]

    names = (_("Actually given"), _("Current rules"), _("With this policy"))
    discount = grouped_bars(
        groups,
        list(zip(names, [column(c) for c in ("actual_discount", "current_discount", "policy_discount")], strict=True)),
        title=_("Discount per class (%(currency)s)") % {"currency": currency},
        desc="; ".join(
            f"{row['label']}: {row['actual_discount']} / {row['current_discount']} / {row['policy_discount']}"
            for row in rows
        ),
    )
    margin = grouped_bars(
        groups,
        list(zip(names, [column(c) for c in ("actual_margin", "current_margin", "policy_margin")], strict=True)),
        title=_("Margin per class (%(currency)s)") % {"currency": currency},
        desc="; ".join(
            f"{row['label']}: {row['actual_margin']} / {row['current_margin']} / {row['policy_margin']}" for row in rows
        ),
    )
    return discount, margin


def _with_differences(row: dict[str, Any]) -> dict[str, Any]:
    policy, current = Decimal(row["policy_discount"]), Decimal(row["current_discount"])
    margin_gain = Decimal(row["policy_margin"]) - Decimal(row["current_margin"])
    listed = Decimal(row["list_amount"])
    return {
        **row,
        "extra_discount": policy - current,
        "margin_change": margin_gain,
        "policy_rate": (policy / listed * 100).quantize(Decimal("0.1")) if listed else None,
        "actual_rate": (Decimal(row["actual_discount"]) / listed * 100).quantize(Decimal("0.1")) if listed else None,
    }


def _run_context(run: WhatIfRun) -> dict[str, Any]:
    rows, totals = analysis.whatif_rows(run)
    currency = (run.result or {}).get("currency") or analysis.company_currency()
    return {
        "run": run,
        "policy": run.policy,
        "busy": run.is_busy,
        "rows": [_with_differences(r) for r in rows],
        "totals": _with_differences(totals) if totals else None,
        "notes": analysis.whatif_notes(run),
        "charts": _whatif_charts(rows, currency) if run.status == WhatIfRun.DONE else None,
        "currency": currency,
        "rules": (run.result or {}).get("rules"),
        "classification_name": run.classification.name if run.classification else run.classification_key,
    }


@login_required
@require_GET
def what_if_run(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    run = get_object_or_404(WhatIfRun.objects.select_related("policy", "classification", "created_by"), pk=pk)
    analysis.expire_if_stalled(run)
    context = _run_context(run)
    context["can_run"] = analysis.may_run_what_if(request.user)
    return render(request, "discounts/analysis/what_if_run.html", context)


@login_required
@require_GET
def what_if_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's progress while it lasts; then a refresh of the page, which shows the result."""
    _reader(request)
    run = get_object_or_404(WhatIfRun.objects.select_related("policy"), pk=pk)
    analysis.expire_if_stalled(run)
    if run.is_busy:
        return render(request, "discounts/analysis/_progress.html", {"run": run, "busy": True})
    if getattr(request, "htmx", False):
        return HttpResponseClientRefresh()
    return redirect("discounts:what_if_run", pk=run.pk)


# --- effect -------------------------------------------------------------------


def _effect_chart(found: analysis.Effect) -> Any:
    if len(found.months) < 1:
        return None
    return line_chart(
        found.months,
        [
            (_("Targeted accounts"), found.monthly["targeted"]),
            (_("Comparison group"), found.monthly["comparison"]),
        ],
        title=_("Monthly sales per account (%(currency)s)") % {"currency": found.currency},
        desc=_("Sales per account by month, from %(first)s to %(last)s, of the accounts with orders in both periods.")
        % {"first": found.months[0], "last": found.months[-1]},
        width=860,
        height=260,
    )


def _rows(found: analysis.Effect) -> list[dict[str, Any]]:
    out = []
    for key, label, groups in (
        ("targeted", _("Targeted accounts"), found.targeted),
        ("comparison", _("Comparison group"), found.comparison),
    ):
        before, during = groups["before"], groups["during"]
        out.append(
            {
                "key": key,
                "label": label,
                "before": before,
                "during": during,
                "sales_change": during.sales - before.sales,
                "margin_change": during.margin - before.margin,
            }
        )
    return out


@login_required
@require_GET
def effect(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    policy = get_object_or_404(Policy, pk=pk)
    context: dict[str, Any] = {"policy": policy}
    try:
        found = analysis.effect(policy)
    except Conflict as exc:
        context["refusal"] = exc.message
        return render(request, "discounts/analysis/effect.html", context, status=409)
    p = found.periods
    context.update(
        found=found,
        rows=_rows(found),
        chart=_effect_chart(found),
        before_end=p.start - dt.timedelta(days=1),
        notes=[{**n, "text": analysis.note_text(n)} for n in found.notes],
        coverage=(found.mix_coverage * 100).quantize(Decimal(1)) if found.mix_coverage is not None else None,
    )
    return render(request, "discounts/analysis/effect.html", context)


# --- the index ----------------------------------------------------------------


@login_required
@require_GET
def analysis_index(request: HttpRequest) -> HttpResponse:
    """Every policy with its what-if and effect pages."""
    _reader(request)
    policies = list(Policy.objects.select_related("owner").order_by("status", "-updated_at", "id"))
    latest: dict[int, WhatIfRun] = {}
    for run in WhatIfRun.objects.filter(policy__in=policies).order_by("policy_id", "-created_at", "-id"):
        latest.setdefault(run.policy_id, run)
    rows = [{"policy": p, "latest": latest.get(p.pk)} for p in policies]
    return render(
        request,
        "discounts/analysis/index.html",
        {"rows": rows, "can_run": analysis.may_run_what_if(request.user)},
    )
