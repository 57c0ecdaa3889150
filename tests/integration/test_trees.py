import pytest
from django.core.exceptions import ValidationError

from patron.accounts.models import Region
from patron.accounts.selectors import AccountFilters, account_list
from tests.factories import make_account, make_region_tree


def test_a_region_cannot_be_its_own_parent_or_below_itself(db):
    regions = make_region_tree()
    gd = regions["GD"]
    gd.parent = gd
    with pytest.raises(ValidationError) as err:
        gd.full_clean()
    assert "parent" in err.value.message_dict
    gd.parent = regions["SZ"]
    with pytest.raises(ValidationError):
        gd.full_clean()


def test_renaming_a_region_moves_everything_below_it(staff):
    regions = make_region_tree()
    in_city = make_account(staff.sales, region=regions["SZ"])
    gd = regions["GD"]
    gd.code = "GDX"
    gd.save()
    assert Region.objects.get(code="SZ").path == "CN/GDX/SZ/"
    found = account_list(user=staff.admin, filters=AccountFilters(region="GDX"))
    assert [a.code for a in found] == [in_city.code]


def test_moving_a_province_to_another_country_moves_its_cities(db):
    regions = make_region_tree()
    other = Region.objects.create(code="XX", name_zh="别国", level="country")
    zj = regions["ZJ"]
    zj.parent = other
    zj.save()
    assert Region.objects.get(code="HZ").path == "XX/ZJ/HZ/"
    assert Region.objects.get(code="HZ").full_name() == "别国 / Zhejiang / Hangzhou"
