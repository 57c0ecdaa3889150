"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 at a free port, keeping what it receives.

``serving_smtp(settings)`` starts the server and points Django's email settings at it
for as long as the ``with`` block lasts; ``smtp_server`` is the same as a fixture.
"""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message as the server saw it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        # A long encoded subject is folded onto the next line ("Subject:\r\n =?utf-8?b?...?="); the
        # unfolded value keeps that line's leading blank, which mail programs do not show.
        return str(self.message["Subject"]).strip()

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, "the message has no text/plain part"
        # SMTP carries lines ending in CRLF; give the text back with the newlines it was written with.
        return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


@dataclass
class Inbox:
    """An aiosmtpd handler that stores every message it accepts."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox

    @property
    def messages(self) -> list[Received]:
        return self.inbox.messages


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving_smtp(settings: Any, inbox: Inbox | None = None) -> Iterator[SmtpServer]:
    """Start aiosmtpd, point Django's mail settings (the pytest-django ``settings`` fixture) at it, stop it;
    ``inbox``: a handler of the test's own (one that holds a message, say)."""
    host = "127.0.0.1"
    inbox = inbox if inbox is not None else Inbox()
    controller = Controller(inbox, hostname=host, port=free_port(host), ready_timeout=10)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = host
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield SmtpServer(host, controller.port, inbox)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    """The server as a fixture, for a conftest to import; a test module can use ``serving_smtp``."""
    with serving_smtp(settings) as server:
        yield server
