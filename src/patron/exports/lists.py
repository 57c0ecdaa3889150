"""The lists that export in the background, and how each one's rows are found again when its file is written.

A background export keeps what the user asked for (the list, the format, its filters) and
builds the list's ``ExportSource`` when the worker writes the file, as its owner's role
then is: a salesperson's file holds the accounts they may export on that day, not on the
day they asked.

The account list keeps its filters as data (the API and the page both read them into
``AccountFilters``). The order, invoice, payment and product lists read their filters in
their own views, so the worker asks the list's view for its export as its owner would,
with the same query string; the view answers with its ``ExportSource`` instead of a file
(``replaying``). The rows, the filters and the visibility are then the list's own, with no
second copy of them here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import resolve, reverse
from django.utils.translation import gettext_lazy as _

from patron.core.exports import ExportSource

from .models import ExportJob

REPLAY = "patron_export_replay"
# Query parameters that move through a list rather than filter it, and the export's own.
NOT_FILTERS = ("format", "after", "before")


class Refused(Exception):
    """The list would not export for this user now (a bad filter, a format it does not know)."""


@dataclass(frozen=True)
class ExportList:
    name: str
    label: Any
    page: str  # url name of the list page
    source: Callable[[Any, ExportJob], ExportSource]


def replaying(request: HttpRequest) -> bool:
    """Whether the list's view is asked for its rows by a background export, not for a file."""
    return bool(getattr(request, REPLAY, False))


def _accounts(user: Any, job: ExportJob) -> ExportSource:
    from patron.accounts.exports import export_source, filters_from_data

    return export_source(user, filters_from_data(job.filters))


def _replayed(url_name: str) -> Callable[[Any, ExportJob], ExportSource]:
    def source(user: Any, job: ExportJob) -> ExportSource:
        path = reverse(url_name)
        request = HttpRequest()
        request.method = "GET"
        request.path = request.path_info = path
        params = QueryDict(job.query, mutable=True)
        params["format"] = job.format
        request.GET = params
        request.META["SERVER_NAME"], request.META["SERVER_PORT"] = "localhost", "80"
        request.user = user
        setattr(request, REPLAY, True)
        match = resolve(path)
        answer = match.func(request, *match.args, **match.kwargs)
        if isinstance(answer, ExportSource):
            return answer
        if isinstance(answer, HttpResponse) and answer.status_code == 400:
            raise Refused(answer.content.decode(answer.charset or "utf-8", "replace"))
        raise Refused(f"{url_name} answered {getattr(answer, 'status_code', type(answer).__name__)}")

    return source


LISTS: dict[str, ExportList] = {
    item.name: item
    for item in (
        ExportList("accounts", _("Accounts"), "accounts:list", _accounts),
        ExportList("orders", _("Orders"), "sales:order_list", _replayed("sales:order_list")),
        ExportList("invoices", _("Invoices"), "sales:invoice_list", _replayed("sales:invoice_list")),
        ExportList("payments", _("Payments"), "sales:payment_list", _replayed("sales:payment_list")),
        ExportList("products", _("Products"), "sales:product_list", _replayed("sales:product_list")),
        ExportList("segment_accounts", _("Segment accounts"), "segments:list", _replayed("segments:export")),
    )
}


def filter_query(params: QueryDict) -> str:
    """The query string of a list's filters: without paging and without the export's format."""
    kept = QueryDict(mutable=True)
    for key in params:
        if key not in NOT_FILTERS:
            values = [v for v in params.getlist(key) if v != ""]
            if values:
                kept.setlist(key, values)
    return kept.urlencode()


def source_for(user: Any, job: ExportJob) -> ExportSource:
    return LISTS[job.list_name].source(user, job)
