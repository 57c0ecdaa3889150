"""Settlement: computed into a draft, overridden with a reason, approved once, paid once, in the program's form."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal as D
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from patron.audit.models import AuditEvent
from patron.core.errors import Conflict
from patron.domain.rebates import statement_for
from patron.rebates import services
from patron.rebates.accrual import period_documents
from patron.rebates.mappers import period_of, terms_of
from patron.rebates.models import PointsEntry, RebatePayout, RebateProgram, RebateSettlement, RebateSettlementLine
from patron.rebates.settlement import (
    points_balance,
    settlement_approve,
    settlement_compute,
    settlement_line_override,
    settlement_start,
    settlement_total,
)
from patron.sales import services as sales
from patron.sales.models import CreditNote
from tests.factories import make_account, make_invoice, make_order, make_product

BANDS = [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "3"}, {"from": "50000", "percent": "4"}]
TERMS = {"basis": "amount", "mode": "retroactive", "threshold": "10000", "tiers": BANDS}
Q1 = dt.date(2026, 1, 1)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def make_program(staff: Any, **data: Any) -> RebateProgram:
    values = {"name": "Quarterly volume", "period_kind": "quarter", "effective_from": "2026-01-01", "terms": TERMS}
    values.update(data)
    made = services.program_create(actor=staff.manager, data=values)
    return services.program_set_status(actor=staff.manager, program=made, status=RebateProgram.ACTIVE)


def signed(staff: Any, program: RebateProgram, n: int = 1) -> list[Any]:
    accounts = [make_account(staff.sales) for _ in range(n)]
    for account in accounts:
        services.agreement_create(actor=staff.manager, program=program, account=account, signed_on="2026-01-01")
    return accounts


def buy(staff: Any, account: Any, amount: str, when: str) -> Any:
    product = make_product(price=amount, cost="0")
    return make_order(staff.sales, account, [(product, "1")], order_date=day(when))


@pytest.fixture
def program(staff: Any) -> RebateProgram:
    return make_program(staff)


def test_a_final_settlement_pays_each_account_once_as_a_credit_note(staff, program):
    big, small, none = signed(staff, program, 3)
    order = buy(staff, big, "35000", "2026-02-10")
    make_invoice(staff.finance, order)
    buy(staff, small, "12000", "2026-03-01")
    buy(staff, none, "9999.99", "2026-03-02")
    settlement = settlement_start(actor=staff.finance, program=program, day=Q1)
    assert settlement.computed_at is not None
    lines = {ln.account_id: ln for ln in settlement.lines.all()}
    assert {a: (ln.earned, ln.due, ln.tier) for a, ln in lines.items()} == {
        big.pk: (D("1050.00"), D("1050.00"), 2),
        small.pk: (D("240.00"), D("240.00"), 1),
        none.pk: (D("0.00"), D("0.00"), 0),
    }
    # Run again: the same settlement, no new line.
    assert settlement_start(actor=staff.finance, program=program, day=day("2026-03-31")).pk == settlement.pk
    assert RebateSettlementLine.objects.count() == 3
    with pytest.raises(PermissionDenied):
        settlement_approve(actor=staff.finance, settlement=settlement)  # who ran it cannot approve it
    approved = settlement_approve(actor=staff.admin, settlement=settlement)
    assert approved.status == RebateSettlement.APPROVED
    again = settlement_approve(actor=staff.admin, settlement=settlement)
    assert again.approved_at == approved.approved_at
    payouts = {p.account_id: p for p in RebatePayout.objects.all()}
    assert set(payouts) == {big.pk, small.pk}  # nothing to pay the account below the threshold
    note = CreditNote.objects.get(pk=payouts[big.pk].credit_note_id)
    assert (note.amount, note.applied_amount) == (D("1050.00"), D("1050.00"))  # applied to the open invoice
    assert payouts[big.pk].status == RebatePayout.DONE
    assert CreditNote.objects.filter(account=small).get().applied_amount == D("0")  # stays as credit
    assert settlement_total(settlement) == D("1290.00")
    assert AuditEvent.objects.filter(action="REBATE_SETTLEMENT_APPROVED").count() == 1


def test_the_settlement_totals_the_customers_statements(staff, program):
    from patron.sales.models import ExchangeRate

    accounts = signed(staff, program, 4)
    for i, account in enumerate(accounts):
        order = buy(staff, account, str(8000 + 7000 * i), "2026-01-15")
        buy(staff, account, "1234.56", "2026-03-30")
        sales.return_create(actor=staff.sales, order=order, lines=[sales.ReturnLineInput(order.lines.get(), "0.333")])
    ExchangeRate.objects.create(currency="USD", valid_from=day("2026-01-01"), rate=D("7.12345"))
    usd = make_product(price="333.33", cost="111.11", currency="USD")
    sales.order_create(
        actor=staff.sales,
        account=accounts[0],
        lines=[sales.LineInput(product=usd, quantity="7")],
        order_date=day("2026-02-03"),
        currency="USD",
        confirm=True,
    )
    settlement = settlement_start(actor=staff.finance, program=program, day=Q1)
    period = period_of(program, Q1)
    documents = period_documents(program, period)
    statements = [
        statement_for(terms_of(a.rebate_agreements.get()), documents.get(a.pk, []), [], "CNY") for a in accounts
    ]
    assert settlement_total(settlement) == sum(s.balance.amount for s in statements)
    lines = {ln.account_id: ln for ln in settlement.lines.all()}
    for account, statement in zip(accounts, statements, strict=True):
        line = lines[account.pk]
        assert (line.amount, line.quantity, line.profit) == (
            statement.volume.amount,
            statement.volume.quantity,
            statement.volume.profit,
        )


def test_partial_then_final_settlement_nets_what_was_paid(staff):
    # DESIGN.md: 2% on 7,000 paid during the period; the whole period reaches 4% of 27,000 = 1,080; pays 940.
    half = make_program(
        staff,
        name="First half",
        period_kind="custom",
        effective_to="2026-07-01",
        terms={"threshold": "0", "tiers": [{"from": "0", "percent": "2"}, {"from": "25000", "percent": "4"}]},
        payout_form="cash",
    )
    (account,) = signed(staff, half)
    buy(staff, account, "7000", "2026-02-01")
    partial = settlement_start(actor=staff.finance, program=half, day=day("2026-03-31"), kind="partial")
    assert partial.as_of == day("2026-03-31")
    assert partial.lines.get().due == D("140.00")
    settlement_approve(actor=staff.admin, settlement=partial)
    buy(staff, account, "20000", "2026-05-01")
    final = settlement_start(actor=staff.finance, program=half, day=day("2026-06-30"))
    line = final.lines.get()
    assert (line.earned, line.paid_before, line.due) == (D("1080.00"), D("140.00"), D("940.00"))
    settlement_approve(actor=staff.admin, settlement=final)
    cash = RebatePayout.objects.filter(form="cash").order_by("pk")
    assert [p.amount for p in cash] == [D("140.00"), D("940.00")]
    assert all(p.status == RebatePayout.TO_PAY for p in cash)  # finance pays, then marks it paid
    with pytest.raises(Conflict):
        settlement_start(actor=staff.finance, program=half, day=day("2026-04-01"), kind="partial")


def test_a_return_after_settlement_is_clawed_back_in_the_next_final_settlement(staff, program):
    (account,) = signed(staff, program)
    order = buy(staff, account, "21000", "2026-03-20")
    q1 = settlement_start(actor=staff.finance, program=program, day=Q1)
    settlement_approve(actor=staff.admin, settlement=q1)
    assert q1.lines.get().due == D("630.00")
    sales.return_create(
        actor=staff.sales,
        order=order,
        lines=[sales.ReturnLineInput(order.lines.get(), D("0.096"))],  # 2,016.00 back: below 20,000
        return_date=day("2026-04-05"),
    )
    q1.refresh_from_db()
    assert q1.lines.get().due == D("630.00")  # the closed settlement is never rewritten
    buy(staff, account, "5000", "2026-05-01")
    q2 = settlement_start(actor=staff.finance, program=program, day=day("2026-06-30"))
    lines = {ln.period_start: ln for ln in q2.lines.all()}
    assert lines[day("2026-04-01")].due == D("0.00")  # 5,000 is below the threshold
    correction = lines[Q1]
    assert (correction.earned, correction.paid_before, correction.due) == (D("379.68"), D("630.00"), D("-250.32"))
    settlement_approve(actor=staff.admin, settlement=q2)
    clawback = RebatePayout.objects.get(line=correction)
    assert (clawback.form, clawback.amount) == (RebatePayout.CLAWBACK, D("-250.32"))


def test_finance_overrides_a_line_with_a_reason_while_it_is_a_draft(staff, program):
    (account,) = signed(staff, program)
    buy(staff, account, "12000", "2026-02-01")
    settlement = settlement_start(actor=staff.finance, program=program, day=Q1)
    line = settlement.lines.get()
    with pytest.raises(ValidationError) as caught:
        settlement_line_override(actor=staff.finance, line=line, amount="300.001", comment="")
    assert set(caught.value.message_dict) == {"amount", "comment"}
    with pytest.raises(PermissionDenied):
        settlement_line_override(actor=staff.manager, line=line, amount="300", comment="goodwill")
    settlement_line_override(actor=staff.finance, line=line, amount="300", comment="Goodwill after a late delivery")
    assert settlement_total(settlement) == D("300")
    event = AuditEvent.objects.get(action="REBATE_SETTLEMENT_LINE_OVERRIDDEN")
    assert event.changes["override"] == [None, "300"]
    settlement_approve(actor=staff.admin, settlement=settlement)
    assert RebatePayout.objects.get().amount == D("300.00")
    with pytest.raises(Conflict):
        settlement_line_override(actor=staff.finance, line=line, amount="1", comment="too late")


def test_points_payouts_enter_the_ledger_with_an_expiry(staff):
    points = make_program(staff, name="Points", payout_form="points")
    (account,) = signed(staff, points)
    buy(staff, account, "15000", "2026-02-01")
    settlement_approve(actor=staff.admin, settlement=settlement_start(actor=staff.finance, program=points, day=Q1))
    entry = PointsEntry.objects.get()
    assert entry.points == D("300.00")
    assert points_balance(account.pk, entry.expires_on - dt.timedelta(days=1)) == D("300.00")
    assert points_balance(account.pk, entry.expires_on) == D("0")


def test_a_settlement_interrupted_between_chunks_resumes_and_writes_each_line_once(staff, program):
    accounts = signed(staff, program, 5)
    for account in accounts:
        buy(staff, account, "15000", "2026-02-01")
    period = period_of(program, Q1)
    settlement = RebateSettlement.objects.create(
        program=program,
        period_start=period.start,
        period_end=period.end,
        as_of=period.last_day,
        created_by=staff.finance,
    )

    class Killed(Exception):
        pass

    def die_after_two(written: int) -> None:
        if written >= 2:
            raise Killed

    with pytest.raises(Killed):
        settlement_compute(settlement, chunk=1, after_chunk=die_after_two)
    assert settlement.lines.count() == 2
    settlement.refresh_from_db()
    assert settlement.computed_at is None
    with pytest.raises(Conflict):
        settlement_approve(actor=staff.admin, settlement=settlement)
    settlement_compute(settlement, chunk=2)
    assert sorted(settlement.lines.values_list("account_id", flat=True)) == sorted(a.pk for a in accounts)


def test_the_final_settlement_waits_for_the_period_to_end_and_a_draft_program_has_none(staff, program):
    with pytest.raises(Conflict):
        settlement_start(actor=staff.finance, program=program, day=timezone.localdate())
    draft = services.program_create(
        actor=staff.manager, data={"name": "D", "effective_from": "2026-01-01", "terms": TERMS}
    )
    with pytest.raises(Conflict):
        settlement_start(actor=staff.finance, program=draft, day=Q1)
    with pytest.raises(PermissionDenied):
        settlement_start(actor=staff.sales, program=program, day=Q1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two connections deciding at once need PostgreSQL")
def test_two_people_approving_at_once_give_one_approval(staff):
    program = make_program(staff)
    (account,) = signed(staff, program)
    buy(staff, account, "15000", "2026-02-01")
    settlement = settlement_start(actor=staff.finance, program=program, day=Q1)
    second = type(staff.admin).objects.create_user("admin2", password="x", role="admin")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def approve(user: Any) -> None:
        try:
            barrier.wait()
            settlement_approve(actor=user, settlement=settlement)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(u,)) for u in (staff.admin, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert RebatePayout.objects.count() == 1
    assert CreditNote.objects.count() == 1
    assert AuditEvent.objects.filter(action="REBATE_SETTLEMENT_APPROVED").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second process on the test database needs PostgreSQL")
def test_a_settlement_process_killed_mid_run_and_run_again_pays_each_account_exactly_once(staff):
    import os
    import signal
    import subprocess
    import sys

    from django.conf import settings

    program = make_program(staff)
    accounts = signed(staff, program, 40)
    for account in accounts[:10]:
        buy(staff, account, "15000", "2026-02-01")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "PATRON_DATABASE_URL": url, "PATRON_VAR_DIR": str(settings.VAR_DIR)}
    command = [sys.executable, "-m", "patron.cli", "settle_rebates", "--program", str(program.pk)]
    command += ["--day", "2026-01-15", "--user", "finance", "--chunk", "1"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "1 lines written"
    os.kill(process.pid, signal.SIGKILL)  # as a crash would: no cleanup, no rollback of what was committed
    process.wait(timeout=30)
    settlement = RebateSettlement.objects.get()
    written = settlement.lines.count()
    assert 1 <= written < 40
    assert settlement.computed_at is None
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert RebateSettlement.objects.get().pk == settlement.pk
    per_account = list(settlement.lines.values_list("account_id", flat=True))
    assert sorted(per_account) == sorted(a.pk for a in accounts)  # every account once, none twice
    settlement_approve(actor=staff.admin, settlement=settlement)
    settlement_approve(actor=staff.admin, settlement=settlement)
    assert RebatePayout.objects.count() == 10
    assert sorted(RebatePayout.objects.values_list("amount", flat=True)) == [D("300.00")] * 10


def test_a_settlement_counts_only_the_programs_products(staff):
    from patron.sales.models import Category

    tea = Category.objects.create(code="TEA2", name_zh="茶", name_en="Tea")
    green = Category.objects.create(code="GREEN2", name_zh="绿茶", name_en="Green", parent=tea)
    cups = Category.objects.create(code="CUPS2", name_zh="杯", name_en="Cups")
    leaf, excluded = make_product(price="100.00", category=green), make_product(price="1000.00", category=tea)
    cup = make_product(price="10000.00", category=cups)
    scoped = make_program(
        staff, terms={**TERMS, "threshold": "0", "what": {"categories": [tea.pk], "exclude_products": [excluded.pk]}}
    )
    (account,) = signed(staff, scoped)
    order = make_order(staff.sales, account, [(leaf, "3"), (excluded, "1"), (cup, "1")], order_date=day("2026-02-01"))
    sales.return_create(
        actor=staff.sales, order=order, lines=[sales.ReturnLineInput(order.lines.get(product=leaf), "1")]
    )
    line = settlement_start(actor=staff.finance, program=scoped, day=Q1).lines.get()
    assert (line.amount, line.quantity, line.earned) == (D("200"), D("2"), D("4.00"))


def test_finance_records_a_cash_payout_once_with_its_bank_reference(staff):
    from patron.rebates.settlement import payout_mark_paid

    cash = make_program(staff, name="Cash", payout_form="cash")
    (account,) = signed(staff, cash)
    buy(staff, account, "15000", "2026-02-01")
    settlement = settlement_start(actor=staff.finance, program=cash, day=Q1)
    settlement_approve(actor=staff.admin, settlement=settlement)
    payout = RebatePayout.objects.get()
    with pytest.raises(ValidationError) as caught:
        payout_mark_paid(actor=staff.finance, payout=payout, reference=" ")
    assert "reference" in caught.value.message_dict
    with pytest.raises(PermissionDenied):
        payout_mark_paid(actor=staff.sales, payout=payout, reference="BOC-1")
    paid = payout_mark_paid(actor=staff.finance, payout=payout, reference="BOC-20260410-7")
    again = payout_mark_paid(actor=staff.finance, payout=payout, reference="another")
    assert (paid.status, again.reference) == (RebatePayout.DONE, "BOC-20260410-7")
    assert AuditEvent.objects.filter(action="REBATE_PAYOUT_PAID").count() == 1
