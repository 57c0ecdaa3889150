"""Satisfaction surveys: written, emailed with a link of one's own, answered once on a public page, and read
as NPS by segment and over time; a detractor's answer opens a follow-up for the account's owner.

The answer page needs no sign-in; it is reached only through the recipient's token (192 random bits),
shows nothing of anyone else, and records the first answer: an unknown or altered token finds no page,
a token used once finds a thank-you and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can
from patron.accounts.addresses import Address, mailing_rows
from patron.audit.services import audit_record
from patron.core.outbox import RUN_BUDGET, Outbox, SendReport, email_message, outbox_due, outbox_send
from patron.domain.access import Action
from patron.domain.surveys import DETRACTOR, Question, check_answers, nps_group, nps_of, parse_questions

from .models import Survey, SurveyRecipient, SurveySend, Task

BOX = Outbox("survey", SurveySend, SurveyRecipient, "send")
CHUNK = 2000


def _problem(code: str) -> str:
    words = {
        "required": _("This field is required."),
        "out_of_range": _("Choose a value from the scale."),
        "invalid_choice": _("Choose one of the answers offered."),
        "too_few": _("Give at least two answers to choose from."),
        "too_many": _("At most 20 questions."),
        "wrong_type": _("This value has the wrong form."),
    }
    return str(words.get(code, code))


def require_surveyor(actor: Any) -> None:
    if not (can(actor, Action.EDIT_COUPONS) or can(actor, Action.EDIT_SEGMENTS)):  # marketing and managers
        raise PermissionDenied(Action.EDIT_SEGMENTS.value)


def questions_of(survey: Survey) -> list[Question]:
    return parse_questions(survey.questions)[0]


@transaction.atomic
def survey_create(*, actor: Any, data: Mapping[str, Any]) -> Survey:
    require_surveyor(actor)
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = [_("This field is required.")]
    _questions, problems = parse_questions(list(data.get("questions") or []))
    for path, code in problems.items():
        errors.setdefault(path, []).append(_problem(code))
    if errors:
        raise ValidationError(errors)
    survey = Survey.objects.create(
        name=name[:200],
        intro=str(data.get("intro") or ""),
        questions=list(data.get("questions") or []),
        created_by=actor,
    )
    audit_record(actor=actor, action="SURVEY_CREATED", instance=survey, changes={"name": [None, survey.name]})
    return survey


@transaction.atomic
def survey_send(*, actor: Any, survey: Survey, target: Mapping[str, Any] | None = None) -> SurveySend:
    """Each targeted account's addresses (its own, its contacts who agreed to email), each with its own link."""
    from patron.coupons.delivery import targeted
    from patron.coupons.services import target_problems

    require_surveyor(actor)
    target = dict(target or {})
    errors: dict[str, list[str]] = {}
    target_problems(target, errors)
    if errors:
        raise ValidationError(errors)
    send = SurveySend.objects.create(survey=survey, target=target, created_by=actor)
    accounts = targeted(target, timezone.localdate())

    def row(account: Mapping[str, Any], address: Address | None, language: str) -> SurveyRecipient:
        base = {"send": send, "account_id": account["pk"], "language": language, "token": secrets.token_urlsafe(24)}
        if address is None:
            return SurveyRecipient(**base, name=account["name"], status=SurveyRecipient.NO_ADDRESS)
        contact_id, email, name = address
        return SurveyRecipient(**base, contact_id=contact_id, email=email, name=name)

    for rows, _count in mailing_rows(accounts, CHUNK, row):
        SurveyRecipient.objects.bulk_create(rows, batch_size=1000)
    if not send.recipients.filter(status=SurveyRecipient.QUEUED).exists():
        send.status, send.finished_at = SurveySend.DONE, timezone.now()
        send.save(update_fields=["status", "finished_at"])
    audit_record(actor=actor, action="SURVEY_SENT", instance=survey, changes={"target": [None, target]})
    if send.status == SurveySend.SENDING:
        from .tasks import send_survey

        send_id = send.pk
        transaction.on_commit(lambda: send_survey(send_id))
    return send


def answer_link(token: str) -> str:
    from django.conf import settings
    from django.urls import reverse

    return settings.PATRON_BASE_URL.rstrip("/") + reverse("survey_answer", args=[token])


