"""Publication over HTTP: the customer's page behind the email's link (public, one account's view, in
its language, the same 404 for every unknown link) and the API that publishes and follows the emails."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import translation

from patron.discounts import mappers, publication, services
from patron.discounts.describe import benefit_text
from patron.discounts.models import Policy, PolicyPublication, PublicationRecipient
from tests.api_client import ApiClient
from tests.integration.test_discount_publication import PERCENT_5, PERCENT_10, World

EN = {"Accept-Language": "en"}


@pytest.fixture(autouse=True)
def _fresh_book() -> Any:
    mappers.forget()
    yield
    mappers.forget()


@pytest.fixture(autouse=True)
def _unpaced(settings: Any) -> None:
    settings.PATRON_PUBLISH_PER_SECOND = 0


@pytest.fixture
def world(staff: Any) -> World:
    return World(staff)


def two_region_policy(world: World) -> Policy:
    return world.policy(
        world.guangdong_rule(),
        {"name": "Hangzhou only", "who": {"regions": [world.regions["HZ"].pk]}, "benefit": PERCENT_5},
    )


def published(world: World, policy: Policy, capture: Any) -> PolicyPublication:
    with capture(execute=True):
        return publication.policy_publish(actor=world.staff.manager, policy=policy).publication


def token_of(email: str) -> str:
    return PublicationRecipient.objects.filter(email=email).latest("id").token


# --- the customer's page ------------------------------------------------------------------------------------------


def test_the_page_needs_no_sign_in_and_shows_only_that_accounts_offer_in_its_language(
    world, django_capture_on_commit_callbacks
):
    published(world, two_region_policy(world), django_capture_on_commit_callbacks)
    page = Client().get(f"/offers/{token_of('sz@example.cn')}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "Winter tea" in html
    assert "Stock up for winter." in html
    with translation.override("zh-hans"):  # the account reads Chinese: the rule in Chinese words
        assert benefit_text(PERCENT_10) in html
    assert "绿茶" in html
    assert "2030年12月1日" in html
    assert "2030年12月31日" in html
    # Nothing of the Hangzhou rule, nor any other account, nor who the rule is for.
    for foreign in ("5% off", "杭州", "Canton", "No Address", "广东", "Guangdong", "login"):
        assert foreign not in html, foreign


def test_the_reader_may_switch_the_language(world, django_capture_on_commit_callbacks):
    published(world, two_region_policy(world), django_capture_on_commit_callbacks)
    page = Client().get(f"/offers/{token_of('sz@example.cn')}/", {"lang": "en"})
    html = page.content.decode()
    assert '<html lang="en">' in html
    assert "10% off on everything in Green tea." in html
    assert "Dec. 1, 2030" in html
    assert Client().get(f"/offers/{token_of('sz@example.cn')}/", {"lang": "fr"}).status_code == 200


def test_every_unknown_link_is_the_same_404(world, django_capture_on_commit_callbacks):
    published(world, two_region_policy(world), django_capture_on_commit_callbacks)
    real = token_of("sz@example.cn")
    near = real[:-1] + ("A" if real[-1] != "A" else "B")
    answers = [Client().get(f"/offers/{t}/") for t in (near, "x" * 43, "short", "%00%27--", real.upper())]
    assert {a.status_code for a in answers} == {404}
    assert len({a.content for a in answers}) == 1
    assert Client().get("/offers/").status_code == 404


def test_the_page_is_never_cached_indexed_or_passed_on(world, django_capture_on_commit_callbacks):
    published(world, two_region_policy(world), django_capture_on_commit_callbacks)
    page = Client().get(f"/offers/{token_of('buy@canton.example')}/")
    assert page["Cache-Control"] == "private, no-store"
    assert page["Referrer-Policy"] == "no-referrer"
    assert "noindex" in page["X-Robots-Tag"]
    assert Client().post(f"/offers/{token_of('buy@canton.example')}/").status_code == 405


def test_opening_the_page_is_recorded_once(world, django_capture_on_commit_callbacks):
    published(world, two_region_policy(world), django_capture_on_commit_callbacks)
    token = token_of("buy@canton.example")
    Client().get(f"/offers/{token}/")
    first = PublicationRecipient.objects.get(token=token).viewed_at
    assert first is not None
    Client().get(f"/offers/{token}/")
    assert PublicationRecipient.objects.get(token=token).viewed_at == first


def test_an_archived_policy_says_it_has_ended_and_a_paused_one_that_it_is_unavailable(
    world, django_capture_on_commit_callbacks
):
    policy = two_region_policy(world)
    published(world, policy, django_capture_on_commit_callbacks)
    token = token_of("buy@canton.example")
    services.policy_set_status(actor=world.staff.manager, policy=policy, status=Policy.DRAFT)
    html = Client().get(f"/offers/{token}/", {"lang": "en"}).content.decode()
    assert "This offer is not available at the moment." in html
    services.policy_set_status(actor=world.staff.manager, policy=policy, status=Policy.ARCHIVED)
    html = Client().get(f"/offers/{token}/", {"lang": "en"}).content.decode()
    assert "This offer has ended." in html
    assert 'data-testid="offer-rules"' not in html


def test_a_signed_in_user_sees_the_same_public_page(world, django_capture_on_commit_callbacks):
    published(world, two_region_policy(world), django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(world.staff.admin)
    html = client.get(f"/offers/{token_of('hz@example.cn')}/").content.decode()
    with translation.override("zh-hans"):
        assert benefit_text(PERCENT_5) in html
    assert "Sign out" not in html
    assert "10% off" not in html


# --- the API ------------------------------------------------------------------------------------------------------


def test_an_editor_publishes_and_reads_the_counts(world, django_capture_on_commit_callbacks):
    policy = two_region_policy(world)
    api = ApiClient(world.staff.manager)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/discount-policies/{policy.pk}/publish", headers=EN)
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["created"] is True
    assert (body["accounts_targeted"], body["recipients"], body["without_address"]) == (4, 4, 1)
    assert (body["version"], body["kind"]) == (policy.version, "first")
    assert sorted(m.to[0] for m in mail.outbox) == [
        "buy@canton.example",
        "hz@example.cn",
        "li@canton.example",
        "sz@example.cn",
    ]
    again = api.post(f"/api/discount-policies/{policy.pk}/publish", headers=EN)
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["created"]) == (body["id"], False)
    assert len(mail.outbox) == 4
    listed = api.get(f"/api/discount-policies/{policy.pk}/publications", headers=EN).json()
    assert [(p["id"], p["sent"], p["failed"], p["queued"], p["status"]) for p in listed] == [
        (body["id"], 4, 0, 0, "done")
    ]
    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/api/discount-publications/{body['id']}/recipients", params, headers=EN).json()
        pages.append([r["email"] for r in page["items"]])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [len(p) for p in pages] == [2, 2, 1]  # four addresses and one account without
    silent = api.get(f"/api/discount-publications/{body['id']}/recipients", {"status": "no_address"}).json()
    assert [r["account"] for r in silent["items"]] == [world.silent.pk]
    assert "token" not in silent["items"][0]


def test_a_change_is_published_again_over_the_api(world, django_capture_on_commit_callbacks):
    policy = two_region_policy(world)
    api = ApiClient(world.staff.admin)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/discount-policies/{policy.pk}/publish")
    mail.outbox.clear()
    rule = policy.rules.get(name="Hangzhou only")
    api.patch(f"/api/discount-rules/{rule.pk}", {"benefit": {"kind": "percent_off", "percent": "8"}})
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/discount-policies/{policy.pk}/publish", headers=EN)
    assert answer.status_code == 202
    assert (answer.json()["kind"], answer.json()["accounts_unchanged"]) == ("change", 3)
    assert answer.json()["changes"]["changed"] == [rule.pk]
    assert [m.to for m in mail.outbox] == [["hz@example.cn"]]
    with translation.override("zh-hans"):
        assert benefit_text({"kind": "percent_off", "percent": "8"}) in mail.outbox[0].body


def test_only_editors_publish_or_read_publications(world, django_capture_on_commit_callbacks):
    policy = two_region_policy(world)
    for name in ("sales", "finance", "marketing"):
        api = ApiClient(getattr(world.staff, name))
        assert api.post(f"/api/discount-policies/{policy.pk}/publish").status_code == 403
        assert api.get(f"/api/discount-policies/{policy.pk}/publications").status_code == 403
    assert not PolicyPublication.objects.exists()
    assert Client().post(f"/api/discount-policies/{policy.pk}/publish").status_code == 401


def test_a_draft_or_archived_policy_is_refused_with_409_and_an_unknown_one_is_404(world):
    api = ApiClient(world.staff.manager)
    draft = world.policy(world.guangdong_rule(), activate=False)
    answer = api.post(f"/api/discount-policies/{draft.pk}/publish", headers=EN)
    assert answer.status_code == 409
    assert "active" in answer.json()["detail"]
    archived = services.policy_set_status(actor=world.staff.manager, policy=draft, status=Policy.ARCHIVED)
    assert api.post(f"/api/discount-policies/{archived.pk}/publish").status_code == 409
    assert api.post("/api/discount-policies/999999/publish").status_code == 404
    assert api.get("/api/discount-policies/999999/publications").status_code == 404
    assert api.get("/api/discount-publications/999999/recipients").status_code == 404


# --- the policy page's Publish button -----------------------------------------------------------------------------


def signed_in(user: Any, language: str = "en") -> Client:
    user.language = language
    user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    return client


def test_an_editor_publishes_from_the_policy_page_and_sees_the_emails_go(world, django_capture_on_commit_callbacks):
    policy = two_region_policy(world)
    client = signed_in(world.staff.manager)
    page = client.get(f"/discounts/{policy.pk}/").content.decode()
    assert 'data-testid="publish"' in page
    assert "The rules reach 4 accounts today." in page
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/discounts/{policy.pk}/publish/")
    assert answer.status_code == 302
    html = client.get(answer["Location"]).content.decode()  # the emails left after the commit
    assert "is on its way: 4 emails to 4 accounts; 1 accounts have no email address." in html
    assert len(mail.outbox) == 4
    assert 'data-testid="publish"' not in html
    assert f"Version {policy.version} has been published" in html
    assert '<td class="num" data-testid="publication-sent">4</td>' in html
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(f"/discounts/{policy.pk}/publish/", follow=True)
    assert "nobody was written to again" in again.content.decode()
    assert len(mail.outbox) == 4


def test_the_page_offers_to_publish_the_changes_and_refuses_a_draft(world, django_capture_on_commit_callbacks):
    policy = two_region_policy(world)
    published(world, policy, django_capture_on_commit_callbacks)
    services.rule_update(
        actor=world.staff.manager,
        rule=policy.rules.get(name="Hangzhou only"),
        data={"benefit": {"kind": "percent_off", "percent": "8"}},
    )
    client = signed_in(world.staff.manager, "zh-hans")
    page = client.get(f"/discounts/{policy.pk}/")
    assert page.status_code == 200
    assert 'data-testid="publish"' in page.content.decode()
    services.policy_set_status(actor=world.staff.manager, policy=policy, status=Policy.DRAFT)
    client = signed_in(world.staff.manager)
    assert 'data-testid="publish"' not in client.get(f"/discounts/{policy.pk}/").content.decode()
    refused = client.post(f"/discounts/{policy.pk}/publish/", follow=True).content.decode()
    assert "Only an active policy can be published" in refused
    assert PolicyPublication.objects.count() == 1


def test_a_salesperson_sees_no_publication_card_and_may_not_publish(world):
    policy = two_region_policy(world)
    client = signed_in(world.staff.sales)
    page = client.get(f"/discounts/{policy.pk}/")
    assert 'data-testid="publications"' not in page.content.decode()
    assert client.post(f"/discounts/{policy.pk}/publish/").status_code == 403
    assert not PolicyPublication.objects.exists()
