"""The navigation follows the access table: an entry shows when its action is allowed somewhere."""

import pytest


def nav_links(client, user):
    client.force_login(user)
    html = client.get("/").content.decode()
    nav = html.split('class="mainnav"', 1)[1].split("</nav>", 1)[0]
    return {
        path
        for path in ("/accounts/", "/sales/orders/", "/sales/invoices/", "/sales/products/", "/imports/")
        if path in nav
    }


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("admin", {"/accounts/", "/sales/orders/", "/sales/invoices/", "/sales/products/", "/imports/"}),
        ("sales", {"/accounts/", "/sales/orders/", "/sales/invoices/", "/sales/products/", "/imports/"}),
        ("finance", {"/accounts/", "/sales/orders/", "/sales/invoices/", "/sales/products/", "/imports/"}),
        ("marketing", {"/accounts/", "/sales/orders/", "/sales/products/"}),
    ],
)
def test_navigation_shows_what_the_role_may_open(client, staff, role, expected):
    assert nav_links(client, getattr(staff, role)) == expected
