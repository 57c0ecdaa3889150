"""Writes: policies, their rules, product sets and discount limits.

Every write checks the rule's shape with the pure core, then that what it names
exists (products, categories, regions, industries, tags, accounts, classes, product
sets), each problem under its field path (``what.products[1]``), records an audit
row, and bumps the rule-book stamp so every process prices with the change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can
from patron.accounts.models import Account, Industry, Region, Tag
from patron.audit.services import audit_record
from patron.core.errors import Conflict
from patron.domain.access import Action, Role
from patron.domain.pricing import parse_rule
from patron.domain.problems import DefinitionError
from patron.sales.models import Category, Product

from .mappers import bump_version, expand_product_sets, product_set_members
from .messages import problem_text
from .models import DiscountLimit, DiscountRule, Policy, ProductSet

RULE_FIELDS = ("who", "what", "when", "benefit", "stacking", "caps")


def require_editor(actor: Any) -> None:
    if not can(actor, Action.EDIT_DISCOUNTS):
        raise PermissionDenied(Action.EDIT_DISCOUNTS.value)


# --- rules -----------------------------------------------------------------------------------------------------


def _missing_ids(model: Any, ids: set[int]) -> set[int]:
    return ids - set(model.objects.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()


def check_references(data: Mapping[str, Any], errors: dict[str, list[str]], *, prefix: str = "") -> None:
    """Ids the core cannot know: each missing one named by its place in the list (rebate programs
    write ``who`` and ``what`` as discount rules do, and name them under ``prefix``)."""
    who, what, when = (data.get(k) or {} for k in ("who", "what", "when"))
    checks: list[tuple[str, Any, Any, str]] = [
        ("who.accounts", who.get("accounts"), Account, _("No account has this id.")),
        ("who.regions", who.get("regions"), Region, _("No region has this id.")),
        ("who.industries", who.get("industries"), Industry, _("No industry has this id.")),
        ("who.tags", who.get("tags"), Tag, _("No tag has this id.")),
        ("what.products", what.get("products"), Product, _("No product has this id.")),
        ("what.exclude_products", what.get("exclude_products"), Product, _("No product has this id.")),
        ("what.categories", what.get("categories"), Category, _("No category has this id.")),
        ("what.exclude_categories", what.get("exclude_categories"), Category, _("No category has this id.")),
        ("what.product_sets", what.get("product_sets"), ProductSet, _("No product set has this id.")),
    ]
    for path, ids, model, message in checks:
        if not isinstance(ids, list):
            continue
        wanted = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
        for missing in sorted(_missing_ids(model, wanted)):
            errors.setdefault(f"{prefix}{path}[{ids.index(missing)}]", []).append(message)
    category_min = when.get("category_min") if isinstance(when.get("category_min"), Mapping) else None
    category = category_min.get("category") if category_min else None
    if isinstance(category, int) and not isinstance(category, bool) and _missing_ids(Category, {category}):
        errors.setdefault(f"{prefix}when.category_min.category", []).append(_("No category has this id."))
    classes = who.get("classes")
    if isinstance(classes, list):
        from patron.segments.models import Classification

        known = {c.key: set(_class_keys(c.definition)) for c in Classification.objects.all()}
        for i, item in enumerate(classes):
            if not isinstance(item, str) or ":" not in item:
                continue
            key, cls = item.split(":", 1)
            if key not in known:
                errors.setdefault(f"{prefix}who.classes[{i}]", []).append(
                    _("No classification has the key “%(key)s”.") % {"key": key}
                )
            elif cls not in known[key]:
                errors.setdefault(f"{prefix}who.classes[{i}]", []).append(
                    _("The classification “%(key)s” has no class “%(cls)s”.") % {"key": key, "cls": cls}
                )
    stages = who.get("stages")
    if isinstance(stages, list):
        from patron.domain.segmentation.definitions import LIFECYCLE_STAGES

        for i, stage in enumerate(stages):
            if stage not in LIFECYCLE_STAGES:
                errors.setdefault(f"{prefix}who.stages[{i}]", []).append(_("Unknown lifecycle stage."))


def _class_keys(definition: Mapping[str, Any]) -> list[str]:
    keys = [c.get("key") for c in definition.get("classes") or definition.get("segments") or []]
    for extra in ("otherwise", "missing"):
        if isinstance(definition.get(extra), Mapping):
            keys.append(definition[extra].get("key"))
    return [k for k in keys if isinstance(k, str)]


def checked_rule(data: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's stored definition, or a ValidationError naming every wrong field."""
    if not isinstance(data, Mapping):
        raise ValidationError({"rule": [_("Send the rule as an object.")]})
    errors: dict[str, list[str]] = {}
    definition = {k: data[k] for k in RULE_FIELDS if k in data and data[k] is not None}
    unknown = set(data) - set(RULE_FIELDS) - {"name", "priority", "policy"}
    for name in sorted(unknown, key=str):
        errors[str(name)] = [_("Unknown field.")]
    what = definition.get("what")
    sets_field = what.get("product_sets") if isinstance(what, Mapping) else None
    if sets_field is not None and (
        not isinstance(sets_field, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in sets_field)
    ):
        errors["what.product_sets"] = [_("Give a list of product set ids.")]
        sets_field = None
    probe = dict(definition, name=data.get("name"), priority=data.get("priority", 0))
    if isinstance(what, Mapping):
        # The core does not know product sets; their members are products to it.
        probe = expand_product_sets(probe, product_set_members(sets_field) if sets_field else {})
        if sets_field and not probe["what"].get("products"):
            probe["what"]["products"] = [1]  # an empty set must not read as "every product" while checking
    try:
        parse_rule(probe, key="check")
    except DefinitionError as exc:
        for problem in exc.problems:
            errors.setdefault(problem.path or "rule", []).append(problem_text(problem))
    check_references(data, errors)
    if errors:
        raise ValidationError(errors)
    return definition


