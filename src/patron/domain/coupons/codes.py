"""Coupon codes people can type, and nobody can guess.

A generated code is ``LENGTH`` characters drawn by ``secrets`` from an alphabet without
look-alikes (no 0/O, 1/I/L), ``log2(31) * 10 = 49.5`` bits of chance, then one check
character: a position-weighted sum modulo 31 (a prime), which catches every single wrong
character and every swap of two neighbours before the database is asked. An optional prefix
(the campaign's, "SPRING") leads it. Typed codes are matched after ``normalize``: full-width
forms folded (NFKC), case ignored, spaces, dashes, dots and underscores dropped.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable, Iterable

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 10
BITS = 49  # floor(LENGTH * log2(len(ALPHABET))): at least the 45 the issue asks
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_DROPPED = str.maketrans("", "", " -_.\u00a0\u3000")
MAX_PREFIX = 12


class CodeError(ValueError):
    """A prefix that cannot lead a code: its reason is the ``code`` attribute."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def normalize(text: str) -> str:
    """What a person typed, as codes are stored: ``ｓｐｒｉｎｇ－ab3k 7…`` reads ``SPRINGAB3K7…``."""
    upper = unicodedata.normalize("NFKC", text or "").upper().translate(_DROPPED)
    return unicodedata.normalize("NFKC", upper)  # what the upper case and the dropped marks left apart


def check_character(body: str) -> str:
    """The character that makes ``body`` + it add up to zero, weighting each position by its place."""
    total = sum((i + 1) * _INDEX[c] for i, c in enumerate(body))
    weight = len(body) + 1
    # weight * x + total = 0 (mod 31), with weight's inverse modulo the prime 31.
    return ALPHABET[(-total * pow(weight, -1, len(ALPHABET))) % len(ALPHABET)]


def is_well_formed(code: str, prefix: str = "") -> bool:
    """Whether a normalized code can be one of ours: the prefix, alphabet characters, and its check character."""
    prefix = normalize(prefix)
    if not code.startswith(prefix):
        return False
    body = code[len(prefix) :]
    if len(body) != LENGTH + 1 or any(c not in _INDEX for c in body):
        return False
    return check_character(body[:-1]) == body[-1]


def check_prefix(prefix: str) -> str:
    prefix = normalize(prefix)
    if len(prefix) > MAX_PREFIX:
        raise CodeError("prefix_too_long")
    if not all(c.isascii() and c.isalnum() for c in prefix):
        raise CodeError("prefix_characters")
    return prefix


SPACE = len(ALPHABET) ** LENGTH


def _body(number: int) -> str:
    digits = []
    for _ in range(LENGTH):
        number, digit = divmod(number, len(ALPHABET))
        digits.append(ALPHABET[digit])
    return "".join(digits)


def new_code(prefix: str = "", choice: Callable[[str], str] | None = None) -> str:
    """One code: a number drawn uniformly below 31^10 by ``secrets`` (one call, not ten), written in the
    alphabet; ``choice`` draws character by character instead (tests give their own)."""
    body = "".join(choice(ALPHABET) for _ in range(LENGTH)) if choice else _body(secrets.randbelow(SPACE))
    return check_prefix(prefix) + body + check_character(body)


def new_codes(count: int, prefix: str = "", taken: Iterable[str] = ()) -> list[str]:
    """``count`` distinct codes, none of them in ``taken``."""
    seen = set(taken)
    out: list[str] = []
    lead = check_prefix(prefix)  # checked once for the batch
    while len(out) < count:
        body = _body(secrets.randbelow(SPACE))
        code = lead + body + check_character(body)
        if code not in seen:
            seen.add(code)
            out.append(code)
    return out


def shown(code: str, prefix: str = "") -> str:
    """For people: the prefix, then groups of four (``SPRING-AB3K-7QXZ-M2N``)."""
    prefix = normalize(prefix)
    body = code[len(prefix) :] if prefix and code.startswith(prefix) else code
    groups = [body[i : i + 4] for i in range(0, len(body), 4)]
    return "-".join(([prefix] if prefix else []) + groups)
