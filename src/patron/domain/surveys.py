"""Satisfaction surveys as rules: the questions a survey asks, a customer's answers checked against them,
and the Net Promoter Score of a set of answers.

Every survey opens with the NPS question (0 to 10: "how likely are you to recommend us?"); promoters
answer 9 or 10, passives 7 or 8, detractors 0 to 6; the score is the share of promoters less the
share of detractors, in points from -100 to 100.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

KINDS = ("rating", "choice", "text")  # rating: 1 to 5; choice: one of the choices; text: free words
MAX_QUESTIONS = 20
MAX_TEXT = 2000


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    kind: str
    text: str
    choices: tuple[str, ...] = ()
    required: bool = False


def parse_questions(data: Any) -> tuple[list[Question], dict[str, str]]:
    """The questions of a survey, and a problem per question path ("questions[2].choices")."""
    problems: dict[str, str] = {}
    out: list[Question] = []
    if not isinstance(data, list):
        return [], {"questions": "wrong_type"}
    if len(data) > MAX_QUESTIONS:
        problems["questions"] = "too_many"
    for i, item in enumerate(data[:MAX_QUESTIONS]):
        path = f"questions[{i}]"
        if not isinstance(item, Mapping):
            problems[path] = "wrong_type"
            continue
        kind, text = item.get("kind"), str(item.get("text") or "").strip()
        if kind not in KINDS:
            problems[f"{path}.kind"] = "invalid_choice"
        if not text:
            problems[f"{path}.text"] = "required"
        choices = tuple(str(c).strip() for c in item.get("choices") or [] if str(c).strip())
        if kind == "choice" and len(choices) < 2:
            problems[f"{path}.choices"] = "too_few"
        out.append(Question(f"q{i + 1}", str(kind), text[:300], choices, bool(item.get("required"))))
    return out, problems


def check_answers(questions: Iterable[Question], data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The NPS score (``nps``) and each question's answer, or a problem per field."""
    problems: dict[str, str] = {}
    answers: dict[str, Any] = {}
    raw = str(data.get("nps", "")).strip()
    if raw.isdigit() and 0 <= int(raw) <= 10:
        answers["nps"] = int(raw)
    else:
        problems["nps"] = "required" if not raw else "out_of_range"
    for q in questions:
        value = str(data.get(q.key, "") or "").strip()
        if not value:
            if q.required:
                problems[q.key] = "required"
            continue
        if q.kind == "rating":
            if not (value.isdigit() and 1 <= int(value) <= 5):
                problems[q.key] = "out_of_range"
                continue
            answers[q.key] = int(value)
        elif q.kind == "choice":
            if value not in q.choices:
                problems[q.key] = "invalid_choice"
                continue
            answers[q.key] = value
        else:
            answers[q.key] = value[:MAX_TEXT]
    return answers, problems


PROMOTER, PASSIVE, DETRACTOR = "promoter", "passive", "detractor"


def nps_group(score: int) -> str:
    return PROMOTER if score >= 9 else PASSIVE if score >= 7 else DETRACTOR


@dataclass(frozen=True, slots=True)
class Nps:
    answers: int
    promoters: int
    passives: int
    detractors: int

    @property
    def score(self) -> float | None:
        """Promoters' share less detractors', in points; None without answers."""
        if not self.answers:
            return None
        return round((self.promoters - self.detractors) * 100 / self.answers, 1)


def nps_of(scores: Iterable[int]) -> Nps:
    groups = [nps_group(s) for s in scores]
    return Nps(len(groups), groups.count(PROMOTER), groups.count(PASSIVE), groups.count(DETRACTOR))