def _rule_values(data: Mapping[str, Any], instance: DiscountRule | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if instance is not None:
        merged.update(instance.definition, name=instance.name, priority=instance.priority)
    merged.update(data)
    definition = checked_rule(merged)
    return {"name": str(merged["name"]).strip(), "priority": int(merged.get("priority") or 0), "definition": definition}


def _editable(policy: Policy) -> Policy:
    locked = Policy.objects.select_for_update().get(pk=policy.pk)
    if locked.status == Policy.ARCHIVED:
        raise Conflict(_("An archived policy cannot change; copy it into a new draft."), "status")
    return locked


def _touch(policy: Policy) -> None:
    policy.version += 1
    policy.save(update_fields=["version", "updated_at"])
    bump_version()


@transaction.atomic
def rule_create(*, actor: Any, policy: Policy, data: Mapping[str, Any]) -> DiscountRule:
    require_editor(actor)
    policy = _editable(policy)
    values = _rule_values(data, None)
    rule = DiscountRule.objects.create(policy=policy, **values)
    audit_record(
        actor=actor,
        action="DISCOUNT_RULE_CREATED",
        instance=rule,
        changes={"policy": [None, policy.pk], "rule": [None, values]},
    )
    _touch(policy)
    return rule


@transaction.atomic
def rule_update(*, actor: Any, rule: DiscountRule, data: Mapping[str, Any]) -> DiscountRule:
    require_editor(actor)
    policy = _editable(rule.policy)
    rule = DiscountRule.objects.select_for_update().get(pk=rule.pk)
    before = {"name": rule.name, "priority": rule.priority, "definition": rule.definition}
    values = _rule_values(data, rule)
    if values != before:
        for name, value in values.items():
            setattr(rule, name, value)
        rule.save()
        audit_record(
            actor=actor,
            action="DISCOUNT_RULE_UPDATED",
            instance=rule,
            changes={"policy": [policy.pk, policy.pk], "rule": [before, values]},
        )
        _touch(policy)
    return rule


@transaction.atomic
def rule_delete(*, actor: Any, rule: DiscountRule) -> None:
    require_editor(actor)
    policy = _editable(rule.policy)
    before = {"name": rule.name, "priority": rule.priority, "definition": rule.definition}
    audit_record(
        actor=actor,
        action="DISCOUNT_RULE_DELETED",
        instance=rule,
        changes={"policy": [policy.pk, None], "rule": [before, None]},
    )
    rule.delete()
    _touch(policy)


# --- policies --------------------------------------------------------------------------------------------------


def _moment(errors: dict[str, list[str]], name: str, raw: Any) -> dt.datetime | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, dt.datetime):
        value = raw
    elif isinstance(raw, dt.date):
        value = dt.datetime.combine(raw, dt.time.min)
    else:
        try:
            value = dt.datetime.fromisoformat(str(raw))
        except ValueError:
            errors[name] = [_("Enter a date and time, e.g. 2026-12-01 08:00.")]
            return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if not 1900 <= value.year <= 2999:
        errors[name] = [_("Enter a date between 1900 and 2999.")]
        return None
    return value


