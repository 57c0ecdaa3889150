"""A throwaway PostgreSQL server for a benchmark (scripts/pg.sh), and the CPU its processes use."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


class Server:
    """``scripts/pg.sh start`` in a temporary directory; ``stop()`` removes it again."""

    def __init__(self, prefix: str = "patron-bench-pg-") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.dir.chmod(0o755)
        out = subprocess.run(
            ["bash", str(ROOT / "scripts" / "pg.sh"), "start", str(self.dir / "pg")],
            capture_output=True,
            text=True,
            check=True,
        )
        self.url = out.stdout.strip().splitlines()[-1]
        port = urlparse(self.url).port
        psql = Path(_bindir()) / "psql"
        subprocess.run(
            [str(psql), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-qc", "CREATE DATABASE patron"],
            check=True,
        )

    def stop(self) -> None:
        subprocess.run(["bash", str(ROOT / "scripts" / "pg.sh"), "stop", str(self.dir / "pg")], check=False)
        subprocess.run(["rm", "-rf", str(self.dir)], check=False)


def _bindir() -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return str(versions[-1])


def setup_django(url: str, var_dir: Path) -> None:
    """Point Patron at ``url``, set Django up and migrate (once per process)."""
    os.environ["PATRON_DATABASE_URL"] = url
    os.environ["PATRON_VAR_DIR"] = str(var_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "patron.config.settings"
    os.environ.setdefault("PATRON_LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _stat(pid: int | str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # from the state on: ppid is [1], utime..cstime [11:15]


def postgres_cpu_seconds(server: Server) -> float:
    """CPU (user + system) of this server's processes so far.

    Ended ones (parallel index workers) count in the postmaster's own figures for its children.
    """
    postmaster = int((server.dir / "pg" / "data" / "postmaster.pid").read_text().split()[0])
    fields = _stat(postmaster)
    if fields is None:
        return 0.0
    total = sum(int(x) for x in fields[11:15])
    for stat in Path("/proc").glob("[0-9]*/stat"):
        child = _stat(stat.parent.name)
        if child is not None and child[1] == str(postmaster):
            total += int(child[11]) + int(child[12])
    return total / TICKS
