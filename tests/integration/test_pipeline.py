"""Opportunities: opened on an account by those who may work on it, moved through the stages with their history,
decided by the account's own contacts, with documents kept; the board and the forecast of what each user reaches."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone

from patron.accounts.models import Activity, Contact
from patron.audit.models import AuditEvent
from patron.core.errors import Conflict
from patron.pipeline import selectors, services
from patron.pipeline.models import Opportunity, OpportunityContact, OpportunityDocument, StageChange
from patron.sales.models import ExchangeRate
from tests.factories import make_account


def in_days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


@pytest.fixture
def plant(staff):
    return make_account(staff.sales, code="PLANT", name="Hangzhou Tea Plant", is_key_account=True)


def opportunity(actor, account, **data) -> Opportunity:
    values = {"name": "Canteen supply 2027", "amount": "120000.00", "expected_close": in_days(60), **data}
    return services.opportunity_create(actor=actor, account=account, data=values)


def test_an_opportunity_opens_in_qualification_with_its_history_audit_and_timeline(staff, plant):
    opp = opportunity(staff.sales, plant)
    assert (opp.stage, opp.probability, opp.amount, opp.currency, opp.owner) == (
        "qualification",
        10,
        Decimal("120000.00"),
        "CNY",
        staff.sales,
    )
    assert list(opp.stage_changes.values_list("from_stage", "to_stage")) == [("", "qualification")]
    assert AuditEvent.objects.filter(action="OPPORTUNITY_CREATED", entity_id=str(opp.pk)).exists()
    entry = Activity.objects.get(account=plant, event="opportunity_created")
    assert entry.subject == "Opportunity Canteen supply 2027 opened, 120,000.00 CNY"


def test_every_bad_field_is_named_at_once(staff, plant):
    with pytest.raises(ValidationError) as bad:
        services.opportunity_create(
            actor=staff.sales,
            account=plant,
            data={
                "name": "",
                "amount": "12.345",
                "currency": "CNY",
                "expected_close": "soon",
                "probability": "140",
                "stage": "signed",
                "owner": "sales3",  # another team's salesperson may not work on this account
            },
        )
    assert set(bad.value.message_dict) == {"name", "amount", "expected_close", "probability", "stage", "owner"}
    with pytest.raises(ValidationError) as lost:
        opportunity(staff.sales, plant, stage="lost")
    assert set(lost.value.message_dict) == {"lost_reason"}
    assert Opportunity.objects.count() == 0


def test_moves_keep_the_history_set_the_stage_probability_and_close_and_reopen(staff, plant):
    opp = opportunity(staff.sales, plant)
    opp = services.opportunity_move(actor=staff.sales, opportunity=opp, stage="proposal")
    assert (opp.stage, opp.probability, opp.closed_at) == ("proposal", 50, None)
    opp = services.opportunity_move(actor=staff.sales, opportunity=opp, stage="negotiation", probability=60)
    assert opp.probability == 60
    again = services.opportunity_move(actor=staff.sales, opportunity=opp, stage="negotiation")
    assert again.probability == 60  # to the stage it is in: nothing changes
    assert opp.stage_changes.count() == 3
    with pytest.raises(ValidationError) as no_reason:
        services.opportunity_move(actor=staff.sales, opportunity=opp, stage="lost")
    assert set(no_reason.value.message_dict) == {"lost_reason"}
    opp = services.opportunity_move(actor=staff.sales, opportunity=opp, stage="won")
    assert (opp.stage, opp.probability) == ("won", 100)
    assert opp.closed_at is not None
    with pytest.raises(Conflict) as closed:
        services.opportunity_move(actor=staff.sales, opportunity=opp, stage="lost", lost_reason="Budget cut")
    assert closed.value.field == "stage"
    opp = services.opportunity_move(actor=staff.sales, opportunity=opp, stage="negotiation", note="PO withdrawn")
    assert (opp.stage, opp.probability, opp.closed_at) == ("negotiation", 75, None)
    opp = services.opportunity_move(actor=staff.sales, opportunity=opp, stage="lost", lost_reason="Budget cut")
    assert (opp.lost_reason, opp.probability) == ("Budget cut", 0)
    assert list(opp.stage_changes.values_list("to_stage", flat=True)) == [
        "qualification",
        "proposal",
        "negotiation",
        "won",
        "negotiation",
        "lost",
    ]
    assert StageChange.objects.filter(opportunity=opp, to_stage="lost").get().note == "Budget cut"
    events = list(Activity.objects.filter(account=plant).values_list("event", flat=True))
    assert {"opportunity_won", "opportunity_lost", "opportunity_to_negotiation"} <= set(events)
    assert AuditEvent.objects.filter(action="OPPORTUNITY_MOVED", entity_id=str(opp.pk)).count() == 5


def test_an_update_changes_the_fields_not_the_stage_and_says_what_changed(staff, plant):
    opp = opportunity(staff.sales, plant)
    same = services.opportunity_update(actor=staff.sales, opportunity=opp, data={"amount": "120000"})
    assert AuditEvent.objects.filter(action="OPPORTUNITY_CHANGED").count() == 0
    changed = services.opportunity_update(
        actor=staff.sales,
        opportunity=same,
        data={"amount": "150000.50", "next_step": "Tasting at the plant", "owner": "sales"},
    )
    assert (changed.amount, changed.next_step) == (Decimal("150000.50"), "Tasting at the plant")
    event = AuditEvent.objects.get(action="OPPORTUNITY_CHANGED")
    assert set(event.changes) == {"amount", "next_step"}
    with pytest.raises(ValidationError) as bad:
        services.opportunity_update(actor=staff.sales, opportunity=opp, data={"stage": "won", "currency": "XXX"})
    assert set(bad.value.message_dict) == {"stage", "currency"}


def test_decision_makers_come_from_the_accounts_contacts_once_each(staff, plant):
    opp = opportunity(staff.sales, plant)
    boss = Contact.objects.create(account=plant, name="Mr Wang", role="decider")
    stranger = Contact.objects.create(account=make_account(staff.sales), name="Elsewhere")
    made = services.opportunity_contact_add(actor=staff.sales, opportunity=opp, contact=boss, role="decision_maker")
    again = services.opportunity_contact_add(actor=staff.sales, opportunity=opp, contact=boss.pk, role="decision_maker")
    assert made.pk == again.pk
    changed = services.opportunity_contact_add(
        actor=staff.sales, opportunity=opp, contact=str(boss.pk), role="financial_buyer", attitude="supporter"
    )
    assert (changed.role, changed.attitude, OpportunityContact.objects.count()) == ("financial_buyer", "supporter", 1)
    with pytest.raises(ValidationError) as bad:
        services.opportunity_contact_add(actor=staff.sales, opportunity=opp, contact=stranger, role="boss")
    assert set(bad.value.message_dict) == {"contact", "role"}
    assert services.opportunity_contact_remove(actor=staff.sales, opportunity=opp, contact=boss) is True
    assert services.opportunity_contact_remove(actor=staff.sales, opportunity=opp, contact=boss) is False
    subjects = list(Activity.objects.filter(account=plant).values_list("subject", flat=True))
    assert "Mr Wang named as a decision maker of opportunity Canteen supply 2027" in subjects


def test_documents_are_kept_checked_and_removed_with_their_file(
    staff, plant, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.VAR_DIR = tmp_path
    opp = opportunity(staff.sales, plant)
    doc = services.opportunity_document_attach(
        actor=staff.sales, opportunity=opp, file_name="C:\\quotes\\Quote v2.PDF", data=b"%PDF-1.4 quote", kind="quote"
    )
    assert (doc.name, doc.file_name, doc.file_size) == ("Quote v2", "Quote v2.PDF", 14)
    assert services.document_path(doc).read_bytes() == b"%PDF-1.4 quote"
    with pytest.raises(ValidationError) as bad:
        services.opportunity_document_attach(
            actor=staff.sales, opportunity=opp, file_name="run.exe", data=b"MZ", kind="virus"
        )
    assert set(bad.value.message_dict) == {"file", "kind"}
    with pytest.raises(ValidationError):
        services.opportunity_document_attach(actor=staff.sales, opportunity=opp, file_name="empty.pdf", data=b"")
    with override_settings(PATRON_PIPELINE_DOCUMENT_MAX_MB=1), pytest.raises(ValidationError) as big:
        services.opportunity_document_attach(
            actor=staff.sales, opportunity=opp, file_name="bid.pdf", data=b"x" * (1024 * 1024 + 1)
        )
    assert "larger than 1 MB" in big.value.message_dict["file"][0]
    path = services.document_path(doc)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.opportunity_document_remove(actor=staff.sales, opportunity=opp, document=doc) is True
    assert not path.exists()
    assert OpportunityDocument.objects.count() == 0


def test_a_salesperson_cannot_touch_another_accounts_opportunity_and_a_manager_reaches_the_team(staff, plant):
    opp = opportunity(staff.sales, plant)
    other = opportunity(staff.sales3, make_account(staff.sales3, code="NORTH"), name="North deal")
    for outsider in (staff.sales2, staff.sales3, staff.manager2, staff.marketing, staff.finance):
        with pytest.raises(PermissionDenied):
            services.opportunity_move(actor=outsider, opportunity=opp, stage="proposal")
        with pytest.raises(PermissionDenied):
            services.opportunity_update(actor=outsider, opportunity=opp, data={"name": "Mine now"})
    with pytest.raises(PermissionDenied):
        opportunity(staff.sales2, plant)
    assert set(selectors.opportunities_visible(staff.sales)) == {opp}
    assert set(selectors.opportunities_visible(staff.sales2)) == set()
    assert set(selectors.opportunities_visible(staff.manager)) == {opp}
    assert set(selectors.opportunities_visible(staff.manager2)) == {other}
    assert set(selectors.opportunities_visible(staff.admin)) == {opp, other}
    assert set(selectors.opportunities_visible(staff.marketing)) == set()
    services.opportunity_move(actor=staff.manager, opportunity=opp, stage="proposal")  # the team's manager may


def test_the_board_columns_hold_the_open_stages_with_totals_in_the_company_currency(staff, plant):
    opportunity(staff.sales, plant, amount="1000.00")
    opportunity(staff.sales, plant, amount="100.00", currency="USD", stage="proposal")
    opportunity(staff.sales, plant, amount="50.00", currency="EUR", stage="proposal")  # no rate for euros
    ExchangeRate.objects.create(currency="USD", rate=Decimal("7.1"), valid_from=in_days(-10))
    columns = {c.stage: c for c in selectors.board(staff.manager)}
    assert [c.stage for c in selectors.board(staff.manager)] == [
        "qualification",
        "needs_analysis",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ]
    assert (len(columns["qualification"].cards), columns["qualification"].amount) == (1, Decimal("1000.00"))
    assert (columns["proposal"].amount, columns["proposal"].weighted, columns["proposal"].unconverted) == (
        Decimal("710.00"),
        Decimal("355.00"),
        1,
    )
    assert selectors.board(staff.sales3)[0].cards == []


def test_the_forecast_weighs_by_month_and_owner_counts_won_in_full_and_leaves_lost_out(staff, plant):
    today = timezone.localdate()
    first = opportunity(staff.sales, plant, amount="1000.00", expected_close=today)
    won = opportunity(staff.sales, plant, amount="500.00", expected_close=today + dt.timedelta(days=200))
    lost = opportunity(staff.sales, plant, amount="9999.00")
    services.opportunity_move(actor=staff.sales, opportunity=first, stage="proposal")
    services.opportunity_move(actor=staff.sales, opportunity=won, stage="won")
    services.opportunity_move(actor=staff.sales, opportunity=lost, stage="lost", lost_reason="Price")
    view = selectors.forecast(staff.manager, months=3, today=today)
    this_month = view.forecast.months[0][1]
    assert (this_month.weighted, this_month.won, this_month.count) == (Decimal("1000.00"), Decimal("500.00"), 2)
    assert view.forecast.total.weighted == Decimal("1000.00")
    assert [(owner, line.weighted) for owner, line in view.by_owner] == [("sales", Decimal("1000.00"))]
    assert selectors.forecast(staff.sales3, months=3, today=today).forecast.total.count == 0


def test_time_in_each_stage_is_read_from_the_history(staff, plant):
    opp = opportunity(staff.sales, plant)
    start = opp.created_at
    StageChange.objects.filter(opportunity=opp).update(at=start)
    StageChange.objects.create(
        opportunity=opp, from_stage="qualification", to_stage="proposal", at=start + dt.timedelta(days=4)
    )
    StageChange.objects.create(
        opportunity=opp, from_stage="proposal", to_stage="negotiation", at=start + dt.timedelta(days=10)
    )
    now = start + dt.timedelta(days=12)
    spent = {stage: t.days for stage, _label, t in selectors.time_in_stages(opp, now=now)}
    assert spent == {"qualification": 4, "proposal": 6, "negotiation": 2}
    stayed = [t.days for _change, t in selectors.stage_history(opp, now=now)]
    assert stayed == [4, 6, 2]
    averages = {stage: t.days for stage, _label, t in selectors.average_time_in_stages(staff.sales, now=now)}
    assert averages == {"qualification": 4, "proposal": 6, "negotiation": 2}
