from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "patron.service"
    verbose_name = _("Follow-up and service")
    default_auto_field = "django.db.models.BigAutoField"
