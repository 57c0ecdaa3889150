"""Satisfaction surveys: emailed to a real SMTP server with a link each, answered once on a public page that
an altered or reused link cannot use, NPS overall and by stage, and a detractor's answer opens a follow-up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from patron.service import surveys
from patron.service.models import SurveyRecipient, Task
from tests.factories import make_account
from tests.smtp import SmtpServer, serving_smtp

QUESTIONS = [
    {"kind": "rating", "text": "Delivery on time?", "required": True},
    {"kind": "choice", "text": "How do you order?", "choices": ["Phone", "WeChat"]},
    {"kind": "text", "text": "Anything else?"},
]


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    settings.PATRON_PUBLISH_PER_SECOND = 0
    with serving_smtp(settings) as server:
        yield server


def test_a_survey_is_emailed_answered_once_and_a_detractor_gets_a_call_back(staff, smtp):
    from patron.staff.models import User

    User.objects.filter(pk=staff.sales.pk).update(language="en")  # the call back is worded for its owner
    happy = make_account(staff.sales, code="HAPPY", email="happy@shop.example", language="en")
    unhappy = make_account(staff.sales, code="SAD", email="sad@shop.example", language="zh-hans")
    make_account(staff.sales, code="NOMAIL")
    with pytest.raises(PermissionDenied):
        surveys.survey_create(actor=staff.sales, data={"name": "x"})
    with pytest.raises(ValidationError) as bad:
        surveys.survey_create(
            actor=staff.marketing, data={"name": "", "questions": [{"kind": "choice", "text": "?", "choices": ["A"]}]}
        )
    assert set(bad.value.message_dict) == {"name", "questions[0].choices"}
    survey = surveys.survey_create(
        actor=staff.marketing, data={"name": "How are we doing?", "intro": "Tell us.", "questions": QUESTIONS}
    )
    send = surveys.survey_send(actor=staff.marketing, survey=survey, target={})
    assert surveys.survey_mail(send.pk).sent == 2
    links = {m.rcpt_tos[0]: re.search(r"http://\S+/s/(\S+)/", m.body).group(1) for m in smtp.messages}
    assert set(links) == {"happy@shop.example", "sad@shop.example"}
    client = Client()  # nobody signed in
    page = client.get(reverse("survey_answer", args=[links["happy@shop.example"]]))
    assert page.status_code == 200
    assert "Delivery on time?" in page.content.decode()
    missing = client.post(reverse("survey_answer", args=[links["happy@shop.example"]]), {"nps": "12"})
    assert missing.status_code == 400
    ok = client.post(
        reverse("survey_answer", args=[links["happy@shop.example"]]),
        {"nps": "10", "q1": "5", "q2": "WeChat", "q3": "Great tea"},
    )
    assert 'data-testid="thanks"' in ok.content.decode()
    again = client.post(reverse("survey_answer", args=[links["happy@shop.example"]]), {"nps": "0", "q1": "1"})
    assert 'data-testid="thanks"' in again.content.decode()  # reused: nothing changes
    assert SurveyRecipient.objects.get(account=happy).nps == 10
    altered = links["sad@shop.example"][:-1] + ("A" if links["sad@shop.example"][-1] != "A" else "B")
    assert client.get(reverse("survey_answer", args=[altered])).status_code == 404
    assert client.get(reverse("survey_answer", args=["guess"])).status_code == 404
    sad_page = client.get(reverse("survey_answer", args=[links["sad@shop.example"]])).content.decode()
    assert "您向朋友或同事推荐我们的可能性有多大" in sad_page  # in the account's language
    assert "Great tea" not in sad_page  # nothing of anyone else
    client.post(reverse("survey_answer", args=[links["sad@shop.example"]]), {"nps": "3", "q1": "2"})
    task = Task.objects.get(account=unhappy)
    assert (task.owner, task.source, task.status) == (staff.sales, Task.SURVEY, Task.OPEN)
    assert task.subject == "Unhappy customer (3/10): call back"
    results = surveys.survey_results(survey)
    assert (results["asked"], results["overall"].answers, results["overall"].score) == (2, 2, 0.0)  # 1 - 1 of 2
    assert results["counts"]["q2"] == {"WeChat": 1}
