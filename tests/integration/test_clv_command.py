"""``patron clv fit``: the models on an exported transaction file, written as params.json and customers.csv."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

CDNOW = Path(__file__).resolve().parent.parent / "data" / "cdnow" / "transactions.csv"
HEADER = [
    "customer_id",
    "frequency",
    "recency",
    "T",
    "average_repeat_spend",
    "probability_alive",
    "expected_purchases",
    "expected_average_spend",
    "expected_value",
    "holdout_purchases",
]


def fit(transactions: Path, output: Path, *extra: str, calibration_end: str = "1997-09-30") -> str:
    out = StringIO()
    call_command(
        "clv",
        "fit",
        "--transactions",
        str(transactions),
        "--calibration-end",
        calibration_end,
        "--output",
        str(output),
        *extra,
        stdout=out,
    )
    return out.getvalue()


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_cdnow_file_gives_the_published_fit_and_a_row_per_customer(tmp_path):
    out = fit(CDNOW, tmp_path / "out")
    assert "2,357 customers, 946 repeat buyers, 2,457 repeat transactions." in out
    params = json.loads((tmp_path / "out" / "params.json").read_text())
    bgnbd = params["bgnbd"]
    assert {k: round(bgnbd[k], 3) for k in ("r", "alpha", "a", "b")} == {
        "r": 0.243,
        "alpha": 4.414,
        "a": 0.793,
        "b": 2.426,
    }
    assert round(bgnbd["log_likelihood"], 1) == -9582.4
    assert bgnbd["converged"] is True
    gg = params["gamma_gamma"]
    assert {k: round(gg[k], 2) for k in ("p", "q", "gamma")} == {"p": 6.25, "q": 3.74, "gamma": 15.44}
    assert gg["converged"] is True
    assert math.isfinite(gg["log_likelihood"])
    assert (params["customers"], params["repeat_transactions"], params["repeat_buyers"]) == (2357, 2457, 946)
    assert (params["calibration_end"], params["holdout_end"], params["horizon"]) == ("1997-09-30", "1998-06-30", 39.0)
    assert params["holdout_purchases"] == 1882
    assert set(bgnbd["standard_errors"]) == {"r", "alpha", "a", "b"}

    customers = rows(tmp_path / "out" / "customers.csv")
    assert list(customers[0]) == HEADER
    assert len(customers) == 2357
    first = customers[0]
    assert first["customer_id"] == "1"
    assert (int(first["frequency"]), float(first["recency"]), float(first["T"])) == pytest.approx(
        (2, 30.428571, 38.857143)
    )
    assert float(first["average_repeat_spend"]) == pytest.approx(22.345)
    assert float(first["probability_alive"]) == pytest.approx(0.72662, abs=1e-5)
    assert float(first["expected_purchases"]) == pytest.approx(1.225994, abs=1e-5)
    assert float(first["expected_value"]) == pytest.approx(
        float(first["expected_purchases"]) * float(first["expected_average_spend"]), rel=1e-5
    )
    assert sum(int(c["holdout_purchases"]) for c in customers) == 1882
    assert sum(float(c["expected_purchases"]) for c in customers) == pytest.approx(1653.4, abs=0.1)
    # Ids that are all integers are listed in numeric order.
    assert [c["customer_id"] for c in customers[:11]] == [str(i) for i in range(1, 12)]


def test_days_as_the_time_unit_scale_alpha_and_nothing_else(tmp_path):
    fit(CDNOW, tmp_path / "weeks")
    fit(CDNOW, tmp_path / "days", "--time-unit", "days")
    weeks = json.loads((tmp_path / "weeks" / "params.json").read_text())["bgnbd"]
    days = json.loads((tmp_path / "days" / "params.json").read_text())["bgnbd"]
    assert days["alpha"] == pytest.approx(weeks["alpha"] * 7, rel=1e-4)
    for name in ("r", "a", "b"):
        assert days[name] == pytest.approx(weeks[name], rel=1e-4)
    # The likelihood carries rate^x: in days it is lower by (repeat transactions) x ln 7.
    assert days["log_likelihood"] == pytest.approx(weeks["log_likelihood"] - 2457 * math.log(7), rel=1e-7)


def test_a_horizon_replaces_the_holdout_and_text_ids_are_kept(tmp_path):
    source = tmp_path / "orders.csv"
    with CDNOW.open(newline="") as handle, source.open("w", newline="") as target:
        writer = csv.writer(target)
        writer.writerow(["amount", "date", "customer_id", "note"])
        for row in csv.DictReader(handle):
            writer.writerow([row["amount"], row["date"], f"C{int(row['customer_id']):05}", "x"])
    fit(source, tmp_path / "out", "--horizon", "52")
    params = json.loads((tmp_path / "out" / "params.json").read_text())
    assert params["horizon"] == 52.0
    customers = rows(tmp_path / "out" / "customers.csv")
    assert customers[0]["customer_id"] == "C00001"
    assert float(customers[0]["expected_purchases"]) > 1.225994  # 52 weeks ahead, not 39


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,day,amount\n1,2024-01-01,3\n", "has no column customer_id, date; its header is: id, day, amount"),
        ("", "is empty: it needs a header customer_id,date,amount"),
        ("customer_id,date,amount\n", "has a header but no rows"),
        (
            "customer_id,date,amount\n1,2024-01-01,3\n1,2024-02-30,4\n",
            "line 3, column date: '2024-02-30' is not a date",
        ),
        ("customer_id,date,amount\n1,2024-01-01,3\n,2024-01-02,4\n", "line 3, column customer_id is empty"),
        ("customer_id,date,amount\n1,2024-01-01,3\n2,2024-01-02,ten\n", "line 3, column amount: 'ten' is not a number"),
        ("customer_id,date,amount\n1,2024-01-01,3\n2,2024-01-02,4,5\n", "line 3 has 4 fields; the header has 3"),
        (b"customer_id,date,amount\n1,2024-01-01,3\n\xff\xfe,2024-01-02,4\n", "line 3 is not UTF-8"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line_and_column_and_nothing_is_written(tmp_path, content, message):
    source = _write(tmp_path / "bad.csv", content)
    with pytest.raises(CommandError, match=message):
        fit(source, tmp_path / "out", calibration_end="2024-01-31")
    assert not (tmp_path / "out").exists()


def test_every_bad_line_is_listed_up_to_five(tmp_path):
    lines = "".join(f"{n},2024-01-0{n},oops\n" for n in range(1, 9))
    source = _write(tmp_path / "bad.csv", "customer_id,date,amount\n" + lines)
    with pytest.raises(CommandError) as caught:
        fit(source, tmp_path / "out", calibration_end="2024-01-31")
    text = str(caught.value)
    assert text.count("is not a number") == 5
    assert "line 2, column amount" in text
    assert "... and 3 more problems." in text


def test_a_fit_that_fails_stops_the_command_and_writes_nothing(tmp_path):
    source = _write(tmp_path / "once.csv", "customer_id,date,amount\n1,2024-01-01,3\n2,2024-01-05,4\n")
    with pytest.raises(CommandError, match=r"The BG/NBD fit failed \(NO_REPEAT_BUYERS\).*Nothing was written"):
        fit(source, tmp_path / "out", calibration_end="2024-01-31")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--calibration-end", "1997-02-30"], "--calibration-end: '1997-02-30' is not a date"),
        (["--calibration-end", "1996-01-01"], "No customer made a first purchase on or before 1996-01-01"),
        (["--horizon", "-1"], "--horizon must be a number of time units"),
    ],
)
def test_bad_options_are_refused(tmp_path, args, message):
    options = {"--calibration-end": "1997-09-30", "--horizon": None}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    extra = [item for key, value in options.items() if value is not None for item in (key, value)]
    with pytest.raises(CommandError, match=message):
        call_command("clv", "fit", "--transactions", str(CDNOW), "--output", str(tmp_path / "out"), *extra)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CommandError, match="No file"):
        fit(tmp_path / "nowhere.csv", tmp_path / "out")


@pytest.mark.slow
def test_the_patron_command_line_runs_it(tmp_path):
    patron = Path(sys.executable).parent / "patron"
    done = subprocess.run(
        [
            str(patron),
            "clv",
            "fit",
            "--transactions",
            str(CDNOW),
            "--calibration-end",
            "1997-09-30",
            "--output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "PATRON_VAR_DIR": str(tmp_path / "var")},
    )
    assert done.returncode == 0, done.stderr
    assert "log-likelihood -9582.4" in done.stdout
    assert (tmp_path / "out" / "customers.csv").is_file()
