from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.utils import translation

from patron.staff.models import Team, User
from tests.audit_flush import flushable_audit_trail  # noqa: F401  (autouse fixture)
from tests.factories import make_user


@pytest.fixture(autouse=True)
def _settings_language() -> Iterator[None]:
    """Each test starts in settings.LANGUAGE_CODE (en).

    A request activates its user's language on the thread that serves it, the test's own under the test
    client, and nothing switches it back: without this, a service's message in one test would be in the
    language of whichever user made the last request in an earlier test.
    """
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_rule_book() -> Iterator[None]:
    """Each test prices with a rule book built from its own database.

    A process keeps its rule book (with products and limits) until the stamp moves; a test that
    writes a limit or a product straight to the database, not through a service, does not move it,
    and the database of the test before may have had the same stamp.
    """
    from patron.discounts import mappers

    mappers.forget()
    yield
    mappers.forget()


@dataclass
class Staff:
    """One user per role, in two teams: South (manager, sales, sales2) and North (manager2, sales3)."""

    admin: User
    manager: User
    sales: User
    sales2: User
    manager2: User
    sales3: User
    finance: User
    marketing: User


@pytest.fixture
def staff(db: None) -> Staff:
    south = Team.objects.create(name="South")
    north = Team.objects.create(name="North")
    manager = make_user("manager", "sales_manager", south)
    manager2 = make_user("manager2", "sales_manager", north)
    south.manager = manager
    south.save()
    north.manager = manager2
    north.save()
    return Staff(
        admin=make_user("admin", "admin", is_staff=True, is_superuser=True),
        manager=manager,
        sales=make_user("sales", "salesperson", south),
        sales2=make_user("sales2", "salesperson", south),
        manager2=manager2,
        sales3=make_user("sales3", "salesperson", north),
        finance=make_user("finance", "finance"),
        marketing=make_user("marketing", "marketing"),
    )
