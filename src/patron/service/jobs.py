"""The scheduler's health: every scheduled job records each run, so a page shows the last run of each, the
next one expected, the failures, and a run that did not happen when it should have.

``recorded`` wraps a job's body: a ``JobRun`` row when it starts, its end and whether it failed.
``job_health`` compares each registered job's last start with its interval: a job whose last start is
older than twice its interval (or that never ran since Patron has been up that long) *missed* its time;
one whose last run failed is *failing*. ``jobs_watch`` (itself a job) emails the admins once per
incident; the page and the banner show it whether or not the worker is alive.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("patron.jobs")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    label: Promise


JOBS: dict[str, Job] = {}


def recorded(name: str, every: dt.timedelta, label: Promise) -> Callable[[F], F]:
    JOBS[name] = Job(name, every, label)

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            from .models import JobRun

            row = JobRun.objects.create(name=name, started_at=timezone.now())
            try:
                result = func(*args, **kwargs)
            except Exception as exc:
                JobRun.objects.filter(pk=row.pk).update(
                    finished_at=timezone.now(), ok=False, error=f"{type(exc).__name__}: {exc}"[:4000]
                )
                logger.exception("job %s failed", name)
                raise
            JobRun.objects.filter(pk=row.pk).update(finished_at=timezone.now(), ok=True)
            return result

        return run  # type: ignore[return-value]

    return wrap


OK, FAILING, MISSED, NEVER = "ok", "failing", "missed", "never"


@dataclass
class Health:
    job: Job
    last_start: dt.datetime | None
    last_ok: dt.datetime | None
    next_expected: dt.datetime | None
    failures_24h: int
    last_error: str
    state: str


INSTALLED_GRACE = dt.timedelta(days=1)


def _up_since(stats: dict[str, Any]) -> dt.datetime | None:
    """Since when every job should have been running: the watch's first run (it runs every few minutes from
    the worker's start, so the worker was alive then); with no run of any job at all, a day after Patron's
    follow-up tables were made, so a worker that never started shows too."""
    if stats.get("jobs_watch", {}).get("first"):
        return stats["jobs_watch"]["first"]
    if stats:
        return None  # some job ran (by hand, or a worker without the watch): no claim about the others
    from django.db.migrations.recorder import MigrationRecorder

    applied = (
        MigrationRecorder.Migration.objects.filter(app="service")
        .order_by("applied")
        .values_list("applied", flat=True)
        .first()
    )
    return applied + INSTALLED_GRACE if applied is not None else None


def job_health(now: dt.datetime | None = None, *, errors: bool = False) -> list[Health]:
    """Every registered job's state, from one aggregate query (the banner asks on every admin page);
    ``errors`` also reads the last failure's message (the scheduler's page)."""
    from django.db.models import Count, Max, Min, Q

    from .models import JobRun

    now = now or timezone.now()
    stats = {
        row["name"]: row
        for row in JobRun.objects.values("name")
        .annotate(
            first=Min("started_at"),
            last=Max("started_at"),
            last_ok=Max("started_at", filter=Q(ok=True)),
            last_failed=Max("started_at", filter=Q(ok=False)),
            failures=Count("id", filter=Q(ok=False, started_at__gte=now - dt.timedelta(hours=24))),
        )
        .order_by()
    }
    up_since = _up_since(stats)
    out = []
    for job in sorted(JOBS.values(), key=lambda j: j.name):
        row = stats.get(job.name, {})
        last, failed = row.get("last"), row.get("last_failed")
        if last is None:
            # Never ran: missed once the worker has been seen running (or Patron installed a day) long enough.
            state = MISSED if up_since is not None and now - up_since > 2 * job.every else NEVER
        elif now - last > 2 * job.every:
            state = MISSED
        elif failed is not None and failed == last:  # the latest run failed
            state = FAILING
        else:
            state = OK
        error = ""
        if errors and failed is not None and failed == last:
            error = (
                JobRun.objects.filter(name=job.name, ok=False)
                .order_by("-started_at", "-id")
                .values_list("error", flat=True)
                .first()
                or ""
            )
        out.append(
            Health(
                job=job,
                last_start=last,
                last_ok=row.get("last_ok"),
                next_expected=last + job.every if last else None,
                failures_24h=row.get("failures", 0),
                last_error=error,
                state=state,
            )
        )
    return out


def jobs_troubled(now: dt.datetime | None = None) -> list[Health]:
    return [h for h in job_health(now) if h.state in (MISSED, FAILING)]


def jobs_watch(now: dt.datetime | None = None) -> int:
    """Email the admins about each job that missed its time or is failing, once per incident (the run it
    was last seen start); how many alerts went out."""
    from django.conf import settings
    from django.core.mail import send_mail
    from django.db import IntegrityError, transaction
    from django.utils import translation

    from patron.staff.models import User

    from .models import JobAlert

    now = now or timezone.now()
    admins = list(User.objects.filter(role="admin", is_active=True).exclude(email=""))
    sent = 0
    for health in [h for h in job_health(now, errors=True) if h.state in (MISSED, FAILING)]:
        since = health.last_start or now
        try:
            with transaction.atomic():
                JobAlert.objects.create(name=health.job.name, problem=health.state, since=since)
                for admin in admins:
                    with translation.override(admin.language):
                        subject = (
                            _("Patron: the job “%(job)s” missed its time")
                            if health.state == MISSED
                            else _("Patron: the job “%(job)s” is failing")
                        ) % {"job": health.job.label}
                        body = _("Last run: %(last)s. Last error: %(error)s. See %(url)s") % {
                            "last": timezone.localtime(since).strftime("%Y-%m-%d %H:%M") if health.last_start else "-",
                            "error": health.last_error or "-",
                            "url": settings.PATRON_BASE_URL.rstrip("/") + "/service/jobs/",
                        }
                    send_mail(str(subject), str(body), settings.DEFAULT_FROM_EMAIL, [admin.email])
                sent += 1
        except IntegrityError:
            continue  # told already
    return sent
