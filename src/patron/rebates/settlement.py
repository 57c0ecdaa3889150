"""Settling a period: every agreement's rebate computed into a draft, reviewed, approved once, paid once.

Money moves exactly once. A settlement is one row per program, period and kind (a database
constraint), found again when run again; its lines are unique per agreement and period and
written in chunks, each committed on its own, so a run that is killed half-way is run again
and writes only the lines still missing. Approval locks the settlement row: of two people
approving at once, the second finds it approved and nothing more happens; each line gets at
most one payout (a one-to-one row).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can
from patron.audit.services import audit_record
from patron.core.errors import Conflict
from patron.domain.access import Action
from patron.domain.money import to_decimal
from patron.domain.periods import Period
from patron.domain.rebates import Volume, rebate_for
from patron.sales import services as sales

from .accrual import period_volumes
from .mappers import period_of, terms_of
from .models import PointsEntry, RebateAgreement, RebatePayout, RebateProgram, RebateSettlement, RebateSettlementLine

CHUNK = 500
POINTS_VALID_DAYS = 365


def require_settler(actor: Any) -> None:
    if not can(actor, Action.SETTLE_REBATES):
        raise PermissionDenied(Action.SETTLE_REBATES.value)


def settlement_start(
    *,
    actor: Any,
    program: RebateProgram,
    day: dt.date,
    kind: str = RebateSettlement.FINAL,
    as_of: dt.date | None = None,
    chunk: int = CHUNK,
    after_chunk: Callable[[int], None] | None = None,
) -> RebateSettlement:
    """The settlement of the period holding ``day``: found if it was started before, else started; then computed.
    A partial settlement counts orders up to ``as_of`` (by default ``day``, or today if that is earlier)."""
    require_settler(actor)
    period = period_of(program, day)
    today = timezone.localdate()
    if kind == RebateSettlement.FINAL:
        as_of = period.last_day
        if today <= period.last_day:
            raise Conflict(_("The period has not ended yet; run a partial settlement instead."), "period")
    elif kind == RebateSettlement.PARTIAL:
        as_of = as_of or min(day, today)
        if as_of not in period:
            raise ValidationError({"as_of": [_("Choose a day within the period.")]})
    else:
        raise ValidationError({"kind": [_("Choose one of: %(allowed)s.") % {"allowed": "partial, final"}]})
    if program.status == RebateProgram.DRAFT:
        raise Conflict(_("A draft program has nothing to settle."), "status")
    with transaction.atomic():
        RebateProgram.objects.select_for_update().get(pk=program.pk)  # one start at a time per program
        live = RebateSettlement.objects.filter(program=program, period_start=period.start, kind=kind).exclude(
            status=RebateSettlement.DISCARDED
        )
        if kind == RebateSettlement.PARTIAL:
            live = live.filter(as_of=as_of)
        settlement = live.first()
        if settlement is None:
            if (
                kind == RebateSettlement.PARTIAL
                and RebateSettlement.objects.filter(
                    program=program, period_start=period.start, kind=RebateSettlement.FINAL
                )
                .exclude(status=RebateSettlement.DISCARDED)
                .exists()
            ):
                raise Conflict(_("This period is already settled."), "period")
            settlement = RebateSettlement.objects.create(
                program=program,
                period_start=period.start,
                period_end=period.end,
                kind=kind,
                as_of=as_of,
                created_by=actor,
            )
            audit_record(
                actor=actor,
                action="REBATE_SETTLEMENT_STARTED",
                instance=settlement,
                changes={"period": [None, str(period.start)], "kind": [None, kind], "as_of": [None, str(as_of)]},
            )
    settlement_compute(settlement, chunk=chunk, after_chunk=after_chunk)
    settlement.refresh_from_db()
    return settlement


def _paid(agreement_ids: Sequence[int], period_start: dt.date, program: RebateProgram) -> dict[int, Decimal]:
    """What approved settlements already paid each agreement for the period (overrides as paid)."""
    rows = RebateSettlementLine.objects.filter(
        agreement_id__in=agreement_ids,
        period_start=period_start,
        settlement__program=program,
        settlement__status=RebateSettlement.APPROVED,
    ).values("agreement_id", "due", "override")
    out: dict[int, Decimal] = {}
    for r in rows:
        paid = r["override"] if r["override"] is not None else r["due"]
        out[r["agreement_id"]] = out.get(r["agreement_id"], Decimal(0)) + paid
    return out


def _lines_for(
    settlement: RebateSettlement, agreements: Sequence[RebateAgreement], period: Period, volumes: dict[int, Volume]
) -> list[RebateSettlementLine]:
    program = settlement.program
    paid = _paid([a.pk for a in agreements], period.start, program)
    lines = []
    for agreement in agreements:
        volume = volumes.get(agreement.pk, Volume())
        result = rebate_for(terms_of(agreement), volume, program.currency)
        before = paid.get(agreement.pk, Decimal(0))
        lines.append(
            RebateSettlementLine(
                settlement=settlement,
                agreement=agreement,
                account_id=agreement.account_id,
                period_start=period.start,
                amount=volume.amount,
                quantity=volume.quantity,
                profit=volume.profit,
                tier=result.tier,
                earned=result.amount.amount,
                paid_before=before,
                due=result.amount.amount - before,
            )
        )
    return lines


def settlement_compute(
    settlement: RebateSettlement, *, chunk: int = CHUNK, after_chunk: Callable[[int], None] | None = None
) -> None:
    """Write the lines still missing, ``chunk`` agreements per transaction; then, for a final settlement,
    correction lines for earlier periods whose documents changed since they were paid."""
    if settlement.computed_at is not None or settlement.status != RebateSettlement.DRAFT:
        return
    program = settlement.program
    period = Period(settlement.period_start, settlement.period_end)
    passes: list[tuple[Period, dt.date]] = [(period, settlement.as_of)]
    if settlement.kind == RebateSettlement.FINAL:
        earlier = (
            RebateSettlementLine.objects.filter(
                settlement__program=program,
                settlement__status=RebateSettlement.APPROVED,
                period_start__lt=settlement.period_start,
            )
            .values_list("period_start", flat=True)
            .distinct()
        )
        for start in sorted(set(earlier)):
            before = period_of(program, start)
            passes.append((before, before.last_day))
    written = 0
    for target, as_of in passes:
        settled_before = target.start != settlement.period_start
        candidates = RebateAgreement.objects.filter(program=program, valid_from__lt=target.end).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=target.start)
        )
        if settled_before:  # corrections only for agreements paid for that period
            candidates = candidates.filter(
                settlement_lines__period_start=target.start,
                settlement_lines__settlement__status=RebateSettlement.APPROVED,
            ).distinct()
        # Read once per pass: every agreement's volume (one scan of the period's documents), and which
        # agreements a run before this one already wrote. Reading again after a crash changes nothing.
        everyone = list(candidates.select_related("program").order_by("pk"))
        done = set(
            RebateSettlementLine.objects.filter(settlement=settlement, period_start=target.start).values_list(
                "agreement_id", flat=True
            )
        )
        todo = [a for a in everyone if a.pk not in done]
        if not todo:
            continue
        volumes = period_volumes(program, target, todo, up_to=as_of)
        for first in range(0, len(todo), chunk):
            batch = todo[first : first + chunk]
            with transaction.atomic():
                locked = RebateSettlement.objects.select_for_update().get(pk=settlement.pk)
                if locked.status != RebateSettlement.DRAFT or locked.computed_at is not None:
                    return
                lines = _lines_for(settlement, batch, target, volumes)
                if settled_before:  # a correction only where the period now earns other than was paid
                    lines = [ln for ln in lines if ln.due != 0]
                RebateSettlementLine.objects.bulk_create(lines)
            written += len(lines)
            if after_chunk is not None:
                after_chunk(written)
    with transaction.atomic():
        locked = RebateSettlement.objects.select_for_update().get(pk=settlement.pk)
        if locked.computed_at is None and locked.status == RebateSettlement.DRAFT:
            locked.computed_at = timezone.now()
            locked.save(update_fields=["computed_at"])


def settlement_total(settlement: RebateSettlement) -> Decimal:
    lines = settlement.lines.all()
    total = Decimal(0)
    for due, override in lines.values_list("due", "override"):
        total += override if override is not None else due
    return total


@transaction.atomic
def settlement_line_override(
    *, actor: Any, line: RebateSettlementLine, amount: Any, comment: str
) -> RebateSettlementLine:
    """Finance's correction of one line, with the reason; audited, only while the settlement is a draft."""
    require_settler(actor)
    locked = RebateSettlement.objects.select_for_update().get(pk=line.settlement_id)
    if locked.status != RebateSettlement.DRAFT:
        raise Conflict(_("Only a draft settlement can change."), "status")
    errors: dict[str, list[str]] = {}
    value: Decimal | None = None
    if amount in (None, ""):
        value = None
    else:
        try:
            value = to_decimal(amount)
        except (ValueError, ArithmeticError):
            errors["amount"] = [_("Enter a number.")]
        else:
            if value.as_tuple().exponent < -2:  # type: ignore[operator]
                errors["amount"] = [_("At most %(places)s decimal places.") % {"places": 2}]
    if not (comment or "").strip():
        errors["comment"] = [_("Say why the amount is changed.")]
    if errors:
        raise ValidationError(errors)
    line = RebateSettlementLine.objects.get(pk=line.pk)
    before = line.override
    line.override = value
    line.comment = comment.strip()
    line.save(update_fields=["override", "comment"])
    audit_record(
        actor=actor,
        action="REBATE_SETTLEMENT_LINE_OVERRIDDEN",
        instance=line,
        account_id=line.account_id,
        changes={
            "override": [str(before) if before is not None else None, str(value) if value is not None else None],
            "due": [None, str(line.due)],
            "comment": [None, line.comment],
        },
    )
    return line


