"""Invariants of the rebate calculation over random programs and volumes (hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from patron.domain.money import Money
from patron.domain.rebates import (
    DocumentLine,
    Payout,
    Volume,
    parse_terms,
    rebate_for,
    settle_account,
    statement_for,
    terms_to_dict,
)

amounts = st.decimals(min_value=D("0"), max_value=D("2000000"), places=2)


@st.composite
def programs(draw: Any, *, fixed: bool | None = None, mode: str | None = None) -> Any:
    count = draw(st.integers(1, 5))
    starts = sorted(
        draw(
            st.lists(
                st.decimals(min_value=D("0"), max_value=D("500000"), places=2),
                min_size=count,
                max_size=count,
                unique=True,
            )
        )
    )
    use_fixed = draw(st.booleans()) if fixed is None else fixed
    if use_fixed:
        values = sorted(
            draw(
                st.lists(
                    st.decimals(min_value=D("1"), max_value=D("50000"), places=2),
                    min_size=count,
                    max_size=count,
                    unique=True,
                )
            )
        )
        tiers = [{"from": str(s), "amount": str(v)} for s, v in zip(starts, values, strict=True)]
    else:
        values = sorted(
            draw(
                st.lists(
                    st.decimals(min_value=D("0.1"), max_value=D("30"), places=2),
                    min_size=count,
                    max_size=count,
                    unique=True,
                )
            )
        )
        tiers = [{"from": str(s), "percent": str(v)} for s, v in zip(starts, values, strict=True)]
    data = {
        "basis": draw(st.sampled_from(["amount", "profit"])),
        "mode": mode or draw(st.sampled_from(["retroactive", "incremental"])),
        "threshold": str(draw(st.decimals(min_value=D("0"), max_value=D("100000"), places=2))),
        "tiers": tiers,
    }
    if draw(st.booleans()):
        data["cap"] = str(draw(st.decimals(min_value=D("1"), max_value=D("100000"), places=2)))
    return parse_terms(data)


def volume(amount: D, margin: D = D("0.25")) -> Volume:
    return Volume(amount, D(1), (amount * margin).quantize(D("0.01")))


@settings(max_examples=300, deadline=None)
@given(programs(), amounts, amounts)
def test_more_volume_never_earns_less(terms, a, b):
    low, high = sorted((a, b))
    assert rebate_for(terms, volume(low), "CNY").amount.amount <= rebate_for(terms, volume(high), "CNY").amount.amount


@settings(max_examples=300, deadline=None)
@given(programs(fixed=False, mode="retroactive"), amounts)
def test_incremental_never_pays_more_than_retroactive_at_the_same_rates(retroactive, amount):
    incremental = parse_terms({**terms_to_dict(retroactive), "mode": "incremental"})
    assert (
        rebate_for(incremental, volume(amount), "CNY").amount.amount
        <= rebate_for(retroactive, volume(amount), "CNY").amount.amount
    )


@settings(max_examples=300, deadline=None)
@given(programs(), amounts)
def test_bands_add_up_and_the_rebate_is_never_negative_nor_above_the_cap(terms, amount):
    result = rebate_for(terms, volume(amount), "CNY")
    assert sum((b.amount for b in result.bands), D(0)) == result.uncapped.amount
    assert result.amount.amount >= 0
    if terms.cap is not None:
        assert result.amount.amount <= terms.cap
    assert result.amount.amount == result.amount.amount.quantize(D("0.01"))


@settings(max_examples=150, deadline=None)
@given(
    programs(),
    st.lists(
        st.tuples(
            st.integers(1, 6),  # account
            st.decimals(min_value=D("-5000"), max_value=D("80000"), places=2),
            st.sampled_from([("CNY", D("1")), ("USD", D("7.1234")), ("JPY", D("0.0473"))]),
        ),
        max_size=40,
    ),
    st.dictionaries(st.integers(1, 6), st.decimals(min_value=D("0"), max_value=D("3000"), places=2)),
)
def test_a_settlement_totals_the_balances_of_its_statements(terms, documents, paid):
    by_account: dict[int, list[DocumentLine]] = {}
    for i, (account, amount, (currency, rate)) in enumerate(documents):
        if currency == "JPY":
            amount = amount.quantize(D(1))
        by_account.setdefault(account, []).append(
            DocumentLine(
                kind="order" if amount >= 0 else "return",
                number=f"D{i}",
                day=dt.date(2026, 1, 1) + dt.timedelta(days=i),
                product=1,
                sku="S",
                category_path=(),
                quantity=D(1) if amount >= 0 else D(-1),
                amount=Money(amount, currency),
                cost=Money((amount * D("0.7")).quantize(D(1) if currency == "JPY" else D("0.01")), currency),
                rate=rate,
            )
        )
    accounts = sorted(set(by_account) | set(paid))
    statements = {
        a: statement_for(
            terms,
            by_account.get(a, []),
            [Payout("P", dt.date(2026, 2, 1), Money(paid[a], "CNY"))] if a in paid else [],
            "CNY",
        )
        for a in accounts
    }
    lines = [settle_account(terms, a, statements[a].volume, paid.get(a, D(0)), "CNY") for a in accounts]
    assert sum((ln.due.amount for ln in lines), D(0)) == sum((s.balance.amount for s in statements.values()), D(0))
    for a in accounts:
        s = statements[a]
        assert sum((ln.amount for ln in s.lines), D(0)) == s.volume.amount  # the lines add up to the volume
