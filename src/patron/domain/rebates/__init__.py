"""Rebates: a program's terms, what a period's volume earns under them, statements and settlement."""

from .calculate import Band, Forecast, RebateResult, Volume, forecast_expected, forecast_rebate, rebate_for
from .statement import (
    DocumentLine,
    Payout,
    RebateStatement,
    SettlementLine,
    StatementLine,
    settle_account,
    statement_for,
    statement_lines,
    volume_of,
)
from .terms import BASES, DOCUMENTS, MODES, RebateTerms, Tier, parse_terms, terms_to_dict

__all__ = [
    "BASES",
    "DOCUMENTS",
    "MODES",
    "Band",
    "DocumentLine",
    "Forecast",
    "Payout",
    "RebateResult",
    "RebateStatement",
    "RebateTerms",
    "SettlementLine",
    "StatementLine",
    "Tier",
    "Volume",
    "forecast_expected",
    "forecast_rebate",
    "parse_terms",
    "rebate_for",
    "settle_account",
    "statement_for",
    "statement_lines",
    "terms_to_dict",
    "volume_of",
]
