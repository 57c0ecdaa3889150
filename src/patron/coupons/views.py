"""Thin pages over the coupon services: campaigns, their dashboard (effect against the hold-out,
charts), issuing codes, running a campaign after seeing its reach, and looking a code up."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.accounts.access import can, visible_accounts
from patron.core.errors import Conflict, error_dict
from patron.domain.access import Action
from patron.domain.coupons.codes import normalize, shown
from patron.web.charts import grouped_bars

from . import delivery, services
from .effect import campaign_effect
from .forms import CampaignForm, RunForm
from .models import Campaign, CampaignRecipient, Coupon, Redemption


def _reader(user: Any) -> None:
    if not (can(user, Action.EDIT_COUPONS) or can(user, Action.RECORD_ORDER)):
        raise PermissionDenied


def _editor(user: Any) -> None:
    if not can(user, Action.EDIT_COUPONS):
        raise PermissionDenied


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    _reader(request.user)
    campaigns = Campaign.objects.filter(internal=False).annotate(
        issued=Count("coupons", distinct=True),
        redeemed=Count("redemptions", filter=Q(redemptions__reversed_at__isnull=True), distinct=True),
    )
    return render(
        request,
        "coupons/campaign_list.html",
        {"campaigns": campaigns, "can_edit": can(request.user, Action.EDIT_COUPONS)},
    )


@login_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    _editor(request.user)
    status = 200
    if request.method == "POST":
        form = CampaignForm(request.POST)
        if form.is_valid():
            try:
                made = services.campaign_create(actor=request.user, data=form.service_data())
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("coupons:campaign_detail", made.pk)
        status = 400
    else:
        form = CampaignForm()
    return render(request, "coupons/campaign_form.html", {"form": form}, status=status)


def _effect_chart(lift: Any, currency: str) -> Any:
    if lift is None or lift.spend_per_account is None:
        return None
    groups = [_("Purchase rate (%)"), _("Spend per account (%(currency)s)") % {"currency": currency}]
    treated = [Decimal(str(round(lift.treated.rate * 100, 1))), Decimal(str(round(lift.treated.mean, 2)))]
    held = [Decimal(str(round(lift.held_out.rate * 100, 1))), Decimal(str(round(lift.held_out.mean, 2)))]
    return grouped_bars(
        groups,
        [(_("Got a code"), treated), (_("Held out"), held)],
        title=_("Accounts that got a code against those held out"),
        desc="; ".join(f"{g}: {a} / {b}" for g, a, b in zip(groups, treated, held, strict=True)),
        width=640,
    )


@login_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    _reader(request.user)
    campaign = get_object_or_404(Campaign, pk=campaign_id, internal=False)
    run_form = RunForm(request.GET if "preview" in request.GET else None)
    reach = None
    if "preview" in request.GET and run_form.is_valid():
        reach = delivery.campaign_reach(run_form.target(), holdout_percent=run_form.cleaned_data["holdout_percent"])
    effect = campaign_effect(campaign)
    return render(
        request,
        "coupons/campaign_detail.html",
        {
            "campaign": campaign,
            "rules": delivery.rules_in_words(campaign),
            "effect": effect,
            "lift": effect["uplift"],
            "chart": _effect_chart(effect["uplift"], campaign.currency),
            "runs": campaign.sends.select_related("created_by")[:10],
            "ratings": CampaignRecipient.objects.filter(send__campaign=campaign, rated_at__isnull=False)
            .select_related("account")
            .order_by("-rated_at")[:20],
            "run_form": run_form,
            "reach": reach,
            "can_edit": can(request.user, Action.EDIT_COUPONS),
        },
    )


@login_required
@require_POST
def campaign_status(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id, internal=False)
    try:
        services.campaign_set_status(actor=request.user, campaign=campaign, status=request.POST.get("status", ""))
    except Conflict as exc:
        messages.error(request, str(exc))
    return redirect("coupons:campaign_detail", campaign.pk)


@login_required
@require_POST
def campaign_codes(request: HttpRequest, campaign_id: int) -> HttpResponseBase:
    """Issue codes for anyone (printed or partner channels), and download them as CSV."""
    from patron.core.exports import export_response

    campaign = get_object_or_404(Campaign, pk=campaign_id, internal=False)
    try:
        count = int(request.POST.get("count") or 0)
        made = services.codes_issue(actor=request.user, campaign=campaign, count=count)
    except (ValueError, ValidationError, Conflict) as exc:
        text = "; ".join(m for ms in error_dict(exc).values() for m in ms) if isinstance(exc, ValidationError) else ""
        messages.error(request, text or str(exc) or _("Give a number of codes."))
        return redirect("coupons:campaign_detail", campaign.pk)
    rows = iter([[shown(code, campaign.prefix), code] for code in made])
    return export_response("csv", f"coupon-codes-{campaign.pk}", [_("Code"), _("Code as stored")], rows)


@login_required
@require_POST
def campaign_run_view(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id, internal=False)
    _editor(request.user)
    form = RunForm(request.POST)
    if not form.is_valid():
        for texts in form.errors.values():
            for text in texts:
                messages.error(request, str(text))
        return redirect("coupons:campaign_detail", campaign.pk)
    try:
        run = delivery.campaign_run(
            actor=request.user,
            campaign=campaign,
            target=form.target(),
            holdout_percent=form.cleaned_data["holdout_percent"],
        )
    except ValidationError as exc:
        for problems in error_dict(exc).values():
            for problem in problems:
                messages.error(request, str(problem))
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Sent to %(accounts)s accounts; %(held)s held out.")
            % {"accounts": run.accounts - run.held_out, "held": run.held_out},
        )
    return redirect("coupons:campaign_detail", campaign.pk)


def feedback(request: HttpRequest, token: str) -> HttpResponse:
    """Public, reached only through the email's unguessable link: the customer rates the offer once."""
    from django.http import Http404
    from django.utils import translation

    row = CampaignRecipient.objects.select_related("send__campaign").filter(token=token).first()
    if row is None:
        raise Http404
    status, error = 200, ""
    with translation.override(row.language):
        if request.method == "POST" and row.rated_at is None:
            try:
                row = delivery.feedback_record(token, request.POST.get("rating"), request.POST.get("comment", ""))
            except ValidationError as exc:
                error, status = "; ".join(m for ms in error_dict(exc).values() for m in ms), 400
        return render(
            request, "coupons/feedback.html", {"row": row, "campaign": row.send.campaign, "error": error}, status=status
        )


@login_required
def code_lookup(request: HttpRequest) -> HttpResponse:
    """A code as typed: its campaign, whose it is, its uses and each redemption (within what the reader sees)."""
    _reader(request.user)
    typed = (request.GET.get("code") or "").strip()
    coupon = None
    redemptions: list[Redemption] = []
    if typed:
        coupon = Coupon.objects.select_related("campaign", "account").filter(code=normalize(typed)).first()
        owner = coupon.account_id if coupon is not None else None
        if owner is not None and not visible_accounts(request.user).filter(pk=owner).exists():
            coupon = None  # another's account: as if unknown
        if coupon is not None:
            redemptions = list(coupon.redemptions.select_related("order", "account"))
    return render(
        request,
        "coupons/lookup.html",
        {
            "typed": typed,
            "coupon": coupon,
            "redemptions": redemptions,
            "shown": shown(coupon.code, coupon.campaign.prefix) if coupon else "",
        },
    )