def _policy_values(data: Mapping[str, Any], instance: Policy | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in ("name", "description", "customer_text"):
        if name in data or instance is None:
            values[name] = str(data.get(name) or "").strip()
    if (instance is None or "name" in values) and not values.get("name"):
        errors["name"] = [_("Give the policy a name.")]
    elif len(values.get("name", "")) > 200:
        errors["name"] = [_("At most 200 characters.")]
    for name in ("effective_from", "effective_to"):
        if name in data or instance is None:
            values[name] = _moment(errors, name, data.get(name))
    start = values.get("effective_from", instance.effective_from if instance else None)
    end = values.get("effective_to", instance.effective_to if instance else None)
    if start and end and end <= start and "effective_to" not in errors:
        errors["effective_to"] = [_("The policy must end after it starts.")]
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def policy_create(*, actor: Any, data: Mapping[str, Any]) -> Policy:
    """A new policy, always a draft: it prices nothing until activated."""
    require_editor(actor)
    values = _policy_values(data, None)
    policy = Policy.objects.create(owner=actor, **values)
    audit_record(actor=actor, action="DISCOUNT_POLICY_CREATED", instance=policy, changes={"name": [None, policy.name]})
    return policy


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


@transaction.atomic
def policy_update(*, actor: Any, policy: Policy, data: Mapping[str, Any]) -> Policy:
    require_editor(actor)
    policy = _editable(policy)
    values = _policy_values(data, policy)
    changes = {k: [_jsonable(getattr(policy, k)), _jsonable(v)] for k, v in values.items() if getattr(policy, k) != v}
    if changes:
        for name, value in values.items():
            setattr(policy, name, value)
        policy.save()
        audit_record(actor=actor, action="DISCOUNT_POLICY_UPDATED", instance=policy, changes=changes)
        _touch(policy)
    return policy


@transaction.atomic
def policy_set_status(*, actor: Any, policy: Policy, status: str) -> Policy:
    """Draft -> active -> archived (and active -> draft to pause); activating needs a rule."""
    require_editor(actor)
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    allowed = {
        Policy.DRAFT: {Policy.ACTIVE, Policy.ARCHIVED},
        Policy.ACTIVE: {Policy.DRAFT, Policy.ARCHIVED},
        Policy.ARCHIVED: set(),
    }
    if status == policy.status:
        return policy
    if status not in allowed[policy.status]:
        raise Conflict(
            _("A policy that is %(now)s cannot become %(then)s.")
            % {"now": policy.get_status_display(), "then": dict(Policy.STATUSES).get(status, status)},
            "status",
        )
    if status == Policy.ACTIVE and not policy.rules.exists():
        raise ValidationError({"status": [_("Add a rule before activating the policy.")]})
    before = policy.status
    policy.status = status
    policy.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor, action="DISCOUNT_POLICY_STATUS_CHANGED", instance=policy, changes={"status": [before, status]}
    )
    bump_version()
    return policy


