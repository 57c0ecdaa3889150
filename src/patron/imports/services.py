"""Uploading, mapping, checking, running and undoing an import.

The uploaded bytes are kept under the var directory until the import is undone or
deleted, so the dry run and the run read the same file. Progress is written to a small
file beside it, outside the import's transaction, so a page can show it while the
transaction is still open.

An upload reads only what the mapping needs (``files.read_head``): a large workbook's
header and first rows, with the row count its sheet states as ``total_rows`` ("about N
rows", or 0 when it states none). The check or the run reads the whole file in the
background ("reading the file" on its progress bar), then counts its rows exactly.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, models, transaction
from django.db.models import ProtectedError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from patron.accounts.access import can, role_of
from patron.accounts.models import Account, Activity, Contact
from patron.accounts.services import account_update, contact_remove, contact_update
from patron.audit.models import AuditEvent
from patron.audit.services import audit_record, snapshot
from patron.core.errors import Conflict
from patron.domain.access import Action, Role
from patron.domain.importing import FileError, auto_mapping, missing_required, rows_of
from patron.sales.models import CreditNote, Invoice, Order, OrderLine, Payment, Product, Return
from patron.sales.services import product_update, refresh_order_dates, refresh_order_dates_many

from .files import Table, head_only, read_head, read_table
from .kinds import IMPORTERS, columns_for, field_label
from .messages import file_error_text, problem_text
from .models import ImportJob, ImportRecord
from .run import RolledBack, Run

# Which permission an import of each kind needs, on some account at least (rows are checked one by one).
KIND_ACTIONS = {
    ImportJob.ACCOUNTS: Action.CREATE_ACCOUNT,
    ImportJob.CONTACTS: Action.EDIT_ACCOUNT,
    ImportJob.PRODUCTS: Action.EDIT_PRODUCT,
    ImportJob.ORDERS: Action.RECORD_ORDER,
    ImportJob.RETURNS: Action.RECORD_ORDER,
    ImportJob.PAYMENTS: Action.RECORD_PAYMENT,
}


def import_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def kinds_for(user: Any) -> list[tuple[str, str]]:
    return [(key, str(label)) for key, label in ImportJob.KINDS if can(user, KIND_ACTIONS[key])]


def may_see(user: Any, job: ImportJob) -> bool:
    return job.created_by_id == user.pk or role_of(user) == Role.ADMIN


# --- upload and mapping -----------------------------------------------------------------


def _read(job: ImportJob) -> Table:
    data = (import_dir() / job.stored_as).read_bytes()
    return read_table(data, job.file_name, job.encoding if job.encoding not in ("", "xlsx") else None)


def job_create(*, actor: Any, kind: str, file_name: str, data: bytes, encoding: str | None = None) -> ImportJob:
    """Keep the file and read its header; a file that cannot be read at all is refused here."""
    if kind not in dict(ImportJob.KINDS):
        raise ValidationError({"kind": [_("Choose what the file holds.")]})
    if not can(actor, KIND_ACTIONS[kind]):
        raise PermissionDenied(KIND_ACTIONS[kind].value)
    if len(data) > settings.PATRON_IMPORT_MAX_MB * 1024 * 1024:
        raise ValidationError({"file": [file_error_text(FileError("too_large"))]})
    try:
        head = read_head(data, file_name, encoding or None)
    except FileError as exc:
        raise ValidationError({"file": [file_error_text(exc)]}) from None
    stored_as = f"{uuid.uuid4().hex}{Path(file_name).suffix.lower()[:10]}"
    (import_dir() / stored_as).write_bytes(data)
    columns = columns_for(kind)
    mapping = auto_mapping(head.headers, columns)
    job = ImportJob.objects.create(
        kind=kind,
        file_name=Path(file_name).name[:255] or "upload",
        file_size=len(data),
        stored_as=stored_as,
        encoding=head.encoding,
        headers=head.headers,
        mapping={str(index): key for index, key in mapping.items()},
        total_rows=head.row_count or 0,
        created_by=actor,
    )
    changes: dict[str, Any] = {"kind": [None, kind], "file": [None, job.file_name], "rows": [None, job.total_rows]}
    if not head.rows_exact:
        changes["rows_estimated"] = [None, True]
    audit_record(actor=actor, action="IMPORT_UPLOADED", instance=job, changes=changes)
    return job


def rows_exact(job: ImportJob) -> bool:
    """Whether ``total_rows`` counts the file's rows, rather than stating what its sheet says (about N rows).

    A large workbook is counted when a check or a run first reads it whole.
    """
    if not head_only(job.encoding, job.file_size) or job.checked_at or job.finished_at:
        return True
    return job.is_busy and _read_progress(job).get("phase") == "rows"


def clean_mapping(job: ImportJob, mapping: Mapping[Any, Any]) -> dict[int, str]:
    """Column index -> field key, checked: known fields, each once, the required ones present."""
    columns = columns_for(job.kind)
    known = {c.key for c in columns}
    cleaned: dict[int, str] = {}
    errors: dict[str, list[str]] = {}
    for raw_index, raw_key in mapping.items():
        key = str(raw_key or "").strip()
        if not key:
            continue
        try:
            index = int(raw_index)
        except (TypeError, ValueError):
            errors.setdefault("mapping", []).append(_("“%(value)s” is not a column number.") % {"value": raw_index})
            continue
        if not 0 <= index < len(job.headers):
            errors.setdefault("mapping", []).append(_("The file has no column %(index)s.") % {"index": index})
        elif key not in known:
            errors.setdefault(f"mapping.{index}", []).append(_("Unknown field “%(key)s”.") % {"key": key})
        elif key in cleaned.values():
            errors.setdefault(f"mapping.{index}", []).append(
                _("%(field)s is already mapped to another column.") % {"field": field_label(job.kind, key)}
            )
        else:
            cleaned[index] = key
    if not cleaned and not errors:
        errors["mapping"] = [_("Map at least one column to a field.")]
    for key in missing_required(cleaned, columns):
        errors.setdefault("mapping", []).append(
            _("No column is mapped to %(field)s, which is required.") % {"field": field_label(job.kind, key)}
        )
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def job_set_mapping(*, actor: Any, job: ImportJob, mapping: Mapping[Any, Any]) -> ImportJob:
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    _require_owner(actor, job)
    if job.status not in (ImportJob.UPLOADED, ImportJob.CHECKED):
        raise Conflict(_("This import has already run; upload the file again to change its mapping."), "mapping")
    cleaned = clean_mapping(job, mapping)
    job.mapping = {str(index): key for index, key in sorted(cleaned.items())}
    job.status = ImportJob.UPLOADED
    job.save(update_fields=["mapping", "status"])
    return job


def _require_owner(actor: Any, job: ImportJob) -> None:
    if not may_see(actor, job):
        raise PermissionDenied("import")


# --- progress ---------------------------------------------------------------------------


def _progress_path(job: ImportJob) -> Path:
    return import_dir() / f"{Path(job.stored_as).stem}.progress"  # unique per upload, like the file


READING, ROWS = "reading", "rows"


def write_progress(job: ImportJob, done: int, phase: str = ROWS) -> None:
    """``phase`` is READING while the file is read whole, then ROWS as its rows are checked."""
    path = _progress_path(job)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"done": done, "total": job.total_rows, "phase": phase}))
    os.replace(tmp, path)


def _read_progress(job: ImportJob) -> dict[str, Any]:
    try:
        data = json.loads(_progress_path(job).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def progress(job: ImportJob) -> dict[str, Any]:
    """Rows processed so far by a check or a run in progress, and whether it is still reading the file."""
    total = job.total_rows or 0
    if job.status in (ImportJob.CHECKED, ImportJob.DONE, ImportJob.UNDONE):
        return {"done": total, "total": total, "percent": 100, "phase": ROWS}
    written = _read_progress(job)
    try:
        done = int(written.get("done", 0))
    except (TypeError, ValueError):
        done = 0
    phase = READING if written.get("phase") == READING else ROWS
    done = min(done, total)
    percent = int(done * 100 / total) if total and phase == ROWS else 0
    return {"done": done, "total": total, "percent": percent, "phase": phase}


# --- check and run ----------------------------------------------------------------------


STALL_SECONDS = 600


def _stalled(job: ImportJob) -> bool:
    """A check or run whose worker died: no progress written for STALL_SECONDS (its transaction is gone)."""
    try:
        age = timezone.now().timestamp() - _progress_path(job).stat().st_mtime
    except OSError:
        return True
    return age > STALL_SECONDS


def _claim(actor: Any, job: ImportJob, dry_run: bool) -> ImportJob:
    """Mark the job busy in its own transaction, so a second click cannot start a second run."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        _require_owner(actor, job)
        if job.is_busy and not _stalled(job):
            raise Conflict(_("This import is already being checked or run."), "status")
        if job.status in (ImportJob.DONE, ImportJob.UNDONE):
            if not dry_run:
                return job  # running a finished import again is a no-op, not a second import
            raise Conflict(_("This import has already run."), "status")
        clean_mapping(job, job.mapping)
        job.status = ImportJob.CHECKING if dry_run else ImportJob.RUNNING
        job.save(update_fields=["status"])
    write_progress(job, 0, READING)  # the first thing a check or a run does is read the file
    return job


