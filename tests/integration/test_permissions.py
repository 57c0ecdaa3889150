"""Every role x action x relation of the access table, through the real services and selectors.

The expectations are read from ``patron.domain.access.POLICY``, so a change to the
table changes what these tests demand; an action added to the table without a
probe here fails ``test_every_action_has_a_probe``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from patron.accounts import merge
from patron.accounts import services as accounts
from patron.accounts.access import relation_to, scoped, visible_accounts
from patron.accounts.models import Account, Activity, Region
from patron.accounts.selectors import account_list, account_timeline
from patron.audit.models import AuditEvent
from patron.domain.access import Action, Relation, Role, allows, reach
from patron.sales import selectors as sales_selectors
from patron.sales import services as sales
from patron.staff.models import Team, User
from tests.factories import make_account, make_product, make_user

_names = itertools.count(1)


@dataclass
class World:
    actor: User
    accounts: dict[Relation, Account]
    admin: User


@pytest.fixture
def world_for(db: None) -> Callable[[Role], World]:
    """For an actor of ``role``: an account they own, one of a team they manage, one of someone else's.

    Any role may be made a team's manager, so every cell of the table is reachable.
    """

    def build(role: Role) -> World:
        n = next(_names)
        boss = make_user(f"boss{n}", "admin", is_superuser=True)
        actor = make_user(f"actor{n}", role.value)
        own_team = Team.objects.create(name=f"Team of actor {n}", manager=actor)
        other_team = Team.objects.create(
            name=f"Elsewhere {n}", manager=make_user(f"elsewhere-boss{n}", "sales_manager")
        )
        member = make_user(f"member{n}", "salesperson", own_team)
        outsider = make_user(f"outsider{n}", "salesperson", other_team)
        product = make_product(price="100.00")
        world = World(
            actor=actor,
            admin=boss,
            accounts={
                Relation.OWN: make_account(actor, code=f"OWN-{n}"),
                Relation.TEAM: make_account(member, code=f"TEAM-{n}"),
                Relation.OTHER: make_account(outsider, code=f"OTHER-{n}"),
            },
        )
        for account in world.accounts.values():
            # A confirmed order, an open invoice, a payment, a private note and a public entry on each.
            order = sales.order_create(
                actor=boss, account=account, lines=[sales.LineInput(product=product, quantity="1")], confirm=True
            )
            sales.invoice_create(actor=boss, account=account, order=order)
            sales.payment_record(actor=boss, account=account, amount="1.00")
            accounts.note_add(actor=boss, account=account, kind="call", subject="Talked about the price")
            accounts.account_update(actor=boss, account=account, data={"address": "Shenzhen"})
        return world

    return build


def _refused(call: Callable[[], Any]) -> bool:
    """True when the service refuses the caller (PermissionDenied); False when it does the work."""
    try:
        call()
    except PermissionDenied:
        return True
    return False


# --- one probe per action: did the real code let the actor do it? ----------------------------


def probe_view_account(w: World, account: Account) -> bool:
    in_list = account_list(user=w.actor).filter(pk=account.pk).exists()
    assert in_list == visible_accounts(w.actor).filter(pk=account.pk).exists()
    return in_list


def probe_edit_account(w: World, account: Account) -> bool:
    updated = not _refused(lambda: accounts.account_update(actor=w.actor, account=account, data={"name": "Renamed"}))
    contact = not _refused(
        lambda: accounts.contact_create(actor=w.actor, account=account, data={"name": "李雷", "role": "buyer"})
    )
    note = not _refused(lambda: accounts.note_add(actor=w.actor, account=account, kind="note", subject="Hello"))
    assert updated == contact == note
    return updated


def probe_create_account(w: World, account: Account) -> bool:
    n = next(_names)
    return not _refused(lambda: accounts.account_create(actor=w.actor, data={"code": f"NEW-{n}", "name": "New"}))


def probe_view_private_notes(w: World, account: Account) -> bool:
    timeline = account_timeline(user=w.actor, account=account)
    assert timeline.filter(kind="order").exists()  # the public part is always there
    return timeline.filter(private=True).exists()


def probe_view_receivables(w: World, account: Account) -> bool:
    invoices = sales_selectors.invoice_list(user=w.actor).filter(account=account).exists()
    payments = sales_selectors.payment_list(user=w.actor).filter(account=account).exists()
    on_timeline = account_timeline(user=w.actor, account=account).filter(kind__in=["invoice", "payment"]).exists()
    assert invoices == payments == on_timeline
    return invoices


def probe_record_order(w: World, account: Account) -> bool:
    product = make_product(price="10.00")
    return not _refused(
        lambda: sales.order_create(
            actor=w.actor, account=account, lines=[sales.LineInput(product=product, quantity="1")]
        )
    )


def probe_record_invoice(w: World, account: Account) -> bool:
    return not _refused(lambda: sales.invoice_create(actor=w.actor, account=account, amount="5.00"))


def probe_record_payment(w: World, account: Account) -> bool:
    return not _refused(lambda: sales.payment_record(actor=w.actor, account=account, amount="1.00"))


def _request(user: User) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def probe_view_history(w: World, account: Account) -> bool:
    events = admin.site._registry[AuditEvent].get_queryset(_request(w.actor))
    return events.filter(account=account).exists()


def probe_export_accounts(w: World, account: Account) -> bool:
    return scoped(Account.objects.all(), w.actor, Action.EXPORT_ACCOUNTS).filter(pk=account.pk).exists()


def probe_edit_product(w: World, account: Account) -> bool:
    product = make_product(price="10.00")
    return not _refused(lambda: sales.product_update(actor=w.actor, product=product, data={"list_price": "11"}))


def probe_manage_settings(w: World, account: Account) -> bool:
    request = _request(w.actor)
    regions = admin.site._registry[Region].has_add_permission(request)
    users = admin.site._registry[User].has_change_permission(request, w.admin)
    assert regions == users
    return regions


def probe_merge_accounts(w: World, account: Account) -> bool:
    """Merge a fresh, empty account of the same owner into it, so both stand in the same relation."""
    twin = Account.objects.create(code=f"TWIN-{next(_names)}", name="Twin", owner=account.owner)
    return not _refused(lambda: merge.account_merge(actor=w.actor, survivor=account, merged=twin))


def probe_edit_segments(w: World, account: Account) -> bool:
    from patron.segments import services as segments

    definition = {
        "kind": "single",
        "indicator": "sales",
        "classes": [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}],
        "method": "thresholds",
        "thresholds": ["100"],
    }
    data = {"key": f"probe-{next(_names)}", "name_zh": "探针", "definition": definition}
    return not _refused(lambda: segments.classification_create(actor=w.actor, data=data))


def probe_edit_discounts(w: World, account: Account) -> bool:
    from patron.discounts import services as discounts

    return not _refused(lambda: discounts.policy_create(actor=w.actor, data={"name": f"probe {next(_names)}"}))


def probe_edit_rebates(w: World, account: Account) -> bool:
    from patron.rebates import services as rebates

    data = {
        "name": f"probe {next(_names)}",
        "effective_from": "2026-01-01",
        "terms": {"tiers": [{"from": "0", "percent": "1"}]},
    }
    return not _refused(lambda: rebates.program_create(actor=w.actor, data=data))


def probe_edit_coupons(w: World, account: Account) -> bool:
    from patron.coupons import services as coupons

    data = {
        "name": f"probe {next(_names)}",
        "starts_at": "2026-01-01T00:00",
        "terms": {"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "5"}},
    }
    return not _refused(lambda: coupons.campaign_create(actor=w.actor, data=data))


def probe_settle_rebates(w: World, account: Account) -> bool:
    import datetime as dt

    from patron.rebates.models import RebateProgram
    from patron.rebates.settlement import settlement_start

    program = RebateProgram.objects.create(
        name=f"probe {next(_names)}",
        status=RebateProgram.ACTIVE,
        effective_from=dt.date(2026, 1, 1),
        terms={"tiers": [{"from": "0", "percent": "1"}]},
        owner=w.actor,
    )
    return not _refused(lambda: settlement_start(actor=w.actor, program=program, day=dt.date(2026, 1, 15)))


PROBES: dict[Action, Callable[[World, Account], bool]] = {
    Action.VIEW_ACCOUNT: probe_view_account,
    Action.EDIT_ACCOUNT: probe_edit_account,
    Action.CREATE_ACCOUNT: probe_create_account,
    Action.VIEW_PRIVATE_NOTES: probe_view_private_notes,
    Action.VIEW_RECEIVABLES: probe_view_receivables,
    Action.RECORD_ORDER: probe_record_order,
    Action.RECORD_INVOICE: probe_record_invoice,
    Action.RECORD_PAYMENT: probe_record_payment,
    Action.VIEW_HISTORY: probe_view_history,
    Action.EXPORT_ACCOUNTS: probe_export_accounts,
    Action.EDIT_PRODUCT: probe_edit_product,
    Action.MANAGE_SETTINGS: probe_manage_settings,
    Action.MERGE_ACCOUNTS: probe_merge_accounts,
    Action.EDIT_SEGMENTS: probe_edit_segments,
    Action.EDIT_DISCOUNTS: probe_edit_discounts,
    Action.EDIT_REBATES: probe_edit_rebates,
    Action.SETTLE_REBATES: probe_settle_rebates,
    Action.EDIT_COUPONS: probe_edit_coupons,
}

# Actions that are not about one account: the table grants them for all relations or none.
NOT_PER_ACCOUNT = {
    Action.CREATE_ACCOUNT,
    Action.EDIT_PRODUCT,
    Action.MANAGE_SETTINGS,
    Action.EDIT_SEGMENTS,
    Action.EDIT_DISCOUNTS,
    Action.EDIT_REBATES,
    Action.SETTLE_REBATES,
    Action.EDIT_COUPONS,
}


def test_every_action_has_a_probe():
    assert set(PROBES) == set(Action)


@pytest.mark.parametrize("action", sorted(NOT_PER_ACCOUNT))
@pytest.mark.parametrize("role", list(Role))
def test_actions_not_about_one_account_are_all_or_nothing_in_the_table(role, action):
    assert reach(role, action) in (frozenset(), frozenset(Relation))


@pytest.mark.parametrize("relation", list(Relation))
@pytest.mark.parametrize("role", list(Role))
def test_the_services_and_selectors_follow_the_table(world_for, role, relation):
    """One world per role and relation; every action probed in it (probes do not disturb each other)."""
    world = world_for(role)
    account = Account.objects.select_related("owner__team").get(pk=world.accounts[relation].pk)
    owner_team = account.owner.team if account.owner else None
    assert relation_to(world.actor, account.owner_id, owner_team.manager_id if owner_team else None) == relation
    wrong = []
    for action, probe in PROBES.items():
        expected = allows(role, action, relation)
        if probe(world, Account.objects.get(pk=account.pk)) is not expected:
            wrong.append(f"{role} {action} on {relation} account: expected {'allowed' if expected else 'refused'}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", list(Role))
def test_a_refused_write_leaves_no_trace(world_for, role):
    world = world_for(role)
    account = world.accounts[Relation.OTHER]
    before = (AuditEvent.objects.count(), Activity.objects.count(), account.orders.count(), account.invoices.count())
    for action in (Action.EDIT_ACCOUNT, Action.RECORD_ORDER, Action.RECORD_INVOICE, Action.RECORD_PAYMENT):
        if not allows(role, action, Relation.OTHER):
            PROBES[action](world, account)
    after = (AuditEvent.objects.count(), Activity.objects.count(), account.orders.count(), account.invoices.count())
    assert after == before


def test_an_inactive_user_may_do_nothing(world_for):
    world = world_for(Role.ADMIN)
    world.actor.is_active = False
    world.actor.save()
    for action, probe in PROBES.items():
        assert probe(world, world.accounts[Relation.OWN]) is False, action


def test_a_superuser_is_an_admin_whatever_the_role_field_says(world_for):
    world = world_for(Role.MARKETING)
    world.actor.is_superuser = True
    world.actor.save()
    for action, probe in PROBES.items():
        assert probe(world, world.accounts[Relation.OTHER]) is True, action


def test_an_account_without_owner_is_someone_elses(world_for):
    world = world_for(Role.SALESPERSON)
    orphan = make_account(None, code="ORPHAN")
    assert probe_view_account(world, orphan) is False
    assert probe_edit_account(world, orphan) is False
    assert probe_view_account(world_for(Role.FINANCE), orphan) is True


def test_the_timeline_carries_what_the_probes_look_for(world_for):
    world = world_for(Role.ADMIN)
    account = world.accounts[Relation.OTHER]
    kinds = set(account_timeline(user=world.actor, account=account).values_list("kind", flat=True))
    assert {"order", "invoice", "payment", "call"} <= kinds


@pytest.mark.parametrize("role", list(Role))
def test_the_owners_in_reach_are_the_accounts_in_reach(world_for, role):
    """``scope_owners`` (a list of owners, for queries over most accounts) reaches what ``scoped`` does."""
    from patron.accounts.access import scope_owners

    world = world_for(role)
    make_account(None, code=f"ORPHAN-{role.value}")  # nobody's: only those who reach every account see it
    for action in Action:
        owners = scope_owners(world.actor, action)
        by_owner = Account.objects.all() if owners is None else Account.objects.filter(owner_id__in=owners)
        assert set(by_owner) == set(scoped(Account.objects.all(), world.actor, action)), action
    world.actor.is_active = False
    assert scope_owners(world.actor, Action.VIEW_ACCOUNT) == []
