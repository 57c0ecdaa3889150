"""The words of the events that services put on an account's timeline.

An entry stores its event and parameters, not a sentence, so each reader sees it in
their own language; later capabilities register their events here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

EVENTS: dict[str, Promise] = {
    "order_draft": _("Draft order %(number)s, %(total)s"),
    "order_confirmed": _("Order %(number)s confirmed, %(total)s"),
    "order_cancelled": _("Order %(number)s cancelled"),
    "order_discount_approved": _("Manual discounts of order %(number)s approved by %(by)s"),
    "order_discount_rejected": _("Manual discounts of order %(number)s rejected by %(by)s"),
    "credit_override_requested": _("Credit override asked for order %(number)s, %(over_by)s over the limit"),
    "credit_override_approved": _("Credit override for order %(number)s approved by %(by)s"),
    "credit_override_rejected": _("Credit override for order %(number)s refused by %(by)s"),
    "collection_reminder": _("Payment reminder sent for invoice %(number)s, %(amount)s"),
    "promise_recorded": _("Promise to pay %(amount)s by %(date)s"),
    "promise_broken": _("Promise to pay %(amount)s by %(date)s was broken"),
    "promise_kept": _("Promise to pay %(amount)s by %(date)s was kept"),
    "return_recorded": _("Return %(number)s on order %(order)s, %(total)s"),
    "invoice_issued": _("Invoice %(number)s, %(amount)s, due %(due)s"),
    "payment_received": _("Payment %(number)s received, %(amount)s"),
    "credit_note_issued": _("Credit note %(number)s for return %(return)s, %(amount)s"),
    "credit_note_for": _("Credit note %(number)s, %(amount)s: %(reason)s"),
    "invoice_voided": _("Invoice %(number)s voided"),
    # "number": the merged account's code and name.
    "account_merged": _("Merged %(number)s into this account"),
    "task_done": _("Follow-up done: %(subject)s"),
    "complaint_opened": _("Complaint %(number)s opened: %(subject)s"),
    "complaint_resolved": _("Complaint %(number)s resolved: %(subject)s"),
    # "subject": the opportunity's name; "name": a contact's or a document's.
    "opportunity_created": _("Opportunity %(subject)s opened, %(amount)s"),
    "opportunity_changed": _("Opportunity %(subject)s changed"),
    "opportunity_to_qualification": _("Opportunity %(subject)s moved to qualification"),
    "opportunity_to_needs_analysis": _("Opportunity %(subject)s moved to needs analysis"),
    "opportunity_to_proposal": _("Opportunity %(subject)s moved to proposal or quote"),
    "opportunity_to_negotiation": _("Opportunity %(subject)s moved to negotiation"),
    "opportunity_won": _("Opportunity %(subject)s won, %(amount)s"),
    "opportunity_lost": _("Opportunity %(subject)s lost: %(reason)s"),
    "opportunity_contact_added": _("%(name)s named as a decision maker of opportunity %(subject)s"),
    "opportunity_contact_removed": _("%(name)s no longer a decision maker of opportunity %(subject)s"),
    "opportunity_document_attached": _("Document %(name)s attached to opportunity %(subject)s"),
    "opportunity_document_removed": _("Document %(name)s removed from opportunity %(subject)s"),
}


def render(event: str, params: Mapping[str, Any], fallback: str = "") -> str:
    """The event's sentence in the active language; ``fallback`` for unknown events or bad params."""
    template = EVENTS.get(event)
    if template is None:
        return fallback
    try:
        return str(template) % dict(params)
    except (KeyError, TypeError, ValueError):
        return fallback


def render_stored(event: str, params: Mapping[str, Any]) -> str:
    """The English sentence kept in ``Activity.subject`` for search and for readers of the raw table."""
    with translation.override("en"):
        return render(event, params)[:200]


def english_templates() -> dict[str, str]:
    """Every event's English wording at once, for writers of many entries (the demo loader)."""
    with translation.override("en"):
        return {event: str(template) for event, template in EVENTS.items()}
