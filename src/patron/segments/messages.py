"""The reader's words for the segmentation engine's problems and reasons."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from patron.domain.segmentation.definitions import Problem
from patron.domain.segmentation.indicators import INDICATORS, Kind


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
        "invalid_key": _("Use 1 to 64 letters, digits, dots, dashes or underscores."),
        "duplicate_key": _("Another class already has the key “%(key)s”."),
        "unknown_op": _("Unknown comparison."),
        "not_increasing": _("Must be greater than the previous cut point (%(previous)s)."),
        "duplicate": _("Equal to the previous cut point (%(previous)s): the class between them would be empty."),
    }
    if problem.code == "wrong_type":
        expected = {
            "money": _("Enter an amount as text, such as “1000.50”."),
            "number": _("Enter a number."),
            "integer": _("Enter a whole number."),
            "list": _("Enter a list."),
            "object": _("Enter an object."),
            "text": _("Enter text."),
            "boolean": _("Enter true or false."),
            "region_id": _("Enter a region id."),
        }.get(str(problem.params.get("expected")))
        if expected is not None:
            return expected
    text = messages.get(problem.code)
    if text is None:
        return problem.code
    try:
        return text % p
    except (TypeError, ValueError):
        return text


# --- indicators, classes and values in the reader's words -------------------------------------------------------

INDICATOR_LABELS: dict[str, Any] = {
    "purchase_count": gettext_lazy("Purchase count"),
    "purchase_frequency": gettext_lazy("Purchase frequency"),
    "recency_days": gettext_lazy("Days since the last order"),
    "tenure_days": gettext_lazy("Days as a customer"),
    "sales": gettext_lazy("Cumulative sales"),
    "gross_profit": gettext_lazy("Cumulative gross profit"),
    "average_order_value": gettext_lazy("Average order value"),
    "return_rate": gettext_lazy("Return rate"),
    "dso_days": gettext_lazy("Collection cycle (days)"),
    "owed": gettext_lazy("Amount owed"),
    "overdue": gettext_lazy("Amount overdue"),
    "overdue_1_30": gettext_lazy("Overdue 1-30 days"),
    "overdue_31_60": gettext_lazy("Overdue 31-60 days"),
    "overdue_61_90": gettext_lazy("Overdue 61-90 days"),
    "overdue_90_plus": gettext_lazy("Overdue over 90 days"),
    "credit_used": gettext_lazy("Credit used"),
    "interpurchase_days": gettext_lazy("Days between orders"),
    "first_order_days": gettext_lazy("Days since the first order"),
    "key_account": gettext_lazy("Key account"),
    "industry": gettext_lazy("Industry"),
    "region": gettext_lazy("Region"),
    "p_alive": gettext_lazy("Probability alive"),
    "clv": gettext_lazy("Lifetime value"),
    "score": gettext_lazy("Score"),
}

# The labels of the built-in classifications are English msgids (patron.domain.segmentation.builtin);
# a class keeping one of them is shown translated, any other label as the user wrote it.
BUILTIN_LABELS: dict[str, Any] = {
    "Low": gettext_lazy("Low"),
    "Mid": gettext_lazy("Mid"),
    "High": gettext_lazy("High"),
    "Low value": gettext_lazy("Low value"),
    "Mid value": gettext_lazy("Mid value"),
    "High value": gettext_lazy("High value"),
    "Low frequency": gettext_lazy("Low frequency"),
    "Mid frequency": gettext_lazy("Mid frequency"),
    "High frequency": gettext_lazy("High frequency"),
    "Champions": gettext_lazy("Champions"),
    "Loyal": gettext_lazy("Loyal"),
    "Potential loyalist": gettext_lazy("Potential loyalist"),
    "New": gettext_lazy("New"),
    "At risk": gettext_lazy("At risk"),
    "Cannot lose": gettext_lazy("Cannot lose"),
    "Hibernating": gettext_lazy("Hibernating"),
    "Lost": gettext_lazy("Lost"),
    "No orders": gettext_lazy("No orders"),
    "Prospect": gettext_lazy("Prospect"),
    "Churned": gettext_lazy("Churned"),
    "Key account": gettext_lazy("Key account"),
    "Key account candidate": gettext_lazy("Key account candidate"),
    "Other": gettext_lazy("Other"),
    "Likely lost": gettext_lazy("Likely lost"),
    "Likely active": gettext_lazy("Likely active"),
    "No purchase history": gettext_lazy("No purchase history"),
}
# Built-in class keys, for a reason read without its classification.
BUILTIN_KEYS: dict[str, str] = {
    "low": "Low",
    "mid": "Mid",
    "high": "High",
    "champions": "Champions",
    "loyal": "Loyal",
    "potential_loyalist": "Potential loyalist",
    "new": "New",
    "at_risk": "At risk",
    "cannot_lose": "Cannot lose",
    "hibernating": "Hibernating",
    "lost": "Lost",
    "no_orders": "No orders",
    "prospect": "Prospect",
    "churned": "Churned",
    "key_account": "Key account",
    "candidate": "Key account candidate",
    "other": "Other",
}

OPERATORS: dict[str, Any] = {
    "<": "<",
    "<=": "≤",
    ">": ">",
    ">=": "≥",
    "=": "=",
    "!=": "≠",
    "between": gettext_lazy("between"),
    "in": gettext_lazy("in"),
    "not_in": gettext_lazy("not in"),
    "is_null": gettext_lazy("has no value"),
}


def indicator_label(key: str | None) -> str:
    """The indicator's name in the reader's language (its key if Patron does not know it)."""
    if key is None:
        return str(INDICATOR_LABELS["score"])
    label = INDICATOR_LABELS.get(key)
    return str(label) if label is not None else key


def _labels_of(definition: Any) -> dict[str, str]:
    """Class key -> label as a definition dict writes them (any kind), without parsing it."""
    out: dict[str, str] = {}
    if not isinstance(definition, dict):
        return out
    for name in ("classes", "segments"):
        for item in definition.get(name) or []:
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                out[item["key"]] = str(item.get("label") or item["key"])
    for name in ("otherwise", "missing"):
        item = definition.get(name)
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = str(item.get("label") or item["key"])
    return out


def label_text(label: str, key: str | None = None) -> str:
    """A class label: a built-in one translated, a user's as written (a label that is only its key, by the key)."""
    if key is not None and label == key:
        label = BUILTIN_KEYS.get(key, label)
    known = BUILTIN_LABELS.get(label)
    return str(known) if known is not None else label


