"""Set up Django for a benchmark on a fresh SQLite database in a temporary directory."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def fresh_environment(prefix: str = "patron-bench-") -> Path:
    """Point Patron at a new temporary directory (database, var dir); returns the directory."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["PATRON_VAR_DIR"] = str(tmp / "var")
    os.environ["PATRON_DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "patron.config.settings"
    os.environ.setdefault("PATRON_LOG_LEVEL", "WARNING")
    return tmp


def setup_django(prefix: str = "patron-bench-") -> Path:
    """A fresh environment, Django set up and the database migrated (once per process)."""
    tmp = fresh_environment(prefix)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return tmp


def remove(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
