"""Text messages (SMS, app push) through a provider, and the quiet hours nothing is sent in.

Patron does not speak to a carrier itself: an SMS gateway or a shop's app receives each message
from a *provider*. ``WebhookProvider`` posts it as JSON to ``PATRON_MESSAGE_WEBHOOK_URL``, signed
with HMAC-SHA256 of the body under ``PATRON_MESSAGE_WEBHOOK_SECRET`` (header
``X-Patron-Signature: sha256=<hex>``) and carrying an ``Idempotency-Key``, so a gateway that got a
message twice (a retry after a lost answer) can drop the second. Without a URL, ``FileProvider``
writes each message as a JSON line under ``VAR_DIR/messages`` (as email goes to files without a
mail server), for development and the demo.

The provider's answer decides what the outbox does: ``Unavailable`` (no connection, a timeout,
429, any 5xx) stops the run and retries it later, like a mail server that is away; ``Refused``
(any other 4xx: a bad number, an opted-out user) fails that recipient at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

SMS, PUSH = "sms", "push"
TIMEOUT = 10.0  # seconds a webhook may take to answer


@dataclass(frozen=True)
class TextMessage:
    channel: str  # sms | push
    to: str  # a phone number (sms) or the account's code (push)
    text: str
    key: str  # unique per recipient row: the idempotency key
    data: dict[str, Any] = field(default_factory=dict)  # what an app needs beside the text (the code, the account)

    def payload(self) -> dict[str, Any]:
        return {"channel": self.channel, "to": self.to, "text": self.text, "key": self.key, "data": self.data}


class Unavailable(Exception):
    """The provider could not take the message now; nor would it take the next one."""


class Refused(Exception):
    """The provider refused this message for good."""


class Provider(Protocol):
    def send(self, message: TextMessage) -> None: ...


class WebhookProvider:
    def __init__(self, url: str, secret: str = "", timeout: float = TIMEOUT) -> None:
        self.url, self.secret, self.timeout = url, secret, timeout

    def send(self, message: TextMessage) -> None:
        body = json.dumps(message.payload(), ensure_ascii=False, sort_keys=True).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": message.key}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Patron-Signature"] = f"sha256={digest}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                answer.read()
        except urllib.error.HTTPError as exc:
            text = f"HTTP {exc.code}: {exc.read()[:500].decode(errors='replace')}"
            if exc.code == 429 or exc.code >= 500:
                raise Unavailable(text) from exc
            raise Refused(text) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise Unavailable(str(exc)) from exc


class FileProvider:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def send(self, message: TextMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f"{message.channel}.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(message.payload(), ensure_ascii=False) + "\n")


def message_provider() -> Provider:
    """The provider the settings name (``PATRON_MESSAGE_PROVIDER``: a dotted path), else the webhook when a
    URL is set, else files."""
    dotted = getattr(settings, "PATRON_MESSAGE_PROVIDER", "")
    if dotted:
        return import_string(dotted)()  # type: ignore[no-any-return]
    url = getattr(settings, "PATRON_MESSAGE_WEBHOOK_URL", "")
    if url:
        return WebhookProvider(url, getattr(settings, "PATRON_MESSAGE_WEBHOOK_SECRET", ""))
    return FileProvider(Path(settings.VAR_DIR) / "messages")


def quiet_hours() -> tuple[dt.time, dt.time] | None:
    """``PATRON_QUIET_HOURS`` ("21:00-08:00", local time; empty: none) as two times."""
    text = str(getattr(settings, "PATRON_QUIET_HOURS", "") or "").strip()
    if not text:
        return None
    start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-", 1))
    return start, end