def class_label(classification: Any, key: str) -> str:
    """The name of class ``key`` of ``classification`` (a Classification, or a definition dict, or None)."""
    if key == "":
        return _("(none)")
    definition = getattr(classification, "definition", classification)
    label = _labels_of(definition).get(key)
    if label is None:
        label = BUILTIN_KEYS.get(key, key)
    return label_text(label, key)


def class_labels(classification: Any) -> dict[str, str]:
    definition = getattr(classification, "definition", classification)
    return {key: label_text(label, key) for key, label in _labels_of(definition).items()}


def days_text(value: Any) -> str:
    if value is None:
        return _("no value")
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    shown = number.quantize(Decimal(1)) if number == number.to_integral_value() else number.quantize(Decimal("0.1"))
    return ngettext("%(n)s day", "%(n)s days", int(number) if number == number.to_integral_value() else 2) % {
        "n": f"{shown:,}"
    }


def _percent(value: Any) -> str:
    number = Decimal(str(value)) * 100
    text = f"{number.quantize(Decimal('0.1')):,}".rstrip("0").rstrip(".")
    return f"{text}%"


def _region_name(region_id: Any) -> str:
    from patron.accounts.models import Region

    region = Region.objects.filter(pk=region_id).first() if str(region_id).isdigit() else None
    return region.name if region is not None else str(region_id)


def _industry_name(code: Any) -> str:
    from patron.accounts.models import Industry

    industry = Industry.objects.filter(code=code).first()
    return industry.name if industry is not None else str(code)


