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


class Command(BaseCommand):
    help = "Serve Patron's pages and API, with the huey worker, until interrupted."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("PATRON_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PATRON_PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="do not start the background worker")

    def handle(self, *args: Any, host: str, port: int, no_worker: bool, **options: Any) -> None:
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
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False, use_threading=True, skip_checks=True)
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGINT)
                worker.wait(timeout=10)
