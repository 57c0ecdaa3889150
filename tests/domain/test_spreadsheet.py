from hypothesis import given
from hypothesis import strategies as st

from patron.domain.spreadsheet import FORMULA_STARTS, safe_cell


def test_formula_looking_text_is_made_plain_text():
    assert safe_cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert safe_cell("+86 755 1234") == "'+86 755 1234"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("深圳茶行") == "深圳茶行"
    assert safe_cell(-5) == -5


@given(st.text())
def test_no_exported_text_starts_like_a_formula(text):
    cell = safe_cell(text)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell.endswith(text)
