"""Forms of the sales pages.

Forms only shape what the user typed; the services decide what is valid.
Amounts, prices and quantities are taken as text and handed to the service, which
knows each currency's decimals and answers with field errors (``lines.2.quantity``)
that ``apply_errors`` puts back on the form, line by line.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import formset_factory
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patron.accounts.models import Account
from patron.core.errors import error_dict

from .models import CURRENCY_CHOICES, Category, Invoice, Order, OrderLine, Payment, Product

NUMBER_ATTRS = {"inputmode": "decimal", "autocomplete": "off", "size": "10"}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def number_field(label: Any, *, required: bool = True, help_text: Any = "") -> forms.CharField:
    """A number typed as text: the service checks the decimals allowed for the currency."""
    return forms.CharField(
        label=label,
        required=required,
        max_length=40,
        help_text=help_text,
        widget=forms.TextInput(attrs=NUMBER_ATTRS),
    )


def plain_number(value: Decimal | None, places: int = 2) -> str:
    """A stored number as a user would type it: no trailing zeros beyond ``places``."""
    if value is None:
        return ""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    shown = max(places, -exponent) if isinstance(exponent, int) else places
    return f"{value:.{shown}f}"


def apply_errors(form: forms.Form, exc: ValidationError, route: Callable[[str], Any] | None = None) -> None:
    """Put a service's field errors on ``form``, or where ``route`` sends a key.

    ``route(key)`` answers ``(form, field)``, a list to append the messages to, or
    None for the default: the field of that name on ``form``, else a form error.
    """
    for key, messages in error_dict(exc).items():
        target = route(key) if route else None
        if isinstance(target, list):
            target.extend(messages)
            continue
        if target is None:
            target = (form, key)
        target_form, field = target
        if field is not None and field not in target_form.fields:
            field = None
        for message in messages:
            target_form.add_error(field, message)


# Above this many choices a select is too big to send; the user types the code (or SKU) instead.
CHOICE_LIMIT = 300


def use_accounts(form: forms.Form, accounts: QuerySet[Account], attrs: dict[str, str] | None = None) -> None:
    """Offer ``accounts`` in the form's account field: a select, or a code box when there are many."""
    field = form.fields["account"]
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = accounts
    if accounts.count() > CHOICE_LIMIT:
        field.widget = forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"})
        field.help_text = _("Type the account code.")
    field.widget.attrs.update(attrs or {})


# --- filters ------------------------------------------------------------------


class DateRangeFilter(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    account = forms.CharField(label=_("Account code"), required=False, max_length=40)
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())

    def value(self, name: str) -> Any:
        """The cleaned value of a valid field, else None (a bad filter is shown, not applied)."""
        if not self.is_bound:
            return None
        self.is_valid()
        return self.cleaned_data.get(name) if name not in self.errors else None


class OrderFilterForm(DateRangeFilter):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any status")), *Order.STATUSES])

    field_order = ["q", "account", "status", "date_from", "date_to"]


class InvoiceFilterForm(DateRangeFilter):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), *Invoice.STATUSES, ("overdue", _("Overdue"))],
    )

    field_order = ["q", "account", "status", "date_from", "date_to"]


class PaymentFilterForm(DateRangeFilter):
    method = forms.ChoiceField(label=_("Method"), required=False, choices=[("", _("Any method")), *Payment.METHODS])

    field_order = ["q", "account", "method", "date_from", "date_to"]


class ProductFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    category = forms.ModelChoiceField(
        label=_("Category"),
        required=False,
        queryset=Category.objects.all(),
        to_field_name="code",
        empty_label=_("Any category"),
    )
    inactive = forms.BooleanField(label=_("Include products no longer sold"), required=False)

    def value(self, name: str) -> Any:
        if not self.is_bound:
            return None
        self.is_valid()
        return self.cleaned_data.get(name) if name not in self.errors else None


# --- orders -------------------------------------------------------------------


def new_submission_key() -> str:
    return uuid.uuid4().hex


