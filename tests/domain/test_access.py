import pytest

from patron.domain.access import POLICY, Action, Relation, Role, allows


@pytest.mark.parametrize("action", list(Action))
def test_every_role_has_a_decision_for_every_action(action):
    for role in Role:
        assert action in POLICY[role]


def test_a_salesperson_reaches_only_own_accounts():
    assert allows(Role.SALESPERSON, Action.EDIT_ACCOUNT, Relation.OWN)
    assert not allows(Role.SALESPERSON, Action.VIEW_ACCOUNT, Relation.TEAM)
    assert not allows(Role.SALESPERSON, Action.VIEW_ACCOUNT, Relation.OTHER)


def test_marketing_never_sees_private_notes_or_receivables():
    for relation in Relation:
        assert allows(Role.MARKETING, Action.VIEW_ACCOUNT, relation)
        assert not allows(Role.MARKETING, Action.VIEW_PRIVATE_NOTES, relation)
        assert not allows(Role.MARKETING, Action.VIEW_RECEIVABLES, relation)


def test_finance_sees_all_receivables_but_cannot_edit_accounts():
    for relation in Relation:
        assert allows(Role.FINANCE, Action.VIEW_RECEIVABLES, relation)
        assert allows(Role.FINANCE, Action.RECORD_PAYMENT, relation)
        assert not allows(Role.FINANCE, Action.EDIT_ACCOUNT, relation)