def job_start(*, actor: Any, job: ImportJob, dry_run: bool) -> ImportJob:
    """Claim the job for a check or a run (409 if one is under way); ``job_perform`` then does it."""
    return _claim(actor, job, dry_run)


def job_perform(*, actor: Any, job: ImportJob, dry_run: bool) -> ImportJob:
    """Check (``dry_run``) or run a claimed import; a run that meets any error writes nothing."""
    job.refresh_from_db()
    if job.status not in (ImportJob.CHECKING, ImportJob.RUNNING):
        return job  # not claimed, or already finished (a repeated task)
    language = getattr(actor, "language", None) or settings.LANGUAGE_CODE
    try:
        with translation.override(language):
            _execute(actor, job, dry_run)
    except FileError as exc:
        # A large workbook is read whole only here: damage past its first rows shows now, not at upload.
        with translation.override(language):
            message = file_error_text(exc)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.FAILED if not dry_run else ImportJob.UPLOADED, message=message
        )
        write_progress(job, 0)
    except Exception as exc:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.FAILED if not dry_run else ImportJob.UPLOADED,
            message=_("The import stopped: %(error)s. Nothing was written.") % {"error": exc.__class__.__name__},
        )
        raise
    job.refresh_from_db()
    return job


def job_execute(*, actor: Any, job: ImportJob, dry_run: bool) -> ImportJob:
    """Claim and perform in one go (commands and tests)."""
    job = job_start(actor=actor, job=job, dry_run=dry_run)
    if job.status == ImportJob.DONE:
        return job
    return job_perform(actor=actor, job=job, dry_run=dry_run)


