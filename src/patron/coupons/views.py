"""Thin pages over the coupon services: campaigns, their dashboard (effect against the hold-out,
charts), issuing codes, running a campaign after seeing its reach, and looking a code up."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from patron.accounts.access import can, visible_accounts
from patron.core.errors import Conflict, error_dict
from patron.domain.access import Action
from patron.domain.coupons.codes import normalize, shown
from patron.web.charts import bar_chart, grouped_bars, line_chart

from . import delivery, services
from .effect import by_kind, campaign_effect, over_time
from .forms import CampaignForm, LiveCampaignForm, RunForm
from .models import Campaign, CampaignRecipient, CampaignSend, Coupon, Redemption


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
        given=Subquery(
            Redemption.objects.filter(campaign=OuterRef("pk"), reversed_at__isnull=True)
            .values("campaign")
            .annotate(t=Sum("amount"))
            .values("t")[:1]
        ),
    )
    kinds = dict(Campaign.KINDS)
    totals = [{**row, "label": kinds.get(row["kind"], row["kind"])} for row in by_kind()]
    return render(
        request,
        "coupons/campaign_list.html",
        {"campaigns": campaigns, "by_kind": totals, "can_edit": can(request.user, Action.EDIT_COUPONS)},
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


@login_required
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """A draft's every field; a running campaign's name, texts and end."""
    _editor(request.user)
    campaign = get_object_or_404(Campaign, pk=campaign_id, internal=False)
    if campaign.status == Campaign.ENDED:
        raise PermissionDenied
    live = campaign.status == Campaign.ACTIVE
    form: Any
    if live:
        initial = {
            "name": campaign.name,
            "customer_text": campaign.customer_text,
            "ends_at": timezone.localtime(campaign.ends_at) if campaign.ends_at else None,
        }
        form = LiveCampaignForm(request.POST or None, initial=initial)
    else:
        form = CampaignForm(request.POST or None, initial=CampaignForm.initial_of(campaign))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data) if live else form.service_data()
            try:
                services.campaign_update(actor=request.user, campaign=campaign, data=data)
            except ValidationError as exc:
                if live:
                    for field, texts in error_dict(exc).items():
                        for text in texts:
                            form.add_error(field if field in form.fields else None, text)
                else:
                    form.add_service_errors(exc)
            except Conflict as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Saved."))
                return redirect("coupons:campaign_detail", campaign.pk)
        status = 400
    return render(
        request, "coupons/campaign_form.html", {"form": form, "campaign": campaign, "live": live}, status=status
    )


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


def _time_charts(campaign: Campaign) -> tuple[Any, Any]:
    series = over_time(campaign)
    labels = series["labels"]
    if not labels or (not any(series["issued"]) and not any(series["redeemed"])):
        return None, None
    per = _("week") if series["weekly"] else _("month")
    counts = line_chart(
        labels,
        [
            (_("Codes issued"), [Decimal(n) for n in series["issued"]]),
            (_("Codes redeemed"), [Decimal(n) for n in series["redeemed"]]),
        ],
        title=_("Codes issued and redeemed per %(per)s") % {"per": per},
        desc="; ".join(
            f"{label}: {i} / {r}" for label, i, r in zip(labels, series["issued"], series["redeemed"], strict=True)
        ),
        width=720,
        height=220,
    )
    money = bar_chart(
        [(label, value, f"{value:,}") for label, value in zip(labels, series["cost"], strict=True)],
        title=_("Discount given per %(per)s (%(currency)s)") % {"per": per, "currency": campaign.currency},
        desc="; ".join(f"{label}: {value}" for label, value in zip(labels, series["cost"], strict=True)),
        width=720,
        height=200,
    )
    return counts, money


@login_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    _reader(request.user)
    campaign = get_object_or_404(Campaign, pk=campaign_id, internal=False)
    previewing = "preview" in request.GET
    run_form = RunForm(request.GET if previewing else None, initial={"channel": campaign.channel})
    reach = None
    if previewing and run_form.is_valid():
        reach = delivery.campaign_reach(
            run_form.target(),
            campaign=campaign,
            holdout_percent=run_form.cleaned_data["holdout_percent"],
            channel=run_form.cleaned_data["channel"] or "email",
        )
    effect = campaign_effect(campaign)
    counts_chart, money_chart = _time_charts(campaign)
    return render(
        request,
        "coupons/campaign_detail.html",
        {
            "campaign": campaign,
            "rules": delivery.rules_in_words(campaign),
            "effect": effect,
            "lift": effect["uplift"],
            "chart": _effect_chart(effect["uplift"], campaign.currency),
            "small_groups": effect["uplift"] is not None
            and any(r.code == "SMALL_GROUPS" for r in effect["uplift"].reasons),
            "runs": [(r, _whom(r.target)) for r in campaign.sends.select_related("created_by")[:20]],
            "counts_chart": counts_chart,
            "money_chart": money_chart,
            "auto_target": describe_target(campaign),
            "shared": campaign.coupons.filter(source=Coupon.SHARED),
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
        with transaction.atomic():
            if campaign.status == Campaign.DRAFT:  # the wizard's last step starts the campaign
                services.campaign_set_status(actor=request.user, campaign=campaign, status=Campaign.ACTIVE)
                campaign.refresh_from_db()
            run = delivery.campaign_run(
                actor=request.user,
                campaign=campaign,
                target=form.target(),
                holdout_percent=form.cleaned_data["holdout_percent"],
                channel=form.cleaned_data["channel"] or "email",
                at=form.cleaned_data.get("at"),
            )
    except (ValidationError, Conflict) as exc:
        _say_errors(request, exc)
    else:
        if run.status == run.SCHEDULED:
            messages.success(
                request,
                _("Scheduled for %(at)s.")
                % {"at": formats.date_format(timezone.localtime(run.scheduled_for), "Y-m-d H:i")},
            )
        else:
            messages.success(request, run_summary(run))
    return redirect("coupons:campaign_detail", campaign.pk)


def _whom(target: Any) -> str:
    from patron.discounts.describe import Names, rule_sentences

    rule = {"who": target or {}}
    return rule_sentences(rule, Names.for_rules([rule]))["who"]


def run_summary(run: CampaignSend) -> str:
    """What a run did, in numbers that add up: codes issued, messages queued (and when they go), accounts
    with nowhere to send to, accounts held out."""
    from patron.core.channels import quiet_hours
    from patron.domain.quiet_hours import quiet_until

    counts = dict(run.recipients.values_list("status").annotate(n=Count("id")).order_by())
    issued = run.accounts - run.held_out
    text = ngettext("%(n)s code issued", "%(n)s codes issued", issued) % {"n": issued}
    queued = counts.get(CampaignRecipient.QUEUED, 0)
    going = queued + counts.get(CampaignRecipient.SENT, 0) + counts.get(CampaignRecipient.FAILED, 0)
    parts = [text, ngettext("%(n)s message on its way", "%(n)s messages on their way", going) % {"n": going}]
    hush = quiet_until(timezone.localtime(), quiet_hours())
    if queued and hush is not None:
        parts[-1] += " " + _("(held until %(at)s, after the quiet hours)") % {"at": hush.strftime("%H:%M")}
    missing = counts.get(CampaignRecipient.NO_ADDRESS, 0)
    if missing:
        parts.append(
            ngettext("%(n)s account has nowhere to send to", "%(n)s accounts have nowhere to send to", missing)
            % {"n": missing}
        )
    parts.append(ngettext("%(n)s account held out", "%(n)s accounts held out", run.held_out) % {"n": run.held_out})
    return _("; ").join(parts) + _(".")


def _say_errors(request: HttpRequest, exc: ValidationError | Conflict) -> None:
    if isinstance(exc, Conflict):
        messages.error(request, str(exc))
        return
    for where, problems in error_dict(exc).items():
        for problem in problems:
            row = where.startswith(("row", "行", "第"))
            messages.error(
                request, _("%(where)s: %(problem)s") % {"where": where, "problem": problem} if row else str(problem)
            )


@login_required
@require_POST
def run_cancel(request: HttpRequest, campaign_id: int, run_id: int) -> HttpResponse:
    run = get_object_or_404(CampaignSend, pk=run_id, campaign_id=campaign_id, campaign__internal=False)
    try:
        delivery.scheduled_run_cancel(actor=request.user, run=run)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The scheduled run is cancelled."))
    return redirect("coupons:campaign_detail", campaign_id)


@login_required
@require_POST
def shared_code(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id, internal=False)
    try:
        made = services.shared_code_create(actor=request.user, campaign=campaign, code=request.POST.get("code", ""))
    except (ValidationError, Conflict) as exc:
        _say_errors(request, exc)
    else:
        messages.success(request, _("Shared code %(code)s made.") % {"code": made.code})
    return redirect("coupons:campaign_detail", campaign.pk)


@login_required
@require_POST
def codes_import_view(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id, internal=False)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a CSV or Excel file."))
        return redirect("coupons:campaign_detail", campaign.pk)
    if upload.size and upload.size > 20 * 1024 * 1024:
        messages.error(request, _("At most %(mb)s MB a file.") % {"mb": 20})
        return redirect("coupons:campaign_detail", campaign.pk)
    try:
        count = services.codes_import(
            actor=request.user, campaign=campaign, data=upload.read(), file_name=upload.name or ""
        )
    except (ValidationError, Conflict) as exc:
        _say_errors(request, exc)
        messages.error(request, _("Nothing was imported: correct the file and import it again."))
    else:
        messages.success(request, _("%(n)s codes imported.") % {"n": count})
    return redirect("coupons:campaign_detail", campaign.pk)


@login_required
@require_POST
def points_exchange_view(request: HttpRequest, campaign_id: int) -> HttpResponse:
    from patron.accounts.models import Account

    campaign = get_object_or_404(Campaign, pk=campaign_id, internal=False)
    typed = (request.POST.get("account") or "").strip()
    account = visible_accounts(request.user).filter(code__iexact=typed).first()  # as typed, any case
    if account is None:
        messages.error(request, _("No account has the code “%(code)s”.") % {"code": typed})
        return redirect("coupons:campaign_detail", campaign.pk)
    assert isinstance(account, Account)
    try:
        coupon = services.points_exchange(actor=request.user, campaign=campaign, account=account)
    except (ValidationError, Conflict) as exc:
        _say_errors(request, exc)
    else:
        from patron.rebates.settlement import points_balance

        messages.success(
            request,
            _("%(account)s exchanged %(points)s points for the code %(code)s; %(left)s points left.")
            % {
                "account": account.name,
                "points": services.points_text(Decimal(str(campaign.terms.get("points") or 0))),
                "code": shown(coupon.code, campaign.prefix),
                "left": services.points_text(points_balance(account.pk, timezone.localdate())),
            },
        )
    return redirect("coupons:campaign_detail", campaign.pk)


def describe_target(campaign: Campaign) -> str:
    """Whom automatic issuing reaches, in words."""
    from patron.discounts.describe import Names, rule_sentences

    from .automatic import auto_target

    if not campaign.auto_issue:
        return ""
    rule = {"who": auto_target(campaign)}
    return rule_sentences(rule, Names.for_rules([rule]), campaign.currency)["who"]


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
            "shown": _shown(coupon) if coupon else "",
            "state": coupon_state(coupon) if coupon else "",
            "limit": None
            if coupon is None or coupon.source == Coupon.SHARED
            else coupon.campaign.terms.get("uses_per_code"),
        },
    )


def _shown(coupon: Coupon) -> str:
    """Generated codes in groups as printed; shared and imported ones as they were written."""
    return (
        shown(coupon.code, coupon.campaign.prefix)
        if coupon.source in (Coupon.GENERATED, Coupon.REBATE)
        else coupon.code
    )


def coupon_state(coupon: Coupon) -> str:
    """Whether a code can be used now, in a word: valid, not yet valid, used up, expired, cancelled, ended."""
    from .redemption import state_of

    now = timezone.now()
    terms = coupon.campaign.terms
    state = state_of(coupon)
    if coupon.cancelled_at is not None:
        return _("cancelled")
    if coupon.campaign.status != Campaign.ACTIVE:
        return _("campaign not running")
    if state.ends is not None and now >= state.ends:
        return _("expired")
    if now < state.starts:
        return _("not yet valid")
    limit = terms.get("uses_per_code")
    if coupon.source != Coupon.SHARED and limit is not None and coupon.uses >= limit:
        return _("used up")
    return _("valid")
