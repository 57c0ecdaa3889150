"""Run every benchmark in this folder and print their figures as one table.

    python benchmarks/run.py            # all of them
    python benchmarks/run.py account    # those whose name contains "account"
    python benchmarks/run.py scale      # the scale set's load into PostgreSQL (minutes; only when named)
    python benchmarks/run.py list_pg    # the account list at a million accounts on PostgreSQL (likewise)

Each ``bench_*.py`` runs in its own process (each sets up Django on its own
temporary database). A benchmark exposes ``main() -> dict`` of figures; one
without ``main`` is run as a script and its printed output is shown as it is.
Benchmarks are not part of the test suite.
"""

from __future__ import annotations

import importlib.util
import json
import re
import runpy
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK = "BENCHMARK-RESULT "
OPT_IN = re.compile(r"^RUN_BY_DEFAULT = False\b", re.MULTILINE)


def _run_here(path: Path) -> None:
    """Child process: run one benchmark and print its figures as JSON on the last line."""
    sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "main"):
        figures = module.main()
    else:
        runpy.run_path(str(path), run_name="__main__")
        figures = {}
    print(MARK + json.dumps(figures, ensure_ascii=False, default=str), flush=True)


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        _run_here(Path(argv[1]))
        return 0
    wanted = argv[0] if argv else ""
    paths = [p for p in sorted(HERE.glob("bench_*.py")) if wanted in p.stem]
    # The long ones (minutes, gigabytes) run only when named, and only by a name that no other one matches.
    long = [p for p in paths if OPT_IN.search(p.read_text())]
    if len(long) < len(paths) or not wanted:
        paths = [p for p in paths if p not in long]
    rows: list[tuple[str, str, str]] = []
    failed = 0
    for path in paths:
        name = path.stem.removeprefix("bench_")
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--one", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
        elapsed = time.perf_counter() - started
        lines = proc.stdout.splitlines()
        results = [line for line in lines if line.startswith(MARK)]
        for line in lines:
            if not line.startswith(MARK):
                print("   " + line)
        if proc.returncode != 0 or not results:
            failed += 1
            print(proc.stderr[-3000:])
            rows.append((name, "FAILED", f"exit {proc.returncode}"))
            continue
        figures = json.loads(results[-1][len(MARK) :])
        for key, value in figures.items():
            rows.append((name, key, _format(value)))
        rows.append((name, "benchmark wall time (s)", f"{elapsed:.1f}"))
    if rows:
        widths = [max(len(r[i]) for r in [("benchmark", "figure", "value"), *rows]) for i in range(3)]
        print()
        print(f"{'benchmark':<{widths[0]}}  {'figure':<{widths[1]}}  {'value':>{widths[2]}}")
        print(f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * widths[2]}")
        for bench, figure, value in rows:
            print(f"{bench:<{widths[0]}}  {figure:<{widths[1]}}  {value:>{widths[2]}}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
