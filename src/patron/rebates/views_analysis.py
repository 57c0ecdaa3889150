"""Pages for what rebates cost against the margin they reward, and for replaying changed terms.

Admins, managers and finance read them; replaying needs ``EDIT_REBATES`` (the form is shown
only to those who may, and a POST from anyone else is a 403). A replay of a few thousand
accounts is worked out while the user waits; a larger one runs on the worker and its page
refreshes itself until the answer is there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from patron.accounts.access import can
from patron.domain.access import Action
from patron.domain.rebates.replay import Totals
from patron.web.charts import grouped_bars, hbar_chart
from patron.web.templatetags.patron_web import money

from . import analysis
from .forms import TermsForm
from .mappers import period_of
from .messages import reason_text
from .models import RebateProgram, RebateReplay


def _reader(request: HttpRequest) -> None:
    if not analysis.may_read(request.user):
        raise PermissionDenied


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """Every program's last twelve months: sales, margin, rebate, and the rebate's share of the margin."""
    _reader(request)
    today = timezone.localdate()
    since = today.replace(day=1).replace(year=today.year - 1)
    rows = analysis.programs_overview(since)
    currencies = {r["program"].currency for r in rows}
    chart = None
    if rows and len(currencies) == 1:
        currency = currencies.pop()
        chart = hbar_chart(
            [(r["program"].name, r["totals"].cost, money(r["totals"].cost, currency)) for r in rows],
            title=_("Rebate per program"),
            desc="; ".join(f"{r['program'].name}: {money(r['totals'].cost, currency)}" for r in rows),
            hrefs=[reverse("rebates:program_analysis", args=[r["program"].pk]) for r in rows],
            width=960,  # drawn about as wide as it is shown: labels keep the page's size
            label_width=220,
            value_room=150,  # "CNY 430,965.80" whole
        )
    return render(request, "rebates/analysis/overview.html", {"rows": rows, "since": since, "chart": chart})


def _period_chart(rows: list[dict[str, Any]], currency: str) -> Any:
    if not rows:
        return None
    ordered = rows[::-1]
    return grouped_bars(
        [r["period"].label() for r in ordered],
        [
            (_("Margin"), [r["totals"].margin for r in ordered]),
            (_("Rebate"), [r["totals"].cost for r in ordered]),
            (pgettext("rebate paid out", "Paid"), [r["paid"] for r in ordered]),
        ],
        title=_("Margin and rebate per period (%(currency)s)") % {"currency": currency},
        desc="; ".join(
            f"{r['period'].label()}: {money(r['totals'].margin, currency)} / {money(r['totals'].cost, currency)}"
            for r in ordered
        ),
    )


@login_required
def program_analysis(request: HttpRequest, program_id: int) -> HttpResponse:
    _reader(request)
    program = get_object_or_404(RebateProgram, pk=program_id)
    may_replay = can(request.user, Action.EDIT_REBATES)
    if request.method == "POST":
        if not may_replay:
            raise PermissionDenied
        form = TermsForm(request.POST)
        if form.is_valid():
            terms = form.terms_data(keep=program.terms)
            try:
                made = analysis.replay_start(actor=request.user, program=program, terms=terms)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                return redirect("rebates:replay_detail", made.pk)
    else:
        form = TermsForm(initial=TermsForm.initial_terms(program.terms or {}))
    costs = analysis.program_costs(program)
    return render(
        request,
        "rebates/analysis/program.html",
        {
            "program": program,
            "costs": costs,
            "chart": _period_chart(costs["periods"], program.currency),
            "form": form,
            "may_replay": may_replay,
            "replays": program.replays.select_related("created_by")[:10],
            "window": _window(analysis.replay_periods(program, timezone.localdate())),
        },
        status=400 if request.method == "POST" else 200,
    )


def _window(periods: list[Any]) -> tuple[dt.date, dt.date] | None:
    return (periods[0].start, periods[-1].last_day) if periods else None


def _compare(now: Totals, then: Totals, accounts: tuple[int, int]) -> list[dict[str, Any]]:
    """Rows of the side-by-side table: a measure, its value now, proposed, and the difference."""

    def row(label: str, a: Any, b: Any, kind: str) -> dict[str, Any]:
        diff = b - a if a is not None and b is not None else None
        return {"label": label, "now": a, "then": b, "diff": diff, "kind": kind}

    return [
        row(_("Rebate cost"), now.cost, then.cost, "money"),
        row(_("Accounts that earned a rebate"), Decimal(accounts[0]), Decimal(accounts[1]), "count"),
        row(_("Account-periods that earned"), Decimal(now.paid), Decimal(then.paid), "count"),
        row(_("Net sales rewarded"), now.sales, then.sales, "money"),
        row(_("Margin of that volume"), now.margin, then.margin, "money"),
        row(_("Rebate's share of margin"), now.of_margin, then.of_margin, "percent"),
        row(_("Margin after rebate"), now.margin_after, then.margin_after, "money"),
    ]


def _side_rows(result: Mapping[str, Any], part: str) -> list[dict[str, Any]]:
    keys = sorted(set(result["now"][part]) | set(result["then"][part]), key=lambda k: (len(k), k))
    empty = Totals()
    rows = []
    for key in keys:
        now = analysis.totals_from(result["now"][part][key]) if key in result["now"][part] else empty
        then = analysis.totals_from(result["then"][part][key]) if key in result["then"][part] else empty
        rows.append({"key": key, "now": now, "then": then, "diff": then.cost - now.cost})
    return rows


@login_required
def replay_detail(request: HttpRequest, replay_id: int) -> HttpResponse:
    _reader(request)
    made = get_object_or_404(RebateReplay.objects.select_related("program", "created_by"), pk=replay_id)
    program = made.program
    context: dict[str, Any] = {"replay": made, "program": program}
    if made.status == RebateReplay.DONE:
        result = made.result
        now, then = analysis.totals_from(result["now"]["total"]), analysis.totals_from(result["then"]["total"])
        accounts = (result["now"]["accounts_paid"], result["then"]["accounts_paid"])
        periods = _side_rows(result, "periods")
        for row in periods:
            row["label"] = dt.date.fromisoformat(row["key"])
            row["name"] = period_of(program, row["label"]).label()
        context.update(
            reasons=[reason_text(r) for r in analysis.replay_reasons(result)],
            compare=_compare(now, then, accounts),
            tiers=_side_rows(result, "tiers"),
            periods=periods,
            changes=[
                {
                    **c,
                    "now": Decimal(c["now"]),
                    "then": Decimal(c["then"]),
                    "diff": Decimal(c["then"]) - Decimal(c["now"]),
                }
                for c in result["changes"]
            ],
            chart=grouped_bars(
                [row["name"] for row in periods],
                [
                    (_("As it stands"), [row["now"].cost for row in periods]),
                    (_("Proposed"), [row["then"].cost for row in periods]),
                ],
                title=_("Rebate per period (%(currency)s)") % {"currency": program.currency},
                desc="; ".join(
                    f"{row['name']}: {money(row['now'].cost, program.currency)} / "
                    f"{money(row['then'].cost, program.currency)}"
                    for row in periods
                ),
            )
            if periods
            else None,
            proposed=analysis.parse_terms(made.terms),
        )
    return render(request, "rebates/analysis/replay.html", context)
