"""Codes, phones, tax ids and emails as people type them, in either script."""

from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.text import (
    TextError,
    check_code,
    has_full_width,
    normalise_email,
    normalise_phone,
    normalise_tax_id,
)

# --- codes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["A", "a1", "SO-2026.01_x", "9", "A" * 40])
def test_a_good_code_is_returned_unchanged(code):
    assert check_code(code) == code


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("AB C", "spaces"),
        (" AB", "spaces"),
        ("AB ", "spaces"),
        ("AB\u3000C", "spaces"),  # ideographic space
        ("ＡＢＣ", "full_width"),
        ("AB１", "full_width"),
        ("客户", "full_width"),
        ("-AB", "code_chars"),
        ("AB/C", "code_chars"),
        ("AB#", "code_chars"),
        ("é", "code_chars"),  # not ASCII, not wide either
        ("", "code_chars"),
        ("A" * 41, "code_chars"),
    ],
)
def test_a_bad_code_names_its_problem(code, problem):
    with pytest.raises(TextError) as err:
        check_code(code)
    assert err.value.code == problem


def test_the_message_names_what_was_checked():
    with pytest.raises(TextError, match="SKU must not contain spaces"):
        check_code("A B", "SKU")


@given(st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=40))
def test_every_ascii_code_starting_with_a_letter_or_digit_is_accepted(code):
    if code[0] in "-_.":
        with pytest.raises(TextError):
            check_code(code)
    else:
        assert check_code(code) == code


@given(st.text(min_size=1, max_size=40))
def test_an_accepted_code_is_always_plain_ascii(code):
    try:
        accepted = check_code(code)
    except TextError:
        return
    assert accepted.isascii()
    assert accepted == code


# --- full width ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wide"), [("ABC", False), ("ＡＢＣ", True), ("中", True), ("a中", True), ("", False), ("é", False)]
)
def test_full_width_is_detected(value, wide):
    assert has_full_width(value) is wide


# --- phones ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("＋８６ １３８ ００１３ ８０００", "+86 138 0013 8000"),
        ("０２０－８８８８６６６６", "020-88886666"),
        ("(020) 8888 6666", "(020) 8888 6666"),
        ("（０２０）８８８８６６６６", "(020)88886666"),
        ("  0755 1234567  ", "0755 1234567"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_a_phone_is_folded_to_half_width(typed, stored):
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["call me", "138abcd0000", "1234", "()()()", "((((((((", "+", "电话13800138000", "138 0013 8000 ext 5", "1" * 31],
)
def test_a_phone_with_letters_or_too_few_digits_is_refused(typed):
    with pytest.raises(TextError) as err:
        normalise_phone(typed)
    assert err.value.code == "phone"


@given(st.text(alphabet="0123456789", min_size=5, max_size=30))
def test_a_string_of_digits_is_a_phone_in_either_width(digits):
    wide = "".join(chr(ord(d) - ord("0") + ord("０")) for d in digits)
    assert normalise_phone(wide) == normalise_phone(digits) == digits


@given(st.text(max_size=40))
def test_a_normalised_phone_is_stable(value):
    try:
        once = normalise_phone(value)
    except TextError:
        return
    assert normalise_phone(once) == once
    assert not has_full_width(once)


# --- tax ids ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("91440300MA5DXXXX1X", "91440300MA5DXXXX1X"),
        ("91440300ma5dxxxx1x", "91440300MA5DXXXX1X"),
        ("９１４４０３００ＭＡ５ＤＸＸＸＸ１Ｘ", "91440300MA5DXXXX1X"),
        ("123456789012345", "123456789012345"),  # the older 15-digit number
        ("", ""),
    ],
)
def test_a_tax_id_is_upper_case_half_width(typed, stored):
    assert normalise_tax_id(typed) == stored


@pytest.mark.parametrize("typed", ["12345678901234", "1" * 21, "91440300-MA5DXXXX1", "9144 0300 MA5D XXXX 1X"])
def test_a_malformed_tax_id_is_refused(typed):
    with pytest.raises(TextError) as err:
        normalise_tax_id(typed)
    assert err.value.code == "tax_id"


# --- emails ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("li.lei@example.cn", "li.lei@example.cn"),
        ("Li.Lei@EXAMPLE.CN", "Li.Lei@example.cn"),  # the local part may be case-sensitive
        ("  wang@example.com ", "wang@example.com"),
        ("ｗａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", "wang@example.com"),  # full-width typed with an input method
        ("", ""),
    ],
)
def test_an_email_is_folded_and_its_domain_lowered(typed, stored):
    assert normalise_email(typed) == stored


@pytest.mark.parametrize(
    "typed", ["wang", "wang@", "@example.com", "wang@example", "wang @example.com", "王@例子.中国"]
)
def test_a_malformed_email_is_refused(typed):
    with pytest.raises(TextError) as err:
        normalise_email(typed)
    assert err.value.code == "email"


@given(st.text(max_size=30))
def test_normalising_never_leaves_full_width_characters(value):
    for normalise in (normalise_phone, normalise_tax_id):
        try:
            result = normalise(value)
        except TextError:
            continue
        assert result == unicodedata.normalize("NFKC", result)
        assert not has_full_width(result)
