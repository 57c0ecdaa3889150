"""The shell around every capability: sign-in, the dashboard, the profile and the language switch."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.staff.models import User

from .charts import bar_chart
from .dashboard import dashboard
from .forms import LanguageForm, ProfileForm
from .templatetags.patron_web import money


def _set_language(request: HttpRequest, response: HttpResponse, language: str) -> None:
    """Save the choice on the user and in the cookie, so the sign-in page speaks it too after signing out."""
    user = cast(User, request.user)
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    translation.activate(language)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    dash = dashboard(user=request.user, today=timezone.localdate())
    chart = bar_chart(
        [(m.label, m.amount, money(m.amount, dash.currency)) for m in dash.months],
        title=_("Sales by month"),
        desc=_("Confirmed orders net of returns in %(currency)s, for each of the last 12 months: %(values)s.")
        % {
            "currency": dash.currency,
            "values": "; ".join(f"{m.label}: {money(m.amount, dash.currency)}" for m in dash.months),
        },
    )
    return render(request, "web/home.html", {"dash": dash, "chart": chart})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            response = redirect("profile")
            _set_language(request, response, form.cleaned_data["language"])
            messages.success(request, _("Your profile was saved."))
            return response
    else:
        form = ProfileForm(initial={"language": getattr(user, "language", settings.LANGUAGE_CODE)})
    return render(request, "web/profile.html", {"form": form})


@login_required
@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """The language switch in the top bar: saves the user's language and returns to the page."""
    form = LanguageForm(request.POST)
    target = request.POST.get("next") or request.headers.get("referer") or reverse("home")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = reverse("home")
    response = HttpResponseRedirect(target)
    if form.is_valid():
        _set_language(request, response, form.cleaned_data["language"])
    return response
