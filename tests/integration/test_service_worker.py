"""The follow-up jobs run from the real background worker, at the times their schedules say.

The worker is ``patron run_huey`` in a process of its own (the project's huey instance, on a SqliteHuey file
of its own) on a clock this test sets (``tests.worker_clock``), reaching the test database (PostgreSQL's, or
SQLite's copied to a file) and a real SMTP server. The hourly cadence job makes the tasks on the day they are
due and not before; the reminder job emails each owner before a task falls due and once more when it is
overdue; a worker killed (SIGKILL) in the middle of the emails and started again sends nobody a reminder
twice; and every run is on record (``JobRun``) at the clock's times.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from patron.accounts.services import activity_add
from patron.service import cadences, jobs, services
from patron.service.models import Cadence, JobRun, ReminderEmail, ReminderRun, Task
from tests.factories import make_account, make_user
from tests.smtp import Inbox, SmtpServer, serving_smtp
from tests.worker_clock import set_clock

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2030, 3, 4)  # far from the machine's own date: only the worker's clock says what day it is
OWNERS = 6


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


@dataclass
class HoldingInbox(Inbox):
    """Keeps what it accepts; the ``hold``-th message sent to it waits, not accepted, until ``released``, and is
    then turned away (451): the message a worker was handing over when it died, never delivered."""

    hold: int = 0
    seen: int = 0
    holding: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        self.seen += 1
        if self.seen == self.hold:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.released.wait, 60)
            return "451 Requested action aborted: try again later"
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Worker:
    """``patron run_huey`` on the test's clock, its output kept in ``log``."""

    env: dict[str, str]
    clock: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, at: dt.datetime) -> None:
        set_clock(self.clock, at)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                # A worker with nothing to do looks at the queue again after at most half a second (huey's
                # --max-delay; 10 by default): the test waits for each job, not for the worker to wake up.
                [sys.executable, "-m", "tests.worker_clock", "--max-delay", "0.5"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=out,
            )

    def move(self, to: dt.datetime) -> None:
        set_clock(self.clock, to)

    def kill(self) -> None:
        """As a crash would: no cleanup, nothing after what was committed."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def wait_for(self, check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if self.process is None or self.process.poll() is not None:
                pytest.fail(f"the worker stopped while waiting for {what}:\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} after {timeout:.0f}s:\n{self.tail()}")
            time.sleep(0.05)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The test database as another process reaches it. PostgreSQL's as it is; SQLite's, when it lives in
    memory (this process's alone), copied to a file that this process uses too for the test's length."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        yield f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        return
    if not connection.is_in_memory_db():
        yield f"sqlite:///{Path(db['NAME']).resolve()}"
        return
    path = tmp_path / "patron.sqlite3"
    connection.ensure_connection()
    memory = connection.connection
    copy = sqlite3.connect(path)
    memory.backup(copy)  # the migrated schema and what the migrations wrote
    copy.close()
    name = db["NAME"]
    connection.connection = None  # kept aside, not closed: closing would lose the in-memory database
    db["NAME"] = str(path)
    try:
        yield f"sqlite:///{path}"
    finally:
        connection.close()
        db["NAME"] = name
        connection.connection = memory


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    with serving_smtp(settings, HoldingInbox()) as server:
        yield server


@pytest.fixture
def worker(database_url: str, smtp: SmtpServer, tmp_path: Path) -> Iterator[Worker]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "patron.config.settings",  # the real settings: a queue, not immediate
        "PATRON_DATABASE_URL": database_url,
        "PATRON_VAR_DIR": str(tmp_path / "var"),  # the SqliteHuey file, var/huey.sqlite3, is the test's own
        "PATRON_HUEY_IMMEDIATE": "0",
        "PATRON_REDIS_URL": "",
        "PATRON_EMAIL_HOST": smtp.host,
        "PATRON_EMAIL_PORT": str(smtp.port),
        "PATRON_EMAIL_USER": "",
        "PATRON_EMAIL_PASSWORD": "",
        "PATRON_EMAIL_TLS": "0",
        "PATRON_PUBLISH_PER_SECOND": "0",
        "PATRON_TEST_CLOCK": str(tmp_path / "clock"),
    }
    process = Worker(env, tmp_path / "clock", tmp_path / "worker.log")
    try:
        yield process
    finally:
        smtp.inbox.released.set()  # type: ignore[attr-defined]
        process.stop()


def finished(name: str) -> int:
    return JobRun.objects.filter(name=name, finished_at__isnull=False).count()


def test_the_worker_plans_and_reminds_on_time_and_a_worker_killed_midway_sends_nobody_twice(staff, smtp, worker):
    inbox: HoldingInbox = smtp.inbox  # type: ignore[assignment]
    owners = [
        make_user(f"owner{n}", "salesperson", email=f"owner{n}@patron.example", language="en")
        for n in range(1, OWNERS + 1)
    ]
    accounts = [make_account(owner, code=f"KEY{n}", preferred_channel="phone") for n, owner in enumerate(owners, 1)]
    for account in accounts:
        activity_add(account=account, kind="call", subject="Called", occurred_at=local(DAY - days(13), 16))
    cadences.cadence_save(
        actor=staff.manager, data={"name": "Key revisit", "rule": "every", "days": "14", "subject": "Revisit"}
    )

    # (a) The hourly cadence job (minute 5): thirteen days after the last call nothing is due yet ...
    worker.start(at=local(DAY, 10, 5))
    worker.wait_for(lambda: finished("cadences") == 1, "the cadence job's run")
    assert Task.objects.count() == 0
    # ... on the fourteenth day its first run makes each account's task, for the owner, due that day at 10.
    worker.move(to=local(DAY + days(1), 0, 5))
    worker.wait_for(lambda: finished("cadences") == 2, "the cadence job's second run")
    tasks = list(Task.objects.order_by("account__code"))
    assert [(t.account, t.owner, t.kind, t.subject, t.source) for t in tasks] == [
        (account, account.owner, "call", "Revisit", "cadence") for account in accounts
    ]
    assert {timezone.localtime(t.due_at) for t in tasks} == {local(DAY + days(1), 10)}
    assert Cadence.objects.get().last_run_tasks == OWNERS
    assert inbox.seen == 0  # the reminder job has not run yet: it runs each quarter hour

    # (b, c) The reminder job (each quarter hour) emails each owner before the task falls due; the worker is
    # killed while it hands over the third email, two sent, the others waiting ...
    inbox.hold = inbox.seen + 3
    worker.move(to=local(DAY + days(1), 0, 15))
    worker.wait_for(inbox.holding.is_set, "the third reminder on its way")
    run = ReminderRun.objects.get()
    assert ReminderEmail.objects.filter(run=run, status="sent").count() == 2
    worker.kill()
    inbox.released.set()
    assert len(inbox.messages) == 2
    assert ReminderEmail.objects.filter(run=run, status="queued").count() == OWNERS - 2
    # ... and started again at the next quarter hour (the dead sender's lease is over) sends the others.
    worker.start(at=local(DAY + days(1), 0, 30))
    worker.wait_for(lambda: ReminderRun.objects.get().status == ReminderRun.DONE, "the reminders all sent")
    assert Counter(m.rcpt_tos[0] for m in inbox.messages) == {owner.email: 1 for owner in owners}
    assert {m.subject for m in inbox.messages} == {"1 coming due"}
    assert all("Revisit" in m.body for m in inbox.messages)

    # The next day the tasks still open are overdue: one more email each, and none for the task done.
    services.task_complete(actor=owners[0], task=tasks[0], outcome="reached")
    worker.move(to=local(DAY + days(2), 0, 15))
    worker.wait_for(lambda: ReminderRun.objects.filter(status=ReminderRun.DONE).count() == 2, "the overdue reminders")
    overdue = inbox.messages[OWNERS:]
    assert sorted(m.rcpt_tos[0] for m in overdue) == [owner.email for owner in owners[1:]]
    assert {m.subject for m in overdue} == {"1 follow-up overdue"}
    assert Counter(m.rcpt_tos[0] for m in inbox.messages) == {
        owner.email: 1 if owner == owners[0] else 2 for owner in owners
    }

    # (d) Every run is on record at the worker's clock's times, finished and successful, the killed worker's
    # too (the sending is a task of its own; the job that started it had finished).
    assert worker.stop() is not None
    started: dict[str, list[dt.datetime]] = {}
    for name, at in JobRun.objects.order_by("started_at").values_list("name", "started_at"):
        started.setdefault(name, []).append(timezone.localtime(at).replace(second=0, microsecond=0))
    assert started["cadences"] == [local(DAY, 10, 5), local(DAY + days(1), 0, 5)]
    assert started["reminders"] == [
        local(DAY + days(1), 0, 15),
        local(DAY + days(1), 0, 30),
        local(DAY + days(2), 0, 15),
    ]
    assert not JobRun.objects.filter(finished_at__isnull=True).exists()
    assert not JobRun.objects.exclude(ok=True).exists()
    health = {h.job.name: h for h in jobs.job_health(now=local(DAY + days(2), 0, 20))}
    assert health["reminders"].state == jobs.OK
    assert health["cadences"].state == jobs.MISSED  # the clock jumped a day: no hourly run since 00:05 yesterday
