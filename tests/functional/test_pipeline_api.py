"""The opportunities API over HTTP: open, read, change, move, list and forecast; every bad field named in a 422,
others' opportunities 404, roles without a pipeline 403, a closed one refused with 409."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from patron.accounts.models import Contact
from patron.pipeline import services
from patron.pipeline.models import Opportunity
from tests.api_client import ApiClient, error_fields
from tests.factories import make_account


def close_day(days: int = 30) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def test_open_read_change_move_and_list_an_opportunity(staff):
    plant = make_account(staff.sales, code="PLANT", name="Tea Plant")
    boss = Contact.objects.create(account=plant, name="Mr Wang")
    api = ApiClient(staff.sales)
    made = api.post(
        "/api/opportunities",
        {"account": "PLANT", "name": "Canteen 2027", "amount": "120000.00", "expected_close": close_day()},
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["stage"], body["probability"], body["amount"], body["owner"]["username"]) == (
        "qualification",
        10,
        "120000.00",
        "sales",
    )
    assert [c["to_stage"] for c in body["stage_history"]] == ["qualification"]
    opp_id = body["id"]
    services.opportunity_contact_add(
        actor=staff.sales, opportunity=Opportunity.objects.get(pk=opp_id), contact=boss, role="gatekeeper"
    )
    read = api.get(f"/api/opportunities/{opp_id}").json()
    assert read["decision_makers"] == [
        {"contact": boss.pk, "name": "Mr Wang", "role": "gatekeeper", "attitude": "unknown", "notes": ""}
    ]
    changed = api.patch(f"/api/opportunities/{opp_id}", {"amount": "130000", "next_step": "Sample tasting"})
    assert changed.status_code == 200
    assert changed.json()["amount"] == "130000.00"
    moved = api.post(f"/api/opportunities/{opp_id}/move", {"stage": "negotiation", "probability": 70})
    assert (moved.json()["stage"], moved.json()["probability"]) == ("negotiation", 70)
    same = api.post(f"/api/opportunities/{opp_id}/move", {"stage": "negotiation"})
    assert same.status_code == 200
    assert len(same.json()["stage_history"]) == 2
    listed = api.get("/api/opportunities", {"stage": "open", "close_month": close_day()[:7]}).json()
    assert [o["id"] for o in listed["items"]] == [opp_id]
    won = api.post(f"/api/opportunities/{opp_id}/move", {"stage": "won"})
    assert won.json()["closed_at"] is not None
    forecast = api.get("/api/pipeline/forecast", {"months": 12}).json()
    assert forecast["currency"] == "CNY"
    assert forecast["weighted"] == "130000.00"


def test_bad_input_names_every_field(staff):
    make_account(staff.sales, code="PLANT")
    api = ApiClient(staff.sales)
    bad = api.post(
        "/api/opportunities",
        {"account": "PLANT", "name": "", "amount": "1.999", "currency": "XYZ", "expected_close": close_day()},
    )
    assert bad.status_code == 422
    assert error_fields(bad) == {"name", "amount", "currency"}
    unknown = api.post(
        "/api/opportunities", {"account": "NOPE", "name": "x", "amount": "1", "expected_close": close_day()}
    )
    assert error_fields(unknown) == {"account"}
    schema = api.post("/api/opportunities", {"account": "PLANT", "stage": "signed", "probability": 101})
    assert schema.status_code == 422
    assert {"name", "stage", "probability", "amount", "expected_close"} <= error_fields(schema)
    made = api.post(
        "/api/opportunities", {"account": "PLANT", "name": "Deal", "amount": "10", "expected_close": close_day()}
    ).json()
    lost = api.post(f"/api/opportunities/{made['id']}/move", {"stage": "lost"})
    assert lost.status_code == 422
    assert error_fields(lost) == {"lost_reason"}
    assert error_fields(api.get("/api/opportunities", {"close_month": "2027-13"})) == {"close_month"}
    assert api.post(f"/api/opportunities/{made['id']}/move", {"stage": "won"}).status_code == 200
    closed = api.post(f"/api/opportunities/{made['id']}/move", {"stage": "lost", "lost_reason": "Price"})
    assert closed.status_code == 409
    assert closed.json()["field"] == "stage"
    assert api.get("/api/opportunities/99999999").status_code == 404


def test_others_opportunities_are_not_found_and_roles_without_a_pipeline_are_refused(staff):
    plant = make_account(staff.sales, code="PLANT")
    opp = services.opportunity_create(
        actor=staff.sales, account=plant, data={"name": "Deal", "amount": "10", "expected_close": close_day()}
    )
    assert ApiClient(staff.sales2).get(f"/api/opportunities/{opp.pk}").status_code == 404
    assert ApiClient(staff.sales3).post(f"/api/opportunities/{opp.pk}/move", {"stage": "won"}).status_code == 404
    assert ApiClient(staff.sales3).get("/api/opportunities").json()["items"] == []
    assert ApiClient(staff.manager).get(f"/api/opportunities/{opp.pk}").status_code == 200
    assert ApiClient(staff.marketing).get("/api/opportunities").status_code == 403
    assert ApiClient(staff.finance).get("/api/pipeline/forecast").status_code == 403
    refused = ApiClient(staff.sales2).post(
        "/api/opportunities", {"account": "PLANT", "name": "Mine", "amount": "1", "expected_close": close_day()}
    )
    assert error_fields(refused) == {"account"}  # not theirs: not even visible
    assert ApiClient().get("/api/opportunities").status_code == 401
