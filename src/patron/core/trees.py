"""Trees kept as materialised paths ("CN/GD/SZ/"), so "this node and everything below" is one prefix query."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext as _

MAX_DEPTH = 10


class TreePathMixin:
    """For models with ``code``, ``parent`` (to self) and ``path`` fields."""

    code: str
    path: str
    parent: Any
    pk: Any

    def ancestors(self) -> list[Any]:
        nodes: list[Any] = []
        node = self.parent
        while node is not None and len(nodes) < MAX_DEPTH:
            nodes.append(node)
            node = node.parent
        return nodes

    def clean(self) -> None:
        super().clean()  # type: ignore[misc]
        if self.pk is not None and any(a.pk == self.pk for a in self.ancestors()):
            raise ValidationError({"parent": _("A node cannot be placed under itself or below itself.")})
        if len(self.ancestors()) >= MAX_DEPTH:
            message = _("The tree may be at most %(depth)d levels deep.") % {"depth": MAX_DEPTH}
            raise ValidationError({"parent": message})

    def save(self, *args: Any, **kwargs: Any) -> None:
        manager = type(self)._default_manager  # type: ignore[attr-defined]
        old_path = manager.filter(pk=self.pk).values_list("path", flat=True).first() if self.pk else None
        self.path = (self.parent.path if self.parent else "") + self.code + "/"
        with transaction.atomic():
            super().save(*args, **kwargs)  # type: ignore[misc]
            if old_path and old_path != self.path:
                # Everything below moves with the node.
                manager.filter(path__startswith=old_path).exclude(pk=self.pk).update(
                    path=Concat(Value(self.path), Substr("path", len(old_path) + 1))
                )


def id_paths(model: Any) -> dict[int, tuple[int, ...]]:
    """Each node's id -> its own id and its ancestors' ids, nearest first (one query)."""
    rows = list(model.objects.values_list("id", "path"))
    by_path = {path: pk for pk, path in rows}
    out: dict[int, tuple[int, ...]] = {}
    for pk, path in rows:
        codes = [c for c in path.split("/") if c]
        prefixes = ["/".join(codes[: i + 1]) + "/" for i in range(len(codes))]
        out[pk] = tuple(by_path[p] for p in reversed(prefixes) if p in by_path)
    return out
