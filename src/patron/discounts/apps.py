from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DiscountsConfig(AppConfig):
    """Discount policies and their rules, the quote every price comes from, and discount limits."""

    name = "patron.discounts"
    label = "discounts"
    verbose_name = _("Discounts")