class OnceForm(forms.Form):
    """A form that records once: its hidden key makes a double submit replay the first result."""

    submission = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False, initial=new_submission_key)


class OrderForm(OnceForm):
    account = forms.ModelChoiceField(label=_("Account"), queryset=Account.objects.none(), to_field_name="code")
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES)
    channel = forms.ChoiceField(label=_("Channel"), choices=Order.CHANNELS, initial="sales_rep")
    order_date = forms.DateField(label=_("Order date"), initial=timezone.localdate, widget=DateInput())
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, accounts: QuerySet[Account], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_accounts(self, accounts)
        self.fields["currency"].initial = settings.PATRON_COMPANY_CURRENCY


def product_choices(products: Iterable[Product]) -> list[tuple[str, str]]:
    from patron.web.templatetags.patron_web import price_text

    return [
        (p.sku, f"{p.sku} · {p.name} · {price_text(Decimal(p.list_price), p.currency)} {p.currency}") for p in products
    ]


class OrderLineForm(forms.Form):
    product = forms.CharField(label=_("Product"), required=False, max_length=40, widget=forms.Select())
    quantity = number_field(_("Quantity"), required=False)
    net_unit_price = number_field(_("Net unit price"), required=False, help_text=_("Empty: the list price."))

    def __init__(self, *args: Any, products: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if len(products) > CHOICE_LIMIT:
            # Many products: type the SKU, helped by one shared <datalist> on the page.
            self.fields["product"].widget = forms.TextInput(
                attrs={"list": "product-options", "autocomplete": "off", "spellcheck": "false"}
            )
            return
        choices: list[tuple[str, str]] = [("", "---------"), *products]
        if self.is_bound:
            # Keep what was posted visible even when it is no product we sell (the error says why).
            posted = (self.data.get(self.add_prefix("product")) or "").strip()
            if posted and posted not in {value for value, _label in choices}:
                choices.append((posted, posted))
        widget = self.fields["product"].widget
        assert isinstance(widget, forms.Select)
        widget.choices = choices

    def is_blank(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not any((data.get(name) or "").strip() for name in ("product", "quantity", "net_unit_price"))


LINE_PREFIX = "lines"
MAX_LINES = 100
OrderLineFormSet = formset_factory(OrderLineForm, extra=3, max_num=MAX_LINES, absolute_max=MAX_LINES, validate_max=True)


def line_formset(
    data: Mapping[str, Any] | None = None,
    *,
    products: Sequence[tuple[str, str]],
    initial: list[dict[str, Any]] | None = None,
    extra: int | None = None,
) -> Any:
    formset_class = OrderLineFormSet
    if extra is not None:
        formset_class = formset_factory(
            OrderLineForm, extra=extra, max_num=MAX_LINES, absolute_max=MAX_LINES, validate_max=True
        )
    return formset_class(data, prefix=LINE_PREFIX, initial=initial, form_kwargs={"products": products})


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


# --- returns ------------------------------------------------------------------


class ReturnForm(OnceForm):
    return_date = forms.DateField(label=_("Return date"), initial=timezone.localdate, widget=DateInput())
    reason = forms.CharField(label=_("Reason"), required=False, max_length=200)

    def __init__(self, *args: Any, lines: Sequence[OrderLine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_lines = list(lines)
        for line in self.order_lines:
            self.fields[self.line_field(line)] = number_field(_("Quantity to return"), required=False)

    @staticmethod
    def line_field(line: OrderLine) -> str:
        return f"line_{line.pk}"

    def entered(self) -> list[tuple[OrderLine, str]]:
        """The lines with a quantity typed in, in order."""
        result = []
        for line in self.order_lines:
            value = (self.cleaned_data.get(self.line_field(line)) or "").strip()
            if value:
                result.append((line, value))
        return result


# --- invoices -----------------------------------------------------------------


class InvoiceForm(OnceForm):
    account = forms.ModelChoiceField(label=_("Account"), queryset=Account.objects.none(), to_field_name="code")
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES)
    amount = number_field(_("Amount"))
    issue_date = forms.DateField(label=_("Issue date"), initial=timezone.localdate, widget=DateInput())
    due_date = forms.DateField(
        label=_("Due date"),
        required=False,
        widget=DateInput(),
        help_text=_("Empty: the issue date plus the account's payment terms."),
    )

    def __init__(
        self,
        *args: Any,
        accounts: QuerySet[Account],
        order: Order | None = None,
        left: Decimal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.order = order
        if order is not None:
            # The account and currency are the order's; the amount defaults to what is left to invoice.
            del self.fields["account"]
            del self.fields["currency"]
            self.fields["amount"].required = False
            self.fields["amount"].initial = plain_number(left) if left is not None else ""
            self.fields["amount"].help_text = _("Empty: everything left to invoice on the order.")
        else:
            use_accounts(self, accounts)
            self.fields["currency"].initial = settings.PATRON_COMPANY_CURRENCY


# --- payments -----------------------------------------------------------------


class PaymentForm(OnceForm):
    account = forms.ModelChoiceField(label=_("Account"), queryset=Account.objects.none(), to_field_name="code")
    amount = number_field(_("Amount"))
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES)
    received_on = forms.DateField(label=_("Received on"), initial=timezone.localdate, widget=DateInput())
    method = forms.ChoiceField(label=_("Method"), choices=Payment.METHODS, initial="bank_transfer")
    reference = forms.CharField(
        label=_("Reference"), required=False, max_length=100, help_text=_("Bank slip, cheque or transaction number.")
    )

    def __init__(
        self, *args: Any, accounts: QuerySet[Account], open_invoices: Sequence[Invoice] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # Choosing an account shows what it owes and its open invoices (htmx; a button without JS).
        use_accounts(
            self,
            accounts,
            {
                "hx-get": reverse("sales:payment_new"),
                "hx-trigger": "change",
                "hx-target": "#receivables",
                "hx-swap": "outerHTML",
                "hx-push-url": "true",
                "data-testid": "payment-account",
            },
        )
        currencies = {i.currency for i in open_invoices}
        self.fields["currency"].initial = currencies.pop() if len(currencies) == 1 else settings.PATRON_COMPANY_CURRENCY
        self.open_invoices = list(open_invoices)
        for invoice in self.open_invoices:
            self.fields[self.allocation_field(invoice)] = number_field(
                _("Apply to %(number)s") % {"number": invoice.number}, required=False
            )

    @staticmethod
    def allocation_field(invoice: Invoice) -> str:
        return f"alloc_{invoice.pk}"

    def allocations(self) -> list[tuple[Invoice, str]]:
        """The invoices the user applied part of the payment to; empty means oldest due first."""
        result = []
        for invoice in self.open_invoices:
            value = (self.cleaned_data.get(self.allocation_field(invoice)) or "").strip()
            if value:
                result.append((invoice, value))
        return result


# --- products -----------------------------------------------------------------


class ProductForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=200)
    category = forms.ModelChoiceField(label=_("Category"), required=False, queryset=Category.objects.all())
    unit = forms.CharField(label=_("Unit"), max_length=20, initial="pcs")
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES)
    list_price = number_field(_("List price"))
    unit_cost = number_field(_("Unit cost"), required=False)
    active = forms.BooleanField(label=_("Sold"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = settings.PATRON_COMPANY_CURRENCY

    @staticmethod
    def initial_for(product: Product) -> dict[str, Any]:
        return {
            "sku": product.sku,
            "name": product.name,
            "category": product.category_id,
            "unit": product.unit,
            "currency": product.currency,
            "list_price": plain_number(Decimal(product.list_price)),
            "unit_cost": plain_number(Decimal(product.unit_cost)),
            "active": product.active,
        }

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["unit_cost"] = (data.get("unit_cost") or "").strip() or "0"
        return data
