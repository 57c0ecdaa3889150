"""Which accounts look like the same customer, and why: normalised names, keys, blocks and a score.

Two records of one customer rarely match letter for letter: "深圳华强实业有限公司" and
"华强实业（深圳）有限公司", "ACME Co., Ltd." and "Acme Inc", "0755-8888 6666" and
"+86 755 88886666". Matching compares *normalised* values, and never compares every
pair: each account gets blocking keys (its tax id, phone, email, normalised name, the
name with any one letter left out, and the first and last letters of the name), and
only accounts sharing a key are compared. Two names one typo apart always share a
"one letter left out" key, so typos are found however common the rest of the name is
(on 20,000 generated company names this finds 98% of the pairs that comparing every
pair finds, comparing 2.4 pairs per account). A block larger than ``MAX_BLOCK`` (a
switchboard number, a name beginning every shop in a city has) says nothing about one
pair and is skipped.

Names are compared by their longest common subsequence (``rapidfuzz``'s Indel
similarity, 2 x common letters / all letters), which is symmetric and about twenty
times faster than ``difflib``'s ratio on these names.

Every comparison returns its reasons (``Reason`` codes with parameters) so the pages,
the API and the import say the same thing in the reader's language.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

from rapidfuzz.distance import Indel

from .explain import Reason

# Legal forms at the end of a Chinese company name, longest first so "股份有限公司" goes whole.
CJK_LEGAL_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "股份公司",
    "责任公司",
    "分公司",
    "公司",
)
# Legal forms ending a Latin-script name, as whole words after punctuation became spaces.
LATIN_LEGAL_WORDS = frozenset(
    {
        "co",
        "company",
        "corp",
        "corporation",
        "inc",
        "incorporated",
        "llc",
        "llp",
        "ltd",
        "limited",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "bv",
        "pte",
        "pty",
        "srl",
    }
)
# "深圳市" or "广东省" before a name ("深圳市华强实业" is "华强实业（深圳）"), when enough is left.
_ADMIN_PREFIX = re.compile(r"^[\u4e00-\u9fff]{2,3}[省市]")
_ADMIN_PREFIX_MIN_REST = 4
# Innermost bracket pairs; removed repeatedly so nested ones go too. NFKD has already turned
# full-width （） ［］ ｛｝ into ASCII.
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}|【[^【】]*】|〔[^〔〕]*〕|〖[^〖〗]*〗")

# Phones with fewer digits are service numbers (10086, 95588) that many customers share.
PHONE_KEY_MIN_DIGITS = 7
TAX_ID_KEY_MIN_CHARS = 8
# Name blocks: the first and last few letters. A Chinese character carries more than a Latin letter.
BLOCK_CHARS_CJK = 4
BLOCK_CHARS_LATIN = 6
# Names up to this long are also filed under each "one letter left out" variant.
DELETION_KEYS_MAX_LEN = 24
# Blocks with more accounts than this are not compared pairwise (see the module docstring).
MAX_BLOCK = 100
# Normalised names at least this similar (0..1) are reported.
NAME_THRESHOLD = 0.8

# How much each kind of evidence alone says; combined as independent evidence (noisy-or).
WEIGHT_TAX_ID = 0.98
WEIGHT_EMAIL = 0.9
WEIGHT_PHONE = 0.85
WEIGHT_NAME = 0.95
TAX_ID_DIFFERS_FACTOR = 0.5

KEY_KINDS = ("tax", "phone", "email", "name", "head", "tail")


def _fold(text: str) -> str:
    """Full-width to half-width, compatibility forms decomposed, case folded."""
    return unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in {"W", "F"}


def _strip_legal_cjk(name: str) -> str:
    """Drop legal-form suffixes and an administrative prefix until none is left (never to nothing)."""
    changed = True
    while changed:
        changed = False
        for suffix in CJK_LEGAL_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                changed = True
                break
        match = _ADMIN_PREFIX.match(name)
        if match and len(name) - match.end() >= _ADMIN_PREFIX_MIN_REST:
            name = name[match.end() :]
            changed = True
    return name


def normalise_name(name: str) -> str:
    """The part of a name that tells one customer from another.

    Full-width folded to half-width, case folded, accents dropped, bracketed parts
    ("（深圳）", "(HK)") removed, legal forms ("有限公司", "Co., Ltd.", "Inc.") and a
    leading "XX市"/"XX省" stripped, then everything but letters and digits removed.
    Idempotent: a normalised name normalises to itself.
    """
    text = _fold(name)
    previous = None
    while previous != text:
        previous = text
        text = _BRACKETED.sub(" ", text)
    words: list[str] = []
    current: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] in "LN":
            current.append(ch)
        elif category[0] == "M":
            continue  # accents and other combining marks: "café" is "cafe"
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    while len(words) > 1 and words[-1] in LATIN_LEGAL_WORDS:
        words.pop()
    return _strip_legal_cjk("".join(words))


def phone_key(phone: str) -> str:
    """The digits that ring the same line: separators dropped, China's +86/0086 folded to the domestic form.

    Empty for numbers too short to tell customers apart.
    """
    folded = unicodedata.normalize("NFKC", phone).strip()
    digits = "".join(ch for ch in folded if ch.isdigit())
    international = False
    if digits.startswith("0086"):
        digits, international = digits[4:], True
    elif digits.startswith("86") and (folded.startswith("+") or len(digits) == 13):
        digits, international = digits[2:], True
    if international and digits and not (digits.startswith("1") and len(digits) == 11):
        digits = "0" + digits.lstrip("0")  # a landline: +86 755 ... is 0755 ...
    return digits if len(digits) >= PHONE_KEY_MIN_DIGITS else ""


def tax_id_key(tax_id: str) -> str:
    folded = unicodedata.normalize("NFKC", tax_id).upper()
    key = "".join(ch for ch in folded if ch.isascii() and ch.isalnum())
    return key if len(key) >= TAX_ID_KEY_MIN_CHARS else ""


def email_key(email: str) -> str:
    """An address compared case-insensitively, local part included (people type either)."""
    folded = unicodedata.normalize("NFKC", email).strip().casefold()
    return folded if "@" in folded and not folded.startswith("@") and not folded.endswith("@") else ""


@dataclass(frozen=True, slots=True)
class Candidate:
    """What matching reads about one account (or about a row that might become one)."""

    id: int
    name: str
    tax_id: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class Normalised:
    name: str
    tax_id: str
    phone: str
    email: str


def normalise(candidate: Candidate) -> Normalised:
    return Normalised(
        name=normalise_name(candidate.name),
        tax_id=tax_id_key(candidate.tax_id),
        phone=phone_key(candidate.phone),
        email=email_key(candidate.email),
    )


def _block_chars(name: str) -> int:
    return BLOCK_CHARS_CJK if name and _is_cjk(name[0]) else BLOCK_CHARS_LATIN


def blocking_keys(norm: Normalised) -> frozenset[str]:
    """The keys under which an account is filed: accounts sharing none are never compared.

    Keys are "<kind>:<value>" strings so one indexed column holds them all.
    """
    keys = set()
    if norm.tax_id:
        keys.add(f"tax:{norm.tax_id}")
    if norm.phone:
        keys.add(f"phone:{norm.phone}")
    if norm.email:
        keys.add(f"email:{norm.email}")
    name = norm.name
    if name:
        keys.add(f"name:{name}")
        if 3 <= len(name) <= DELETION_KEYS_MAX_LEN:
            # One letter typed wrong, added or left out: the two names become the same once one
            # letter is left out of one of them, or of each (a name is also filed as itself).
            keys.update(f"name:{name[:i]}{name[i + 1 :]}" for i in range(len(name)))
        size = _block_chars(name)
        if len(name) > size:
            # A word added at the end ("集团") or the start keeps the other end of the name.
            keys.add(f"head:{name[:size]}")
            keys.add(f"tail:{name[-size:]}")
    return frozenset(key[:200] for key in keys)


def name_similarity(a: str, b: str) -> float:
    """How alike two normalised names are, 0..1: 2 x letters in common (in order) / all letters."""
    if not a or not b:
        return 0.0
    return round(Indel.normalized_similarity(a, b), 6)


def _name_upper_bound(a: str, b: str) -> float:
    """A cheap ceiling on ``name_similarity``: names of very different lengths cannot be alike."""
    return 2 * min(len(a), len(b)) / (len(a) + len(b)) if a and b else 0.0


@dataclass(frozen=True, slots=True)
class Match:
    """Why two accounts look like one customer; ``score`` 0..1 orders the list, strongest first."""

    score: float
    reasons: tuple[Reason, ...]

    @property
    def percent(self) -> int:
        return round(self.score * 100)


def compare(a: Normalised, b: Normalised, *, name_threshold: float = NAME_THRESHOLD) -> Match | None:
    """The evidence that ``a`` and ``b`` are one customer, or None when there is none.

    Same tax id, phone or email, or names at least ``name_threshold`` alike each count;
    two different tax ids speak against it (a group's sister companies share names).
    """
    reasons: list[Reason] = []
    weights: list[float] = []
    if a.tax_id and a.tax_id == b.tax_id:
        reasons.append(Reason("SAME_TAX_ID", {"tax_id": a.tax_id}))
        weights.append(WEIGHT_TAX_ID)
    if a.phone and a.phone == b.phone:
        reasons.append(Reason("SAME_PHONE", {"phone": a.phone}))
        weights.append(WEIGHT_PHONE)
    if a.email and a.email == b.email:
        reasons.append(Reason("SAME_EMAIL", {"email": a.email}))
        weights.append(WEIGHT_EMAIL)
    if a.name and b.name and _name_upper_bound(a.name, b.name) >= name_threshold:
        similarity = name_similarity(a.name, b.name)
        if similarity >= name_threshold:
            code = "SAME_NAME" if similarity == 1.0 else "SIMILAR_NAME"
            reasons.append(Reason(code, {"name": a.name, "other": b.name, "similarity": round(similarity, 3)}))
            weights.append(WEIGHT_NAME * similarity)
    if not reasons:
        return None
    missing = 1.0
    for weight in weights:
        missing *= 1.0 - weight
    score = 1.0 - missing
    if a.tax_id and b.tax_id and a.tax_id != b.tax_id:
        reasons.append(Reason("TAX_ID_DIFFERS", {"tax_id": a.tax_id, "other": b.tax_id}))
        score *= TAX_ID_DIFFERS_FACTOR
    return Match(score=round(score, 4), reasons=tuple(reasons))


def candidate_pairs(keys: Mapping[int, Iterable[str]], *, max_block: int = MAX_BLOCK) -> set[tuple[int, int]]:
    """Pairs (lower id, higher id) of accounts that share a block of at most ``max_block`` accounts."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for account_id, account_keys in keys.items():
        for key in set(account_keys):
            blocks[key].append(account_id)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if 1 < len(members) <= max_block:
            pairs.update((x, y) if x < y else (y, x) for x, y in combinations(members, 2) if x != y)
    return pairs


@dataclass(frozen=True, slots=True)
class Pair:
    first: int  # the lower id
    second: int
    match: Match


def find_duplicates(
    candidates: Iterable[Candidate], *, max_block: int = MAX_BLOCK, name_threshold: float = NAME_THRESHOLD
) -> list[Pair]:
    """Every pair among ``candidates`` with evidence, strongest first; compares only within blocks."""
    normalised = {c.id: normalise(c) for c in candidates}
    keys = {account_id: blocking_keys(norm) for account_id, norm in normalised.items()}
    pairs = []
    for first, second in candidate_pairs(keys, max_block=max_block):
        match = compare(normalised[first], normalised[second], name_threshold=name_threshold)
        if match is not None:
            pairs.append(Pair(first, second, match))
    pairs.sort(key=lambda p: (-p.match.score, p.first, p.second))
    return pairs