def _execute(actor: Any, job: ImportJob, dry_run: bool) -> Run:
    write_progress(job, 0, READING)
    table = _read(job)
    if job.total_rows != len(table.rows):  # an upload read in part stated what its sheet says; now they are counted
        job.total_rows = len(table.rows)
        ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
    write_progress(job, 0)
    columns = columns_for(job.kind)
    mapping = {int(index): key for index, key in job.mapping.items()}
    run = Run(job, actor, columns, mapping, progress=lambda done: write_progress(job, done))
    for warning in table.warnings:
        run.warn(None, None, problem_text(warning))
    rows = list(rows_of(table.rows, mapping))
    try:
        with transaction.atomic():
            IMPORTERS[job.kind](run, rows)
            if dry_run or run.errors:
                raise RolledBack
            for record in run.records:
                record.job = job
            ImportRecord.objects.bulk_create(run.records, batch_size=2000)
            finished = timezone.now()
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportJob.DONE,
                finished_at=finished,
                created=run.created,
                updated=run.updated,
                unchanged=run.unchanged,
                error_count=0,
                warning_count=run.warnings,
                report=run.report(table.headers),
                checked_mapping=job.mapping,
                message="",
            )
            audit_record(
                actor=actor,
                action="IMPORT_DONE",
                instance=job,
                changes={
                    "created": [None, run.created],
                    "updated": [None, run.updated],
                    "unchanged": [None, run.unchanged],
                },
            )
    except RolledBack:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.CHECKED,
            checked_at=timezone.now(),
            error_count=run.errors,
            warning_count=run.warnings,
            report=run.report(table.headers),
            checked_mapping=job.mapping,
            created=run.created,
            updated=run.updated,
            unchanged=run.unchanged,
            message=""
            if dry_run
            else _("Nothing was imported: the file has %(count)s errors.") % {"count": run.errors},
        )
    write_progress(job, job.total_rows)
    return run


# --- undo -------------------------------------------------------------------------------


def _unsettle(allocations: Any) -> None:
    for allocation in allocations.select_related("invoice"):
        invoice = Invoice.objects.select_for_update().get(pk=allocation.invoice_id)
        invoice.paid_amount -= allocation.amount
        if invoice.status == Invoice.PAID and invoice.paid_amount < invoice.amount:
            invoice.status = Invoice.OPEN
        invoice.save(update_fields=["paid_amount", "status"])
    allocations.all().delete()


