"""The ``patron`` command: Django's management commands under Patron's name.

``patron demo`` loads the demo data, ``patron serve`` runs web server and worker,
``patron token`` issues API tokens; every Django command (migrate, createsuperuser,
run_huey, ...) works too.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["patron", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
