"""Import pages (being built)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import ImportJob


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    jobs = ImportJob.objects.filter(created_by=request.user)[:50]
    return render(request, "imports/list.html", {"jobs": jobs})
