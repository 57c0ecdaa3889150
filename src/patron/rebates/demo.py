"""Demo rebate programs, so a first run shows accruals, a settlement to review and statements."""

from __future__ import annotations

import datetime as dt

from patron.accounts.models import Account
from patron.domain.periods import PeriodKind, period_containing, previous_period
from patron.sales.models import Category
from patron.staff.models import User

from . import services
from .accrual import accruals_rebuild
from .mappers import period_of
from .models import RebateProgram, RebateSettlement
from .settlement import settlement_start

VOLUME_TIERS = [{"from": "0", "percent": "1"}, {"from": "100000", "percent": "2"}, {"from": "300000", "percent": "3"}]


def install_demo_programs(today: dt.date) -> list[RebateProgram]:
    """Once: a second call finds programs there and does nothing."""
    if RebateProgram.objects.exists():
        return []
    manager = User.objects.filter(role="admin").order_by("id").first()  # agreements span every team
    finance = User.objects.filter(role="finance").order_by("id").first()
    if manager is None or finance is None:
        return []
    start = dt.date(today.year - 1, 1, 1)
    accounts = list(Account.objects.filter(merged_into__isnull=True).order_by("-is_key_account", "id")[:200])
    tea = list(Category.objects.filter(code="TEA").values_list("id", flat=True))
    volume = services.program_create(
        actor=manager,
        data={
            "name": "Quarterly volume rebate",
            "description": "Distributors and key accounts: the more a quarter's purchases, the higher the rate.",
            "customer_text": "Buy more each quarter and earn up to 3% back as a credit on your invoices.",
            "period_kind": "quarter",
            "effective_from": start,
            "terms": {"basis": "amount", "mode": "retroactive", "threshold": "50000", "tiers": VOLUME_TIERS},
        },
    )
    tea_points = services.program_create(
        actor=manager,
        data={
            "name": "Tea loyalty points",
            "period_kind": "half_year",
            "effective_from": start,
            "terms": {
                "basis": "amount",
                "mode": "incremental",
                "threshold": "5000",
                "tiers": [{"from": "0", "percent": "1"}, {"from": "50000", "percent": "2"}],
                "what": {"categories": tea},
            },
            "payout_form": "points",
        },
    )
    for program, members in ((volume, accounts), (tea_points, accounts[:60])):
        for account in members:
            services.agreement_create(actor=manager, program=program, account=account, signed_on=start)
        services.program_set_status(actor=manager, program=program, status=RebateProgram.ACTIVE)
    for program in (volume, tea_points):  # last year's periods too, so the analysis has a history
        period = period_of(program, start)
        while period.start <= today:
            accruals_rebuild(program, period.start)
            period = period_of(program, period.end)
    last_quarter = previous_period(period_containing(today, PeriodKind.QUARTER))
    volume.refresh_from_db()
    if not RebateSettlement.objects.exists():
        settlement_start(actor=finance, program=volume, day=last_quarter.start)
    return [volume, tea_points]
