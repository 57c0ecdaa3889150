"""``patron import_data KIND FILE --user NAME [--dry-run] [--map 0=code ...] [--encoding E]``,
``patron import_data --undo ID --user NAME``, ``patron import_data --list``.

The same checks, report and all-or-nothing run as the import pages and the API.
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from patron.core.errors import Conflict, error_dict
from patron.domain.importing import ENCODINGS
from patron.imports.kinds import field_label
from patron.imports.models import ImportJob
from patron.imports.services import job_create, job_execute, job_set_mapping, job_undo, write_progress
from patron.staff.models import User


class Command(BaseCommand):
    help = "Import accounts, contacts, products, orders, returns or payments from a CSV or XLSX file."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("kind", nargs="?", choices=[k for k, _label in ImportJob.KINDS])
        parser.add_argument("file", nargs="?", help="A .csv (UTF-8, with or without BOM, or GB18030) or .xlsx file.")
        parser.add_argument("--user", help="Username the import acts as (its permissions apply row by row).")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; write nothing.")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help="Map a column (0-based index or header text) to a field; repeat. Default: from the headers.",
        )
        parser.add_argument("--encoding", choices=ENCODINGS, help="The CSV's encoding, if detection guesses wrong.")
        parser.add_argument("--undo", type=int, metavar="ID", help="Undo import ID as a whole.")
        parser.add_argument("--list", action="store_true", help="List recent imports.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for job in ImportJob.objects.select_related("created_by")[:50]:
                self.stdout.write(
                    f"{job.pk:>6}  {job.created_at:%Y-%m-%d %H:%M}  {job.kind:<9} {job.status:<9} "
                    f"{job.total_rows:>8} rows  +{job.created} ~{job.updated} ={job.unchanged}  "
                    f"{job.created_by.username}  {job.file_name}"
                )
            return
        user = self._user(options["user"])
        try:
            if options["undo"]:
                job = job_undo(actor=user, job=self._job(options["undo"]))
                self.stdout.write(f"Import {job.pk} undone.")
                return
            if not options["kind"] or not options["file"]:
                raise CommandError("Give KIND and FILE (or --undo ID, or --list).")
            self._import(user, options)
        except ValidationError as exc:
            raise CommandError(self._errors(exc)) from None
        except Conflict as exc:
            raise CommandError(exc.message) from None
        except PermissionDenied:
            raise CommandError(f"{user.username} may not do this.") from None

    def _user(self, username: str | None) -> User:
        if not username:
            raise CommandError("Give --user: the import acts as that person.")
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        return user

    def _job(self, job_id: int) -> ImportJob:
        job = ImportJob.objects.filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"No import {job_id}.")
        return job

    def _errors(self, exc: ValidationError) -> str:
        return "\n".join(f"{field}: {message}" for field, messages in error_dict(exc).items() for message in messages)

    def _import(self, user: User, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        job = job_create(
            actor=user, kind=options["kind"], file_name=path.name, data=path.read_bytes(), encoding=options["encoding"]
        )
        if options["map"]:
            mapping = dict(job.mapping)
            for item in options["map"]:
                column, _sep, field = item.partition("=")
                index = column if column.isdigit() else str(job.headers.index(column)) if column in job.headers else ""
                if not index:
                    raise CommandError(f"No column {column!r}; the columns are: {', '.join(job.headers)}")
                mapping = {k: v for k, v in mapping.items() if v != field}
                mapping[index] = field
            job = job_set_mapping(actor=user, job=job, mapping=mapping)
        self.stderr.write(f"Import {job.pk}: {job.total_rows} rows, encoding {job.encoding}. Columns:")
        for index, header in enumerate(job.headers):
            key = job.mapping.get(str(index))
            self.stderr.write(f"  {header!s:<24} -> {field_label(job.kind, key) if key else '(ignored)'}")
        write_progress(job, 0)
        job = job_execute(actor=user, job=job, dry_run=options["dry_run"])
        for problem in job.report:
            where = f"row {problem['row']}" if problem["row"] else "file"
            column = f", column {problem['column']}" if problem["column"] else ""
            self.stdout.write(f"{problem['level']}: {where}{column}: {problem['message']}")
        counts = f"{job.created} to create, {job.updated} to update, {job.unchanged} unchanged"
        if job.status == ImportJob.DONE:
            self.stdout.write(f"Imported: {counts.replace('to create', 'created').replace('to update', 'updated')}.")
            self.stdout.write(f"Undo with: patron import_data --undo {job.pk} --user {user.username}")
        elif job.error_count:
            self.stdout.write(f"{job.error_count} errors; nothing was written.")
            sys.exit(1)
        else:
            self.stdout.write(f"Check passed: {counts}. Run again without --dry-run to import.")
