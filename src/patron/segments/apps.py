from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    """Indicators, classifications and their dated snapshots; churn and lifetime value."""

    name = "patron.segments"
    label = "segments"
    verbose_name = _("Segments")
