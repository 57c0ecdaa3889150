"""From stored programs, agreements and documents to the pure core's terms, periods and volumes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings

from patron.core.trees import id_paths
from patron.domain.money import Money, quantize
from patron.domain.periods import Period, PeriodKind, period_containing
from patron.domain.rebates import DocumentLine, RebateTerms, parse_terms
from patron.sales.models import Category
from patron.sales.selectors import rate_on

from .models import RebateAgreement, RebateProgram

ONE = Decimal(1)


def merged_terms(program_terms: Mapping[str, Any], own: Mapping[str, Any] | None) -> dict[str, Any]:
    """An agreement's own tiers (and threshold, cap) over the program's; products stay the program's."""
    data = dict(program_terms)
    if own:
        data.update({k: v for k, v in own.items() if k in ("tiers", "threshold", "cap", "mode")})
    return data


@lru_cache(maxsize=1024)
def _parsed(text: str) -> RebateTerms:
    return parse_terms(json.loads(text))


def terms_of(agreement: RebateAgreement) -> RebateTerms:
    data = merged_terms(agreement.program.terms, agreement.terms)
    return _parsed(json.dumps(data, sort_keys=True))


def period_of(program: RebateProgram, day: dt.date) -> Period:
    """The program's period that holds ``day``: a calendar period, or its whole life for custom dates."""
    if program.period_kind == "custom":
        assert program.effective_to is not None
        return Period(program.effective_from, program.effective_to, PeriodKind.CUSTOM)
    return period_containing(day, PeriodKind(program.period_kind))


def rate_to(currency: str, target: str, day: dt.date) -> Decimal | None:
    """Units of ``target`` per unit of ``currency`` on ``day``, through the company currency (rule 6)."""
    if currency == target:
        return ONE
    company = settings.PATRON_COMPANY_CURRENCY
    into_company = ONE if currency == company else rate_on(currency, day)
    out_of_company = ONE if target == company else rate_on(target, day)
    if into_company is None or out_of_company is None:
        return None
    return into_company / out_of_company


def program_terms(program: RebateProgram) -> RebateTerms:
    """The program's own terms (agreements may change tiers, never which products count)."""
    return _parsed(json.dumps(program.terms, sort_keys=True))


def category_paths(terms: RebateTerms) -> Mapping[int, tuple[int, ...]]:
    """Only read when the terms name categories: most programs cover everything or products."""
    what = terms.what
    return id_paths(Category) if (what.categories or what.exclude_categories) else {}


@dataclass(frozen=True)
class Recorded:
    """The lines of one recorded document, as the core reads them (negative for returns and cancellations)."""

    account_id: int
    day: dt.date  # the order's date: a return counts in its order's period
    lines: tuple[DocumentLine, ...]


def _decimal(value: Any) -> Decimal:
    """SQLite hands raw decimal columns back as floats: read them by their shortest repr, as Django does."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def document_lines(rows: Iterable[Mapping[str, Any]], *, sign: int, kind: str) -> list[DocumentLine]:
    """Rows with number, day, product_id, sku, category, quantity, amount, unit_cost, currency, rate."""
    out = []
    for r in rows:
        quantity = _decimal(r["quantity"]) * sign
        currency = r["currency"]
        cost = quantize(_decimal(r["unit_cost"] or 0) * quantity, currency)
        out.append(
            DocumentLine(
                kind=kind,
                number=r["number"],
                day=r["day"],
                product=r["product_id"],
                sku=r["sku"],
                category_path=r.get("category_path", ()),
                quantity=quantity,
                amount=Money(_decimal(r["amount"]) * sign, currency),
                cost=Money(cost, currency),
                rate=r.get("rate", ONE),
            )
        )
    return out