def value_text(indicator: str | None, value: Any, currency: str | None = None) -> str:
    """An indicator's value as the reader wants it: money with the company currency, days, shares in percent."""
    from patron.web.templatetags.patron_web import money

    if value is None or value == "":
        return _("no value")
    ind = INDICATORS.get(indicator or "")
    try:
        if ind is None:  # a weighted score, 0 to 100
            return f"{Decimal(str(value)).quantize(Decimal('0.1'))}"
        if ind.kind is Kind.MONEY:
            return money(Decimal(str(value)), currency or str(settings.PATRON_COMPANY_CURRENCY))
        if ind.kind is Kind.DAYS:
            return days_text(value)
        if ind.kind is Kind.COUNT:
            number = Decimal(str(value))
            return f"{number.normalize():,f}" if number != number.to_integral_value() else f"{int(number):,}"
        if ind.kind is Kind.RATIO:
            if indicator == "purchase_frequency":
                return _("%(n)s orders per 30 days") % {"n": f"{Decimal(str(value)).quantize(Decimal('0.01'))}"}
            return _percent(value)
    except ArithmeticError:
        return str(value)
    if ind.kind is Kind.BOOL:
        return _("yes") if value is True or str(value).lower() in ("true", "1") else _("no")
    if ind.kind is Kind.REGION:
        return _region_name(value)
    if ind.kind is Kind.CATEGORY:
        return _industry_name(value)
    return str(value)


def _list(items: Any) -> str:
    return ", ".join(str(i) for i in items)


def condition_text(entry: Mapping[str, Any], currency: str | None = None) -> str:
    """One condition of a rule as traced for an account: "Cumulative sales ≥ CNY 5,000.00 (CNY 6,000.00)"."""
    indicator = entry.get("indicator")
    op = entry.get("op", "")
    name = indicator_label(indicator)
    if "quantile" in entry:
        target = _("%(value)s (the %(percent)s quantile)") % {
            "value": value_text(indicator, entry.get("cut"), currency),
            "percent": _percent(entry["quantile"]),
        }
    elif op == "is_null":
        target = ""
    elif isinstance(entry.get("value"), list):
        shown = [value_text(indicator, v, currency) for v in entry["value"]]
        target = _("%(low)s and %(high)s") % {"low": shown[0], "high": shown[1]} if op == "between" else _list(shown)
    else:
        target = value_text(indicator, entry.get("value"), currency)
    if op == "is_null" and entry.get("value") is False:
        text = _("%(indicator)s has a value") % {"indicator": name}
    else:
        text = f"{name} {OPERATORS.get(op, op)} {target}".strip()
    if entry.get("negated"):
        text = _("not (%(condition)s)") % {"condition": text}
    actual = _("no value") if entry.get("no_value") else value_text(indicator, entry.get("actual"), currency)
    return _("%(condition)s (here %(actual)s)") % {"condition": text, "actual": actual}


def _cut_list(indicator: str | None, values: Any, currency: str | None) -> str:
    return _list(value_text(indicator, v, currency) if v is not None else _("none") for v in values or [])


def reason_text(reason: Any, classification: Any = None, currency: str | None = None) -> str:
    """The reader's words for one reason of the segmentation engine (population notes and per-account reasons).

    ``classification`` (a Classification or a definition dict) names its classes; money is
    shown in ``currency`` (the company currency by default).
    """
    code = reason.code if hasattr(reason, "code") else reason.get("code", "")
    raw = reason.params if hasattr(reason, "params") else reason.get("params", {})
    params: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    writer = _REASONS.get(code)
    if writer is None:
        return code
    try:
        return writer(params, classification, currency)
    except (KeyError, TypeError, ValueError, ArithmeticError, IndexError):
        return code


def _p(params: Mapping[str, Any]) -> _Params:
    return _Params(params)


def _band_name(band: Any) -> str:
    names = {"r": _("R score"), "f": _("F score"), "m": _("M score")}
    return str(names.get(band, ""))


def _quantiles_tied(p: Mapping[str, Any], c: Any, currency: str | None) -> str:
    indicator = p.get("indicator")
    indicator = None if indicator == "score" else indicator
    values = {
        "indicator": indicator_label(indicator),
        "cut_points": _cut_list(indicator, p.get("cut_points"), currency),
        "plain": _cut_list(indicator, p.get("plain_cut_points"), currency),
        "sizes": _list(p.get("sizes") or []),
    }
    prefix = _band_name(p.get("band"))
    if p.get("ties") == "rank":
        text = _(
            "Quantiles tied on %(indicator)s: accounts with equal values at the cut points %(plain)s "
            "were split by account id (class sizes %(sizes)s)."
        )
    else:
        text = _(
            "Quantiles tied on %(indicator)s: equal values stay in one class, so the cut points %(cut_points)s "
            "were used instead of %(plain)s (class sizes %(sizes)s)."
        )
    return (f"{prefix}: " if prefix else "") + text % values


