"""The policy page's Publish button: publish the current version, then back to the policy with what was done."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.core.errors import Conflict

from . import publication
from .models import Policy


@login_required
@require_POST
def policy_publish(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(Policy, pk=pk)
    try:
        result = publication.policy_publish(actor=request.user, policy=policy)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("discounts:policy_detail", policy.pk)
    p = result.publication
    if not result.created:
        when = formats.date_format(timezone.localtime(p.created_at), "SHORT_DATETIME_FORMAT")
        messages.info(
            request,
            _("Version %(version)s was published on %(when)s already; nobody was written to again.")
            % {"version": p.version, "when": when},
        )
    else:
        messages.success(
            request,
            _(
                "Version %(version)s is on its way: %(recipients)s emails to %(accounts)s accounts; "
                "%(without)s accounts have no email address."
            )
            % {
                "version": p.version,
                "recipients": p.recipients_count,
                "accounts": p.accounts_targeted - p.accounts_unchanged + p.accounts_dropped,
                "without": p.without_address,
            },
        )
    return redirect("discounts:policy_detail", policy.pk)
