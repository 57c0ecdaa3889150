"""Who may do what: one table, read by the API, the pages, exports and the admin.

The caller says how the user stands to the record (``Relation``); this module
answers whether the role may take the action. Keeping the table pure lets a
test walk every role x action x relation without a database.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SALES_MANAGER = "sales_manager"
    SALESPERSON = "salesperson"
    FINANCE = "finance"
    MARKETING = "marketing"


class Relation(StrEnum):
    OWN = "own"  # the user owns the account
    TEAM = "team"  # owned by someone in a team the user manages
    OTHER = "other"  # anyone else's


class Action(StrEnum):
    VIEW_ACCOUNT = "view_account"
    EDIT_ACCOUNT = "edit_account"
    CREATE_ACCOUNT = "create_account"
    VIEW_PRIVATE_NOTES = "view_private_notes"
    VIEW_RECEIVABLES = "view_receivables"  # invoices, payments, balances
    RECORD_ORDER = "record_order"  # orders and returns
    RECORD_INVOICE = "record_invoice"
    RECORD_PAYMENT = "record_payment"
    VIEW_HISTORY = "view_history"  # the audit trail of the account
    EXPORT_ACCOUNTS = "export_accounts"
    EDIT_PRODUCT = "edit_product"  # product data and prices
    MANAGE_SETTINGS = "manage_settings"  # custom fields, regions, rates, users
    # Moving one account's orders, invoices, payments and contacts into another cannot be undone,
    # so it needs this on both accounts, not just the right to edit them.
    MERGE_ACCOUNTS = "merge_accounts"
    # Classifications decide who gets which discount, rebate, coupon and follow-up.
    EDIT_SEGMENTS = "edit_segments"
    # Discount policies and rules set every price; limits on manual discounts too.
    EDIT_DISCOUNTS = "edit_discounts"
    # Rebate programs and the agreements that tie accounts to them.
    EDIT_REBATES = "edit_rebates"
    # Running, reviewing and approving rebate settlements: money leaves the company.
    SETTLE_REBATES = "settle_rebates"
    # Coupon campaigns: their terms, issuing codes, and who they reach.
    EDIT_COUPONS = "edit_coupons"


_ALL = frozenset(Relation)
_OWN = frozenset({Relation.OWN})
_TEAM = frozenset({Relation.OWN, Relation.TEAM})
_NONE: frozenset[Relation] = frozenset()

# role -> action -> relations for which the action is allowed.
POLICY: dict[Role, dict[Action, frozenset[Relation]]] = {
    Role.ADMIN: dict.fromkeys(Action, _ALL),
    Role.SALES_MANAGER: {
        Action.VIEW_ACCOUNT: _TEAM,
        Action.EDIT_ACCOUNT: _TEAM,
        Action.CREATE_ACCOUNT: _ALL,
        Action.VIEW_PRIVATE_NOTES: _TEAM,
        Action.VIEW_RECEIVABLES: _TEAM,
        Action.RECORD_ORDER: _TEAM,
        Action.RECORD_INVOICE: _NONE,
        Action.RECORD_PAYMENT: _TEAM,
        Action.VIEW_HISTORY: _TEAM,
        Action.EXPORT_ACCOUNTS: _TEAM,
        Action.EDIT_PRODUCT: _ALL,
        Action.MANAGE_SETTINGS: _NONE,
        Action.MERGE_ACCOUNTS: _TEAM,
        Action.EDIT_SEGMENTS: _ALL,
        Action.EDIT_DISCOUNTS: _ALL,
        Action.EDIT_REBATES: _ALL,
        Action.SETTLE_REBATES: _NONE,
        Action.EDIT_COUPONS: _ALL,
    },
    Role.SALESPERSON: {
        Action.VIEW_ACCOUNT: _OWN,
        Action.EDIT_ACCOUNT: _OWN,
        Action.CREATE_ACCOUNT: _ALL,
        Action.VIEW_PRIVATE_NOTES: _OWN,
        Action.VIEW_RECEIVABLES: _OWN,
        Action.RECORD_ORDER: _OWN,
        Action.RECORD_INVOICE: _NONE,
        Action.RECORD_PAYMENT: _OWN,  # salespeople log the payments they collect (回款登记)
        Action.VIEW_HISTORY: _OWN,
        Action.EXPORT_ACCOUNTS: _OWN,
        Action.EDIT_PRODUCT: _NONE,
        Action.MANAGE_SETTINGS: _NONE,
        Action.MERGE_ACCOUNTS: _NONE,
        Action.EDIT_SEGMENTS: _NONE,
        Action.EDIT_DISCOUNTS: _NONE,
        Action.EDIT_REBATES: _NONE,
        Action.SETTLE_REBATES: _NONE,
        Action.EDIT_COUPONS: _NONE,
    },
    Role.FINANCE: {
        Action.VIEW_ACCOUNT: _ALL,
        Action.EDIT_ACCOUNT: _NONE,
        Action.CREATE_ACCOUNT: _NONE,
        Action.VIEW_PRIVATE_NOTES: _NONE,
        Action.VIEW_RECEIVABLES: _ALL,
        Action.RECORD_ORDER: _NONE,
        Action.RECORD_INVOICE: _ALL,
        Action.RECORD_PAYMENT: _ALL,
        Action.VIEW_HISTORY: _ALL,
        Action.EXPORT_ACCOUNTS: _ALL,
        Action.EDIT_PRODUCT: _NONE,
        Action.MANAGE_SETTINGS: _NONE,
        Action.MERGE_ACCOUNTS: _NONE,
        Action.EDIT_SEGMENTS: _NONE,
        Action.EDIT_DISCOUNTS: _NONE,
        Action.EDIT_REBATES: _NONE,
        Action.SETTLE_REBATES: _ALL,
        Action.EDIT_COUPONS: _NONE,
    },
    Role.MARKETING: {
        Action.VIEW_ACCOUNT: _ALL,
        Action.EDIT_ACCOUNT: _NONE,
        Action.CREATE_ACCOUNT: _NONE,
        Action.VIEW_PRIVATE_NOTES: _NONE,
        Action.VIEW_RECEIVABLES: _NONE,
        Action.RECORD_ORDER: _NONE,
        Action.RECORD_INVOICE: _NONE,
        Action.RECORD_PAYMENT: _NONE,
        Action.VIEW_HISTORY: _NONE,
        Action.EXPORT_ACCOUNTS: _ALL,
        Action.EDIT_PRODUCT: _NONE,
        Action.MANAGE_SETTINGS: _NONE,
        Action.MERGE_ACCOUNTS: _NONE,
        Action.EDIT_SEGMENTS: _ALL,
        Action.EDIT_DISCOUNTS: _NONE,
        Action.EDIT_REBATES: _NONE,
        Action.SETTLE_REBATES: _NONE,
        Action.EDIT_COUPONS: _ALL,
    },
}


def allows(role: Role | str, action: Action, relation: Relation) -> bool:
    return relation in POLICY[Role(role)][action]


def reach(role: Role | str, action: Action) -> frozenset[Relation]:
    """The relations for which ``role`` may take ``action`` (empty: never)."""
    return POLICY[Role(role)][action]
