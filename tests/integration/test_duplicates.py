"""Finding possible duplicates among stored accounts: kept current, scoped to the reader, dismissed for good."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from patron.accounts import duplicates
from patron.accounts import services as accounts
from patron.accounts.duplicates import (
    duplicate_dismiss,
    duplicates_for,
    duplicates_of,
    possible_duplicates,
    reason_text,
    refresh,
)
from patron.accounts.merge import account_merge
from patron.accounts.models import AccountMatchKey, DuplicateDismissal, DuplicatePair
from patron.audit.models import AuditEvent
from tests.factories import make_account


def pairs_seen_by(user, **kwargs):
    page, _progress = possible_duplicates(user, **kwargs)
    return {(p.account_a.code, p.account_b.code) for p in page.items}


def test_duplicates_of_a_new_row_finds_accounts_by_tax_id_phone_email_and_name(staff):
    by_tax = make_account(staff.sales, code="T", name="甲", tax_id="91440300MA5EL1234X")
    by_phone = make_account(staff.sales, code="P", name="乙", phone="0755-8888 6666")
    by_email = make_account(staff.sales, code="E", name="丙", email="Buyer@Acme.cn")
    by_name = make_account(staff.sales, code="N", name="深圳市华强实业有限公司")
    make_account(staff.sales, code="X", name="美的电器")
    matches = duplicates_of(
        name="华强实业（深圳）有限公司",
        tax_id="91440300ma5el1234x",
        phone="+86 755 88886666",
        email="buyer@acme.cn",
    )
    found = {m.account.code: {r.code for r in m.reasons} for m in matches}
    assert found == {
        "T": {"SAME_TAX_ID"},
        "P": {"SAME_PHONE"},
        "E": {"SAME_EMAIL"},
        "N": {"SAME_NAME"},
    }
    assert matches[0].account == by_tax  # the strongest evidence first
    assert {m.account for m in matches} == {by_tax, by_phone, by_email, by_name}


def test_duplicates_of_leaves_out_the_record_itself_and_merged_accounts(staff):
    a = make_account(staff.sales, name="Acme Trading Co., Ltd.")
    b = make_account(staff.sales, name="ACME Trading Inc")
    assert [m.account for m in duplicates_of(name=a.name, exclude_id=a.pk)] == [b]
    account_merge(actor=staff.admin, survivor=a, merged=b)
    assert duplicates_of(name=a.name, exclude_id=a.pk) == []
    assert not AccountMatchKey.objects.filter(account=b).exists()


def test_an_account_changed_after_its_keys_were_made_is_matched_as_it_is_now(staff):
    a = make_account(staff.sales, name="Acme Trading")
    z = make_account(staff.sales, name="Zenith Foods")
    assert [m.account for m in duplicates_of(name="Zenith Foods Ltd")] == [z]
    assert [m.account for m in duplicates_of(name="Acme Trading Ltd")] == [a]
    accounts.account_update(actor=staff.admin, account=a, data={"name": "Zenith Foods Co"})
    assert {m.account for m in duplicates_of(name="Zenith Foods Ltd")} == {a, z}
    assert duplicates_of(name="Acme Trading Ltd") == []


def test_reasons_read_as_sentences():
    from patron.domain.explain import Reason

    assert reason_text(Reason("SAME_PHONE", {"phone": "075588886666"})) == "Same phone 075588886666"
    assert reason_text({"code": "SIMILAR_NAME", "params": {"name": "a", "other": "b", "similarity": 0.833}}) == (
        "Names 83% alike (a / b)"
    )


# --- the list of pairs --------------------------------------------------------------------------------


@pytest.fixture
def accounts_of_two_salespeople(staff):
    make_account(staff.sales, code="S1", name="华强实业有限公司")
    make_account(staff.sales, code="S2", name="华强实业（深圳）有限公司")
    make_account(staff.sales2, code="S3", name="深圳市华强实业有限公司")
    make_account(staff.sales3, code="N1", name="Acme Trading", phone="13800138000")
    make_account(staff.sales3, code="N2", name="Zenith", phone="+86 138 0013 8000")
    make_account(staff.sales, code="S9", name="美的电器")


def test_each_reader_sees_only_pairs_of_accounts_they_may_both_see(staff, accounts_of_two_salespeople):
    assert pairs_seen_by(staff.admin) == {("S1", "S2"), ("S1", "S3"), ("S2", "S3"), ("N1", "N2")}
    assert pairs_seen_by(staff.manager) == {("S1", "S2"), ("S1", "S3"), ("S2", "S3")}
    assert pairs_seen_by(staff.sales) == {("S1", "S2")}
    assert pairs_seen_by(staff.sales3) == {("N1", "N2")}
    assert pairs_seen_by(staff.marketing) == pairs_seen_by(staff.admin)


def test_pairs_come_strongest_first_with_their_reasons(staff, accounts_of_two_salespeople):
    page, progress = possible_duplicates(staff.admin)
    assert not progress.more
    scores = [p.score for p in page.items]
    assert scores == sorted(scores, reverse=True)
    phone_pair = next(p for p in page.items if p.account_a.code == "N1")
    assert [r["code"] for r in phone_pair.reasons] == ["SAME_PHONE"]


def test_the_list_pages_with_a_cursor(staff, accounts_of_two_salespeople):
    first, _ = possible_duplicates(staff.admin, limit=3)
    assert len(first.items) == 3
    assert first.next_cursor
    second, _ = possible_duplicates(staff.admin, limit=3, cursor=first.next_cursor)
    assert len(second.items) == 1
    assert not {p.pk for p in first.items} & {p.pk for p in second.items}


def test_pairs_of_one_account(staff, accounts_of_two_salespeople):
    s3 = duplicates.Account.objects.get(code="S3")
    assert pairs_seen_by(staff.admin, account=s3) == {("S1", "S3"), ("S2", "S3")}
    assert {m.account.code for m in duplicates_for(staff.admin, s3)} == {"S1", "S2"}
    assert duplicates_for(staff.sales2, s3) == []  # S1 and S2 are not theirs to see


def test_pairs_follow_changes_to_the_accounts(staff, accounts_of_two_salespeople):
    assert ("N1", "N2") in pairs_seen_by(staff.admin)
    n2 = duplicates.Account.objects.get(code="N2")
    accounts.account_update(actor=staff.admin, account=n2, data={"phone": "020-12345678"})
    assert ("N1", "N2") not in pairs_seen_by(staff.admin)


def test_refresh_works_through_changed_accounts_a_bounded_number_at_a_time(staff):
    for n in range(7):
        make_account(staff.sales, name=f"Acme {n}")
    assert refresh(limit=5) == duplicates.RefreshResult(worked_out=5, more=True)
    assert refresh(limit=5) == duplicates.RefreshResult(worked_out=2, more=False)
    assert refresh(limit=5) == duplicates.RefreshResult(worked_out=0, more=False)


# --- not a duplicate -----------------------------------------------------------------------------------


def test_a_pair_dismissed_as_different_customers_stays_dismissed_and_is_audited(staff, accounts_of_two_salespeople):
    s1, s2 = duplicates.Account.objects.get(code="S1"), duplicates.Account.objects.get(code="S2")
    duplicate_dismiss(actor=staff.sales, account=s2, other=s1)
    assert ("S1", "S2") not in pairs_seen_by(staff.sales)
    assert not DuplicatePair.objects.filter(account_a=s1, account_b=s2).exists()
    # A later change to either account does not bring the pair back.
    accounts.account_update(actor=staff.sales, account=s1, data={"address": "Futian"})
    assert ("S1", "S2") not in pairs_seen_by(staff.admin)
    assert s2.pk not in {m.account.pk for m in duplicates_for(staff.sales, s1)}
    events = AuditEvent.objects.filter(action="DUPLICATE_DISMISSED")
    assert {(e.account_id, e.changes["not_duplicate_of"][1]) for e in events} == {(s1.pk, "S2"), (s2.pk, "S1")}
    assert all(e.actor == staff.sales for e in events)
    # Saying it again changes nothing.
    duplicate_dismiss(actor=staff.sales, account=s1, other=s2)
    assert DuplicateDismissal.objects.count() == 1
    assert AuditEvent.objects.filter(action="DUPLICATE_DISMISSED").count() == 2


def test_only_who_may_edit_both_accounts_dismisses_a_pair(staff, accounts_of_two_salespeople):
    s1, s3 = duplicates.Account.objects.get(code="S1"), duplicates.Account.objects.get(code="S3")
    for user in (staff.sales, staff.sales2, staff.finance, staff.marketing):
        with pytest.raises(PermissionDenied):
            duplicate_dismiss(actor=user, account=s1, other=s3)
    assert not DuplicateDismissal.objects.exists()
    duplicate_dismiss(actor=staff.manager, account=s1, other=s3)
    assert DuplicateDismissal.objects.get().dismissed_by == staff.manager


def test_an_account_is_not_dismissed_against_itself(staff):
    a = make_account(staff.sales)
    with pytest.raises(ValidationError) as refused:
        duplicate_dismiss(actor=staff.admin, account=a, other=a)
    assert set(refused.value.message_dict) == {"other"}
