"""``patron token create --user NAME [--name LABEL]``, ``patron token revoke PREFIX``, ``patron token list``."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from patron.staff.models import ApiToken, User


class Command(BaseCommand):
    help = "Create, list and revoke API tokens (sent as 'Authorization: Bearer <token>')."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Issue a token for a user and print it (shown only once).")
        create.add_argument("--user", required=True, help="Username the token acts as.")
        create.add_argument("--name", default="", help="A label to recognise the token by (default: 'cli').")
        revoke = sub.add_parser("revoke", help="Revoke the token(s) whose first characters are PREFIX.")
        revoke.add_argument("prefix", help="The prefix shown by 'patron token list' (e.g. pat_AbCdEfGh).")
        listing = sub.add_parser("list", help="List tokens with their prefix, user, label and last use.")
        listing.add_argument("--user", default=None, help="Only this user's tokens.")
        listing.add_argument("--all", action="store_true", help="Include revoked tokens.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            self._create(options["user"], options["name"] or "cli")
        elif action == "revoke":
            self._revoke(options["prefix"])
        else:
            self._list(options["user"], options["all"])

    def _create(self, username: str, name: str) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; a token for them would not work.")
        token, raw = ApiToken.issue(user, name[:100])
        self.stdout.write(raw)
        self.stderr.write(
            f"Token {token.prefix} for {user.username} ({name}). Keep it secret: it is shown only this once.\n"
            f"Use it as:  curl -H 'Authorization: Bearer {raw}' http://127.0.0.1:8000/api/me"
        )

    def _revoke(self, prefix: str) -> None:
        if len(prefix) < 8:
            raise CommandError("Give at least 8 characters of the token (e.g. pat_AbCd).")
        # The raw token itself is accepted too: only its first 12 characters are stored.
        tokens = ApiToken.objects.filter(prefix__startswith=prefix[:12], revoked_at__isnull=True)
        count = tokens.update(revoked_at=timezone.now())
        if count == 0:
            raise CommandError(f"No active token starts with {prefix!r}.")
        self.stdout.write(f"Revoked {count} token{'s' if count != 1 else ''}.")

    def _list(self, username: str | None, include_revoked: bool) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("user__username", "created_at")
        if username:
            tokens = tokens.filter(user__username=username)
        if not include_revoked:
            tokens = tokens.filter(revoked_at__isnull=True)
        for token in tokens:
            last = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
            state = " revoked" if token.revoked_at else ""
            self.stdout.write(f"{token.prefix}  {token.user.username}  {token.name}  last used {last}{state}")
