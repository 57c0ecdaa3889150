"""The reader's words for the segmentation engine's problems and reasons."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from patron.domain.segmentation.definitions import Problem


class _Params(dict[str, Any]):
    """Format parameters that show a blank instead of failing when the engine did not give one."""

    def __missing__(self, key: str) -> str:
        return ""


def problem_text(problem: Problem) -> str:
    p = _Params({k: (", ".join(map(str, v)) if isinstance(v, list | tuple) else v) for k, v in problem.params.items()})
    messages = {
        "required": _("This is required."),
        "wrong_type": _("This value has the wrong type."),
        "not_numeric": _("Enter a number."),
        "out_of_range": _("This value is out of range."),
        "unknown_field": _("Unknown field."),
        "unknown_kind": _("Unknown kind of classification."),
        "unknown_indicator": _("Unknown indicator “%(indicator)s”."),
        "indicator": _("Unknown indicator."),
        "op": _("Unknown comparison."),
        "op_not_allowed": _("This comparison cannot be used on this indicator."),
        "invalid_choice": _("Choose one of the values offered."),
        "key": _("Use 1 to 64 letters, digits, dots, dashes or underscores."),
        "label": _("Give the class a label."),
        "empty": _("This cannot be empty."),
        "empty_range": _("This range is empty."),
        "not_greater": _("Must be greater than the previous cut point."),
        "not_less": _("Must be less than the next cut point."),
        "overlap": _("The cut points overlap or are out of order."),
        "wrong_count": _("There must be one cut point fewer than classes."),
        "all_zero": _("At least one weight must be non-zero."),
        "unreachable": _("No account can ever reach this class."),
        "ambiguous": _("This is ambiguous."),
        "too_deep": _("The rule is nested too deeply."),
        "unknown_class": _("Unknown class."),
        "uncovered": _("Some accounts would fall in no class."),
        "fixed_keys": _("These classes are fixed; only their labels may change."),
    }
    text = messages.get(problem.code)
    if text is None:
        return problem.code
    try:
        return text % p
    except (TypeError, ValueError):
        return text
