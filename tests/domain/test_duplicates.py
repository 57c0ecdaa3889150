"""Possible duplicates: names as people write them, keys that bring matches together, and why they match."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.domain.duplicates import (
    MAX_BLOCK,
    Candidate,
    blocking_keys,
    candidate_pairs,
    compare,
    email_key,
    find_duplicates,
    name_similarity,
    normalise,
    normalise_name,
    phone_key,
    tax_id_key,
)

# --- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "core"),
    [
        ("深圳华强实业有限公司", "深圳华强实业"),
        ("华强实业（深圳）有限公司", "华强实业"),
        ("深圳市华强实业有限公司", "华强实业"),  # "深圳市" before a name of four or more letters
        ("广东省深圳市华强实业股份有限公司", "华强实业"),
        ("华强实业有限责任公司", "华强实业"),
        ("华强 实业 · 公司", "华强实业"),
        ("ＡＣＭＥ　Ｔｒａｄｉｎｇ", "acmetrading"),  # full-width letters and space
        ("ACME Trading Co., Ltd.", "acmetrading"),
        ("Acme Trading Inc", "acmetrading"),
        ("Acme-Trading LLC", "acmetrading"),
        ("Acme Trading (HK) Limited", "acmetrading"),
        ("Café Lumière GmbH", "cafelumiere"),
        ("【旗舰店】华强实业", "华强实业"),
        ("公司", "公司"),  # never stripped to nothing
        ("Co Ltd", "co"),
        ("万家超市", "万家超市"),  # "万家超市" is a name, not a city
    ],
)
def test_a_name_is_reduced_to_what_tells_customers_apart(written, core):
    assert normalise_name(written) == core


def test_the_same_company_written_three_ways_has_one_normalised_name():
    names = ["华强实业（深圳）有限公司", "深圳市华强实业有限公司", "华强实业有限责任公司"]
    assert len({normalise_name(n) for n in names}) == 1


@given(st.text(max_size=60))
@settings(max_examples=500)
def test_normalising_a_normalised_name_changes_nothing(name):
    once = normalise_name(name)
    assert normalise_name(once) == once


@given(
    st.text(
        alphabet=st.sampled_from(list("华强实业有限公司深圳市（）()【】 ,.-acmeCOLTDinc股份责任省广东")), max_size=30
    )
)
@settings(max_examples=500)
def test_normalising_company_like_names_is_idempotent(name):
    once = normalise_name(name)
    assert normalise_name(once) == once


# --- phones, tax ids, emails -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("0755-8888 6666", "+86 755 8888 6666"),
        ("0755-8888 6666", "(0755)88886666"),
        ("０７５５－８８８８ ６６６６", "075588886666"),
        ("+86 138 0013 8000", "13800138000"),
        ("8613800138000", "138-0013-8000"),
        ("0086 138 0013 8000", "13800138000"),
    ],
)
def test_phones_written_differently_share_a_key(a, b):
    assert phone_key(a) == phone_key(b) != ""


@pytest.mark.parametrize("phone", ["", "10086", "95588", "ext 12"])
def test_short_service_numbers_are_not_keys(phone):
    assert phone_key(phone) == ""


def test_tax_ids_and_emails_ignore_case_width_and_spaces():
    assert tax_id_key("９１４４０３００ma5el1234x") == tax_id_key("91440300MA5EL1234X") == "91440300MA5EL1234X"
    assert email_key(" Buyer@Acme.COM ") == email_key("buyer@acme.com") == "buyer@acme.com"
    assert email_key("not-an-address") == ""


# --- comparing two accounts --------------------------------------------------------------------------


def c(pk: int, name: str, **fields: str) -> Candidate:
    return Candidate(id=pk, name=name, **fields)


def codes(match) -> set[str]:
    return {r.code for r in match.reasons}


def test_same_tax_id_is_a_match_whatever_the_names():
    match = compare(
        normalise(c(1, "甲公司", tax_id="91440300MA5EL1234X")), normalise(c(2, "乙", tax_id="91440300ma5el1234x"))
    )
    assert match is not None
    assert codes(match) == {"SAME_TAX_ID"}
    assert match.reasons[0].params == {"tax_id": "91440300MA5EL1234X"}
    assert match.percent == 98


def test_same_phone_and_same_email_each_count_and_together_score_higher():
    phone_only = compare(normalise(c(1, "甲", phone="0755-8888 6666")), normalise(c(2, "乙", phone="+86 755 88886666")))
    both = compare(
        normalise(c(1, "甲", phone="0755-8888 6666", email="a@x.cn")),
        normalise(c(2, "乙", phone="+86 755 88886666", email="A@X.CN")),
    )
    assert phone_only is not None
    assert codes(phone_only) == {"SAME_PHONE"}
    assert both is not None
    assert codes(both) == {"SAME_PHONE", "SAME_EMAIL"}
    assert both.score > phone_only.score


def test_names_alike_after_normalising_match_with_their_similarity():
    same = compare(normalise(c(1, "华强实业（深圳）有限公司")), normalise(c(2, "深圳市华强实业有限公司")))
    typo = compare(normalise(c(1, "华强电子实业有限公司")), normalise(c(2, "华强电子实叶有限公司")))
    assert same is not None
    assert codes(same) == {"SAME_NAME"}
    assert typo is not None
    assert codes(typo) == {"SIMILAR_NAME"}
    assert typo.reasons[0].params["similarity"] == pytest.approx(0.833, abs=0.001)


def test_different_customers_do_not_match():
    assert compare(normalise(c(1, "华强实业有限公司")), normalise(c(2, "美的电器有限公司"))) is None
    assert compare(normalise(c(1, "Acme Trading")), normalise(c(2, "Zenith Foods"))) is None


def test_two_different_tax_ids_speak_against_a_name_match():
    plain = compare(normalise(c(1, "华强实业")), normalise(c(2, "华强实业有限公司")))
    sisters = compare(
        normalise(c(1, "华强实业", tax_id="91440300MA5EL1234X")),
        normalise(c(2, "华强实业有限公司", tax_id="91440300MA5EL9999Y")),
    )
    assert plain is not None
    assert sisters is not None
    assert "TAX_ID_DIFFERS" in codes(sisters)
    assert sisters.score < plain.score


records = st.builds(
    Candidate,
    id=st.integers(1, 10**6),
    name=st.text(alphabet=st.sampled_from(list("华强实业有限公司深圳(） acmeltdco")), max_size=15),
    tax_id=st.sampled_from(["", "91440300MA5EL1234X", "91440300MA5EL9999Y"]),
    phone=st.sampled_from(["", "0755-8888 6666", "+86 755 88886666", "13800138000"]),
    email=st.sampled_from(["", "a@x.cn", "A@X.CN", "b@y.cn"]),
)


@given(records, records)
@settings(max_examples=300)
def test_similarity_and_matching_are_symmetric(a, b):
    assert name_similarity(a.name, b.name) == name_similarity(b.name, a.name)
    ab, ba = compare(normalise(a), normalise(b)), compare(normalise(b), normalise(a))
    assert (ab is None) == (ba is None)
    if ab is not None and ba is not None:
        assert ab.score == ba.score
        assert codes(ab) == codes(ba)


@given(st.lists(records, max_size=12, unique_by=lambda r: r.id))
@settings(max_examples=200)
def test_an_account_is_never_paired_with_itself_and_pairs_are_ordered(candidates):
    for pair in find_duplicates(candidates):
        assert pair.first < pair.second


@given(st.lists(records, max_size=12, unique_by=lambda r: r.id))
@settings(max_examples=200)
def test_blocking_finds_every_pair_with_evidence_that_comparing_all_pairs_finds(candidates):
    """Blocks are a shortcut, not a filter: below the block limit they lose no pair with evidence."""
    norms = {r.id: normalise(r) for r in candidates}
    everything = {
        (min(x, y), max(x, y))
        for x in norms
        for y in norms
        if x < y and compare(norms[x], norms[y]) is not None and _shares_evidence_key(norms[x], norms[y])
    }
    found = {(p.first, p.second) for p in find_duplicates(candidates)}
    assert everything <= found


def _shares_evidence_key(a, b) -> bool:
    """Exact evidence (tax id, phone, email, same name) always shares a key."""
    return bool(
        (a.tax_id and a.tax_id == b.tax_id)
        or (a.phone and a.phone == b.phone)
        or (a.email and a.email == b.email)
        or (a.name and a.name == b.name)
    )


def test_a_typo_in_the_middle_of_a_name_is_found_through_the_first_or_last_letters():
    pairs = find_duplicates([c(1, "华强电子实业有限公司"), c(2, "华强电子实叶有限公司"), c(3, "美的电器")])
    assert [(p.first, p.second) for p in pairs] == [(1, 2)]


def test_only_accounts_sharing_a_block_are_compared():
    keys = {1: {"name:a"}, 2: {"name:a"}, 3: {"name:b"}, 4: {"phone:1", "name:c"}, 5: {"phone:1"}}
    assert candidate_pairs(keys) == {(1, 2), (4, 5)}


def test_a_block_larger_than_the_limit_is_not_compared_pairwise():
    keys = {pk: {"tail:科技", f"name:{pk}"} for pk in range(1, MAX_BLOCK + 2)}
    assert candidate_pairs(keys) == set()
    assert candidate_pairs({1: {"tail:科技"}, 2: {"tail:科技"}}) == {(1, 2)}


def test_blocking_keys_name_their_kind():
    keys = blocking_keys(
        normalise(c(1, "华强电子实业有限公司", tax_id="91440300MA5EL1234X", phone="13800138000", email="A@x.cn"))
    )
    assert keys == {
        "tax:91440300MA5EL1234X",
        "phone:13800138000",
        "email:a@x.cn",
        "name:华强电子实业",
        "name:强电子实业",
        "name:华电子实业",
        "name:华强子实业",
        "name:华强电实业",
        "name:华强电子业",
        "name:华强电子实",
        "head:华强电子",
        "tail:电子实业",
    }


@given(
    st.text(alphabet=st.sampled_from(list("华强电子实业深圳美的abcdefg")), min_size=5, max_size=20),
    st.integers(0, 19),
    st.sampled_from(list("某xy")),
    st.sampled_from(["replace", "insert", "delete"]),
)
@settings(max_examples=300)
def test_names_one_typo_apart_always_share_a_block(name, at, letter, edit):
    at %= len(name)
    typo = {
        "replace": name[:at] + letter + name[at + 1 :],
        "insert": name[:at] + letter + name[at:],
        "delete": name[:at] + name[at + 1 :],
    }[edit]
    a, b = normalise(c(1, name)), normalise(c(2, typo))
    assert blocking_keys(a) & blocking_keys(b)
