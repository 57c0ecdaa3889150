from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    name = "patron.pipeline"
    verbose_name = _("Opportunities and pipeline")
    default_auto_field = "django.db.models.BigAutoField"
