"""Thin pages over the rebate services: every figure comes from the same calculation as settlement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import floatformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.accounts.access import can, visible_accounts
from patron.core.errors import Conflict, error_dict
from patron.domain.access import Action
from patron.domain.money import Money
from patron.domain.rebates import Payout, Volume, forecast_expected, forecast_rebate, statement_for
from patron.web.templatetags.patron_web import money

from . import settlement as settling
from .accrual import accrual_result, period_documents
from .analysis import may_read as may_analyse
from .announce import announcement_counts
from .mappers import period_of, program_terms, terms_of
from .messages import reason_text
from .models import RebateAccrual, RebateAgreement, RebateProgram, RebateSettlement, RebateSettlementLine


def _may_read(user: Any) -> bool:
    return can(user, Action.EDIT_REBATES) or can(user, Action.SETTLE_REBATES) or can(user, Action.RECORD_ORDER)


def _texts(result: Any) -> dict[str, Any]:
    return {
        "reasons": [reason_text(r) for r in result.reasons],
        "next": reason_text(result.next_tier) if result.next_tier else "",
    }


@login_required
def program_list(request: HttpRequest) -> HttpResponse:
    if not _may_read(request.user):
        raise PermissionDenied
    status = request.GET.get("status") or ""
    if status not in dict(RebateProgram.STATUSES):
        status = ""
    programs = RebateProgram.objects.annotate(agreement_count=Count("agreements")).select_related("owner")
    if status:
        programs = programs.filter(status=status)
    counts = dict(RebateProgram.objects.values_list("status").annotate(n=Count("id")).order_by())
    tabs = [("", _("All"), sum(counts.values()))] + [
        (k, label, counts.get(k, 0)) for k, label in RebateProgram.STATUSES
    ]
    context = {
        "programs": programs,
        "tabs": tabs,
        "status": status,
        "can_edit": can(request.user, Action.EDIT_REBATES),
        "can_analyse": can(request.user, Action.EDIT_REBATES) or can(request.user, Action.SETTLE_REBATES),
    }
    return render(request, "rebates/program_list.html", context)


@login_required
def program_detail(request: HttpRequest, program_id: int) -> HttpResponse:
    if not _may_read(request.user):
        raise PermissionDenied
    program = get_object_or_404(RebateProgram, pk=program_id)
    today = timezone.localdate()
    period = period_of(program, max(program.effective_from, min(today, program.effective_to or today)))
    visible = visible_accounts(request.user).values("pk")
    agreements = list(
        program.agreements.filter(account__in=visible).select_related("account", "program").order_by("account__code")
    )
    accruals = {
        a.agreement_id: a
        for a in RebateAccrual.objects.filter(agreement__in=agreements, period_start=period.start).select_related(
            "agreement__program"
        )
    }
    expected = _expected_spend(program, period, today, agreements)
    rows = []
    for agreement in agreements:
        accrual = accruals.get(agreement.pk)
        result = accrual_result(accrual) if accrual else None
        foreseen = modelled = None
        if today in period:
            elapsed = (today - period.start).days + 1
            volume = result.volume if result is not None else Volume()
            if result is not None:
                foreseen = forecast_rebate(
                    terms_of(agreement), volume, program.currency, elapsed_days=elapsed, period_days=period.days
                )
            if agreement.account_id in expected:
                modelled = forecast_expected(
                    terms_of(agreement),
                    volume,
                    program.currency,
                    expected_amount=expected[agreement.account_id],
                    elapsed_days=elapsed,
                    period_days=period.days,
                )
        texts = _texts(result) if result else {}
        rows.append(
            {
                "agreement": agreement,
                "accrual": accrual,
                "result": result,
                "forecast": foreseen,
                "modelled": modelled,
                **texts,
            }
        )
    settlements = program.settlements.order_by("-period_start", "-id")[:20]
    return render(
        request,
        "rebates/program_detail.html",
        {
            "program": program,
            "terms": program_terms(program),
            "period": period,
            "rows": rows,
            "settlements": settlements,
            "can_settle": can(request.user, Action.SETTLE_REBATES),
            "can_edit": can(request.user, Action.EDIT_REBATES),
            "today": today,
            "can_analyse": may_analyse(request.user),
            "announcements": announcement_counts(program),
        },
    )


def _expected_spend(
    program: RebateProgram, period: Any, today: dt.date, agreements: list[RebateAgreement]
) -> dict[int, Decimal]:
    """The segments' purchase model's spend for the rest of the open period, where it speaks the program's
    currency (the company's); empty when no model is fitted or the period is not open."""
    from django.conf import settings

    from patron.segments.churn import expected_spend

    if today not in period or program.currency != settings.PATRON_COMPANY_CURRENCY or not agreements:
        return {}
    days = (period.last_day - today).days
    found = expected_spend(today, [a.account_id for a in agreements], days=float(days))
    return {account: Decimal(str(round(value, 2))) for account, value in found.items()}


FIXED_WHEN_ACTIVE = ("terms", "period_kind", "effective_from", "currency")


def _editor(user: Any) -> None:
    if not can(user, Action.EDIT_REBATES):
        raise PermissionDenied


def _fixed_changed(program: RebateProgram, data: dict[str, Any]) -> bool:
    """Whether a form sent other terms (tiers, products ...), period, start or currency than the program has."""
    from patron.domain.problems import DefinitionError
    from patron.domain.rebates import parse_terms

    try:
        if parse_terms(data["terms"]) != parse_terms(program.terms):
            return True
    except DefinitionError:
        return True
    return (data["period_kind"], data["effective_from"], data["currency"]) != (
        program.period_kind,
        program.effective_from,
        program.currency,
    )


@login_required
def program_form(request: HttpRequest, program_id: int | None = None) -> HttpResponse:
    """A new draft program, or a program's edit: its terms as fields and tier rows."""
    from . import services
    from .forms import ProgramForm

    _editor(request.user)
    program = get_object_or_404(RebateProgram, pk=program_id) if program_id else None
    if request.method == "POST":
        form = ProgramForm(request.POST)
        if form.is_valid():
            data = form.program_data(keep=program.terms if program else None)
            try:
                if program is None:
                    program = services.program_create(actor=request.user, data=data)
                else:
                    if program.status != RebateProgram.DRAFT:  # an active program's terms stay as they are
                        if _fixed_changed(program, data):
                            message = _(
                                "An active program's terms, products, period, start and currency are fixed; "
                                "close it and start a new one."
                            )
                            raise Conflict(message, "status")
                        data = {k: v for k, v in data.items() if k not in FIXED_WHEN_ACTIVE}
                    program = services.program_update(actor=request.user, program=program, data=data)
            except ValidationError as exc:
                form.add_service_errors(exc)
            except Conflict as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Saved."))
                return redirect("rebates:program_detail", program.pk)
    else:
        form = ProgramForm(initial=ProgramForm.initial_for(program) if program else None)
    return render(request, "rebates/program_form.html", {"form": form, "program": program})


@login_required
@require_POST
def program_status(request: HttpRequest, program_id: int) -> HttpResponse:
    from . import services

    program = get_object_or_404(RebateProgram, pk=program_id)
    try:
        services.program_set_status(actor=request.user, program=program, status=request.POST.get("status", ""))
    except Conflict as exc:
        messages.error(request, str(exc))
    return redirect("rebates:program_detail", program.pk)


@login_required
@require_POST
def program_announce(request: HttpRequest, program_id: int) -> HttpResponse:
    from .announce import program_announce as announce

    program = get_object_or_404(RebateProgram, pk=program_id)
    _editor(request.user)
    try:
        made = announce(actor=request.user, program=program)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Announced to %(count)s accounts; the emails are on their way.") % {"count": made.accounts}
        )
    return redirect("rebates:program_detail", program.pk)


