"""``patron serve``'s web server command, shared with the HTTP benchmark."""

from __future__ import annotations

import os
import subprocess

from django.conf import settings

from patron.web.management.commands.serve import gunicorn_command


def test_the_web_server_command_is_one_gunicorn_accepts():
    command = gunicorn_command("127.0.0.1:0", 0, 0, extra=("--timeout", "40"))
    assert command[command.index("--workers") + 1] == "1"  # never zero processes or threads
    assert command[command.index("--threads") + 1] == "1"
    assert command[-2:] == ["--timeout", "40"]
    env = dict(os.environ, PATRON_VAR_DIR=str(settings.VAR_DIR))
    checked = subprocess.run(
        [*command, "--check-config"], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert checked.returncode == 0, checked.stderr
