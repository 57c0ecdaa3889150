from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    """Indicators, classifications and their dated snapshots; churn and lifetime value."""

    name = "patron.segments"
    label = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_builtins_back, sender=self)


def _builtins_back(sender: Any, apps: Any = None, using: str = "default", **kwargs: Any) -> None:
    """The built-in classifications, made again when missing after ``migrate`` or a ``flush`` (which
    empties every table, and after which Django sends this signal): the migrations made them once, and a
    flushed database (a test's, or one emptied by hand) would otherwise have none."""
    from .models import Classification
    from .services import install_builtins

    if using != "default":
        return
    if apps is not None:  # after migrate: the tables as the migrations left them
        try:
            state = apps.get_model("segments", "Classification")
        except LookupError:  # migrated back to before the app's tables
            return
        if {f.name for f in state._meta.fields} != {f.name for f in Classification._meta.fields}:
            return  # migrated back to an older table: the migrations made what it had
    install_builtins()
