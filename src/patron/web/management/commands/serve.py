"""``patron serve``: the web server (pages and API) and the background worker together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


def gunicorn_command(bind: str, workers: int, threads: int, *, extra: tuple[str, ...] = ()) -> list[str]:
    """How Patron's web server runs, for ``patron serve`` and the HTTP benchmark alike.

    One process per core uses every core (Django's runserver is one process, for development).
    More processes or threads than cores measured slower (benchmarks/bench_quotes_http.py: 2 x 1 on
    2 cores ~300 quotes/s, 2 x 2 ~257, 4 x 4 ~200): the work is CPU-bound and the GIL is per process.
    """
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "patron.config.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(max(1, workers)),
        "--worker-class",
        "gthread",
        "--threads",
        str(max(1, threads)),
        "--graceful-timeout",
        "10",
        "--log-level",
        "warning",
        *extra,
    ]


class Command(BaseCommand):
    help = "Serve Patron's pages and API, with the huey worker, until interrupted."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("PATRON_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PATRON_PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="do not start the background worker")
        parser.add_argument(
            "--web-workers",
            type=int,
            default=int(os.environ.get("PATRON_WEB_WORKERS", "0")) or (os.cpu_count() or 1),
            help="web server processes (default: one per CPU core)",
        )
        parser.add_argument(
            "--web-threads",
            type=int,
            default=int(os.environ.get("PATRON_WEB_THREADS", "1")),
            help="threads per web server process (default 1: Patron's requests are short and CPU-bound)",
        )

    def handle(
        self, *args: Any, host: str, port: int, no_worker: bool, web_workers: int, web_threads: int, **options: Any
    ) -> None:
        call_command("collectstatic", interactive=False, verbosity=0)
        worker = None
        if not no_worker:
            worker = subprocess.Popen([sys.executable, "-m", "patron.cli", "run_huey", "--quiet"])
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"Patron is running at {url}"))
        self.stdout.write(f"  API docs: {url}api/docs   admin: {url}admin/")
        self.stdout.write(f"  database: {settings.DATABASES['default']['NAME']}")
        from patron.web.demo_users import DEMO_PASSWORD, DEMO_USERS

        self.stdout.write(f"  demo sign-ins (password for all: {DEMO_PASSWORD}):")
        for username, role, _team in DEMO_USERS:
            self.stdout.write(f"    {username:<12} {role}")
        self.stdout.write("Press Ctrl+C to stop.")
        web = subprocess.Popen(gunicorn_command(f"{host}:{port}", web_workers, web_threads))  # noqa: S603
        try:
            web.wait()
        except KeyboardInterrupt:
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=15)
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGINT)
                worker.wait(timeout=10)
