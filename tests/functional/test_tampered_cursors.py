"""A paging cursor is user input: a forged one is refused or ignored, never a server error."""

import base64
import json

import pytest

from tests.factories import make_account, make_order


def forged(value, pk=1):
    return base64.urlsafe_b64encode(json.dumps([value, pk]).encode()).decode().rstrip("=")


CURSORS = [forged("abc"), forged("x"), forged([1]), forged("zzz", 2**70), forged("a\x00b"), forged(1.5), "%%%"]


@pytest.mark.parametrize("cursor", CURSORS)
@pytest.mark.parametrize(
    "path",
    [
        "/accounts/?sort=created_at&after={c}",
        "/accounts/?after={c}",
        "/sales/orders/?after={c}",
        "/sales/invoices/?after={c}",
        "/sales/payments/?after={c}",
        "/sales/products/?after={c}",
        "/accounts/{code}/?timeline={c}",
        "/accounts/{code}/history/?after={c}",
    ],
)
def test_pages_survive_forged_cursors(client, staff, path, cursor):
    account = make_account(staff.sales)
    make_order(staff.sales, account)
    client.force_login(staff.admin)
    response = client.get(path.format(c=cursor, code=account.code))
    assert response.status_code in (200, 400, 422)


@pytest.mark.parametrize("cursor", CURSORS)
def test_the_api_answers_forged_cursors_with_422(staff, cursor):
    from tests.api_client import ApiClient

    api = ApiClient(staff.admin)
    for path in ("/api/accounts?sort=-created_at", "/api/orders", "/api/payments"):
        response = api.get(f"{path}{'&' if '?' in path else '?'}cursor={cursor}")
        assert response.status_code == 422, path