@transaction.atomic
def settlement_discard(*, actor: Any, settlement: RebateSettlement) -> RebateSettlement:
    require_settler(actor)
    locked = RebateSettlement.objects.select_for_update().get(pk=settlement.pk)
    if locked.status == RebateSettlement.APPROVED:
        raise Conflict(_("An approved settlement has been paid; it cannot be discarded."), "status")
    if locked.status == RebateSettlement.DRAFT:
        locked.status = RebateSettlement.DISCARDED
        locked.save(update_fields=["status"])
        audit_record(actor=actor, action="REBATE_SETTLEMENT_DISCARDED", instance=locked, changes={})
    return locked


def settlement_approve(*, actor: Any, settlement: RebateSettlement) -> RebateSettlement:
    """Approve and pay every line in the program's form; the same settlement approved again is a no-op."""
    require_settler(actor)
    with transaction.atomic():
        locked = RebateSettlement.objects.select_for_update().select_related("program").get(pk=settlement.pk)
        if locked.status == RebateSettlement.APPROVED:
            return locked
        if locked.status == RebateSettlement.DISCARDED:
            raise Conflict(_("This settlement was discarded."), "status")
        if locked.computed_at is None:
            raise Conflict(_("This settlement is still being computed; run it again to finish."), "status")
        if locked.created_by_id == getattr(actor, "pk", None):
            raise PermissionDenied(_("Whoever ran a settlement cannot approve it: someone else must."))
        program = locked.program
        today = timezone.localdate()
        label = _("Rebate %(program)s, %(period)s") % {"program": program.name, "period": locked.period_start}
        lines = list(locked.lines.select_related("account").order_by("pk"))
        for line in lines:
            payable = line.override if line.override is not None else line.due
            if payable == 0:
                continue
            form = program.payout_form if payable > 0 else RebatePayout.CLAWBACK
            payout = RebatePayout.objects.create(
                line=line,
                account=line.account,
                form=form,
                currency=program.currency,
                amount=payable,
                token=secrets.token_urlsafe(32),
            )
            if form == RebatePayout.CREDIT_NOTE:
                payout.credit_note = sales.credit_note_issue(
                    actor=actor,
                    account=line.account,
                    amount=payable,
                    currency=program.currency,
                    issue_date=today,
                    reason=label,
                )
                payout.reference = payout.credit_note.number
                payout.status = RebatePayout.DONE
            elif form == RebatePayout.POINTS:
                PointsEntry.objects.create(
                    account=line.account,
                    points=payable,
                    reason=label[:200],
                    payout=payout,
                    expires_on=today + dt.timedelta(days=POINTS_VALID_DAYS),
                )
                payout.status = RebatePayout.DONE
            elif form == RebatePayout.DISCOUNT:
                from patron.coupons.services import rebate_coupon_issue

                coupon = rebate_coupon_issue(
                    account=line.account, amount=payable, currency=program.currency, reason=label, now=timezone.now()
                )
                payout.reference = coupon.code  # the customer's code: worth the rebate off a later order, once
                payout.status = RebatePayout.DONE
            payout.save(update_fields=["credit_note", "reference", "status"])
        locked.status = RebateSettlement.APPROVED
        locked.approved_by = actor
        locked.approved_at = timezone.now()
        locked.save(update_fields=["status", "approved_by", "approved_at"])
        total = sum(((ln.override if ln.override is not None else ln.due) for ln in lines), Decimal(0))
        audit_record(
            actor=actor,
            action="REBATE_SETTLEMENT_APPROVED",
            instance=locked,
            changes={"status": [RebateSettlement.DRAFT, RebateSettlement.APPROVED], "total": [None, str(total)]},
        )
        from .notices import notice_prepare

        notice_prepare(locked)  # each paid account told, with its receipt link, once this commits
        return locked


