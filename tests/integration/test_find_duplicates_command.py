"""``patron find_duplicates`` catches up on every changed account at once."""

from io import StringIO

from django.core.management import call_command

from patron.accounts import duplicates
from patron.accounts.models import AccountMatchState, DuplicatePair
from tests.factories import make_account


def test_the_command_compares_every_changed_account_however_many(staff, monkeypatch):
    monkeypatch.setattr(duplicates, "CHUNK", 2)  # several rounds with a handful of accounts
    for n in range(25):
        make_account(staff.sales, name=f"Acme Trading {n // 2}")
    out = StringIO()
    call_command("find_duplicates", stdout=out)
    assert AccountMatchState.objects.count() == 25
    assert DuplicatePair.objects.filter(account_a__name="Acme Trading 0", account_b__name="Acme Trading 0").exists()
    assert out.getvalue().startswith("25 accounts compared")
    assert duplicates.refresh() == duplicates.RefreshResult(worked_out=0, more=False)
