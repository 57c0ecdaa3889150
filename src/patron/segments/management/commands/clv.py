"""``patron clv fit --transactions FILE.csv --calibration-end YYYY-MM-DD --output DIR [--time-unit weeks]``.

Fits the BG/NBD (churn) and Gamma-Gamma (spend) models to any exported transaction file, the way the
published analyses do (``patron.domain.segmentation.clv``), and writes:

* ``DIR/params.json``: both models' parameters, log-likelihood and convergence, the number of customers,
  repeat buyers and repeat transactions, and the periods used;
* ``DIR/customers.csv``: per customer: frequency, recency, T, average repeat spend, probability alive,
  expected purchases over the horizon (by default the holdout: calibration end to the last date in the
  file), expected average spend, their product (expected value), and the purchases actually made in the
  holdout.

The file is UTF-8 CSV with a header naming ``customer_id``, ``date`` (YYYY-MM-DD) and ``amount``; other
columns are ignored. A problem in the file, or a fit that fails, stops the command before anything is
written.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from patron.domain.segmentation.clv import (
    FitResult,
    P,
    expected_average_spend,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
)
from patron.domain.segmentation.clv_summary import Summary, Transactions, TransactionsError, summarise

TIME_UNITS = {"weeks": 7.0, "days": 1.0, "months": 365.25 / 12}
COLUMNS = ("customer_id", "date", "amount")
SHOWN_PROBLEMS = 5


class Command(BaseCommand):
    help = "Fit the BG/NBD and Gamma-Gamma models to a transaction file: churn, expected purchases and spend."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        fit = sub.add_parser("fit", help="fit both models and score every customer")
        fit.add_argument(
            "--transactions", required=True, metavar="FILE", help="UTF-8 CSV with columns customer_id,date,amount"
        )
        fit.add_argument(
            "--calibration-end", required=True, metavar="YYYY-MM-DD", help="last day of the fitting period"
        )
        fit.add_argument("--output", required=True, metavar="DIR", help="folder for params.json and customers.csv")
        fit.add_argument("--time-unit", choices=list(TIME_UNITS), default="weeks", help="default: weeks")
        fit.add_argument(
            "--horizon",
            type=float,
            metavar="N",
            help="expected purchases over N time units after calibration end (default: to the file's last date)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["transactions"])
        calibration_end = _date(options["calibration_end"])
        unit = options["time_unit"]
        horizon = options["horizon"]
        if horizon is not None and not (math.isfinite(horizon) and horizon >= 0):
            raise CommandError(_("--horizon must be a number of time units, zero or more."))
        ids, dates, amounts = _read(path)
        codes, id_table = _coded(ids)
        try:
            summary = summarise(
                Transactions.from_columns(codes, dates, amounts),
                calibration_end=calibration_end,
                time_unit_days=TIME_UNITS[unit],
            )
        except TransactionsError as exc:
            raise CommandError(str(exc)) from None
        if summary.customers == 0:
            raise CommandError(_("No customer made a first purchase on or before %(day)s.") % {"day": calibration_end})
        bgnbd = _require(fit_bgnbd(summary.frequency, summary.recency, summary.T), "BG/NBD")
        gamma_gamma = _require(fit_gamma_gamma(summary.frequency, summary.average_spend), "Gamma-Gamma")
        length = summary.holdout_length if horizon is None else horizon
        customer_ids = id_table.gather(summary.customer_ids)
        x, t_x, age, spend = summary.frequency, summary.recency, summary.T, summary.average_spend
        future = expected_purchases(bgnbd.params, length, x, t_x, age)
        expected_spend = expected_average_spend(gamma_gamma.params, x, spend)
        customers = pl.DataFrame(
            {
                "customer_id": customer_ids,
                "frequency": x,
                "recency": t_x,
                "T": age,
                "average_repeat_spend": spend,
                "probability_alive": probability_alive(bgnbd.params, x, t_x, age),
                "expected_purchases": future,
                "expected_average_spend": expected_spend,
                "expected_value": future * expected_spend,
                "holdout_purchases": summary.holdout_frequency,
            }
        )
        params = _params(path, summary, unit, length, len(ids), bgnbd, gamma_gamma)
        _write(Path(options["output"]), params, customers)
        self.stdout.write(
            _("%(customers)s customers, %(buyers)s repeat buyers, %(repeats)s repeat transactions.")
            % {
                "customers": f"{summary.customers:,}",
                "buyers": f"{summary.repeat_buyers:,}",
                "repeats": f"{summary.repeat_transactions:,}",
            }
        )
        if summary.later_customers:
            self.stdout.write(
                _("%(n)s customers first bought after the calibration end and are left out.")
                % {"n": f"{summary.later_customers:,}"}
            )
        self.stdout.write(_("BG/NBD: %(params)s") % {"params": _describe(bgnbd)})
        self.stdout.write(_("Gamma-Gamma: %(params)s") % {"params": _describe(gamma_gamma)})
        if length == 0:
            self.stdout.write(
                _("The file ends on the calibration end: expected purchases are over no time; give --horizon.")
            )
        if gamma_gamma.excluded:
            self.stdout.write(
                _("%(n)s repeat buyers with no positive average spend are left out of the Gamma-Gamma fit.")
                % {"n": f"{gamma_gamma.excluded:,}"}
            )
        self.stdout.write(
            _("Wrote %(params)s and %(customers)s.")
            % {
                "params": Path(options["output"]) / "params.json",
                "customers": Path(options["output"]) / "customers.csv",
            }
        )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(_("--calibration-end: %(value)r is not a date (YYYY-MM-DD).") % {"value": text}) from None


def _read(path: Path) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """The file's customer ids (text), dates and amounts, each checked; CommandError names line and column."""
    if not path.is_file():
        raise CommandError(_("No file %(path)s.") % {"path": path})
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except pl.exceptions.NoDataError:
        raise CommandError(
            _("%(path)s is empty: it needs a header customer_id,date,amount.") % {"path": path}
        ) from None
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise CommandError(_locate(path, exc)) from None
    names = {name.lstrip("\ufeff").strip().lower(): name for name in frame.columns}
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise CommandError(
            _("%(path)s has no column %(missing)s; its header is: %(header)s")
            % {"path": path, "missing": ", ".join(missing), "header": ", ".join(frame.columns)}
        )
    frame = frame.select(pl.col(names[c]).str.strip_chars().alias(c) for c in COLUMNS).with_row_index("line", 2)
    if frame.height == 0:
        raise CommandError(_("%(path)s has a header but no rows.") % {"path": path})
    checked = frame.with_columns(
        day=pl.col("date").str.to_date("%Y-%m-%d", strict=False),
        value=pl.col("amount").cast(pl.Float64, strict=False),
    )
    checks = (
        (pl.col("customer_id").fill_null("") == "", "customer_id", _("is empty")),
        (pl.col("day").is_null(), "date", _("is not a date (YYYY-MM-DD)")),
        (~pl.col("value").is_finite().fill_null(False), "amount", _("is not a number")),
    )
    problems: list[tuple[int, str]] = []
    total = 0
    for bad, column, what in checks:
        count, shown = _problems(checked, bad, column, what)
        total += count
        problems.extend(shown)
    if problems:
        lines = sorted(problems)[:SHOWN_PROBLEMS]
        text = "\n".join(message for _line, message in lines)
        if total > len(lines):
            text += "\n" + _("... and %(n)s more problems.") % {"n": f"{total - len(lines):,}"}
        raise CommandError(text)
    return checked["customer_id"], checked["day"].to_numpy(), checked["value"].to_numpy()


