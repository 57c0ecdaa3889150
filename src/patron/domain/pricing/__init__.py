"""Discount rules and the one engine that prices every cart in Patron."""

from patron.domain.pricing.cart import (
    AccountProfile,
    Cart,
    CartLine,
    LineDiscount,
    LineQuote,
    ManualDiscount,
    Quote,
    RuleOutcome,
)
from patron.domain.pricing.engine import RuleBook, price_cart
from patron.domain.pricing.rules import Rule, parse_rule, rule_to_dict

__all__ = [
    "AccountProfile",
    "Cart",
    "CartLine",
    "LineDiscount",
    "LineQuote",
    "ManualDiscount",
    "Quote",
    "Rule",
    "RuleBook",
    "RuleOutcome",
    "parse_rule",
    "price_cart",
    "rule_to_dict",
]
