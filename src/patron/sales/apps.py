from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "patron.sales"
    label = "sales"
    verbose_name = _("Sales")

    def ready(self) -> None:
        from patron.approvals import registry

        registry.register(
            "order_discount",
            label=_("Order discount"),
            describe=_describe,
            describe_many=_describe_many,
            on_decided=_decided,
            term_labels={
                "order": _("Order"),
                "sku": _("SKU"),
                "quantity": _("Quantity"),
                "list_price": _("List price"),
                "unit_price": _("Net price"),
                "line_total": _("Line total"),
                "manual_discount": _("Manual discount"),
                "list_total": _("List total"),
                "net_total": _("Net total"),
                "margin": _("Margin"),
                "currency": _("Currency"),
            },
        )
        registry.register(
            "order_credit",
            label=_("Credit limit override"),
            describe=_describe,
            describe_many=_describe_many,
            on_decided=_credit_decided,
            term_labels={"order": _("Order"), "net_total": _("Net total"), "credit_limit": _("Credit limit")},
        )


def _describe(request: Any) -> Any:
    return _describe_many([request])[request.pk]


def _describe_many(requests: Any) -> dict[int, Any]:
    """The orders of a page of approval requests, in one query."""
    from django.urls import reverse
    from django.utils.translation import gettext

    from patron.approvals.registry import Subject

    from .models import Order

    ids = {r.subject_id for r in requests}
    orders = {o.pk: o for o in Order.objects.filter(pk__in=ids).only("number", "net_total", "currency")}
    out = {}
    for request in requests:
        order = orders.get(request.subject_id)
        if order is None:
            out[request.pk] = Subject(gettext("Order #%(id)s (deleted)") % {"id": request.subject_id})
        else:
            out[request.pk] = Subject(
                gettext("Order %(number)s") % {"number": order.number},
                reverse("sales:order_detail", args=[order.number]),
                f"{order.currency} {order.net_total}",
            )
    return out


def _on_timeline(request: Any, approved: str, rejected: str) -> None:
    """An approver's decision on an order goes on its account's timeline (``approved`` or ``rejected`` event)."""
    from patron.accounts.services import activity_add

    from .models import Order

    order = Order.objects.select_related("account").filter(pk=request.subject_id).first()
    if order is None:
        return
    decider = request.decided_by.display_name() if request.decided_by_id else ""
    activity_add(
        account=order.account,
        kind="order",
        actor=request.decided_by,
        ref=order,
        body=request.comment,
        event=approved if request.status == "approved" else rejected,
        params={"number": order.number, "by": decider},
    )


def _decided(request: Any) -> None:
    """A manager's decision on manual discounts: an approved order can now be confirmed."""
    _on_timeline(request, "order_discount_approved", "order_discount_rejected")


def _credit_decided(request: Any) -> None:
    """Finance's decision on a credit override: an approved one lets the order be confirmed."""
    _on_timeline(request, "credit_override_approved", "credit_override_rejected")
