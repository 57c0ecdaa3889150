"""Coupon codes: unguessable, typo-proof, and matched however they are typed."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.coupons import codes
from patron.domain.coupons.codes import ALPHABET, LENGTH, CodeError, is_well_formed, new_code, normalize, shown


def test_the_alphabet_has_no_look_alikes_and_a_code_carries_at_least_45_bits():
    assert not set("01ILO") & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET) == 31
    assert LENGTH * math.log2(len(ALPHABET)) >= 45
    assert codes.BITS >= 45


def test_a_new_code_is_well_formed_with_its_prefix_and_shown_in_groups():
    code = new_code("spring")
    assert code.startswith("SPRING")
    assert len(code) == len("SPRING") + LENGTH + 1
    assert is_well_formed(code, "SPRING")
    assert not is_well_formed(code, "AUTUMN")
    assert shown("SPRINGAB3K7QXZM2N", "spring") == "SPRING-AB3K-7QXZ-M2N"


def test_typed_codes_are_folded_to_how_they_are_stored():
    assert normalize(" ｓｐｒｉｎｇ－ab3k 7qxz_m2n ") == "SPRINGAB3K7QXZM2N"
    assert normalize("spring.ab3k-7qxz m2n") == "SPRINGAB3K7QXZM2N"


def test_a_prefix_must_be_short_and_plain():
    with pytest.raises(CodeError) as long:
        new_code("A" * 13)
    assert long.value.code == "prefix_too_long"
    with pytest.raises(CodeError) as odd:
        new_code("春季")
    assert odd.value.code == "prefix_characters"


def test_many_new_codes_are_distinct_and_avoid_those_taken():
    taken = set(codes.new_codes(50))
    more = codes.new_codes(2000, taken=taken)
    assert len(set(more)) == 2000
    assert not taken & set(more)


bodies = st.text(alphabet=ALPHABET, min_size=LENGTH, max_size=LENGTH)


@given(bodies, st.integers(0, LENGTH), st.sampled_from(ALPHABET))
def test_every_single_wrong_character_is_caught(body, position, replacement):
    code = body + codes.check_character(body)
    typo = code[:position] + replacement + code[position + 1 :]
    assert is_well_formed(typo) == (typo == code)


@given(bodies, st.integers(0, LENGTH - 1))
def test_every_swap_of_two_neighbours_is_caught(body, position):
    code = body + codes.check_character(body)
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    assert is_well_formed(swapped) == (swapped == code)


@given(st.text(max_size=40))
def test_normalizing_twice_changes_nothing(text):
    assert normalize(normalize(text)) == normalize(text)
