"""Background work for discounts, on the huey queue (``run_huey`` imports each app's ``tasks``)."""

from .analysis_tasks import what_if_run  # noqa: F401
from .publication_tasks import resume_publications, send_publication  # noqa: F401