def _forget_timeline(model: str, pk: int) -> None:
    Activity.objects.filter(ref_type=model, ref_id=str(pk)).delete()


def _delete_account(account: Account) -> bool:
    """Delete an account the import created, keeping its audit trail (which refers to it by id).

    False, and nothing deleted, when a record that protects it (an order, an invoice, a
    payment, ...) has been made since.
    """
    relations = [r for r in Account._meta.related_objects if r.related_model is not AuditEvent]
    for rel in relations:
        if (
            rel.on_delete is models.PROTECT
            and cast(type[models.Model], rel.related_model)._base_manager.filter(**{rel.field.name: account}).exists()
        ):
            return False
    for rel in relations:
        related = cast(type[models.Model], rel.related_model)._base_manager.filter(**{rel.field.name: account})
        if rel.many_to_many:
            continue
        if rel.on_delete is models.SET_NULL:
            related.update(**{rel.field.name: None})
        elif rel.on_delete is models.CASCADE:
            related.delete()
    account.tags.clear()
    # Django's delete() would refuse because of the audit events (PROTECT, no database constraint).
    Account.objects.filter(pk=account.pk)._raw_delete(connection.alias)
    return True


def _undo_created(actor: Any, record: ImportRecord) -> str | None:
    """Remove one record the import created; a reason when something recorded since depends on it."""
    model = record.model
    if model == "accounts.account":
        account = Account.objects.filter(pk=record.object_id).first()
        if account is not None and not _delete_account(account):
            return _("Account %(code)s has orders, invoices or payments recorded since.") % {"code": account.code}
    elif model == "accounts.contact":
        contact = Contact.objects.filter(pk=record.object_id).select_related("account__owner__team").first()
        if contact is not None:
            contact_remove(actor=actor, contact=contact)
    elif model == "sales.product":
        product = Product.objects.filter(pk=record.object_id).first()
        if product is None:
            return None
        try:
            with transaction.atomic():
                product.delete()
        except ProtectedError:
            return _("Product %(sku)s has been ordered since.") % {"sku": product.sku}
    elif model == "sales.order":
        order = Order.objects.select_for_update().filter(pk=record.object_id).first()
        if order is None:
            return None
        if order.invoices.exists() or order.returns.exists():
            return _("Order %(number)s has invoices or returns recorded since.") % {"number": order.number}
        _forget_timeline("order", order.pk)
        account_id = order.account_id
        order.delete()
        refresh_order_dates(account_id)
    elif model == "sales.return":
        ret = Return.objects.select_for_update().filter(pk=record.object_id).first()
        if ret is None:
            return None
        note = CreditNote.objects.filter(ret=ret).first()
        if note is not None:
            _unsettle(note.allocations)
            _forget_timeline("creditnote", note.pk)
            note.delete()
        _forget_timeline("return", ret.pk)
        ret.delete()
    elif model == "sales.payment":
        payment = Payment.objects.select_for_update().filter(pk=record.object_id).first()
        if payment is None:
            return None
        _unsettle(payment.allocations)
        _forget_timeline("payment", payment.pk)
        payment.delete()
    return None