def _problems(frame: pl.DataFrame, bad: pl.Expr, column: str, what: str) -> tuple[int, list[tuple[int, str]]]:
    """How many lines fail one check, and the first few as (line, message)."""
    failing = frame.filter(bad)
    shown = []
    for line, value in failing.head(SHOWN_PROBLEMS).select("line", column).rows():
        if value in (None, ""):
            message = _("line %(line)s, column %(column)s %(what)s") % {"line": line, "column": column, "what": what}
        else:
            message = _("line %(line)s, column %(column)s: %(value)r %(what)s") % {
                "line": line,
                "column": column,
                "value": value,
                "what": what,
            }
        shown.append((line, message))
    return failing.height, shown


def _locate(path: Path, exc: Exception) -> str:
    """Where a file polars refused goes wrong: the first line that is not UTF-8 or has a wrong number
    of fields (read again line by line, only on this failure path)."""
    prefix = _("%(path)s is not a readable UTF-8 CSV file") % {"path": path}
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return prefix + ": " + _("line %(line)s is not UTF-8.") % {"line": number}
        with path.open(newline="", encoding="utf-8-sig") as text:
            reader = csv.reader(text)
            header = next(reader, [])
            for row in reader:
                if row and len(row) != len(header):
                    return (
                        prefix
                        + ": "
                        + _("line %(line)s has %(fields)s fields; the header has %(header)s.")
                        % {"line": reader.line_num, "fields": len(row), "header": len(header)}
                    )
    except (OSError, csv.Error):
        pass
    message = str(exc).strip().splitlines()
    return prefix + ": " + (message[0] if message else type(exc).__name__)


