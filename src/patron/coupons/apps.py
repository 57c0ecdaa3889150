from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CouponsConfig(AppConfig):
    name = "patron.coupons"
    verbose_name = _("Coupons")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from patron.sales import hooks

        from . import redemption

        hooks.set_coupon_provider(redemption.PROVIDER)
        hooks.on_documents_changed(redemption.documents_changed)
