from __future__ import annotations

from dataclasses import dataclass

import pytest

from patron.staff.models import Team, User
from tests.audit_flush import flushable_audit_trail  # noqa: F401  (autouse fixture)
from tests.factories import make_user


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