def _undo_updated(actor: Any, record: ImportRecord) -> str | None:
    before: dict[str, Any] = record.before.get("before", {})
    after: dict[str, Any] = record.before.get("after", {})
    if record.model == "accounts.account":
        account = Account.objects.filter(pk=record.object_id).first()
        if account is None:
            return None
        now = snapshot(account, [f for f in after if f not in ("tags", "custom")]) | {"custom": dict(account.custom)}
        if "tags" in after:
            now["tags"] = sorted(account.tags.values_list("name", flat=True))
        if now != after:
            return _("Account %(code)s was changed after the import.") % {"code": account.code}
        data = dict(before)
        custom_before = data.pop("custom", {})
        data["custom"] = {key: custom_before.get(key, "") for key in set(custom_before) | set(account.custom)}
        account_update(actor=actor, account=account, data=data)
    elif record.model == "accounts.contact":
        contact = Contact.objects.filter(pk=record.object_id).first()
        if contact is None:
            return None
        if snapshot(contact, list(after)) != after:
            return _("Contact %(name)s was changed after the import.") % {"name": contact.name}
        contact_update(actor=actor, contact=contact, data=before)
    elif record.model == "sales.product":
        product = Product.objects.filter(pk=record.object_id).first()
        if product is None:
            return None
        if snapshot(product, list(after)) != after:
            return _("Product %(sku)s was changed after the import.") % {"sku": product.sku}
        data = dict(before)
        if "category" in data:
            data["category"] = str(data["category"]) if data["category"] else None
        product_update(actor=actor, product=product, data=data)
    elif record.model == "sales.order":
        order = Order.objects.select_for_update().filter(pk=record.object_id).first()
        if order is None:
            return None
        if order.invoices.exists() or order.returns.exists():
            return _("Order %(number)s has invoices or returns recorded since.") % {"number": order.number}
        order.lines.all().delete()
        OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=order,
                    position=position,
                    product_id=product_id,
                    quantity=Decimal(quantity),
                    list_unit_price=Decimal(list_price),
                    net_unit_price=Decimal(net_price),
                    line_total=Decimal(total),
                    discounts=discounts,
                )
                for position, product_id, quantity, list_price, net_price, total, discounts in before["lines"]
            ]
        )
        order.order_date = dt.date.fromisoformat(before["order_date"])
        order.currency = before["currency"]
        order.channel = before["channel"]
        order.status = before["status"]
        order.note = before["note"]
        # The totals as they were, not recomputed: the rounding rules live in domain/money.py only.
        order.list_total = Decimal(before["list_total"])
        order.net_total = Decimal(before["net_total"])
        order.save()
        refresh_order_dates(order.account_id)
    return None


def _undo_created_orders(job: ImportJob) -> list[str]:
    """The orders an import created, taken back in bulk (an orders file has tens of thousands)."""
    records = list(job.records.filter(model="sales.order", action=ImportRecord.CREATED).order_by("id"))
    problems: list[str] = []
    ids = [r.object_id for r in records]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        blocked = set(Invoice.objects.filter(order_id__in=chunk).values_list("order_id", flat=True))
        blocked |= set(Return.objects.filter(order_id__in=chunk).values_list("order_id", flat=True))
        if blocked:
            numbers = dict(Order.objects.filter(pk__in=blocked).values_list("pk", "number"))
            for record in records:
                if record.object_id in blocked:
                    reason = _("Order %(number)s has invoices or returns recorded since.") % {
                        "number": numbers.get(record.object_id, record.object_id)
                    }
                    problems.append(_("Row %(row)s: %(reason)s") % {"row": record.row, "reason": reason})
            continue
        account_ids = list(Order.objects.filter(pk__in=chunk).values_list("account_id", flat=True))
        # Nothing refers to these orders or their lines (no invoices, no returns: checked above),
        # so rows go without the ORM's collector, which would load every line to look.
        Activity.objects.filter(ref_type="order", ref_id__in=[str(pk) for pk in chunk])._raw_delete(connection.alias)
        OrderLine.objects.filter(order_id__in=chunk)._raw_delete(connection.alias)
        Order.objects.filter(pk__in=chunk)._raw_delete(connection.alias)
        refresh_order_dates_many(account_ids)
    return problems


def job_undo(*, actor: Any, job: ImportJob) -> ImportJob:
    """Take back everything an import wrote, or nothing if anything recorded since depends on it."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        _require_owner(actor, job)
        if job.status == ImportJob.UNDONE:
            return job  # undoing twice is a no-op
        if job.status != ImportJob.DONE:
            raise Conflict(_("Only a finished import can be undone."), "status")
        problems = _undo_created_orders(job)
        for record in job.records.exclude(model="sales.order", action=ImportRecord.CREATED).order_by("-id"):
            undo = _undo_created if record.action == ImportRecord.CREATED else _undo_updated
            with transaction.atomic():
                reason = undo(actor, record)
            if reason:
                problems.append(_("Row %(row)s: %(reason)s") % {"row": record.row, "reason": reason})
        if problems:
            shown = problems[:20]
            more = len(problems) - len(shown)
            message = " ".join(shown) + (_(" … and %(count)s more.") % {"count": more} if more else "")
            raise Conflict(_("The import cannot be undone: %(problems)s") % {"problems": message}, "status")
        job.status = ImportJob.UNDONE
        job.undone_at = timezone.now()
        job.undone_by = actor
        job.save(update_fields=["status", "undone_at", "undone_by"])
        audit_record(
            actor=actor,
            action="IMPORT_UNDONE",
            instance=job,
            changes={"records": [job.created + job.updated, 0]},
        )
    return job
