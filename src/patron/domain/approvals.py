"""Approvals as a state machine: who may move a request from which state to which.

A request is submitted *pending*. From there:

- an approver **approves** or **rejects** it (a decision);
- its submitter **withdraws** it;
- a newer request for the same subject **supersedes** it (the order's price was edited).

An approved request can still be superseded (the approval applied to terms that no longer
hold); rejected, withdrawn and superseded requests never move again.

Approvers have a level: a sales manager decides ``manager``-level requests, finance decides
``finance``-level ones (a credit-limit override), an admin decides every level. Nobody decides a
request they submitted, whatever their level. Whether the request is in the approver's reach (a
manager's team) is the caller's question; this module knows only ids, levels and states.

``transition`` returns the new state or raises ``ApprovalError`` with a ``code`` and a
``Reason``; the edges translate both into words.
"""

from __future__ import annotations

from enum import StrEnum

from .access import Role
from .explain import Reason


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


class Level(StrEnum):
    MANAGER = "manager"
    ADMIN = "admin"
    FINANCE = "finance"


class Verb(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    SUPERSEDE = "supersede"


# Error codes.
SELF_APPROVAL = "self_approval"
NOT_ALLOWED = "not_allowed"
ALREADY_DECIDED = "already_decided"
UNKNOWN_ACTION = "unknown_action"

# Reason codes (the ``Reason`` an error carries says more precisely why).
REASON_OWN_REQUEST = "OWN_REQUEST"
REASON_CANNOT_DECIDE = "ROLE_CANNOT_DECIDE"  # no approver level at all (salesperson, marketing)
REASON_LEVEL_TOO_LOW = "LEVEL_TOO_LOW"  # a manager before an admin- or finance-level request, finance before others
REASON_NOT_SUBMITTER = "NOT_SUBMITTER"  # only the submitter withdraws
REASON_NOT_PENDING = "NOT_PENDING"
REASON_FINAL = "FINAL"  # rejected, withdrawn, superseded: nothing moves it
REASON_UNKNOWN_ACTION = "UNKNOWN_ACTION"

DECISIONS = frozenset({Verb.APPROVE, Verb.REJECT})
# States nothing leaves.
FINAL = frozenset({Status.REJECTED, Status.WITHDRAWN, Status.SUPERSEDED})
# States whose approval (or hope of one) still applies to the subject: at most one request per subject is live.
LIVE = frozenset({Status.PENDING, Status.APPROVED})

# Which requests each approver level decides: finance is a lane of its own, not a rank above managers.
_DECIDES = {
    Level.MANAGER: frozenset({Level.MANAGER}),
    Level.FINANCE: frozenset({Level.FINANCE}),
    Level.ADMIN: frozenset(Level),
}
_ROLE_LEVEL = {Role.ADMIN: Level.ADMIN, Role.SALES_MANAGER: Level.MANAGER, Role.FINANCE: Level.FINANCE}


class ApprovalError(Exception):
    """A refused transition: ``code`` is one of the error codes above, ``reason`` says why in data."""

    def __init__(self, code: str, reason: Reason) -> None:
        super().__init__(f"{code}: {reason.code}")
        self.code = code
        self.reason = reason


def level_of(role: Role | str) -> Level | None:
    """The approver level a role carries: admin, sales manager -> manager, finance; anyone else none."""
    try:
        return _ROLE_LEVEL.get(Role(role))
    except ValueError:
        return None


def reaches(actor_level: Level | str | None, required_level: Level | str) -> bool:
    """Does an approver at ``actor_level`` decide requests that need ``required_level``?"""
    if actor_level is None:
        return False
    return Level(required_level) in _DECIDES[Level(actor_level)]


def transition(
    state: Status | str,
    action: Verb | str,
    *,
    actor_id: int | None,
    submitter_id: int,
    actor_level: Level | str | None,
    required_level: Level | str,
) -> Status:
    """The state after ``actor`` takes ``action`` on a request in ``state``, or ``ApprovalError``.

    Who may act is checked before the state, so a salesperson is told they may not approve
    even a request that is already decided; two approvers racing get ``already_decided``.
    ``supersede`` is the system's action (a newer request replaced this one): any actor.
    """
    state = Status(state)
    try:
        verb = Verb(action)
    except ValueError:
        raise ApprovalError(UNKNOWN_ACTION, Reason(REASON_UNKNOWN_ACTION, {"action": str(action)})) from None

    if verb in DECISIONS:
        if actor_id is not None and actor_id == submitter_id:
            raise ApprovalError(SELF_APPROVAL, Reason(REASON_OWN_REQUEST))
        if actor_level is None:
            raise ApprovalError(NOT_ALLOWED, Reason(REASON_CANNOT_DECIDE, {"required": Level(required_level).value}))
        if not reaches(actor_level, required_level):
            params = {"required": Level(required_level).value, "level": Level(actor_level).value}
            raise ApprovalError(NOT_ALLOWED, Reason(REASON_LEVEL_TOO_LOW, params))
        _require(state, {Status.PENDING})
        return Status.APPROVED if verb is Verb.APPROVE else Status.REJECTED

    if verb is Verb.WITHDRAW:
        if actor_id is None or actor_id != submitter_id:
            raise ApprovalError(NOT_ALLOWED, Reason(REASON_NOT_SUBMITTER))
        _require(state, {Status.PENDING})
        return Status.WITHDRAWN

    _require(state, LIVE)  # supersede
    return Status.SUPERSEDED


def _require(state: Status, allowed: set[Status] | frozenset[Status]) -> None:
    if state not in allowed:
        code = REASON_FINAL if state in FINAL else REASON_NOT_PENDING
        raise ApprovalError(ALREADY_DECIDED, Reason(code, {"status": state.value}))


def allowed_actions(
    state: Status | str,
    *,
    actor_id: int | None,
    submitter_id: int,
    actor_level: Level | str | None,
    required_level: Level | str,
) -> frozenset[Verb]:
    """What a person may do to the request now (the pages show these buttons); ``supersede`` is never offered."""
    allowed = set()
    for verb in (Verb.APPROVE, Verb.REJECT, Verb.WITHDRAW):
        try:
            transition(
                state,
                verb,
                actor_id=actor_id,
                submitter_id=submitter_id,
                actor_level=actor_level,
                required_level=required_level,
            )
        except ApprovalError:
            continue
        allowed.add(verb)
    return frozenset(allowed)
