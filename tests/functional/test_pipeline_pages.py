"""Pipeline pages through the test client: opened from the account page, the board moves cards without
JavaScript, the detail page names decision makers and keeps documents, bad input names its field."""

from __future__ import annotations

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from patron.accounts.models import Contact
from patron.pipeline import services
from patron.pipeline.models import Opportunity, OpportunityDocument
from tests.api_client import as_user
from tests.factories import make_account


def open_one(staff, account, **data) -> Opportunity:
    values = {"name": "Canteen supply", "amount": "80000", "expected_close": timezone.localdate(), **data}
    return services.opportunity_create(actor=staff.sales, account=account, data=values)


def test_an_opportunity_is_opened_from_the_account_page_and_every_page_renders(staff):
    plant = make_account(staff.sales, code="PLANT", name="Tea Plant", is_key_account=True)
    client = as_user(staff.sales)
    account_page = client.get(reverse("accounts:detail", args=["PLANT"])).content.decode()
    assert 'data-testid="new-opportunity"' in account_page
    assert 'href="/pipeline/board/"' in client.get("/").content.decode()  # the nav entry
    form = client.get(reverse("pipeline:new"), {"account": "PLANT"})
    assert form.status_code == 200
    bad = client.post(
        reverse("pipeline:new"),
        {"account": "PLANT", "name": "", "stage": "qualification", "amount": "1.234", "currency": "CNY"},
    )
    assert bad.status_code == 400
    page = bad.content.decode()
    assert 'data-field="name"' in page
    assert 'id="id_name_error"' in page
    assert 'id="id_amount_error"' in page
    assert 'id="id_expected_close_error"' in page
    made = client.post(
        reverse("pipeline:new"),
        {
            "account": "PLANT",
            "name": "Canteen supply 2027",
            "stage": "needs_analysis",
            "amount": "120000.00",
            "currency": "CNY",
            "expected_close": (timezone.localdate() + dt.timedelta(days=40)).isoformat(),
            "owner": "sales",
            "next_step": "Tasting",
        },
    )
    assert made.status_code == 302
    opp = Opportunity.objects.get()
    assert (opp.stage, opp.probability, opp.account) == ("needs_analysis", 25, plant)
    for url in (
        reverse("pipeline:list"),
        reverse("pipeline:board"),
        reverse("pipeline:forecast"),
        reverse("pipeline:detail", args=[opp.pk]),
        reverse("pipeline:edit", args=[opp.pk]),
        reverse("accounts:detail", args=["PLANT"]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Canteen supply 2027" in response.content.decode() or url == reverse("pipeline:forecast")
    assert 'data-testid="forecast-chart"' in client.get(reverse("pipeline:forecast")).content.decode()
    assert (
        'data-testid="account-opportunity"' in client.get(reverse("accounts:detail", args=["PLANT"])).content.decode()
    )


def test_the_list_filters_and_a_bad_filter_names_its_field(staff):
    plant = make_account(staff.sales, code="PLANT")
    open_one(staff, plant, name="Spring deal", expected_close=dt.date(2027, 3, 5))
    open_one(staff, plant, name="Autumn deal", expected_close=dt.date(2027, 9, 5), stage="proposal")
    client = as_user(staff.sales)
    march = client.get(reverse("pipeline:list"), {"month": "2027-03"}).content.decode()
    assert "Spring deal" in march
    assert "Autumn deal" not in march
    proposal = client.get(reverse("pipeline:list"), {"stage": "proposal", "account": "PLANT"}).content.decode()
    assert "Autumn deal" in proposal
    assert "Spring deal" not in proposal
    bad = client.get(reverse("pipeline:list"), {"month": "March", "stage": "signed"})
    assert bad.status_code == 400
    assert 'id="id_month_error"' in bad.content.decode()
    assert 'id="id_stage_error"' in bad.content.decode()


def test_the_board_moves_a_card_by_a_plain_form_and_a_lost_one_needs_its_reason(staff):
    plant = make_account(staff.sales, code="PLANT")
    opp = open_one(staff, plant)
    client = as_user(staff.sales)
    board = client.get(reverse("pipeline:board")).content.decode()
    assert 'data-testid="column-qualification"' in board
    assert "Canteen supply" in board
    moved = client.post(reverse("pipeline:move", args=[opp.pk]), {"stage": "proposal", "from": "board"})
    assert moved.status_code == 302
    assert moved["Location"] == reverse("pipeline:board")
    assert Opportunity.objects.get().stage == "proposal"
    refused = client.post(reverse("pipeline:move", args=[opp.pk]), {"stage": "lost", "from": "board"})
    assert refused.status_code == 400
    assert "Why it was lost: Say why it was lost." in refused.content.decode()
    htmx = client.post(
        reverse("pipeline:move", args=[opp.pk]), {"stage": "lost", "from": "board"}, headers={"HX-Request": "true"}
    )
    assert htmx.status_code == 200
    assert 'data-testid="move-error"' in htmx.content.decode()
    on_detail = client.post(reverse("pipeline:move", args=[opp.pk]), {"stage": "lost"})
    assert on_detail.status_code == 400
    assert 'id="id_lost_reason_error"' in on_detail.content.decode()
    client.post(reverse("pipeline:move", args=[opp.pk]), {"stage": "won", "from": "board"})
    assert Opportunity.objects.get().stage == "won"
    conflict = client.post(reverse("pipeline:move", args=[opp.pk]), {"stage": "lost", "lost_reason": "Price"})
    assert conflict.status_code == 400
    assert "reopen it to an open stage" in conflict.content.decode()


def test_decision_makers_and_documents_on_the_detail_page(staff, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    plant = make_account(staff.sales, code="PLANT")
    boss = Contact.objects.create(account=plant, name="Mr Wang", role="decider")
    stranger = Contact.objects.create(account=make_account(staff.sales), name="Elsewhere")
    opp = open_one(staff, plant)
    client = as_user(staff.sales)
    url = reverse("pipeline:detail", args=[opp.pk])
    bad = client.post(reverse("pipeline:person_add", args=[opp.pk]), {"contact": stranger.pk, "role": "user"})
    assert bad.status_code == 400
    assert 'id="id_contact_error"' in bad.content.decode()
    client.post(reverse("pipeline:person_add", args=[opp.pk]), {"contact": boss.pk, "role": "decision_maker"})
    page = client.get(url).content.decode()
    assert "Mr Wang" in page
    assert "Decision maker" in page
    quote = SimpleUploadedFile("quote.pdf", b"%PDF-1.4 the quote", content_type="application/pdf")
    attached = client.post(reverse("pipeline:document_upload", args=[opp.pk]), {"kind": "quote", "file": quote})
    assert attached.status_code == 302
    document = OpportunityDocument.objects.get()
    download = client.get(reverse("pipeline:document_download", args=[opp.pk, document.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 the quote"
    assert 'filename="quote.pdf"' in download["Content-Disposition"]
    exe = SimpleUploadedFile("setup.exe", b"MZ", content_type="application/octet-stream")
    refused = client.post(reverse("pipeline:document_upload", args=[opp.pk]), {"kind": "quote", "file": exe})
    assert refused.status_code == 400
    assert 'id="id_file_error"' in refused.content.decode()
    with override_settings(PATRON_PIPELINE_DOCUMENT_MAX_MB=1):
        big = SimpleUploadedFile("bid.pdf", b"x" * (1024 * 1024 + 10), content_type="application/pdf")
        too_big = client.post(reverse("pipeline:document_upload", args=[opp.pk]), {"kind": "bid", "file": big})
    assert too_big.status_code == 400
    assert "larger than 1 MB" in too_big.content.decode()
    history = client.get(url).content.decode()
    assert 'data-testid="stage-change"' in history
    assert 'data-testid="time-in-stages"' in history


def test_others_find_nothing_and_roles_without_a_pipeline_are_refused(staff):
    plant = make_account(staff.sales, code="PLANT")
    opp = open_one(staff, plant)
    url = reverse("pipeline:detail", args=[opp.pk])
    assert as_user(staff.sales2).get(url).status_code == 404
    assert as_user(staff.sales3).post(reverse("pipeline:move", args=[opp.pk]), {"stage": "won"}).status_code == 404
    assert as_user(staff.manager).get(url).status_code == 200
    assert as_user(staff.marketing).get(reverse("pipeline:board")).status_code == 403
    assert as_user(staff.finance).get(reverse("pipeline:list")).status_code == 403
    assert as_user(staff.sales2).get(reverse("pipeline:new"), {"account": "PLANT"}).status_code == 404
    assert 'href="/pipeline/board/"' not in as_user(staff.marketing).get("/").content.decode()


def test_the_board_list_and_forecast_cost_the_same_queries_for_many_opportunities(staff):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plant = make_account(staff.sales, code="PLANT")
    client = as_user(staff.sales)
    urls = [reverse("pipeline:board"), reverse("pipeline:list"), reverse("pipeline:forecast")]

    def cost() -> list[int]:
        counts = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            counts.append(len(queries))
        return counts

    open_one(staff, plant, name="First")
    few = cost()
    for n in range(8):
        opp = open_one(staff, plant, name=f"Deal {n}", expected_close=timezone.localdate() + dt.timedelta(days=n * 9))
        if n % 3 == 0:
            services.opportunity_move(actor=staff.sales, opportunity=opp, stage="won")
    assert cost() == few
