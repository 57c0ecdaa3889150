"""Approval services and selectors on the database: submit (idempotent, superseding), decide, withdraw,
supersede, who may do what, the event log, the audit trail, the subject's app hearing of decisions,
emails after commit in each reader's language, and two approvers deciding the same request at once."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, connections, transaction

from patron.approvals import registry, selectors
from patron.approvals.models import ApprovalEvent, ApprovalRequest
from patron.approvals.services import (
    ApprovalRefused,
    approval_approve,
    approval_reject,
    approval_submit,
    approval_supersede,
    approval_withdraw,
)
from patron.approvals.terms import terms_hash
from patron.audit.models import AuditEvent
from patron.core.errors import Conflict
from patron.domain.money import Money
from patron.staff.models import User
from tests.factories import make_account
from tests.smtp import SmtpServer, serving_smtp

TERMS: dict[str, Any] = {
    "lines": [
        {"sku": "TEA-1", "quantity": 10, "list_price": Decimal("100.00"), "unit_price": Decimal("70.00")},
        {"sku": "CUP-2", "quantity": 2, "list_price": Decimal("25.00"), "unit_price": Decimal("25.00")},
    ],
    "discount_percent": Decimal("28.00"),
    "limit_percent": Decimal("15"),
    "margin": Money(Decimal("120.00"), "CNY"),
}


@pytest.fixture
def people(staff: Any) -> Any:
    """Everyone with an address and English, except the South manager, who reads Chinese."""
    for user in User.objects.all():
        user.email = f"{user.username}@example.cn"
        user.language = "zh-hans" if user.username == "manager" else "en"
        user.save(update_fields=["email", "language"])
    for name in ("admin", "manager", "sales", "sales2", "manager2", "sales3", "finance", "marketing"):
        setattr(staff, name, User.objects.get(username=name))
    return staff


@pytest.fixture
def shop(people: Any) -> Any:
    """An account of the South salesperson (managed by ``manager``)."""
    return make_account(people.sales, code="SHOP-1", name="深圳茶行")


def submit(actor: Any, account: Any, *, subject_id: int = 1, level: str = "manager", terms: Any = None, **kw: Any):
    return approval_submit(
        actor=actor,
        subject_type="order_discount",
        subject_id=subject_id,
        account=account,
        required_level=level,
        reason=kw.pop("reason", "Big first order; competitor offers 25%."),
        terms=TERMS if terms is None else terms,
    )


def statuses(subject_id: int = 1) -> list[str]:
    return [r.status for r in selectors.approval_history(subject_type="order_discount", subject_id=subject_id)]


# --- submit ----------------------------------------------------------------------------------------------------


def test_a_submission_is_pending_with_its_terms_as_plain_json_and_their_fingerprint(people, shop):
    request = submit(people.sales, shop)
    request.refresh_from_db()
    assert request.status == "pending"
    assert request.submitter == people.sales
    assert request.account == shop
    assert request.terms["lines"][0] == {"sku": "TEA-1", "quantity": 10, "list_price": "100.00", "unit_price": "70.00"}
    assert request.terms["margin"] == {"amount": "120.00", "currency": "CNY"}
    assert request.terms_hash == terms_hash(TERMS)
    assert len(request.terms_hash) == 64
    [event] = request.events.all()
    assert (event.action, event.actor, event.from_status, event.to_status) == ("submit", people.sales, "", "pending")
    audit = AuditEvent.objects.get(action="APPROVAL_REQUEST_SUBMITTED")
    assert (audit.actor, audit.account_id, audit.entity_id) == (people.sales, shop.pk, str(request.pk))
    assert audit.changes["subject"] == [None, "order_discount:1"]


def test_the_fingerprint_ignores_key_order_and_sees_every_change():
    reordered = {k: TERMS[k] for k in reversed(list(TERMS))}
    assert terms_hash(reordered) == terms_hash(TERMS)
    assert terms_hash({**TERMS, "discount_percent": Decimal("28.01")}) != terms_hash(TERMS)
    assert terms_hash({**TERMS, "discount_percent": "28.00"}) == terms_hash(TERMS)  # a Decimal is its text


def test_submitting_the_same_terms_again_returns_the_same_request(people, shop, django_capture_on_commit_callbacks):
    first = submit(people.sales, shop)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = submit(people.sales, shop, terms={k: TERMS[k] for k in reversed(list(TERMS))}, reason="again")
    assert again.pk == first.pk
    assert callbacks == []  # nobody is emailed twice
    assert ApprovalRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action="APPROVAL_REQUEST_SUBMITTED").count() == 1


def test_other_terms_supersede_the_pending_request(people, shop):
    first = submit(people.sales, shop)
    second = submit(people.sales, shop, terms={**TERMS, "discount_percent": Decimal("30.00")})
    first.refresh_from_db()
    assert (first.status, first.superseded_by) == ("superseded", second)
    assert second.status == "pending"
    assert statuses() == ["superseded", "pending"]
    event = first.events.get(action="supersede")
    assert (event.from_status, event.to_status, event.actor) == ("pending", "superseded", people.sales)
    audit = AuditEvent.objects.get(action="APPROVAL_REQUEST_SUPERSEDED")
    assert audit.changes["superseded_by"] == [None, second.pk]


def test_an_approval_applies_to_exactly_its_terms(people, shop):
    request = submit(people.sales, shop)
    approval_approve(actor=people.manager, request=request, comment="")
    kw = {"subject_type": "order_discount", "subject_id": 1}
    assert selectors.approval_granted(**kw, terms=TERMS)
    assert not selectors.approval_granted(**kw, terms={**TERMS, "discount_percent": Decimal("29")})
    # the same terms again: the approval stands, nothing new to decide
    assert submit(people.sales, shop).pk == request.pk
    # other terms: the approval no longer applies and a new request waits
    newer = submit(people.sales, shop, terms={**TERMS, "discount_percent": Decimal("29")})
    assert statuses() == ["superseded", "pending"]
    assert not selectors.approval_granted(**kw, terms=TERMS)
    assert selectors.approval_current(**kw) == newer


def test_a_rejected_request_can_be_asked_again(people, shop):
    request = submit(people.sales, shop)
    approval_reject(actor=people.manager, request=request, comment="Too deep.")
    again = submit(people.sales, shop, reason="The customer signs a year's contract.")
    assert again.pk != request.pk
    assert statuses() == ["rejected", "pending"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"terms": {"margin": 0.23}}, "terms.margin"),
        ({"terms": {"lines": [{"price": float("nan")}]}}, "terms.lines.0.price"),
        ({"terms": {"when": object()}}, "terms.when"),
        ({"terms": ["not", "an", "object"]}, "terms"),
        ({"subject_id": 0}, "subject_id"),
        ({"subject_type": ""}, "subject_type"),
        ({"subject_type": "x" * 41}, "subject_type"),
        ({"required_level": "director"}, "required_level"),
        ({"reason": "x" * 4001}, "reason"),
    ],
)
def test_bad_submissions_name_the_field(people, shop, change, field):
    data = {
        "actor": people.sales,
        "subject_type": "order_discount",
        "subject_id": 1,
        "account": shop,
        "required_level": "manager",
        "reason": "",
        "terms": TERMS,
        **change,
    }
    with pytest.raises(ValidationError) as refused:
        approval_submit(**data)
    assert field in refused.value.message_dict
    assert not ApprovalRequest.objects.exists()


def test_nobody_submits_for_an_account_they_cannot_see(people, shop):
    with pytest.raises(PermissionDenied):
        submit(people.sales3, shop)


# --- deciding --------------------------------------------------------------------------------------------------


def test_a_manager_approves_a_team_request(people, shop):
    request = submit(people.sales, shop)
    decided = approval_approve(actor=people.manager, request=request, comment="OK for this order only.")
    request.refresh_from_db()
    assert request.status == "approved"
    assert (request.decided_by, request.comment) == (people.manager, "OK for this order only.")
    assert request.decided_at is not None
    assert decided.status == "approved"
    event = request.events.get(action="approve")
    assert (event.actor, event.from_status, event.to_status, event.comment) == (
        people.manager,
        "pending",
        "approved",
        "OK for this order only.",
    )
    audit = AuditEvent.objects.get(action="APPROVAL_REQUEST_APPROVED")
    assert audit.changes["status"] == ["pending", "approved"]
    assert audit.account_id == shop.pk


def test_a_reject_needs_a_comment(people, shop):
    request = submit(people.sales, shop)
    for empty in ("", "   \n"):
        with pytest.raises(ValidationError) as refused:
            approval_reject(actor=people.manager, request=request, comment=empty)
        assert set(refused.value.message_dict) == {"comment"}
    request.refresh_from_db()
    assert request.status == "pending"
    approval_reject(actor=people.manager, request=request, comment="  Margin too thin.  ")
    request.refresh_from_db()
    assert (request.status, request.comment) == ("rejected", "Margin too thin.")


@pytest.mark.parametrize("decide", [approval_approve, approval_reject])
def test_nobody_decides_their_own_request(people, decide):
    own = make_account(people.manager, code="OWN-1")
    request = submit(people.manager, own)
    with pytest.raises(ApprovalRefused) as refused:
        decide(actor=people.manager, request=request, comment="mine")
    assert refused.value.code == "self_approval"
    assert "you submitted" in refused.value.message
    decide(actor=people.admin, request=request, comment="fine")  # an admin decides it instead
    admin_own = submit(people.admin, own, subject_id=2, level="admin")
    with pytest.raises(ApprovalRefused):
        decide(actor=people.admin, request=admin_own, comment="mine too")


@pytest.mark.parametrize("who", ["sales", "sales2", "finance", "marketing"])
def test_only_managers_and_admins_decide(people, shop, who):
    request = submit(people.sales, shop) if who != "sales" else submit(people.sales2, make_account(people.sales2))
    with pytest.raises(ApprovalRefused) as refused:
        approval_approve(actor=getattr(people, who), request=request, comment="")
    assert refused.value.code in {"not_allowed", "self_approval"}
    if who == "finance":  # finance decides credit overrides only
        assert "needs a sales manager's approval; finance decides only credit overrides" in refused.value.message
    elif who != "sales":
        assert "Only a sales manager, finance or an admin" in refused.value.message
    request.refresh_from_db()
    assert request.status == "pending"
    assert not ApprovalEvent.objects.filter(action="approve").exists()


def test_a_manager_cannot_decide_an_admin_level_request(people, shop):
    request = submit(people.sales, shop, level="admin")
    with pytest.raises(ApprovalRefused) as refused:
        approval_approve(actor=people.manager, request=request, comment="")
    assert "needs an admin" in refused.value.message
    approval_approve(actor=people.admin, request=request, comment="")
    request.refresh_from_db()
    assert request.status == "approved"


def test_a_manager_decides_only_their_teams_accounts(people, shop):
    request = submit(people.sales, shop)
    with pytest.raises(ApprovalRefused) as refused:
        approval_approve(actor=people.manager2, request=request, comment="")
    assert "outside your team" in refused.value.message
    # without an account, the submitter's team says whose it is
    teamless = submit(people.sales, None, subject_id=5)
    with pytest.raises(ApprovalRefused):
        approval_reject(actor=people.manager2, request=teamless, comment="no")
    approval_reject(actor=people.manager, request=teamless, comment="no")


def test_deciding_a_decided_request_says_who_decided_it_and_when(people, shop):
    request = submit(people.sales, shop)
    approval_approve(actor=people.manager, request=request, comment="")
    for decide in (approval_approve, approval_reject):
        with pytest.raises(Conflict) as conflict:
            decide(actor=people.admin, request=request, comment="late")
        assert conflict.value.message.startswith("This request was already approved by manager at ")
    assert ApprovalEvent.objects.filter(request=request).count() == 2  # submit, approve


def test_the_subjects_app_hears_of_decisions_inside_the_transaction(people, shop):
    heard: list[tuple[int, str]] = []
    with registry.replaced("order_discount", on_decided=lambda r: heard.append((r.pk, r.status))):
        first = submit(people.sales, shop)
        approval_approve(actor=people.manager, request=first, comment="")
        second = submit(people.sales, shop, subject_id=2)
        approval_reject(actor=people.manager, request=second, comment="no")
        third = submit(people.sales, shop, subject_id=3)
        approval_withdraw(actor=people.sales, request=third)
        assert heard == [(first.pk, "approved"), (second.pk, "rejected")]


def test_a_failing_handler_takes_the_decision_back(people, shop):
    def explode(request: ApprovalRequest) -> None:
        raise RuntimeError("the order is gone")

    with registry.replaced("order_discount", on_decided=explode):
        request = submit(people.sales, shop)
        with pytest.raises(RuntimeError):
            approval_approve(actor=people.manager, request=request, comment="")
    request.refresh_from_db()
    assert request.status == "pending"
    assert not AuditEvent.objects.filter(action="APPROVAL_REQUEST_APPROVED").exists()


# --- withdraw and supersede ------------------------------------------------------------------------------------


def test_the_submitter_withdraws_a_pending_request(people, shop):
    request = submit(people.sales, shop)
    with pytest.raises(ApprovalRefused):
        approval_withdraw(actor=people.manager, request=request)
    approval_withdraw(actor=people.sales, request=request)
    request.refresh_from_db()
    assert request.status == "withdrawn"
    assert AuditEvent.objects.filter(action="APPROVAL_REQUEST_WITHDRAWN").count() == 1
    with pytest.raises(Conflict, match="withdrawn by sales"):
        approval_approve(actor=people.manager, request=request, comment="")
    with pytest.raises(Conflict):
        approval_withdraw(actor=people.sales, request=request)


def test_supersede_ends_a_pending_or_approved_request_and_nothing_else(people, shop):
    approved = submit(people.sales, shop, subject_id=1)
    approval_approve(actor=people.manager, request=approved, comment="")
    pending = submit(people.sales, shop, subject_id=2)
    rejected = submit(people.sales, shop, subject_id=3)
    approval_reject(actor=people.manager, request=rejected, comment="no")
    for subject_id in (1, 2, 3, 4):
        approval_supersede(subject_type="order_discount", subject_id=subject_id, actor=people.sales)
    assert [statuses(n) for n in (1, 2, 3)] == [["superseded"], ["superseded"], ["rejected"]]
    assert AuditEvent.objects.filter(action="APPROVAL_REQUEST_SUPERSEDED").count() == 2
    with pytest.raises(Conflict, match="replaced by a newer one"):
        approval_approve(actor=people.manager, request=pending, comment="")
    assert approval_supersede(subject_type="order_discount", subject_id=1) == []


# --- selectors ----------------------------------------------------------------------------------------------------


def test_who_sees_what(people, shop):
    north = make_account(people.sales3, code="NORTH-1")
    south_request = submit(people.sales, shop, subject_id=1)
    admin_level = submit(people.sales, shop, subject_id=2, level="admin")
    north_request = submit(people.sales3, north, subject_id=3)
    own = submit(people.manager, shop, subject_id=4)

    def ids(qs):
        return sorted(r.pk for r in qs)

    assert ids(selectors.approvals_to_decide(user=people.manager)) == [south_request.pk]
    assert ids(selectors.approvals_to_decide(user=people.manager2)) == [north_request.pk]
    assert ids(selectors.approvals_to_decide(user=people.admin)) == sorted(
        [south_request.pk, admin_level.pk, north_request.pk, own.pk]
    )
    for nobody in (people.sales, people.sales2, people.finance, people.marketing):
        assert ids(selectors.approvals_to_decide(user=nobody)) == []
    assert selectors.approval_pending_count(user=people.manager) == 1
    assert selectors.approval_pending_count(user=people.admin) == 4
    assert ids(selectors.approvals_submitted(user=people.sales)) == sorted([south_request.pk, admin_level.pk])
    assert ids(selectors.approvals_visible(user=people.sales3)) == [north_request.pk]
    # a manager sees the team's requests (even those needing an admin) and their own
    assert ids(selectors.approvals_visible(user=people.manager)) == sorted([south_request.pk, admin_level.pk, own.pk])
    assert ids(selectors.approvals_visible(user=people.sales2)) == []
    assert ids(selectors.approvals_visible(user=people.admin)) == ids(ApprovalRequest.objects.all())
    # the account's owner reads what their manager asked about their account
    assert own.pk in ids(selectors.approvals_visible(user=people.sales))
    assert ids(selectors.approvals_visible(user=people.finance)) == []
    with pytest.raises(ApprovalRequest.DoesNotExist):
        selectors.approval_get(user=people.manager2, pk=south_request.pk)
    approval_approve(actor=people.manager, request=south_request, comment="")
    assert ids(selectors.approvals_decided(user=people.sales)) == [south_request.pk]
    assert selectors.approval_pending_count(user=people.manager) == 0


def test_the_pending_count_costs_no_query_for_who_decides_nothing(people, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.approval_pending_count(user=people.sales) == 0
    with django_assert_num_queries(1):
        assert selectors.approval_pending_count(user=people.manager) == 0


def test_the_history_of_a_subject_keeps_every_request(people, shop):
    submit(people.sales, shop)
    submit(people.sales, shop, terms={**TERMS, "discount_percent": Decimal("20")})
    current = submit(people.sales, shop, terms={**TERMS, "discount_percent": Decimal("18")})
    history = list(selectors.approval_history(subject_type="order_discount", subject_id=1))
    assert [r.status for r in history] == ["superseded", "superseded", "pending"]
    assert [r.superseded_by_id for r in history] == [history[1].pk, current.pk, None]


def test_deciders_are_the_team_manager_or_else_the_admins(people, shop):
    assert selectors.deciders_of(submit(people.sales, shop, subject_id=1)) == [people.manager]
    assert selectors.deciders_of(submit(people.sales, shop, subject_id=2, level="admin")) == [people.admin]
    own = make_account(people.manager, code="OWN-2")
    # a manager's own request goes to the admins: nobody decides their own
    assert selectors.deciders_of(submit(people.manager, own, subject_id=3)) == [people.admin]


# --- emails --------------------------------------------------------------------------------------------------------


def test_emails_go_after_commit_in_each_readers_language(people, shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request = submit(people.sales, shop)
        assert mail.outbox == []
    [to_manager] = mail.outbox
    assert to_manager.to == ["manager@example.cn"]
    assert "销售经理" in to_manager.body  # "Needs: Sales manager" in the manager's Chinese
    assert f"/approvals/{request.pk}/" in to_manager.body
    assert "Big first order; competitor offers 25%." in to_manager.body
    with django_capture_on_commit_callbacks(execute=True):
        approval_reject(actor=people.manager, request=request, comment="Margin too thin.")
    to_sales = mail.outbox[1]
    assert to_sales.to == ["sales@example.cn"]
    assert to_sales.subject.startswith("Rejected: ")
    assert "manager rejected your request at " in to_sales.body
    assert "Margin too thin." in to_sales.body


def test_nothing_is_sent_when_the_decision_rolls_back(people, shop, django_capture_on_commit_callbacks):
    request = submit(people.sales, shop)

    def decide_then_fail() -> None:
        with transaction.atomic():
            approval_approve(actor=people.manager, request=request, comment="")
            raise RuntimeError("later")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        decide_then_fail()
    assert callbacks == []
    assert mail.outbox == []


def test_an_email_reaches_a_real_smtp_server(people, shop, settings, django_capture_on_commit_callbacks):
    server: SmtpServer
    with serving_smtp(settings) as server:
        with django_capture_on_commit_callbacks(execute=True):
            request = submit(people.sales, shop, level="admin")
        with django_capture_on_commit_callbacks(execute=True):
            approval_approve(actor=people.admin, request=request, comment="同意，仅限本单。")
    assert [m.rcpt_tos for m in server.messages] == [["admin@example.cn"], ["sales@example.cn"]]
    assert server.messages[0].subject.startswith("Approval requested: Order #1 (deleted)")
    assert "同意，仅限本单。" in server.messages[1].body


# --- two approvers at once -------------------------------------------------------------------------------------


def _decide_in_thread(request_id: int, actor: Any, barrier: threading.Barrier, results: list[str]) -> None:
    try:
        request = ApprovalRequest.objects.get(pk=request_id)
        barrier.wait(timeout=10)
        for _attempt in range(100):
            try:
                approval_approve(actor=actor, request=request, comment=f"yes from {actor.username}")
                results.append("approved")
                return
            except Conflict as exc:
                results.append("conflict: " + exc.message)
                return
            except OperationalError as exc:
                # An in-memory SQLite test database answers "locked" at once instead of waiting; a client would retry.
                if "locked" not in str(exc):
                    raise
                time.sleep(0.02)
        results.append("gave up")
    except Exception as exc:  # report, do not hide, anything else
        results.append(f"error: {exc!r}")
    finally:
        connections.close_all()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_approvers_deciding_at_once_make_one_decision(people):
    """The manager and an admin approve the same request at the same moment: one decision, one audit row,
    one email to the submitter; the other is told who was first.

    The row is locked (PostgreSQL: SELECT ... FOR UPDATE; SQLite: IMMEDIATE transactions) and its state
    checked again under the lock. Several rounds make a lucky pass unlikely.
    """
    account = make_account(people.sales, code="RACE-1")
    for round_ in range(1, 4):
        request = submit(people.sales, account, subject_id=round_)
        mail.outbox.clear()
        barrier = threading.Barrier(2)
        results: list[str] = []
        threads = [
            threading.Thread(target=_decide_in_thread, args=(request.pk, actor, barrier, results))
            for actor in (people.manager, people.admin)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(r.split(":")[0] for r in results) == ["approved", "conflict"], results
        request.refresh_from_db()
        assert request.status == "approved"
        winner = request.decided_by.username
        [conflict] = [r for r in results if r.startswith("conflict")]
        assert f"already approved by {winner} at " in conflict
        assert ApprovalEvent.objects.filter(request=request, action="approve").count() == 1
        assert AuditEvent.objects.filter(action="APPROVAL_REQUEST_APPROVED", entity_id=str(request.pk)).count() == 1
        assert [m.to for m in mail.outbox] == [["sales@example.cn"]]
        assert request.comment == f"yes from {winner}"


def _submit_in_thread(actor: Any, account_id: int, terms: Any, barrier: threading.Barrier, results: list[str]) -> None:
    from patron.accounts.models import Account

    try:
        account = Account.objects.get(pk=account_id)
        barrier.wait(timeout=10)
        for _attempt in range(100):
            try:
                results.append(submit(actor, account, subject_id=99, terms=terms).status)
                return
            except Conflict:
                results.append("conflict")
                return
            except OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                time.sleep(0.02)
        results.append("gave up")
    except Exception as exc:
        results.append(f"error: {exc!r}")
    finally:
        connections.close_all()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_terms", [True, False])
def test_two_submissions_at_once_leave_one_live_request(people, same_terms):
    account = make_account(people.sales, code="RACE-2")
    barrier = threading.Barrier(2)
    results: list[str] = []
    other = TERMS if same_terms else {**TERMS, "discount_percent": Decimal("12")}
    threads = [
        threading.Thread(target=_submit_in_thread, args=(people.sales, account.pk, terms, barrier, results))
        for terms in (TERMS, other)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(r in {"pending", "conflict"} for r in results), results
    live = ApprovalRequest.objects.filter(subject_id=99, status__in=["pending", "approved"])
    assert live.count() == 1
    if same_terms:
        assert results == ["pending", "pending"]
        assert ApprovalRequest.objects.filter(subject_id=99).count() == 1


def test_dates_in_terms_are_iso_text(people, shop):
    request = submit(people.sales, shop, terms={"valid_until": dt.date(2026, 12, 31)})
    assert request.terms == {"valid_until": "2026-12-31"}