@transaction.atomic
def policy_copy(*, actor: Any, policy: Policy) -> Policy:
    """A draft copy with the same rules: how an archived or active policy is changed safely."""
    require_editor(actor)
    copy = Policy.objects.create(
        owner=actor,
        name=_("Copy of %(name)s") % {"name": policy.name},
        description=policy.description,
        customer_text=policy.customer_text,
        effective_from=policy.effective_from,
        effective_to=policy.effective_to,
    )
    DiscountRule.objects.bulk_create(
        DiscountRule(policy=copy, name=r.name, priority=r.priority, definition=r.definition) for r in policy.rules.all()
    )
    audit_record(actor=actor, action="DISCOUNT_POLICY_COPIED", instance=copy, changes={"from": [None, policy.pk]})
    return copy


# --- product sets and limits -----------------------------------------------------------------------------------


@transaction.atomic
def product_set_save(*, actor: Any, data: Mapping[str, Any], product_set: ProductSet | None = None) -> ProductSet:
    require_editor(actor)
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or (product_set.name if product_set else "")).strip()
    if not name:
        errors["name"] = [_("Give the product set a name.")]
    elif ProductSet.objects.filter(name=name).exclude(pk=product_set.pk if product_set else 0).exists():
        errors["name"] = [_("Another product set has this name.")]
    products = data.get("products")
    ids: list[int] | None = None
    if products is not None:
        if not isinstance(products, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in products):
            errors["products"] = [_("Give a list of product ids.")]
        else:
            ids = list(dict.fromkeys(products))
            for missing in sorted(_missing_ids(Product, set(ids))):
                errors.setdefault(f"products[{products.index(missing)}]", []).append(_("No product has this id."))
    if errors:
        raise ValidationError(errors)
    if product_set is None:
        product_set = ProductSet.objects.create(name=name, description=str(data.get("description") or ""))
    else:
        product_set.name = name
        if "description" in data:
            product_set.description = str(data.get("description") or "")
        product_set.save()
    if ids is not None:
        product_set.products.set(ids)
    audit_record(actor=actor, action="PRODUCT_SET_SAVED", instance=product_set, changes={"products": [None, ids]})
    bump_version()
    return product_set


def _decimal(errors: dict[str, list[str]], name: str, raw: Any, high: Decimal | None = None) -> Decimal | None:
    if raw in (None, ""):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        errors[name] = [_("Enter a number.")]
        return None
    if not value.is_finite() or value < 0 or (high is not None and value > high):
        errors[name] = [
            _("Enter a number between 0 and %(max)s.") % {"max": high} if high else _("Enter a number of 0 or more.")
        ]
        return None
    return value.quantize(Decimal("0.01"))


@transaction.atomic
def discount_limit_set(*, actor: Any, data: Mapping[str, Any]) -> DiscountLimit:
    """Set how much a role or a user may discount by hand (percent of a line, amount per order)."""
    if not can(actor, Action.MANAGE_SETTINGS):
        raise PermissionDenied(Action.MANAGE_SETTINGS.value)
    errors: dict[str, list[str]] = {}
    role = str(data.get("role") or "")
    user_id = data.get("user")
    if bool(role) == bool(user_id):
        errors["role"] = [_("Give either a role or a user.")]
    elif role and role not in {r.value for r in Role}:
        errors["role"] = [_("Unknown role.")]
    category_id = data.get("category") or None
    if category_id is not None and _missing_ids(Category, {category_id}):
        errors["category"] = [_("No category has this id.")]
    percent = _decimal(errors, "percent", data.get("percent"), Decimal(100))
    amount = _decimal(errors, "amount", data.get("amount"))
    segment = str(data.get("segment") or "").strip()
    if segment:
        found: dict[str, list[str]] = {}
        check_references({"who": {"classes": [segment]}}, found)
        if found or segment.count(":") != 1:
            errors["segment"] = found.get("who.classes[0]") or [_("Choose a segment as classification:class.")]
    if errors:
        raise ValidationError(errors)
    limit, _created = DiscountLimit.objects.update_or_create(
        role=role,
        user_id=user_id or None,
        category_id=category_id,
        segment=segment,
        defaults={"percent": percent, "amount": amount},
    )
    bump_version()  # the rule book holds a copy of the limits
    audit_record(
        actor=actor,
        action="DISCOUNT_LIMIT_SET",
        instance=limit,
        changes={"percent": [None, str(percent)], "amount": [None, str(amount)], "segment": [None, segment]},
    )
    return limit