def _empty_classes(p: Mapping[str, Any], c: Any, currency: str | None) -> str:
    indicator = p.get("indicator")
    prefix = _band_name(p.get("band"))
    classes = [class_label(c, k) if not prefix else str(k) for k in p.get("classes") or []]
    text = _("No account falls in %(classes)s: %(indicator)s has fewer distinct values than there are classes.") % {
        "classes": _list(classes),
        "indicator": indicator_label(None if indicator == "score" else indicator),
    }
    return (f"{prefix}: " if prefix else "") + text


def _no_value(p: Mapping[str, Any], c: Any, currency: str | None) -> str:
    if "accounts" in p:
        if p.get("indicator"):
            return _("%(accounts)s accounts have no value of %(indicator)s and are placed in %(class)s.") % {
                "accounts": f"{int(p['accounts']):,}",
                "indicator": indicator_label(p["indicator"]),
                "class": class_label(c, p.get("class", "")),
            }
        definition = getattr(c, "definition", c)
        if isinstance(definition, dict) and definition.get("kind") == "rfm":
            return _("%(accounts)s accounts have no orders in the period and are placed in %(class)s.") % {
                "accounts": f"{int(p['accounts']):,}",
                "class": class_label(c, p.get("class", "")),
            }
        return _("%(accounts)s accounts have no value for any of the indicators and are placed in %(class)s.") % {
            "accounts": f"{int(p['accounts']):,}",
            "class": class_label(c, p.get("class", "")),
        }
    if p.get("counted_as") == "worst":
        name = indicator_label(p.get("indicator"))
        return _("No value of %(indicator)s: counted as the worst.") % {"indicator": name}
    if "indicators" in p:
        return _("No value for any of %(indicators)s, so it is in %(class)s.") % {
            "indicators": _list(indicator_label(k) for k in p["indicators"]),
            "class": class_label(c, p.get("class", "")),
        }
    return _("No value of %(indicator)s, so it is in %(class)s.") % {
        "indicator": indicator_label(p.get("indicator")),
        "class": class_label(c, p.get("class", "")),
    }


def _band(p: Mapping[str, Any], c: Any, currency: str | None) -> str:
    indicator = p.get("indicator")
    indicator = None if indicator == "score" else indicator
    values = {
        "indicator": indicator_label(indicator),
        "value": value_text(indicator, p.get("value"), currency),
        "lower": value_text(indicator, p.get("lower"), currency),
        "upper": value_text(indicator, p.get("upper"), currency),
        "class": class_label(c, p.get("class", "")),
    }
    if p.get("lower") is not None and p.get("upper") is not None:
        text = _("%(indicator)s is %(value)s, at least %(lower)s and below %(upper)s: %(class)s.")
    elif p.get("lower") is not None:
        text = _("%(indicator)s is %(value)s, at least %(lower)s: %(class)s.")
    elif p.get("upper") is not None:
        text = _("%(indicator)s is %(value)s, below %(upper)s: %(class)s.")
    else:
        text = _("%(indicator)s is %(value)s: %(class)s.")
    out = text % values
    if p.get("method") == "quantiles":
        out += " " + _("(Cut points fitted to the quantiles of every account.)")
    return out


def _score(p: Mapping[str, Any], c: Any, currency: str | None) -> str:
    terms = [
        _("%(indicator)s %(value)s: %(points)s points (weight %(weight)s)")
        % {
            "indicator": indicator_label(t.get("indicator")),
            "value": value_text(t.get("indicator"), t.get("value"), currency),
            "points": value_text(None, t.get("points"), currency),
            "weight": t.get("weight"),
        }
        for t in p.get("terms") or []
    ]
    return _("Score %(score)s of 100: %(terms)s.") % {
        "score": value_text(None, p.get("score"), currency),
        "terms": "; ".join(terms),
    }


def _tie_broken(p: Mapping[str, Any], c: Any, currency: str | None) -> str:
    indicator = p.get("indicator")
    indicator = None if indicator == "score" else indicator
    return _("%(indicator)s (%(value)s) equals a cut point; accounts with this value were split by account id.") % {
        "indicator": indicator_label(indicator),
        "value": value_text(indicator, p.get("value"), currency),
    }