def _messages(send: SurveySend) -> Any:
    send = SurveySend.objects.select_related("survey").get(pk=send.pk)

    def build(row: SurveyRecipient) -> Any:
        context = {"row": row, "survey": send.survey, "link": answer_link(row.token)}
        return email_message("service/email/survey", context, row.email, row.language)

    return build


def survey_mail(
    send_id: int, *, stop_after: int | None = None, budget: float = RUN_BUDGET, outages: int = 0
) -> SendReport:
    return outbox_send(BOX, send_id, _messages, stop_after=stop_after, budget=budget, outages=outages)


def survey_mails_due(now: dt.datetime | None = None) -> list[int]:
    return outbox_due(BOX, now)


@transaction.atomic
def answer_record(token: str, data: Mapping[str, Any]) -> SurveyRecipient:
    """The first answer counts; a detractor (0 to 6) opens a follow-up for the account's owner, within 2 days."""
    row = (
        SurveyRecipient.objects.select_for_update(of=("self",))
        .select_related("send__survey", "account__owner")
        .get(token=token)
    )
    if row.answered_at is not None:
        return row
    answers, problems = check_answers(questions_of(row.send.survey), data)
    if problems:
        raise ValidationError({k: [_problem(v)] for k, v in problems.items()})
    row.nps = answers.pop("nps")
    row.answers, row.answered_at = answers, timezone.now()
    row.save(update_fields=["nps", "answers", "answered_at"])
    account = row.account
    if nps_group(row.nps) == DETRACTOR and account.owner_id is not None:
        from django.utils import translation

        owner = account.owner
        assert owner is not None
        with translation.override(owner.language):  # the owner reads it, not the customer
            subject = _("Unhappy customer (%(score)s/10): call back") % {"score": row.nps}
        Task.objects.get_or_create(
            account=account,
            source=Task.SURVEY,
            source_key=f"survey:{row.pk}",
            defaults={
                "owner_id": account.owner_id,
                "subject": subject,
                "due_at": timezone.now() + dt.timedelta(days=2),
                "notes": "\n".join(f"{k}: {v}" for k, v in row.answers.items()),
                "contact_id": row.contact_id,
            },
        )
    return row


def survey_results(survey: Survey, *, classification: str = "lifecycle") -> dict[str, Any]:
    """NPS overall, by the accounts' class in ``classification`` today, and by month answered; answers to each
    rating and choice question counted."""
    from django.db.models import Q

    from patron.segments.messages import class_label
    from patron.segments.models import Classification, Membership

    answered = SurveyRecipient.objects.filter(send__survey=survey, answered_at__isnull=False)
    rows = [
        (account_id, int(score), when, answers)
        for account_id, score, when, answers in answered.values_list("account_id", "nps", "answered_at", "answers")
        if score is not None
    ]
    overall = nps_of(n for _a, n, _t, _x in rows)
    today = timezone.localdate()
    found = Classification.objects.filter(key=classification).first()
    by_class: dict[str, list[int]] = {}
    if found is not None:
        current = dict(
            Membership.objects.filter(
                classification=found, account_id__in=[a for a, *_rest in rows], valid_from__lte=today
            )
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
            .values_list("account_id", "class_key")
        )
        for account_id, score, _t, _x in rows:
            key = current.get(account_id, "")
            by_class.setdefault(class_label(found, key) if key else _("not classified"), []).append(score)
    by_month: dict[str, list[int]] = {}
    for _a, score, when, _x in rows:
        by_month.setdefault(timezone.localtime(when).strftime("%Y-%m"), []).append(score)
    counts: dict[str, dict[str, int]] = {}
    for _a, _n, _t, answers in rows:
        for key, value in answers.items():
            bucket = counts.setdefault(key, {})
            bucket[str(value)] = bucket.get(str(value), 0) + 1
    return {
        "asked": SurveyRecipient.objects.filter(send__survey=survey).exclude(status=SurveyRecipient.NO_ADDRESS).count(),
        "overall": overall,
        "by_class": sorted(((k, nps_of(v)) for k, v in by_class.items()), key=lambda kv: kv[0]),
        "by_month": sorted((k, nps_of(v)) for k, v in by_month.items()),
        "counts": counts,
    }