def points_balance(account_id: int, day: dt.date) -> Decimal:
    live = PointsEntry.objects.filter(account_id=account_id).filter(Q(expires_on__isnull=True) | Q(expires_on__gt=day))
    return live.aggregate(t=Sum("points"))["t"] or Decimal(0)


@transaction.atomic
def payout_mark_paid(*, actor: Any, payout: RebatePayout, reference: str) -> RebatePayout:
    """Finance records the transfer of a cash payout (its bank reference); recording it again changes nothing."""
    require_settler(actor)
    locked = RebatePayout.objects.select_for_update().get(pk=payout.pk)
    if locked.status == RebatePayout.DONE:
        return locked
    if locked.form not in (RebatePayout.CASH, RebatePayout.CLAWBACK):
        raise Conflict(_("Only cash payouts and claw-backs are settled by hand."), "form")
    if not (reference or "").strip():
        raise ValidationError({"reference": [_("Give the bank transfer's reference.")]})
    locked.status = RebatePayout.DONE
    locked.reference = reference.strip()[:100]
    locked.save(update_fields=["status", "reference"])
    audit_record(
        actor=actor,
        action="REBATE_PAYOUT_PAID",
        instance=locked,
        account_id=locked.account_id,
        changes={"status": [RebatePayout.TO_PAY, RebatePayout.DONE], "reference": [None, locked.reference]},
    )
    return locked
