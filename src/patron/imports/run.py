"""One pass over an import's rows: checks, writes, and what a dry run reports.

A dry run and a real run are the same pass; the dry run (and any run that found an
error) rolls its transaction back at the end. So the report of a dry run is exactly
what the real run would meet, and a failure on the last row leaves the database as it
was before the first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, models, transaction
from django.utils.translation import gettext as _

from patron.core.errors import Conflict, error_dict
from patron.domain.importing import Column, Problem, SourceRow, column_letter, parse_row

from .messages import problem_text
from .models import ImportJob, ImportRecord

REPORT_LIMIT = 1000
PROGRESS_EVERY = 1000  # rows between two progress writes


class RolledBack(Exception):
    """Raised at the end of a dry run (or a run with errors) to undo everything it wrote."""


class Run:
    def __init__(
        self,
        job: ImportJob,
        actor: Any,
        columns: Sequence[Column],
        mapping: Mapping[int, str],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.job = job
        self.actor = actor
        self.columns = {c.key: c for c in columns}
        self.mapping = dict(mapping)
        self.column_of = {key: index for index, key in mapping.items()}
        self.problems: list[Problem] = []
        self.errors = 0
        self.warnings = 0
        self.records: list[ImportRecord] = []
        self.created = self.updated = self.unchanged = 0
        self._failed_rows: set[int] = set()
        self._progress = progress
        self.done_rows = 0
        self._reported = 0

    # --- findings -------------------------------------------------------------------

    def problem(self, row: int | None, field: str | None, message: str, level: str = "error") -> None:
        if level == "error":
            self.errors += 1
            if row is not None:
                self._failed_rows.add(row)
        else:
            self.warnings += 1
        self.problems.append(Problem(row, field, "", {"message": message}, level))

    def warn(self, row: int | None, field: str | None, message: str) -> None:
        self.problem(row, field, message, "warning")

    def failed(self, row: int) -> bool:
        return row in self._failed_rows

    def parse(self, row: SourceRow) -> dict[str, Any]:
        found: list[Problem] = []
        values = parse_row(row, self.columns, found)
        for p in found:
            self.problem(p.row, p.field, problem_text(p))
        return values

    def tick(self, rows: int = 1) -> None:
        self.done_rows += rows
        if self._progress is not None and self.done_rows - self._reported >= PROGRESS_EVERY:
            self._reported = self.done_rows
            self._progress(self.done_rows)

    @contextlib.contextmanager
    def attempt(self, row: int, field_of: Callable[[str], tuple[int, str | None]] | None = None) -> Iterator[None]:
        """Run one row's writes in a savepoint; their errors become the row's problems."""
        try:
            with transaction.atomic():
                yield
        except ValidationError as exc:
            for field, messages in error_dict(exc).items():
                at_row, at_field = field_of(field) if field_of else (row, field)
                for message in messages:
                    self.problem(at_row, at_field if at_field in self.columns else None, message)
        except Conflict as exc:
            self.problem(row, exc.field if exc.field in self.columns else None, str(exc))
        except PermissionDenied:
            self.problem(row, None, _("You may not make this change."))
        except IntegrityError:
            self.problem(row, None, _("The database refused this row: it conflicts with a record already there."))
        except DatabaseError:  # a value too long or out of range for its column
            self.problem(row, None, _("The database refused this row: a value is too long or out of range."))

    # --- what was written -----------------------------------------------------------

    def record(self, row: int, instance: models.Model, before: dict[str, Any] | None = None) -> None:
        meta = instance._meta
        self.records.append(
            ImportRecord(
                row=row,
                model=f"{meta.app_label}.{meta.model_name}",
                object_id=instance.pk,
                action=ImportRecord.CREATED if before is None else ImportRecord.UPDATED,
                before=before or {},
            )
        )
        if self.failed(row):
            return  # written only to find the row's other problems; the run is rolled back
        if before is None:
            self.created += 1
        else:
            self.updated += 1

    def compared(self, row: int, instance: models.Model, before: dict[str, Any], after: dict[str, Any]) -> None:
        """An update: recorded (for undo) when it changed anything, else counted as unchanged."""
        if after != before:
            self.record(row, instance, {"before": before, "after": after})
        elif not self.failed(row):
            self.unchanged += 1

    # --- the report -----------------------------------------------------------------

    def report(self, headers: Sequence[str]) -> list[dict[str, Any]]:
        ordered = sorted(self.problems, key=lambda p: (p.level != "error", p.row if p.row is not None else 0))
        out = []
        for p in ordered[:REPORT_LIMIT]:
            index = self.column_of.get(p.field) if p.field else None
            column = ""
            if index is not None:
                header = headers[index] if index < len(headers) else ""
                column = f"{column_letter(index)} ({header})" if header else column_letter(index)
            out.append(
                {
                    "row": p.row,
                    "field": p.field,
                    "column": column,
                    "message": p.params.get("message") or problem_text(p),
                    "level": p.level,
                }
            )
        return out


def row_field(prefix_rows: Mapping[int, int], default_row: int) -> Callable[[str], tuple[int, str | None]]:
    """Map a service's "lines.2.quantity" back to the file row of line 2 and its field."""

    def field_of(name: str) -> tuple[int, str | None]:
        parts = name.split(".")
        if len(parts) == 3 and parts[0] in ("lines", "allocations") and parts[1].isdigit():
            return prefix_rows.get(int(parts[1]), default_row), parts[2]
        return default_row, name

    return field_of