def _coded(ids: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Customer ids as integer codes, and the ids by code (polars codes text faster than numpy).

    Ids that are all plain integers are their own codes, so the output lists them in numeric order;
    other ids (codes with letters, leading zeros) are kept as text, in text order.
    """
    numbers = ids.cast(pl.Int64, strict=False)
    if numbers.null_count() == 0 and (numbers.cast(pl.String) == ids).all():
        table = numbers.unique().sort()
    else:
        table = ids.unique().sort()
    codes = table.search_sorted(numbers if table.dtype == pl.Int64 else ids)
    return codes.cast(pl.Int64).to_numpy(), table


def _require(fit: FitResult[P], model: str) -> FitResult[P]:
    if not fit.converged:
        code = fit.reason.code if fit.reason else ""
        raise CommandError(
            _("The %(model)s fit failed (%(code)s): %(message)s. Nothing was written.")
            % {"model": model, "code": code, "message": fit.message}
        )
    return fit


def _describe(fit: FitResult[Any]) -> str:
    values = ", ".join(f"{name} = {value:.4g}" for name, value in fit.params.as_dict().items())
    return f"{values}; log-likelihood {fit.log_likelihood:.1f}; {fit.iterations} iterations"


def _fit_dict(fit: FitResult[Any]) -> dict[str, Any]:
    return {
        **fit.params.as_dict(),
        "log_likelihood": fit.log_likelihood,
        "converged": fit.converged,
        "iterations": fit.iterations,
        "customers": fit.customers,
        "excluded": fit.excluded,
        "standard_errors": fit.standard_errors,
        "message": fit.message,
    }


def _params(
    path: Path,
    summary: Summary,
    unit: str,
    horizon: float,
    rows: int,
    bgnbd: FitResult[Any],
    gamma_gamma: FitResult[Any],
) -> dict[str, Any]:
    return {
        "bgnbd": _fit_dict(bgnbd),
        "gamma_gamma": _fit_dict(gamma_gamma),
        "customers": summary.customers,
        "repeat_buyers": summary.repeat_buyers,
        "repeat_transactions": summary.repeat_transactions,
        "later_customers": summary.later_customers,
        "holdout_purchases": int(summary.holdout_frequency.sum()),
        "rows": rows,
        "transactions_file": str(path),
        "calibration_end": summary.calibration_end.isoformat(),
        "holdout_end": summary.holdout_end.isoformat(),
        "time_unit": unit,
        "time_unit_days": summary.time_unit_days,
        "horizon": horizon,
    }


def _write(folder: Path, params: dict[str, Any], customers: pl.DataFrame) -> None:
    """Both files or neither: each is written beside its final name, then both are renamed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        params_tmp = folder / ".params.json.tmp"
        customers_tmp = folder / ".customers.csv.tmp"
        params_tmp.write_text(json.dumps(params, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        customers.write_csv(customers_tmp, float_precision=6)
        os.replace(customers_tmp, folder / "customers.csv")
        os.replace(params_tmp, folder / "params.json")
    except OSError as exc:
        raise CommandError(_("Cannot write to %(folder)s: %(error)s") % {"folder": folder, "error": exc}) from None
