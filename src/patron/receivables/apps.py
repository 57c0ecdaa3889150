from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReceivablesConfig(AppConfig):
    name = "patron.receivables"
    label = "receivables"
    verbose_name = _("Receivables and collections")
    default_auto_field = "django.db.models.BigAutoField"
