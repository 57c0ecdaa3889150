"""Publishing a discount policy: who it reaches (in SQL), one row per address with a token, emails
through a real SMTP server in each account's language with a working link, a change published
again with what changed, and a sender that can stop anywhere and start again without sending twice."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import formats, timezone, translation

from patron.accounts.models import Contact, Tag
from patron.audit.models import AuditEvent
from patron.core import outbox
from patron.core.errors import Conflict
from patron.discounts import mappers, publication, services
from patron.discounts.models import Policy, PolicyPublication, PublicationRecipient
from patron.sales.models import Category
from patron.segments.models import Classification, Membership
from patron.segments.services import install_builtins
from tests.factories import make_account, make_industry, make_region_tree
from tests.smtp import Inbox, SmtpServer, free_port, serving_smtp

PERCENT_10 = {"kind": "percent_off", "percent": "10"}
PERCENT_5 = {"kind": "percent_off", "percent": "5"}
STARTS = "2030-12-01T00:00:00+08:00"
ENDS = "2030-12-31T00:00:00+08:00"


@pytest.fixture(autouse=True)
def _fresh_book() -> Iterator[None]:
    mappers.forget()
    yield
    mappers.forget()


@pytest.fixture(autouse=True)
def _fast(settings: Any) -> None:
    settings.PATRON_PUBLISH_PER_SECOND = 0
    settings.PATRON_BASE_URL = "https://crm.example.cn"


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    with serving_smtp(settings) as server:
        yield server


def contact(account: Any, email: str, *, consent: bool = True, name: str = "王芳", **extra: Any) -> Contact:
    return Contact.objects.create(
        account=account,
        name=name,
        email=email,
        email_consent=consent,
        email_consent_at=timezone.now() if consent else None,
        **extra,
    )


class World:
    """Guangdong (with Shenzhen below it) and Zhejiang (Hangzhou); accounts in English and Chinese."""

    def __init__(self, staff: Any) -> None:
        install_builtins()
        self.staff = staff
        self.regions = make_region_tree()
        self.green = Category.objects.create(code="GREEN", name_zh="绿茶", name_en="Green tea")
        self.retail = make_industry()
        r = self.regions
        self.gd = make_account(
            staff.sales, name="Canton Tea Co", region=r["GD"], language="en", email="buy@canton.example"
        )
        contact(self.gd, "li@canton.example", name="Li Lei", is_primary=True)
        contact(self.gd, "nope@canton.example", consent=False, name="No Consent")
        contact(self.gd, "BUY@canton.example", name="Same Address")  # the account's own address again
        self.sz = make_account(staff.sales, name="深圳茶行", region=r["SZ"], language="zh-hans", email="sz@example.cn")
        self.hz = make_account(staff.sales, name="杭州茶庄", region=r["HZ"], language="zh-hans", email="hz@example.cn")
        self.silent = make_account(staff.sales, name="No Address Co", region=r["GD"])
        self.merged = make_account(staff.sales, name="Old Canton", region=r["GD"], email="old@canton.example")
        self.merged.merged_into = self.gd
        self.merged.save()

    def policy(self, *rules: dict[str, Any], activate: bool = True, **fields: Any) -> Policy:
        data = {"name": "Winter tea", "customer_text": "Stock up for winter.", "effective_from": STARTS}
        data.update({"effective_to": ENDS, **fields})
        policy = services.policy_create(actor=self.staff.manager, data=data)
        for rule in rules:
            services.rule_create(actor=self.staff.manager, policy=policy, data=rule)
        if activate:
            policy = services.policy_set_status(actor=self.staff.manager, policy=policy, status=Policy.ACTIVE)
        return policy

    def guangdong_rule(self, **extra: Any) -> dict[str, Any]:
        return {
            "name": "Guangdong green tea",
            "who": {"regions": [self.regions["GD"].pk]},
            "what": {"categories": [self.green.pk]},
            "benefit": PERCENT_10,
            **extra,
        }


@pytest.fixture
def world(staff: Any) -> World:
    return World(staff)


def publish(world: World, policy: Policy, capture: Any, **kw: Any) -> publication.PublishResult:
    with capture(execute=True):
        return publication.policy_publish(actor=world.staff.manager, policy=policy, **kw)


def member(classification_key: str, account: Any, cls: str, start: dt.date, end: dt.date | None = None) -> None:
    classification = Classification.objects.get(key=classification_key)
    Membership.objects.create(
        classification=classification, account=account, class_key=cls, snapshot_id=1, valid_from=start, valid_to=end
    )


def targeted(policy: Policy) -> set[str]:
    return set(publication.targeted_accounts(policy).values_list("name", flat=True))


# --- who a policy reaches -----------------------------------------------------------------------------------------


def test_a_region_targets_the_accounts_in_it_and_below_it_but_never_a_merged_one(world):
    policy = world.policy(world.guangdong_rule())
    assert targeted(policy) == {"Canton Tea Co", "深圳茶行", "No Address Co"}


def test_a_class_targets_its_current_members_only(world):
    today = timezone.localdate()
    member("value_tier", world.gd, "high", today - dt.timedelta(days=30))  # a member now
    member("value_tier", world.sz, "high", today - dt.timedelta(days=60), today)  # left today
    member("value_tier", world.hz, "high", today + dt.timedelta(days=1))  # joins tomorrow
    member("value_tier", world.silent, "low", today - dt.timedelta(days=5))  # another class
    policy = world.policy({"name": "vip", "who": {"classes": ["value_tier:high"]}, "benefit": PERCENT_10})
    assert targeted(policy) == {"Canton Tea Co"}
    assert set(
        publication.targeted_accounts(policy, day=today - dt.timedelta(days=1)).values_list("name", flat=True)
    ) == {
        "Canton Tea Co",
        "深圳茶行",
    }


def test_lifecycle_stages_tags_industries_new_customers_and_named_accounts(world):
    today = timezone.localdate()
    member("lifecycle", world.hz, "at_risk", today - dt.timedelta(days=3))
    member("lifecycle", world.sz, "loyal", today - dt.timedelta(days=3))
    tag = Tag.objects.create(name="wholesale")
    world.sz.tags.add(tag)
    world.gd.industry = world.retail
    world.gd.first_order_date = today
    world.gd.save()
    cases = [
        ({"stages": ["at_risk"]}, {"杭州茶庄"}),
        ({"tags": [tag.pk]}, {"深圳茶行"}),
        ({"industries": [world.retail.pk]}, {"Canton Tea Co"}),
        ({"new_customers": True}, {"深圳茶行", "杭州茶庄", "No Address Co"}),
        ({"accounts": [world.hz.pk, world.merged.pk]}, {"杭州茶庄"}),
        # Every part of one rule must hold: Guangdong and tagged.
        ({"regions": [world.regions["GD"].pk], "tags": [tag.pk]}, {"深圳茶行"}),
    ]
    for who, expected in cases:
        policy = world.policy({"name": "r", "who": who, "benefit": PERCENT_10})
        assert targeted(policy) == expected, who


def test_any_rule_targets_and_an_empty_who_targets_every_account_not_merged(world):
    two = world.policy(
        {"name": "hz", "who": {"accounts": [world.hz.pk]}, "benefit": PERCENT_5},
        {"name": "sz", "who": {"regions": [world.regions["SZ"].pk]}, "benefit": PERCENT_5},
    )
    assert targeted(two) == {"杭州茶庄", "深圳茶行"}
    everyone = world.policy({"name": "all", "benefit": PERCENT_5})
    assert targeted(everyone) == {"Canton Tea Co", "深圳茶行", "杭州茶庄", "No Address Co"}


def test_the_targeting_is_one_query_whatever_the_number_of_accounts(world, django_assert_max_num_queries):
    policy = world.policy(
        world.guangdong_rule(), {"name": "vip", "who": {"classes": ["value_tier:high"]}, "benefit": PERCENT_5}
    )
    for i in range(30):
        make_account(world.staff.sales, region=world.regions["SZ"], email=f"c{i}@example.cn")
    with django_assert_max_num_queries(6):  # the rules, the region tree, the classification, then one count
        assert publication.targeted_accounts(policy).count() == 33


# --- publishing ---------------------------------------------------------------------------------------------------


def test_publishing_writes_a_row_per_address_and_counts_the_accounts_without_one(
    world, smtp_server, django_capture_on_commit_callbacks
):
    policy = world.policy(world.guangdong_rule())
    result = publish(world, policy, django_capture_on_commit_callbacks)
    p = result.publication
    assert result.created
    assert (p.accounts_targeted, p.recipients_count, p.without_address) == (3, 3, 1)
    rows = {r.email: r for r in PublicationRecipient.objects.filter(publication=p)}
    assert set(rows) == {"buy@canton.example", "li@canton.example", "sz@example.cn", ""}
    assert rows[""].status == PublicationRecipient.NO_ADDRESS
    assert rows["li@canton.example"].contact is not None
    assert len({r.token for r in rows.values()}) == 4
    assert all(len(r.token) >= 40 for r in rows.values())
    policy.refresh_from_db()
    assert (policy.published_version, policy.published_at is not None) == (policy.version, True)
    event = AuditEvent.objects.get(action="DISCOUNT_POLICY_PUBLISHED")
    assert event.actor == world.staff.manager
    assert event.changes["recipients"] == [None, 3]


def test_the_emails_reach_the_smtp_server_in_each_accounts_language_with_a_working_link(
    world, smtp_server, django_capture_on_commit_callbacks
):
    policy = world.policy(world.guangdong_rule())
    publish(world, policy, django_capture_on_commit_callbacks)
    by_address = {m.rcpt_tos[0]: m for m in smtp_server.messages}
    assert sorted(by_address) == ["buy@canton.example", "li@canton.example", "sz@example.cn"]
    english, chinese = by_address["buy@canton.example"], by_address["sz@example.cn"]
    assert english.subject == "Your offer: Winter tea"
    assert english.message["Content-Language"] == "en"
    assert "Dear Canton Tea Co," in english.body
    assert "Stock up for winter." in english.body
    assert "10% off on everything in Green tea." in english.body
    assert "Valid from Dec. 1, 2030 until Dec. 31, 2030." in english.body
    assert "Guangdong" not in english.body  # who else a rule is for is not the customer's business
    assert "Dear Li Lei," in by_address["li@canton.example"].body
    assert chinese.message["Content-Language"] == "zh-hans"
    assert "绿茶" in chinese.body
    assert "2030年12月1日" in chinese.body
    assert "Green tea" not in chinese.body
    html = english.message.get_body(preferencelist=("html",))
    assert html is not None
    assert "https://crm.example.cn/offers/" in html.get_content()
    # The link opens the customer's page, without signing in.
    link = next(word for word in chinese.body.split() if word.startswith("https://crm.example.cn/offers/"))
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert PublicationRecipient.objects.get(token=token).email == "sz@example.cn"
    page = Client().get(link.removeprefix("https://crm.example.cn"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Winter tea" in text
    assert "绿茶" in text
    assert "2030年12月1日" in text
    statuses = Counter(PublicationRecipient.objects.values_list("status", flat=True))
    assert statuses == {"sent": 3, "no_address": 1}
    assert PolicyPublication.objects.get().status == PolicyPublication.DONE


def test_publishing_the_same_version_twice_makes_no_second_batch(
    world, smtp_server, django_capture_on_commit_callbacks
):
    policy = world.policy(world.guangdong_rule())
    first = publish(world, policy, django_capture_on_commit_callbacks)
    again = publish(world, policy, django_capture_on_commit_callbacks)
    assert not again.created
    assert again.publication.pk == first.publication.pk
    assert PolicyPublication.objects.count() == 1
    assert PublicationRecipient.objects.count() == 4
    assert len(smtp_server.messages) == 3


def test_only_an_active_policy_is_published_and_only_by_an_editor(world, django_capture_on_commit_callbacks):
    draft = world.policy(world.guangdong_rule(), activate=False)
    with pytest.raises(Conflict):
        publish(world, draft, django_capture_on_commit_callbacks)
    archived = services.policy_set_status(actor=world.staff.manager, policy=draft, status=Policy.ARCHIVED)
    with pytest.raises(Conflict):
        publish(world, archived, django_capture_on_commit_callbacks)
    active = world.policy(world.guangdong_rule())
    for user in (world.staff.sales, world.staff.finance, world.staff.marketing):
        with pytest.raises(PermissionDenied):
            publication.policy_publish(actor=user, policy=active)
    assert not PolicyPublication.objects.exists()


def test_an_ended_policy_is_not_announced(world, django_capture_on_commit_callbacks):
    past = (timezone.now() - dt.timedelta(days=10)).isoformat()
    policy = world.policy(
        world.guangdong_rule(), effective_from=past, effective_to=(timezone.now() - dt.timedelta(days=1)).isoformat()
    )
    with pytest.raises(Conflict) as caught:
        publish(world, policy, django_capture_on_commit_callbacks)
    assert caught.value.field == "effective_to"


def test_accounts_are_read_a_chunk_at_a_time(world, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(publication, "CHUNK", 2)
    for i in range(7):
        make_account(world.staff.sales, region=world.regions["SZ"], email=f"c{i}@example.cn")
    policy = world.policy(world.guangdong_rule())
    with django_capture_on_commit_callbacks(execute=False):
        p = publication.policy_publish(actor=world.staff.manager, policy=policy).publication
    assert (p.accounts_targeted, p.recipients_count, p.without_address) == (10, 10, 1)
    assert PublicationRecipient.objects.filter(publication=p).values("account").distinct().count() == 10


# --- a change, published again ------------------------------------------------------------------------------------


def test_a_change_is_published_to_the_accounts_it_concerns_with_what_changed_and_from_when(
    world, smtp_server, django_capture_on_commit_callbacks
):
    policy = world.policy(
        world.guangdong_rule(),
        {"name": "Hangzhou", "who": {"regions": [world.regions["HZ"].pk]}, "benefit": PERCENT_5},
    )
    publish(world, policy, django_capture_on_commit_callbacks)
    smtp_server.messages.clear()
    guangdong = policy.rules.get(name="Guangdong green tea")
    services.rule_update(
        actor=world.staff.manager, rule=guangdong, data={"benefit": {"kind": "percent_off", "percent": "15"}}
    )
    policy.refresh_from_db()
    assert policy.version > (policy.published_version or 0)
    second = publish(world, policy, django_capture_on_commit_callbacks).publication
    assert second.kind == PolicyPublication.CHANGE
    assert second.changes["changed"] == [guangdong.pk]
    assert (second.accounts_targeted, second.accounts_unchanged) == (4, 1)  # Hangzhou is not concerned
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "buy@canton.example",
        "li@canton.example",
        "sz@example.cn",
    ]
    english = next(m for m in smtp_server.messages if m.rcpt_tos == ["buy@canton.example"])
    assert english.subject == "Changes to your offer: Winter tea"
    assert second.changes_from == dt.datetime.fromisoformat(STARTS)  # not started yet: from its start
    assert "The offer “Winter tea” changes from Dec. 1, 2030." in english.body
    assert "Changed: 15% off on everything in Green tea. (before: 10% off on everything in Green tea.)" in english.body
    assert "What you get:\n- 15% off on everything in Green tea." in english.body


def test_a_changed_date_concerns_everyone_and_an_account_no_longer_targeted_is_told(
    world, smtp_server, django_capture_on_commit_callbacks
):
    policy = world.policy(world.guangdong_rule())
    publish(world, policy, django_capture_on_commit_callbacks)
    smtp_server.messages.clear()
    services.rule_update(
        actor=world.staff.manager, rule=policy.rules.get(), data={"who": {"regions": [world.regions["SZ"].pk]}}
    )
    services.policy_update(actor=world.staff.manager, policy=policy, data={"effective_to": "2031-01-31T00:00:00+08:00"})
    policy.refresh_from_db()
    second = publish(world, policy, django_capture_on_commit_callbacks).publication
    assert (second.accounts_targeted, second.accounts_dropped) == (1, 2)  # Shenzhen stays; Canton and the silent one go
    by_address = {m.rcpt_tos[0]: m for m in smtp_server.messages}
    assert sorted(by_address) == ["buy@canton.example", "li@canton.example", "sz@example.cn"]
    dropped = by_address["buy@canton.example"]
    assert dropped.subject == "Offer no longer available to you: Winter tea"
    assert "no longer applies to your account" in dropped.body
    assert "No longer: 10% off on everything in Green tea." in dropped.body
    kept = by_address["sz@example.cn"]
    assert "2031年1月31日" in kept.body
    assert "（原为" in kept.body  # the old dates beside the new ("before:", in the account's Chinese)
    # Canton's old link now says the offer no longer applies to it.
    token = PublicationRecipient.objects.get(publication__version__lt=second.version, email="buy@canton.example").token
    page = Client().get(f"/offers/{token}/")
    assert "This offer no longer applies to your account." in page.content.decode()


def test_nothing_customers_see_changed_is_refused(world, smtp_server, django_capture_on_commit_callbacks):
    policy = world.policy(world.guangdong_rule())
    publish(world, policy, django_capture_on_commit_callbacks)
    services.policy_update(actor=world.staff.manager, policy=policy, data={"description": "internal note"})
    policy.refresh_from_db()
    with pytest.raises(Conflict):
        publish(world, policy, django_capture_on_commit_callbacks)


# --- sending: interrupted, restarted, refused, paced --------------------------------------------------------------


def prepared(world: World, count: int = 6) -> PolicyPublication:
    """A publication with ``count`` + 3 addresses whose emails have not left (the queue has not run)."""
    for i in range(count):
        make_account(world.staff.sales, region=world.regions["SZ"], email=f"c{i}@example.cn", language="en")
    policy = world.policy(world.guangdong_rule())
    return publication.policy_publish(actor=world.staff.manager, policy=policy).publication  # callbacks not run


def test_a_sender_stopped_halfway_and_started_again_sends_nobody_twice(world, smtp_server):
    p = prepared(world)
    assert smtp_server.messages == []
    first = publication.publication_send(p.pk, stop_after=4)
    assert first.sent == 4
    assert not first.finished
    assert PublicationRecipient.objects.filter(publication=p, status="sent").count() == 4
    second = publication.publication_send(p.pk)
    assert second.sent == 5
    assert second.finished
    addresses = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert len(addresses) == 9 == len(set(addresses))
    assert publication.publication_send(p.pk).sent == 0  # done: a third run finds nothing


def test_a_worker_killed_mid_run_is_resumed_after_its_lease_without_duplicates(world, smtp_server, monkeypatch):
    p = prepared(world)
    calls = {"n": 0}
    real_wait = outbox.Pace.wait

    def killed(self: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise SystemExit("worker killed")
        real_wait(self)

    monkeypatch.setattr(outbox.Pace, "wait", killed)
    # The kill skips the lease's release, as a dead process would.
    monkeypatch.setattr(outbox, "_release", lambda *a, **k: None)
    with pytest.raises(SystemExit):
        publication.publication_send(p.pk)
    assert len(smtp_server.messages) == 3
    assert publication.publications_due() == []  # the lease still holds: nobody starts a second sender
    assert publication.publication_send(p.pk).busy
    PolicyPublication.objects.filter(pk=p.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert publication.publications_due() == [p.pk]
    monkeypatch.setattr(outbox.Pace, "wait", real_wait)
    assert publication.publication_send(p.pk).finished
    addresses = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert len(addresses) == 9 == len(set(addresses))


def test_the_queue_task_resumes_a_publication(world, smtp_server):
    from patron.discounts.publication_tasks import resume_publications

    p = prepared(world, count=1)
    resume_publications()  # huey runs at once under the test settings
    assert len(smtp_server.messages) == 4
    assert PolicyPublication.objects.get(pk=p.pk).status == PolicyPublication.DONE


def test_an_unreachable_server_stops_the_run_and_a_later_run_sends_the_rest(world, settings, monkeypatch):
    p = prepared(world, count=2)
    monkeypatch.setattr(outbox, "backoff", lambda attempt: 0.0)
    with serving_smtp(settings) as server:
        assert publication.publication_send(p.pk, stop_after=2).sent == 2
        first = list(server.messages)
    # The server is gone (nothing listens on its port any more).
    report = publication.publication_send(p.pk)
    assert report.outage
    assert report.sent == 0
    waiting = PublicationRecipient.objects.filter(publication=p, status="queued")
    assert waiting.count() == 3
    assert "Connection refused" in waiting.exclude(last_error="").get().last_error
    with serving_smtp(settings) as server:
        assert publication.publication_send(p.pk).finished
        second = list(server.messages)
    addresses = [m.rcpt_tos[0] for m in [*first, *second]]
    assert len(addresses) == 5 == len(set(addresses))


class Picky(Inbox):
    """Refuses some addresses for good (550) and others once for now (451)."""

    def __init__(self, refuse: set[str], busy_once: set[str]) -> None:
        super().__init__()
        self.refuse, self.busy_once = refuse, set(busy_once)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        if address in self.busy_once:
            self.busy_once.discard(address)
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@contextmanager
def picky_smtp(settings: Any, refuse: set[str], busy_once: set[str]) -> Iterator[Picky]:
    inbox = Picky(refuse, busy_once)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()


def test_a_refused_address_fails_with_its_error_and_a_busy_one_is_retried_later(world, settings):
    p = prepared(world, count=2)
    with picky_smtp(settings, refuse={"c0@example.cn"}, busy_once={"c1@example.cn"}) as inbox:
        report = publication.publication_send(p.pk)
        assert (report.sent, report.failed, report.deferred) == (3, 1, 1)
        assert not report.finished
        assert report.retry_in is not None
        assert report.retry_in > 30
        failed = PublicationRecipient.objects.get(email="c0@example.cn")
        assert (failed.status, failed.attempts) == ("failed", 1)
        assert "550" in failed.last_error
        assert "No such mailbox" in failed.last_error
        busy = PublicationRecipient.objects.get(email="c1@example.cn")
        assert (busy.status, busy.attempts) == ("queued", 1)
        assert busy.next_attempt_at is not None
        assert busy.next_attempt_at > timezone.now()
        assert publication.publication_send(p.pk).sent == 0  # not due yet
        PublicationRecipient.objects.filter(pk=busy.pk).update(next_attempt_at=timezone.now())
        assert publication.publication_send(p.pk).finished
        assert sorted(m.rcpt_tos[0] for m in inbox.messages) == [
            "buy@canton.example",
            "c1@example.cn",
            "li@canton.example",
            "sz@example.cn",
        ]
    busy.refresh_from_db()
    assert (busy.status, busy.attempts) == ("sent", 2)


def test_sending_keeps_to_the_rate(world, smtp_server, settings):
    p = prepared(world, count=2)
    settings.PATRON_PUBLISH_PER_SECOND = 10
    started = time.monotonic()
    assert publication.publication_send(p.pk).sent == 5
    assert time.monotonic() - started >= 0.4  # five hand-offs, 0.1 s apart
    assert len(smtp_server.messages) == 5


def test_the_backoff_grows_to_an_hour():
    assert [outbox.backoff(n) for n in (1, 2, 3, 4)] == [60.0, 120.0, 240.0, 480.0]
    assert outbox.backoff(20) == 3600.0


def test_an_outage_schedules_the_next_try_later_and_the_sweeper_waits_for_it(world, settings):
    from huey.contrib.djhuey import HUEY

    from patron.discounts.publication_tasks import send_publication

    p = prepared(world, count=1)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there
    HUEY.flush()
    send_publication(p.pk)  # runs at once under the test settings
    (retry,) = HUEY.scheduled()
    assert retry.args == (p.pk, 1)
    assert retry.eta is not None
    held = PolicyPublication.objects.get(pk=p.pk)
    assert held.lease_owner == ""
    assert held.lease_until is not None
    assert held.lease_until > timezone.now() + dt.timedelta(seconds=50)  # a minute's back-off first
    assert publication.publications_due() == []
    assert publication.publication_send(p.pk).busy
    assert PublicationRecipient.objects.filter(publication=p, status="queued").count() == 4
    HUEY.flush()


def test_a_change_to_a_running_policy_applies_from_when_it_was_made(
    world, smtp_server, django_capture_on_commit_callbacks
):
    started = (timezone.now() - dt.timedelta(days=3)).isoformat()
    policy = world.policy(world.guangdong_rule(), effective_from=started)
    publish(world, policy, django_capture_on_commit_callbacks)
    services.policy_update(actor=world.staff.manager, policy=policy, data={"customer_text": "Now with cups."})
    policy.refresh_from_db()
    second = publish(world, policy, django_capture_on_commit_callbacks).publication
    assert second.changes_from == policy.updated_at
    assert second.changes["text"] is True
    with translation.override("en"):
        day = formats.date_format(timezone.localtime(second.changes_from), "DATE_FORMAT")
    body = next(m for m in smtp_server.messages[3:] if m.rcpt_tos == ["buy@canton.example"]).body
    assert f"changes from {day}." in body
    assert "The description of the offer was updated." in body
    assert "Now with cups." in body