@login_required
def agreement_detail(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """An agreement: its dates and terms, and (for editors) its end and the account's own tiers."""
    from . import services
    from .forms import AgreementTermsForm

    agreement = get_object_or_404(RebateAgreement.objects.select_related("program", "account"), pk=agreement_id)
    if not (_may_read(request.user) and visible_accounts(request.user).filter(pk=agreement.account_id).exists()):
        raise Http404
    program = agreement.program
    may_edit = can(request.user, Action.EDIT_REBATES) and program.status != RebateProgram.CLOSED
    status = 200
    if request.method == "POST":
        _editor(request.user)
        form = AgreementTermsForm(request.POST)
        if form.is_valid():
            try:
                services.agreement_update(
                    actor=request.user,
                    agreement=agreement,
                    valid_to=form.cleaned_data.get("valid_to"),
                    terms=form.own_data(),
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            except Conflict as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Saved."))
                return redirect("rebates:agreement_detail", agreement.pk)
        status = 400
    else:
        initial = AgreementTermsForm.initial_terms(agreement.terms or program.terms or {})
        initial.update(own_terms=bool(agreement.terms), valid_to=agreement.valid_to)
        form = AgreementTermsForm(initial=initial)
    return render(
        request,
        "rebates/agreement.html",
        {
            "agreement": agreement,
            "program": program,
            "terms": terms_of(agreement),
            "form": form,
            "may_edit": may_edit,
            "period": period_of(program, max(program.effective_from, timezone.localdate())),
        },
        status=status,
    )


@login_required
@require_POST
def agreement_add(request: HttpRequest, program_id: int) -> HttpResponse:
    from . import services
    from .forms import AgreementForm

    program = get_object_or_404(RebateProgram, pk=program_id)
    _editor(request.user)
    form = AgreementForm(request.POST)
    if not form.is_valid():
        for field, texts in form.errors.items():
            label = form.fields[field].label if field in form.fields else field
            for text in texts:
                messages.error(request, f"{label}: {text}")
        return redirect("rebates:program_detail", program.pk)
    account = visible_accounts(request.user).filter(code=form.cleaned_data["account"].strip()).first()
    if account is None:
        messages.error(request, _("No account you can see has this code."))
        return redirect("rebates:program_detail", program.pk)
    try:
        services.agreement_create(
            actor=request.user,
            program=program,
            account=account,
            signed_on=form.cleaned_data["signed_on"],
            valid_from=form.cleaned_data["valid_from"],
        )
    except ValidationError as exc:
        for found in error_dict(exc).values():
            for message in found:
                messages.error(request, str(message))
    else:
        messages.success(request, _("Agreement signed."))
    return redirect("rebates:program_detail", program.pk)


@login_required
@require_POST
def settlement_run(request: HttpRequest, program_id: int) -> HttpResponse:
    program = get_object_or_404(RebateProgram, pk=program_id)
    kind = request.POST.get("kind") or RebateSettlement.FINAL
    try:
        day = dt.date.fromisoformat(request.POST.get("day") or "")
    except ValueError:
        messages.error(request, _("Give a date as YYYY-MM-DD."))
        return redirect("rebates:program_detail", program.pk)
    try:
        made = settling.settlement_start(actor=request.user, program=program, day=day, kind=kind)
    except (Conflict, ValidationError) as exc:
        text = str(exc) if isinstance(exc, Conflict) else " ".join(m for ms in error_dict(exc).values() for m in ms)
        messages.error(request, text)
        return redirect("rebates:program_detail", program.pk)
    return redirect("rebates:settlement_detail", made.pk)


@login_required
def settlement_detail(request: HttpRequest, settlement_id: int) -> HttpResponse:
    settling.require_settler(request.user)
    found = get_object_or_404(
        RebateSettlement.objects.select_related("program", "created_by", "approved_by"), pk=settlement_id
    )
    lines = found.lines.select_related("account", "payout").order_by("account__code", "period_start")
    return render(
        request,
        "rebates/settlement_detail.html",
        {
            "settlement": found,
            "lines": lines,
            "total": Money(settling.settlement_total(found), found.program.currency),
            "may_approve": found.status == RebateSettlement.DRAFT
            and found.computed_at is not None
            and found.created_by_id != request.user.pk,
        },
    )


@login_required
@require_POST
def settlement_approve(request: HttpRequest, settlement_id: int) -> HttpResponse:
    found = get_object_or_404(RebateSettlement, pk=settlement_id)
    try:
        settling.settlement_approve(actor=request.user, settlement=found)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Approved: every line is paid once."))
    return redirect("rebates:settlement_detail", found.pk)


@login_required
@require_POST
def line_override(request: HttpRequest, line_id: int) -> HttpResponse:
    line = get_object_or_404(RebateSettlementLine, pk=line_id)
    try:
        settling.settlement_line_override(
            actor=request.user, line=line, amount=request.POST.get("amount"), comment=request.POST.get("comment", "")
        )
    except ValidationError as exc:
        for field, texts in error_dict(exc).items():
            for text in texts:
                messages.error(request, f"{field}: {text}")
    except Conflict as exc:
        messages.error(request, str(exc))
    return redirect("rebates:settlement_detail", line.settlement_id)


@login_required
@require_POST
def payout_paid(request: HttpRequest, payout_id: int) -> HttpResponse:
    from .models import RebatePayout

    payout = get_object_or_404(RebatePayout.objects.select_related("line"), pk=payout_id)
    try:
        settling.payout_mark_paid(actor=request.user, payout=payout, reference=request.POST.get("reference", ""))
    except ValidationError as exc:
        for texts in error_dict(exc).values():
            for text in texts:
                messages.error(request, text)
    except Conflict as exc:
        messages.error(request, str(exc))
    return redirect("rebates:settlement_detail", payout.line.settlement_id)


@login_required
def statement(request: HttpRequest, agreement_id: int, period: str) -> HttpResponseBase:
    """The customer's statement for one period: every qualifying line, in the account's language."""
    agreement = get_object_or_404(RebateAgreement.objects.select_related("program", "account"), pk=agreement_id)
    if not (_may_read(request.user) and visible_accounts(request.user).filter(pk=agreement.account_id).exists()):
        raise Http404
    try:
        day = dt.date.fromisoformat(period)
        span = period_of(agreement.program, day)
    except (ValueError, OverflowError) as exc:  # not a date, or a period past the calendar's end
        raise Http404 from exc
    language = request.GET.get("lang") or agreement.account.language
    if language not in {"en", "zh-hans"}:
        language = agreement.account.language
    with translation.override(language):  # every word of it in the language the customer reads
        return _statement(request, agreement, span, language)


def _statement(request: HttpRequest, agreement: RebateAgreement, span: Any, language: str) -> HttpResponseBase:
    program = agreement.program
    documents = period_documents(program, span, [agreement.account_id]).get(agreement.account_id, [])
    paid_lines = RebateSettlementLine.objects.filter(
        agreement=agreement, period_start=span.start, settlement__status=RebateSettlement.APPROVED
    ).select_related("settlement")
    payouts = [
        Payout(
            f"{ln.settlement.get_kind_display()} #{ln.settlement_id}",
            (ln.settlement.approved_at or timezone.now()).date(),
            Money(ln.override if ln.override is not None else ln.due, program.currency),
        )
        for ln in paid_lines
    ]
    made = statement_for(terms_of(agreement), documents, payouts, program.currency)
    texts = _texts(made.result)
    notes = [reason_text(r) for r in made.reasons]
    wanted = request.GET.get("format")
    if wanted == "xlsx":
        return _statement_xlsx(agreement, span, made)
    if wanted == "pdf":
        return _statement_pdf(agreement, span, made, [*texts["reasons"], texts["next"], *notes])
    return render(
        request,
        "rebates/statement.html",
        {
            "agreement": agreement,
            "program": program,
            "period": span,
            "statement": made,
            "result": made.result,
            "texts": texts,
            "notes": notes,
            "language": language,
            "volume_text": _scale_text(made.result.scale, made.result),
            "bands": [(b, _scale_text(b.volume, made.result)) for b in made.result.bands],
        },
    )


def _scale_text(value: Any, result: Any) -> str:
    """A volume as the tiers measure it: pieces for a quantity basis, money otherwise."""
    if result.basis == "quantity":
        return f"{Decimal(value).normalize():,f}"
    return money(value, result.currency)


def _statement_pdf(agreement: RebateAgreement, span: Any, made: Any, notes: list[str]) -> HttpResponseBase:
    """The page's figures in the page's words, for a customer to keep or print."""
    from patron.core.pdf import PdfDocument, PdfTable, pdf_response

    program, result, currency = agreement.program, made.result, made.currency
    tier = str(result.tier) + (f" ({result.percent}%)" if result.percent else "")
    period = f"{span.start:%Y-%m-%d} – {span.last_day:%Y-%m-%d}"
    tables = []
    if len(result.bands) > 1:
        tables.append(
            PdfTable(
                _("Bands"),
                [_("Tier"), _("Volume"), _("Rate"), _("Rebate")],
                [
                    [
                        str(b.index),
                        _scale_text(b.volume, result),
                        f"{b.percent}%" if b.percent is not None else money(b.fixed, currency),
                        money(b.amount, currency),
                    ]
                    for b in result.bands
                ],
                numeric=frozenset({1, 2, 3}),
            )
        )
    tables.append(
        PdfTable(
            _("Qualifying orders and returns"),
            [_("Date"), _("Document"), _("Product"), _("Quantity"), _("Amount"), _("Counted")],
            [
                [
                    f"{ln.line.day:%Y-%m-%d}",
                    ln.line.number,
                    ln.line.sku,
                    floatformat(ln.line.quantity, "-3"),
                    money(ln.line.amount.amount, ln.line.amount.currency),
                    money(ln.amount, currency),
                ]
                for ln in made.lines
            ],
            numeric=frozenset({3, 4, 5}),
            widths=(0.15, 0.2, 0.25, 0.1, 0.15, 0.15),  # product codes are long; quantities short
            footer=[_("Total"), "", "", "", "", money(made.volume.amount, currency)],
            empty=_("Nothing bought in the period yet."),
        )
    )
    document = PdfDocument(
        title=_("Rebate statement") + ": " + agreement.account.name,
        subtitle=f"{agreement.account.code} · {program.name} · {period}",
        facts=[
            (_("Program"), program.name),
            (_("Period"), period),
            (_("Volume"), _scale_text(result.scale, result)),
            (_("Tier reached"), tier),
            (_("Rebate"), money(result.amount.amount, currency)),
            (_("Paid before"), money(made.paid.amount, currency)),
            (_("Balance"), money(made.balance.amount, currency)),
        ],
        notes=[n for n in notes if n],
        tables=tables,
        closing=_("Made on %(day)s") % {"day": f"{timezone.localdate():%Y-%m-%d}"},
    )
    return pdf_response(document, f"rebate-statement-{agreement.account.code}-{span.start.isoformat()}")


def _statement_xlsx(agreement: RebateAgreement, span: Any, made: Any) -> HttpResponseBase:
    """The same figures as the page, one row per qualifying line, then the summary rows."""
    from patron.core.exports import export_response

    currency = made.currency
    headings = [_("Date"), _("Document"), _("Product"), _("Quantity"), _("Amount"), _("Currency"), _("Counted")]
    rows: list[list[Any]] = [
        [
            ln.line.day,
            ln.line.number,
            ln.line.sku,
            ln.line.quantity,
            ln.line.amount.amount,
            ln.line.amount.currency,
            ln.amount,
        ]
        for ln in made.lines
    ]
    result = made.result
    rows += [
        [],
        [_("Volume"), "", "", "", "", currency, result.scale],
        [_("Tier reached"), "", "", "", "", "", result.tier],
        [_("Rebate"), "", "", "", "", currency, result.amount.amount],
        [_("Paid before"), "", "", "", "", currency, made.paid.amount],
        [_("Balance"), "", "", "", "", currency, made.balance.amount],
    ]
    name = f"rebate-statement-{agreement.account.code}-{span.start.isoformat()}"
    return export_response("xlsx", name, headings, iter(rows))


def receipt(request: HttpRequest, token: str) -> HttpResponse:
    """The customer confirms a rebate payout arrived: public, reached only through its unguessable link;
    confirming twice records the first moment."""
    from .models import RebatePayout

    payout = RebatePayout.objects.select_related("account", "line__settlement__program").filter(token=token).first()
    if payout is None or payout.amount <= 0:
        raise Http404
    with translation.override(payout.account.language):
        if request.method == "POST":
            RebatePayout.objects.filter(pk=payout.pk, confirmed_at__isnull=True).update(confirmed_at=timezone.now())
            payout.refresh_from_db()
        return render(request, "rebates/receipt.html", {"payout": payout})
