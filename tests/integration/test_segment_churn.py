"""Probability alive and lifetime value come from each account's purchase days, fitted once per full run."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from patron.sales.models import Order
from patron.segments import selectors, services
from patron.segments.churn import account_churn
from patron.segments.models import Classification, SegmentRun
from tests.factories import make_account, make_order, make_product

TODAY = dt.date(2026, 11, 25)


@pytest.fixture(autouse=True)
def builtins(db: None) -> None:
    """The migration installs them; a transactional test elsewhere may have flushed them since."""
    services.install_builtins()


def _orders(account: Any, days: list[dt.date], amount: str = "100.00") -> None:
    """Confirmed orders straight into the table: churn reads only their account, day, status and total."""
    Order.objects.bulk_create(
        Order(
            number=f"T-{account.pk}-{i}",
            account=account,
            status=Order.CONFIRMED,
            order_date=day,
            list_total=Decimal(amount),
            net_total=Decimal(amount),
        )
        for i, day in enumerate(days)
    )


def _simulate(staff: Any, rng: random.Random) -> None:
    """Customers who buy at their own pace and drop out after a purchase now and then (the BG/NBD story)."""
    for _ in range(60):
        account = make_account(staff.sales2)
        every = rng.choice([2, 3, 5, 8])  # weeks between purchases, on average
        leaves = rng.choice([0.02, 0.1, 0.3, 0.6])  # chance of dropping out after a purchase
        day = TODAY - dt.timedelta(weeks=rng.randint(40, 100))
        days = []
        while day <= TODAY:
            days.append(day)
            if rng.random() < leaves:
                break  # dropped out
            day += dt.timedelta(days=max(1, round(rng.expovariate(1 / (every * 7)))))
        _orders(account, days, str(rng.choice([80, 100, 150, 400])))


@pytest.fixture
def history(staff: Any) -> dict[str, Any]:
    """A population of buyers, with a few whose fate is plain: regular, stopped a year ago, bought once long ago."""
    _simulate(staff, random.Random(3))
    accounts: dict[str, Any] = {}
    regular = make_account(staff.sales)
    _orders(regular, [TODAY - dt.timedelta(weeks=week) for week in range(0, 52, 2)], "200.00")
    stopped = make_account(staff.sales)
    _orders(stopped, [TODAY - dt.timedelta(weeks=week) for week in range(52, 104, 2)], "300.00")
    once = make_account(staff.sales)
    _orders(once, [TODAY - dt.timedelta(weeks=100)])
    accounts.update(regular0=regular, stopped=stopped, once=once, never=make_account(staff.sales))
    return accounts


def _row(frame: pl.DataFrame, account: Any) -> dict[str, Any]:
    return frame.filter(pl.col("account_id") == account.pk).row(0, named=True)


def test_a_buyer_who_stopped_is_less_likely_alive_than_regular_ones(history: dict[str, Any]) -> None:
    frame, fit = account_churn(TODAY)
    assert fit.bgnbd is not None, fit.reasons
    assert {r.code for r in fit.reasons} >= {"BGNBD_FITTED"}
    regular = _row(frame, history["regular0"])
    stopped = _row(frame, history["stopped"])
    assert regular["p_alive"] > 0.9
    assert stopped["p_alive"] < 0.1
    assert regular["expected_purchases"] > stopped["expected_purchases"]
    assert 0 <= stopped["p_alive"] <= regular["p_alive"] <= 1


def test_a_one_time_buyer_long_ago_is_lapsed_by_the_rule(history: dict[str, Any]) -> None:
    frame, fit = account_churn(TODAY)
    assert fit.interval_weeks is not None
    assert fit.interval_weeks * 3 < 100  # bought once, 100 weeks ago: beyond three typical intervals
    once = _row(frame, history["once"])
    assert once["p_alive"] == 0  # BG/NBD alone would say 1
    assert once["clv"] == (0 if fit.gamma_gamma else None)


def test_an_account_that_never_bought_has_no_churn_figures(history: dict[str, Any]) -> None:
    frame, _fit = account_churn(TODAY)
    assert frame.filter(pl.col("account_id") == history["never"].pk).height == 0


def test_without_repeat_buyers_the_fit_says_so_and_invents_nothing(staff: Any) -> None:
    product = make_product()
    for _ in range(3):
        make_order(staff.admin, make_account(None), [(product, "1")], order_date=TODAY - dt.timedelta(days=10))
    frame, fit = account_churn(TODAY)
    assert fit.bgnbd is None
    assert fit.reasons
    assert fit.reasons[0].code == "NO_REPEAT_BUYERS"
    assert frame.height == 0


def test_the_churn_risk_classification_reads_probability_alive(staff: Any, history: dict[str, Any]) -> None:
    Classification.objects.exclude(key="churn_risk").update(active=False)
    churn_risk = Classification.objects.get(key="churn_risk")
    run = services.run_create(actor=staff.admin, as_of=TODAY)
    services.run_perform(run)
    run.refresh_from_db()
    assert run.churn_fit["bgnbd"]["r"] > 0
    assert run.churn_fit["customers"] == 63
    on = selectors.memberships_on(churn_risk, TODAY)
    assert on.get(account=history["regular0"]).class_key == "active"
    assert on.get(account=history["stopped"]).class_key == "likely_lost"
    assert on.get(account=history["never"]).class_key == "no_history"
    assert set(on.get(account=history["stopped"]).values) == {"p_alive"}


def test_an_incremental_run_scores_with_the_last_fit(staff: Any, history: dict[str, Any]) -> None:
    Classification.objects.exclude(key="churn_risk").update(active=False)
    services.run_perform(services.run_create(actor=staff.admin, as_of=TODAY - dt.timedelta(days=1)))
    full = SegmentRun.objects.get()
    product = make_product()
    for weeks in (2, 1, 0):
        make_order(staff.admin, history["stopped"], [(product, "1")], order_date=TODAY - dt.timedelta(weeks=weeks))
    run = services.recompute_changed()
    assert run is not None
    assert run.scope == SegmentRun.INCREMENTAL
    run.refresh_from_db()
    assert run.churn_fit == {}  # nothing fitted: the full run's parameters were used
    churn_risk = Classification.objects.get(key="churn_risk")
    assert selectors.memberships_on(churn_risk, run.as_of).get(account=history["stopped"]).class_key == "active"
    assert full.churn_fit["bgnbd"]


def test_a_fit_that_runs_to_infinity_is_stored_without_infinities(staff: Any) -> None:
    from patron.domain.explain import Reason
    from patron.segments.churn import ChurnFit

    fit = ChurnFit(
        None,
        None,
        None,
        [Reason("PARAMETER_AT_BOUND", {"parameter": "b", "value": float("inf")})],
        bgnbd_log_likelihood=float("-inf"),
    )
    stored = fit.to_dict()
    assert stored["reasons"][0]["params"]["value"] is None
    assert stored["bgnbd_log_likelihood"] is None
    run = SegmentRun.objects.create(as_of=TODAY, churn_fit=stored)  # the database accepts it
    run.refresh_from_db()
    assert run.churn_fit["reasons"][0]["code"] == "PARAMETER_AT_BOUND"


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_churn_models_fit_beside_the_other_classifications(
    staff: Any, history: dict[str, Any]
) -> None:
    """On PostgreSQL the churn models fit on a thread of their own while the classifications that need
    none are written; every classification is still placed, and the snapshots come in their order."""
    Classification.objects.filter(builtin=True).update(active=True)
    run = services.run_create(actor=staff.admin, as_of=TODAY)
    result = services.run_perform(run)
    run.refresh_from_db()
    assert run.status == SegmentRun.DONE
    assert run.churn_fit["customers"] == 63
    ids = [s.classification_id for s in result.snapshots]
    assert ids == sorted(Classification.objects.filter(active=True).values_list("id", flat=True))
    churn_risk = Classification.objects.get(key="churn_risk")
    assert selectors.memberships_on(churn_risk, TODAY).get(account=history["stopped"]).class_key == "likely_lost"
    value_tier = Classification.objects.get(key="value_tier")
    assert selectors.memberships_on(value_tier, TODAY).count() == selectors.memberships_on(churn_risk, TODAY).count()


@pytest.mark.django_db(transaction=True)
def test_a_run_that_fails_while_the_churn_models_fit_writes_nothing(
    staff: Any, history: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    Classification.objects.filter(builtin=True).update(active=True)
    calls = []

    def fail_on_the_second(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    original = services._write
    monkeypatch.setattr(services, "_write", fail_on_the_second)
    run = services.run_create(actor=staff.admin, as_of=TODAY)
    with pytest.raises(RuntimeError, match="disk full"):
        services.run_perform(run)
    run.refresh_from_db()
    assert run.status == SegmentRun.FAILED
    assert not selectors.memberships_on(Classification.objects.get(key="value_tier"), TODAY).exists()


@pytest.mark.django_db(transaction=True)
def test_a_flushed_database_gets_its_builtin_classifications_back() -> None:
    """Tests that commit end with a flush of every table: those after them still find the built-ins."""
    from django.core.management import call_command

    from patron.segments.services import all_builtin_definitions

    call_command("flush", interactive=False, verbosity=0)
    builtins = Classification.objects.filter(builtin=True)
    assert set(builtins.values_list("key", flat=True)) == set(all_builtin_definitions())
    assert builtins.get(key="churn_risk").description.startswith("BG/NBD")