def _rule(p: Mapping[str, Any], c: Any, currency: str | None, matched: bool) -> str:
    conditions = [e for e in p.get("conditions") or [] if matched or not e.get("held")]
    shown = "; ".join(condition_text(e, currency) for e in conditions)
    name = class_label(c, p.get("class", ""))
    if matched:
        if not shown:
            return _("Matches the rule of %(class)s.") % {"class": name}
        return _("Matches the rule of %(class)s: %(conditions)s.") % {"class": name, "conditions": shown}
    return _("Not %(class)s: %(conditions)s.") % {"class": name, "conditions": shown or _("the rule does not hold")}


def _rfm_scores(p: Mapping[str, Any], c: Any, currency: str | None) -> str:
    return _(
        "R %(r)s (last order %(recency)s ago), F %(f)s (%(count)s orders), M %(m)s (%(sales)s); "
        "F and M together make FM %(fm)s."
    ) % {
        "r": p["r"],
        "f": p["f"],
        "m": p["m"],
        "fm": p["fm"],
        "recency": days_text(p.get("recency_days")),
        "count": value_text("purchase_count", p.get("purchase_count"), currency),
        "sales": value_text("sales", p.get("sales"), currency),
    }


def _no_orders(p: Mapping[str, Any], c: Any, currency: str | None) -> str:
    if "class" in p:
        return _("No orders in the period, so it is in %(class)s.") % {"class": class_label(c, p["class"])}
    return _("No orders yet: a prospect.")


def _rhythm(p: Mapping[str, Any], text: str) -> str:
    return text % {
        "recency": days_text(p.get("recency_days")),
        "rhythm": days_text(p.get("rhythm_days")),
        "at_risk_after": days_text(p.get("at_risk_after_days")),
        "churned_after": days_text(p.get("churned_after_days")),
        "loyal_factor": p.get("loyal_factor"),
        "churn_factor": p.get("churn_factor"),
    }


def _one_time_lapsed(p: Mapping[str, Any], c: Any, currency: str | None) -> str:
    if "age" in p:  # the churn model's rule
        return _("Bought once, %(age)s ago, beyond %(limit)s: counted as churned.") % {
            "age": p.get("age"),
            "limit": p.get("limit"),
        }
    return _("Bought once, %(recency)s ago, more than %(limit)s: churned.") % {
        "recency": days_text(p.get("recency_days")),
        "limit": days_text(p.get("one_time_churn_days")),
    }


def _fitted(p: Mapping[str, Any], model: str) -> str:
    def number(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, int | float) else str(value)

    shown = ", ".join(f"{k} = {number(v)}" for k, v in p.items() if k != "log_likelihood")
    return _("%(model)s model fitted: %(params)s (log-likelihood %(ll)s).") % {
        "model": model,
        "params": shown,
        "ll": number(p.get("log_likelihood")),
    }


