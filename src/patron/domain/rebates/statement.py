"""A customer's rebate statement and a period's settlement, from the documents themselves.

A statement lists every qualifying order and return line (converted to the program's
currency at the rate dated on or before the document, ``patron.domain.money`` rule 6), the
volume they add up to, the rebate that volume earns, what was paid before and the balance.
A settlement line is a statement's balance: so a settlement's total is the sum of its
statements, and the final settlement nets what partial ones paid (the 940 of DESIGN.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from patron.domain.explain import Reason
from patron.domain.money import Money, convert

from .calculate import ZERO, RebateResult, Volume, rebate_for
from .terms import RebateTerms


@dataclass(frozen=True, slots=True)
class DocumentLine:
    """One order line (positive) or return line (negative quantity and amounts), as recorded."""

    kind: str  # "order" | "return"
    number: str
    day: dt.date
    product: int
    sku: str
    category_path: tuple[int, ...]
    quantity: Decimal
    amount: Money  # net amount, in the document's currency
    cost: Money  # quantity x unit cost, same currency
    rate: Decimal = Decimal(1)  # program currency per unit of the document's


@dataclass(frozen=True, slots=True)
class StatementLine:
    line: DocumentLine
    amount: Decimal  # in the program's currency
    profit: Decimal


@dataclass(frozen=True, slots=True)
class Payout:
    """Rebate already paid for the period (a partial settlement, or a final one before a correction)."""

    reference: str
    day: dt.date
    amount: Money


@dataclass(frozen=True, slots=True)
class RebateStatement:
    currency: str
    lines: tuple[StatementLine, ...]
    excluded: int  # document lines outside the program's products
    volume: Volume
    result: RebateResult
    payouts: tuple[Payout, ...]
    paid: Money
    balance: Money  # result.amount - paid: to pay now, or (negative) to claw back
    reasons: tuple[Reason, ...]


def statement_lines(
    terms: RebateTerms, documents: Iterable[DocumentLine], currency: str
) -> tuple[list[StatementLine], int]:
    lines: list[StatementLine] = []
    excluded = 0
    for doc in documents:
        if not terms.what.covers(doc.product, doc.category_path):
            excluded += 1
            continue
        amount = convert(doc.amount, doc.rate, currency).amount
        profit = amount - convert(doc.cost, doc.rate, currency).amount
        lines.append(StatementLine(doc, amount, profit))
    return lines, excluded


def volume_of(lines: Sequence[StatementLine]) -> Volume:
    return Volume(
        amount=sum((ln.amount for ln in lines), ZERO),
        quantity=sum((ln.line.quantity for ln in lines), ZERO),
        profit=sum((ln.profit for ln in lines), ZERO),
    )


def statement_for(
    terms: RebateTerms, documents: Iterable[DocumentLine], payouts: Sequence[Payout], currency: str
) -> RebateStatement:
    """Every number a customer needs to check the rebate, line by line."""
    lines, excluded = statement_lines(terms, documents, currency)
    lines.sort(key=lambda ln: (ln.line.day, ln.line.kind != "order", ln.line.number, ln.line.sku))
    volume = volume_of(lines)
    result = rebate_for(terms, volume, currency)
    paid = sum((p.amount.amount for p in payouts), ZERO)
    balance = result.amount.amount - paid
    reasons: list[Reason] = []
    if paid:
        reasons.append(Reason("NETTED", {"paid": Money(paid, currency), "earned": result.amount}))
    if balance < 0:
        reasons.append(Reason("CLAWBACK", {"amount": Money(-balance, currency)}))
    return RebateStatement(
        currency=currency,
        lines=tuple(lines),
        excluded=excluded,
        volume=volume,
        result=result,
        payouts=tuple(payouts),
        paid=Money(paid, currency),
        balance=Money(balance, currency),
        reasons=tuple(reasons),
    )


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """What one account is due for a period: earned less paid before (negative: a claw-back)."""

    account: int
    earned: Money
    paid: Money
    due: Money
    result: RebateResult


def settle_account(terms: RebateTerms, account: int, volume: Volume, paid: Decimal, currency: str) -> SettlementLine:
    """A settlement line from the account's volume so far. A partial settlement during the period
    pays what the volume to date earns; the final one what the whole period earns, less both."""
    result = rebate_for(terms, volume, currency)
    return SettlementLine(
        account=account,
        earned=result.amount,
        paid=Money(paid, currency),
        due=Money(result.amount.amount - paid, currency),
        result=result,
    )
