"""Where to email an account: its own address, then its contacts who agreed to email, each address once;
where to text it: its contacts who agreed to SMS, each number once (an account's own number is often
a switchboard, and nobody there agreed to marketing texts).

What every mailing to customers reads (a policy's publication, a rebate program's
announcement), a range of account ids at a time, so a million accounts are never in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from .models import Contact

Address = tuple[int | None, str, str]  # (contact id or none for the account's own, email, name)


def consenting_contacts(accounts: QuerySet[Any], first: int, last: int) -> dict[int, list[Address]]:
    """Consenting contacts with an email of ``accounts`` from ``first`` to ``last`` (ids), the primary first."""
    found: dict[int, list[Address]] = {}
    span = accounts.filter(pk__gte=first, pk__lte=last).values("pk")
    contacts = (
        Contact.objects.filter(account_id__gte=first, account_id__lte=last, account_id__in=span, email_consent=True)
        .exclude(email="")
        .order_by("account_id", "-is_primary", "id")
        .values_list("account_id", "pk", "email", "name")
    )
    for account_id, pk, email, name in contacts:
        found.setdefault(account_id, []).append((pk, email, name))
    return found


def consenting_phones(accounts: QuerySet[Any], first: int, last: int) -> dict[int, list[Address]]:
    """Contacts who agreed to SMS, with a number, of ``accounts`` from ``first`` to ``last``, each number once."""
    found: dict[int, list[Address]] = {}
    seen: set[tuple[int, str]] = set()
    span = accounts.filter(pk__gte=first, pk__lte=last).values("pk")
    contacts = (
        Contact.objects.filter(account_id__gte=first, account_id__lte=last, account_id__in=span, sms_consent=True)
        .exclude(phone="")
        .order_by("account_id", "-is_primary", "id")
        .values_list("account_id", "pk", "phone", "name")
    )
    for account_id, pk, phone, name in contacts:
        number = "".join(phone.split())
        if (account_id, number) not in seen:
            seen.add((account_id, number))
            found.setdefault(account_id, []).append((pk, number, name))
    return found


def addresses_of(account: Mapping[str, Any], contacts: Mapping[int, list[Address]]) -> list[Address]:
    """The account's own address (``email``, ``name`` of the row) and its contacts', without repeats."""
    seen: set[str] = set()
    out: list[Address] = []
    own: list[Address] = [(None, account["email"], account["name"])] if account["email"] else []
    for contact_id, email, name in own + contacts.get(account["pk"], []):
        if email.lower() not in seen:
            seen.add(email.lower())
            out.append((contact_id, email, name))
    return out


def mail_language(code: str | None) -> str:
    """The account's language if Patron speaks it, else the site's."""
    known = {c for c, _name in settings.LANGUAGES}
    return code if code in known else settings.LANGUAGE_CODE


def in_chunks(accounts: QuerySet[Any], size: int) -> Iterator[list[dict[str, Any]]]:
    """The accounts in id order, ``size`` at a time, each as the row ``addresses_of`` reads."""
    chunk: list[dict[str, Any]] = []
    for row in accounts.order_by("pk").values("pk", "code", "email", "name", "language").iterator(chunk_size=size):
        chunk.append(dict(row))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def mailing_rows(
    accounts: QuerySet[Any], size: int, row: Callable[[Mapping[str, Any], Address | None, str], Any]
) -> Iterator[tuple[list[Any], int]]:
    """A mailing's rows, a chunk of accounts at a time: ``row(account, address, language)`` for each address
    of each account, or once with no address for an account with none (kept on record). Yields each chunk's
    rows and how many accounts it held."""
    for chunk in in_chunks(accounts, size):
        contacts = consenting_contacts(accounts, chunk[0]["pk"], chunk[-1]["pk"])
        rows = []
        for account in chunk:
            language = mail_language(account["language"])
            addresses = addresses_of(account, contacts)
            rows += [row(account, address, language) for address in addresses] or [row(account, None, language)]
        yield rows, len(chunk)
