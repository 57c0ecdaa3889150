"""The customer's page of an offer, reached by the unguessable link in their email; no sign-in.

It shows only what the link's account was told (the policy's name, its text for customers, the
rules that concern that account in plain words, the dates), in the recipient's language, or in
the other language when the reader switches. Any link that is not a recipient's, well-formed
or not, is the same 404; the answer is never cached, indexed or passed on as a referrer.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET

from .publication import customer_offer

TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_GET
def offer(request: HttpRequest, token: str) -> HttpResponse:
    found = customer_offer(token) if TOKEN.match(token) else None
    if found is None:
        raise Http404
    languages = [code for code, _name in settings.LANGUAGES]
    wanted = request.GET.get("lang")
    language = wanted if wanted in languages else found.language
    if language != found.language:
        found = customer_offer(token, language=language) or found
    with translation.override(language):
        response = render(
            request,
            "discounts/public/offer.html",
            {"offer": found, "view": found.view, "languages": languages, "language": language},
        )
    return _private(response)
