from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "patron.service"
    verbose_name = _("Follow-up and service")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every app's scheduled jobs register themselves (patron.service.jobs) when their tasks module is read;
        # the worker reads them all, and so must the web process that shows the scheduler's health.
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("tasks")
