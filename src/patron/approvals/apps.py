from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    """Requests for a manager's or an admin's yes (discounts beyond a limit, prices below the floor, settlements)."""

    name = "patron.approvals"
    label = "approvals"
    verbose_name = _("Approvals")