_REASONS: dict[str, Any] = {
    "QUANTILES_TIED": _quantiles_tied,
    "EMPTY_CLASSES": _empty_classes,
    "NO_POPULATION": lambda p, c, cur: (
        _("No account has a value of %(indicator)s, so its cut points could not be fitted.")
        % {"indicator": indicator_label(None if p.get("indicator") == "score" else p.get("indicator"))}
    ),
    "CONSTANT_INDICATOR": lambda p, c, cur: (
        _("Every account has the same %(indicator)s (%(value)s): it adds the same points to every score.")
        % {
            "indicator": indicator_label(p.get("indicator")),
            "value": value_text(p.get("indicator"), p.get("value"), cur),
        }
    ),
    "QUANTILE_CUT": lambda p, c, cur: (
        _("The %(percent)s quantile of %(indicator)s is %(cut)s.")
        % {
            "percent": _percent(p.get("quantile")),
            "indicator": indicator_label(p.get("indicator")),
            "cut": value_text(p.get("indicator"), p.get("cut"), cur),
        }
    ),
    "INDICATOR_ABSENT": lambda p, c, cur: (
        _("%(indicator)s is not measured yet; it is read as having no value.")
        % {"indicator": indicator_label(p.get("indicator"))}
    ),
    "NO_VALUE": _no_value,
    "BAND": _band,
    "SCORE": _score,
    "SCORE_BAND": _band,
    "TIE_BROKEN_BY_ACCOUNT_ID": _tie_broken,
    "RULE_MATCHED": lambda p, c, cur: _rule(p, c, cur, True),
    "RULE_NOT_MATCHED": lambda p, c, cur: _rule(p, c, cur, False),
    "OTHERWISE": lambda p, c, cur: (
        _("No rule matched, so it is in %(class)s.") % {"class": class_label(c, p.get("class", ""))}
    ),
    "RFM_SCORES": _rfm_scores,
    "RFM_CELL": lambda p, c, cur: (
        _("R %(r)s and FM %(fm)s are a cell of %(class)s.")
        % {"r": p["r"], "fm": p["fm"], "class": class_label(c, p.get("class", ""))}
    ),
    "NO_ORDERS": _no_orders,
    "FIRST_ORDER_RECENT": lambda p, c, cur: (
        _("First order %(first)s ago, within %(new)s: new.")
        % {"first": days_text(p.get("first_order_days")), "new": days_text(p.get("new_days"))}
    ),
    "BEYOND_MAXIMUM": lambda p, c, cur: (
        _("Last order %(recency)s ago, more than %(max)s: churned.")
        % {"recency": days_text(p.get("recency_days")), "max": days_text(p.get("churn_max_days"))}
    ),
    "FAR_BEYOND_RHYTHM": lambda p, c, cur: _rhythm(
        p,
        _(
            "Last order %(recency)s ago; it usually orders every %(rhythm)s, and after %(churned_after)s "
            "(%(churn_factor)s times its rhythm) it counts as churned."
        ),
    ),
    "LATE_FOR_RHYTHM": lambda p, c, cur: _rhythm(
        p,
        _(
            "Last order %(recency)s ago; it usually orders every %(rhythm)s, so after %(at_risk_after)s "
            "(%(loyal_factor)s times its rhythm) it is late: at risk."
        ),
    ),
    "ON_RHYTHM": lambda p, c, cur: _rhythm(
        p,
        _(
            "Last order %(recency)s ago; it usually orders every %(rhythm)s and is on rhythm "
            "(late only after %(at_risk_after)s)."
        ),
    ),
    "P_ALIVE_LOW": lambda p, c, cur: (
        _("The probability that it is still a customer, %(p)s, is below %(below)s.")
        % {"p": _percent(p.get("p_alive")), "below": _percent(p.get("below"))}
    ),
    "ONE_TIME_BUYER_LAPSED": _one_time_lapsed,
    "ONE_TIME_BUYER": lambda p, c, cur: (
        _("Bought once, %(recency)s ago (churned only after %(limit)s): at risk.")
        % {"recency": days_text(p.get("recency_days")), "limit": days_text(p.get("one_time_churn_days"))}
    ),
    "ONE_TIME_BUYER_ACTIVE": lambda p, c, cur: (
        _("Bought once, %(age)s ago, within %(limit)s.") % {"age": p.get("age"), "limit": p.get("limit")}
    ),
    "REPEAT_BUYER": lambda p, c, cur: (
        _("A repeat buyer (%(frequency)s repeat purchases): the model judges it.") % {"frequency": p.get("frequency")}
    ),
    "NO_CUSTOMERS": lambda p, c, cur: _("There are no customers to fit the model on."),
    "NO_REPEAT_BUYERS": lambda p, c, cur: _("No customer bought twice: the model cannot be fitted."),
    "NOT_CONVERGED": lambda p, c, cur: _("The model fit did not converge: %(message)s") % {"message": p.get("message")},
    "NON_FINITE_LIKELIHOOD": lambda p, c, cur: _("The model's likelihood is not finite: the fit failed."),
    "PARAMETER_AT_BOUND": lambda p, c, cur: (
        _("The parameter %(parameter)s ran to its bound (%(value)s): the fit is not reliable.")
        % {"parameter": p.get("parameter"), "value": p.get("value")}
    ),
    "NOT_IDENTIFIED": lambda p, c, cur: (
        _("The data cannot pin down the parameter %(parameter)s: the fit is not used.")
        % {"parameter": p.get("parameter")}
    ),
    "BGNBD_FITTED": lambda p, c, cur: _fitted(p, "BG/NBD"),
    "GAMMA_GAMMA_FITTED": lambda p, c, cur: _fitted(p, "Gamma-Gamma"),
    "MEAN_SPEND_INFINITE": lambda p, c, cur: (
        _("The expected spend is infinite (q = %(q)s is at most 1).") % {"q": p.get("q")}
    ),
}
