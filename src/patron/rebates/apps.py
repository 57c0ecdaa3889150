from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RebatesConfig(AppConfig):
    name = "patron.rebates"
    verbose_name = _("Rebates")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from patron.sales import hooks

        from . import accrual

        hooks.on_documents_changed(accrual.documents_changed)
