"""The approval state machine: every state x action x actor, and properties over any sequence of actions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.access import Role
from patron.domain.approvals import (
    ALREADY_DECIDED,
    FINAL,
    NOT_ALLOWED,
    SELF_APPROVAL,
    UNKNOWN_ACTION,
    ApprovalError,
    Level,
    Status,
    Verb,
    allowed_actions,
    level_of,
    reaches,
    transition,
)
from patron.domain.explain import Reason

SUBMITTER = 1
MANAGER = 2
ADMIN = 3
SALES = 4

P, A, R, W, S = Status.PENDING, Status.APPROVED, Status.REJECTED, Status.WITHDRAWN, Status.SUPERSEDED
M, AD = Level.MANAGER, Level.ADMIN


def move(state, action, actor_id, actor_level, required=M, submitter=SUBMITTER):
    return transition(
        state, action, actor_id=actor_id, submitter_id=submitter, actor_level=actor_level, required_level=required
    )


@pytest.mark.parametrize(
    ("state", "action", "actor", "level", "required", "expected"),
    [
        # decisions on a pending request
        (P, "approve", MANAGER, M, M, A),
        (P, "reject", MANAGER, M, M, R),
        (P, "approve", ADMIN, AD, M, A),  # an admin decides a manager-level request
        (P, "reject", ADMIN, AD, M, R),
        (P, "approve", ADMIN, AD, AD, A),
        (P, "reject", ADMIN, AD, AD, R),
        # the submitter withdraws
        (P, "withdraw", SUBMITTER, None, M, W),
        (P, "withdraw", SUBMITTER, M, AD, W),
        # a newer request replaces a pending or an approved one
        (P, "supersede", None, None, M, S),
        (A, "supersede", None, None, M, S),
        (A, "supersede", SUBMITTER, None, AD, S),
        # accepted as the enum too
        (P, Verb.APPROVE, MANAGER, "manager", "manager", A),
        ("pending", "approve", ADMIN, "admin", "admin", A),
    ],
)
def test_allowed_moves(state, action, actor, level, required, expected):
    assert move(state, action, actor, level, required) is expected


@pytest.mark.parametrize(
    ("state", "action", "actor", "level", "required", "code", "reason"),
    [
        # nobody decides their own request, whatever their level
        (P, "approve", SUBMITTER, AD, M, SELF_APPROVAL, "OWN_REQUEST"),
        (P, "reject", SUBMITTER, M, M, SELF_APPROVAL, "OWN_REQUEST"),
        (A, "reject", SUBMITTER, AD, M, SELF_APPROVAL, "OWN_REQUEST"),  # who before state
        # salespeople (no level) never decide; managers not an admin-level request
        (P, "approve", SALES, None, M, NOT_ALLOWED, "ROLE_CANNOT_DECIDE"),
        (P, "reject", SALES, None, AD, NOT_ALLOWED, "ROLE_CANNOT_DECIDE"),
        (R, "approve", SALES, None, M, NOT_ALLOWED, "ROLE_CANNOT_DECIDE"),  # told "not allowed", not "decided"
        (P, "approve", MANAGER, M, AD, NOT_ALLOWED, "LEVEL_TOO_LOW"),
        (P, "reject", MANAGER, M, AD, NOT_ALLOWED, "LEVEL_TOO_LOW"),
        # only the submitter withdraws
        (P, "withdraw", MANAGER, M, M, NOT_ALLOWED, "NOT_SUBMITTER"),
        (P, "withdraw", ADMIN, AD, M, NOT_ALLOWED, "NOT_SUBMITTER"),
        (P, "withdraw", None, None, M, NOT_ALLOWED, "NOT_SUBMITTER"),
        # deciding what is no longer pending
        (A, "approve", MANAGER, M, M, ALREADY_DECIDED, "NOT_PENDING"),
        (A, "reject", ADMIN, AD, M, ALREADY_DECIDED, "NOT_PENDING"),
        (R, "approve", MANAGER, M, M, ALREADY_DECIDED, "FINAL"),
        (W, "reject", MANAGER, M, M, ALREADY_DECIDED, "FINAL"),
        (S, "approve", ADMIN, AD, AD, ALREADY_DECIDED, "FINAL"),
        (A, "withdraw", SUBMITTER, None, M, ALREADY_DECIDED, "NOT_PENDING"),
        (R, "withdraw", SUBMITTER, None, M, ALREADY_DECIDED, "FINAL"),
        (R, "supersede", None, None, M, ALREADY_DECIDED, "FINAL"),
        (W, "supersede", None, None, M, ALREADY_DECIDED, "FINAL"),
        (S, "supersede", None, None, M, ALREADY_DECIDED, "FINAL"),
        # nonsense
        (P, "delete", ADMIN, AD, M, UNKNOWN_ACTION, "UNKNOWN_ACTION"),
        (P, "", ADMIN, AD, M, UNKNOWN_ACTION, "UNKNOWN_ACTION"),
    ],
)
def test_refused_moves_say_why(state, action, actor, level, required, code, reason):
    with pytest.raises(ApprovalError) as refused:
        move(state, action, actor, level, required)
    assert refused.value.code == code
    assert isinstance(refused.value.reason, Reason)
    assert refused.value.reason.code == reason


def test_reasons_carry_what_the_message_needs():
    with pytest.raises(ApprovalError) as refused:
        move(P, "approve", MANAGER, M, AD)
    assert refused.value.reason.params == {"required": "admin", "level": "manager"}
    with pytest.raises(ApprovalError) as refused:
        move(R, "approve", MANAGER, M, M)
    assert refused.value.reason.params == {"status": "rejected"}
    with pytest.raises(ApprovalError) as refused:
        move(P, "frobnicate", MANAGER, M, M)
    assert refused.value.reason.params == {"action": "frobnicate"}


@pytest.mark.parametrize(
    ("role", "level"),
    [
        (Role.ADMIN, Level.ADMIN),
        (Role.SALES_MANAGER, Level.MANAGER),
        (Role.SALESPERSON, None),
        (Role.FINANCE, Level.FINANCE),
        (Role.MARKETING, None),
        ("sales_manager", Level.MANAGER),
        ("nobody", None),
    ],
)
def test_the_level_comes_from_the_role(role, level):
    assert level_of(role) == level


@pytest.mark.parametrize(
    ("actor", "required", "expected"),
    [
        (None, M, False),
        (None, AD, False),
        (M, M, True),
        (M, AD, False),
        (AD, M, True),
        (AD, AD, True),
        (Level.FINANCE, Level.FINANCE, True),
        (Level.FINANCE, M, False),
        (Level.FINANCE, AD, False),
        (M, Level.FINANCE, False),
        (AD, Level.FINANCE, True),
    ],
)
def test_an_admin_reaches_every_level_a_manager_and_finance_their_own(actor, required, expected):
    assert reaches(actor, required) is expected


@pytest.mark.parametrize(
    ("state", "actor", "level", "required", "expected"),
    [
        (P, MANAGER, M, M, {Verb.APPROVE, Verb.REJECT}),
        (P, MANAGER, M, AD, set()),
        (P, ADMIN, AD, AD, {Verb.APPROVE, Verb.REJECT}),
        (P, SUBMITTER, None, M, {Verb.WITHDRAW}),
        (P, SUBMITTER, AD, M, {Verb.WITHDRAW}),  # an admin's own request: withdraw only
        (P, SALES, None, M, set()),
        (A, MANAGER, M, M, set()),
        (A, SUBMITTER, None, M, set()),
        (R, ADMIN, AD, M, set()),
    ],
)
def test_allowed_actions_are_the_buttons_to_show(state, actor, level, required, expected):
    allowed = allowed_actions(state, actor_id=actor, submitter_id=SUBMITTER, actor_level=level, required_level=required)
    assert allowed == expected


# --- properties ----------------------------------------------------------------------------------------------

ACTORS = st.sampled_from(
    [(SUBMITTER, None), (SUBMITTER, M), (SUBMITTER, AD), (MANAGER, M), (ADMIN, AD), (SALES, None), (None, None)]
)
STEPS = st.lists(st.tuples(st.sampled_from([*Verb, "archive"]), ACTORS), max_size=12)


@given(required=st.sampled_from(list(Level)), steps=STEPS)
def test_any_sequence_of_actions(required, steps):
    """Whatever people try, in whatever order:

    - nothing leaves a rejected, withdrawn or superseded request;
    - an approved request only ever becomes superseded;
    - the submitter never decides, and nobody below the required level does;
    - a request is decided at most once.
    """
    state = Status.PENDING
    decisions = 0
    codes: list[str] = []
    for action, (actor_id, level) in steps:
        try:
            after = move(state, action, actor_id, level, required)
        except ApprovalError as refused:
            codes.append(refused.code)
            continue
        if state in FINAL:
            pytest.fail(f"{action} moved a {state} request to {after}")
        if state is Status.APPROVED:
            assert after is Status.SUPERSEDED
        if action in (Verb.APPROVE, Verb.REJECT):
            assert actor_id != SUBMITTER
            assert reaches(level, required)
            decisions += 1
        if action is Verb.WITHDRAW:
            assert actor_id == SUBMITTER
        state = after
    assert decisions <= 1
    assert set(codes) <= {SELF_APPROVAL, NOT_ALLOWED, ALREADY_DECIDED, UNKNOWN_ACTION}


@given(state=st.sampled_from(list(Status)), action=st.sampled_from(list(Verb)), actor=ACTORS)
def test_allowed_actions_agree_with_transition(state, action, actor):
    actor_id, level = actor
    offered = allowed_actions(state, actor_id=actor_id, submitter_id=SUBMITTER, actor_level=level, required_level=M)
    if action is Verb.SUPERSEDE:
        assert action not in offered
        return
    try:
        move(state, action, actor_id, level)
    except ApprovalError:
        assert action not in offered
    else:
        assert action in offered


@given(state=st.sampled_from(sorted(FINAL)), action=st.sampled_from(list(Verb)), actor=ACTORS)
def test_final_states_refuse_everything(state, action, actor):
    actor_id, level = actor
    with pytest.raises(ApprovalError):
        move(state, action, actor_id, level, AD)
