"""Coupon validate-and-redeem pairs per second through the HTTP API on PostgreSQL, on this machine.

Starts a throwaway PostgreSQL and makes the quotes benchmark's data (``bench_quotes_http``: 2,000
accounts with segments, 500 products, 100 active discount rules), then an active 10%-off campaign
and enough single-use codes for every pair (through the real services). Serves Patron with
gunicorn as ``patron serve`` does and, from a client process over keep-alive connections, for a
fixed time, takes a fresh code for each pair and sends:

1. validate: ``POST /api/coupons/check`` with an account, a 3-line cart and the code (it must
   answer 200 and ``valid``);
2. redeem: ``POST /api/orders`` with the same cart, ``confirm`` and ``coupons: [code]`` (201).

Prints pairs per second, each call's rate and latency percentiles, errors, and where the CPU went
(web server processes, PostgreSQL, the client: all share the same cores), then checks that every
order redeemed its code exactly once.

Coupon checks are throttled (``PATRON_COUPON_CHECKS_PER_MINUTE``, 30 a minute per user, token and
address by default; an order with codes counts as a check): the server runs with it raised to
``CHECKS_PER_MINUTE`` so that the throttle's bookkeeping is measured but never refuses. Every
request comes from one user, one token and one address, so each throttle key keeps a timestamp for
every try of the last minute (ninja's ``SimpleRateThrottle``), as many as the rate makes. The server
runs this checkout's ``src`` (``PYTHONPATH``), as this process does.

Bar (issue 7): 300 validate-and-redeem pairs per second on this 2-core machine.

    python benchmarks/bench_coupon_redeem_http.py [--seconds 20] [--connections 6] [--web-workers 2]
        [--threads 1] [--runs 3] [--lines 3] [--floor]

``--floor`` adds one run in which each pair is two ``GET /api/me`` (token auth, one user read, a
small JSON answer) over the same connections: the most pairs this server stack answers on this
machine, whatever the coupon and order code does.

This machine's speed moves by about a third from minute to minute, so it measures several runs
against one warm server and prints each run's rate and the median run's figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _pg import Server, postgres_cpu_seconds, setup_django  # noqa: E402
from bench_quotes_http import _free_port, _make_data  # noqa: E402

from patron.web.management.commands.serve import gunicorn_command  # noqa: E402

RUN_BY_DEFAULT = False  # starts servers and takes a few minutes: `python benchmarks/run.py coupon_redeem`
BAR = 300  # validate-and-redeem pairs per second (issue 7)
CHECKS_PER_MINUTE = 10_000_000  # PATRON_COUPON_CHECKS_PER_MINUTE for the server: never reached
MOST_PAIRS_PER_SECOND = 800  # codes issued per second of measuring: more than this machine can redeem
WARM_UP_SECONDS = 3.0


def _make_campaign(count: int) -> list[str]:
    from django.utils import timezone

    from patron.coupons import services
    from patron.coupons.models import Campaign
    from patron.staff.models import User

    marketing = User.objects.create_user("marketing", password="x", role="marketing")
    campaign = services.campaign_create(
        actor=marketing,
        data={
            "name": "Bench 10% off",
            "prefix": "BENCH",
            "starts_at": timezone.now() - dt.timedelta(days=1),
            "terms": {"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "10"}, "valid_days": 30},
        },
    )
    campaign = services.campaign_set_status(actor=marketing, campaign=campaign, status=Campaign.ACTIVE)
    return services.codes_issue(actor=marketing, campaign=campaign, count=count)


def _client(
    port: int,
    token: str,
    accounts: list[str],
    skus: list[str],
    codes: list[str],
    seconds: float,
    connections: int,
    lines: int,
    out: Any,
    floor: bool = False,
) -> None:
    """Keep-alive connections, one thread each, each sending check-then-order pairs with its own codes.
    ``floor``: each pair is two ``GET /api/me`` instead, the cheapest authenticated call (the stack's ceiling)."""
    checks: list[float] = []
    orders: list[float] = []
    pairs: list[float] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def run(seed: int) -> None:
        rnd = random.Random(seed)
        mine = iter(codes[seed::connections])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        my_checks: list[float] = []
        my_orders: list[float] = []
        my_pairs: list[float] = []
        bad: dict[str, int] = {}

        def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
            if floor:
                conn.request("GET", "/api/me", headers=headers)
                response = conn.getresponse()
                response.read()
                return (201 if path == "/api/orders" else 200) if response.status == 200 else response.status, (
                    b'{"valid": true}'
                )
            conn.request("POST", path, json.dumps(body), headers)
            response = conn.getresponse()
            return response.status, response.read()

        while time.perf_counter() < deadline:
            code = next(mine, None)
            if code is None:
                bad["ran out of codes"] = bad.get("ran out of codes", 0) + 1
                break
            account = rnd.choice(accounts)
            cart = [{"product": sku, "quantity": str(rnd.randint(1, 30))} for sku in rnd.sample(skus, lines)]
            t0 = time.perf_counter()
            status, raw = post("/api/coupons/check", {"account": account, "lines": cart, "codes": [code]})
            t1 = time.perf_counter()
            my_checks.append(t1 - t0)
            if status != 200 or not json.loads(raw)["valid"]:
                key = f"check {status}" if status != 200 else "check not valid"
                bad[key] = bad.get(key, 0) + 1
                continue
            status, raw = post("/api/orders", {"account": account, "lines": cart, "confirm": True, "coupons": [code]})
            t2 = time.perf_counter()
            my_orders.append(t2 - t1)
            if status != 201:
                bad[f"order {status}"] = bad.get(f"order {status}", 0) + 1
                continue
            my_pairs.append(t2 - t0)
        with lock:
            checks.extend(my_checks)
            orders.extend(my_orders)
            pairs.extend(my_pairs)
            for key, n in bad.items():
                failures[key] = failures.get(key, 0) + n

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put(
        {
            "checks": checks,
            "orders": orders,
            "pairs": pairs,
            "failures": failures,
            "cpu": usage.ru_utime + usage.ru_stime,
        }
    )


def _worker_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of a process and of each of its live children (gunicorn's workers), by pid."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            out[stat.parent.name] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def _machine_cpu() -> tuple[float, float]:
    """Seconds the machine's cores were busy and idle so far (/proc/stat), all processes."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / ticks, idle / ticks


def _percentiles(name: str, values: list[float]) -> dict[str, float]:
    lat = sorted(values)
    if not lat:
        return {}
    return {
        f"{name}_p50_ms": round(statistics.median(lat) * 1000, 2),
        f"{name}_p95_ms": round(lat[int(len(lat) * 0.95)] * 1000, 2),
        f"{name}_p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 2),
    }


def _measure(
    web_pid: int,
    server: Server,
    port: int,
    token: str,
    accounts: list[str],
    skus: list[str],
    codes: list[str],
    seconds: float,
    connections: int,
    lines: int,
    floor: bool = False,
) -> dict[str, Any]:
    """One measured run from a fresh client process: rates, latencies and where the CPU went."""
    queue: Any = mp.Queue()
    web_before, pg_cpu, machine = _worker_cpu(web_pid), postgres_cpu_seconds(server), _machine_cpu()
    started = time.perf_counter()
    client = mp.Process(
        target=_client, args=(port, token, accounts, skus, codes, seconds, connections, lines, queue, floor)
    )
    client.start()
    result = queue.get()
    client.join()
    wall = time.perf_counter() - started
    web_after, pg_cpu = _worker_cpu(web_pid), postgres_cpu_seconds(server) - pg_cpu
    per_worker = [web_after[p] - web_before.get(p, 0.0) for p in web_after]
    web_cpu = sum(per_worker)
    busy, idle = (after - before for after, before in zip(_machine_cpu(), machine, strict=True))
    n = max(1, len(result["pairs"]))
    return {
        "pairs": len(result["pairs"]),
        "pairs_per_second": round(len(result["pairs"]) / seconds, 1),
        "checks_per_second": round(len(result["checks"]) / seconds, 1),
        "orders_per_second": round(len(result["orders"]) / seconds, 1),
        "errors": sum(result["failures"].values()),
        "error_kinds": ", ".join(f"{k}: {v}" for k, v in sorted(result["failures"].items())) or "none",
        **_percentiles("pair", result["pairs"]),
        **_percentiles("check", result["checks"]),
        **_percentiles("order", result["orders"]),
        "cpu_web_ms_per_pair": round(web_cpu / n * 1000, 2),
        "cpu_postgres_ms_per_pair": round(pg_cpu / n * 1000, 2),
        "cpu_client_ms_per_pair": round(result["cpu"] / n * 1000, 2),
        # What the cores could do at this CPU per pair if nothing ever waited.
        "cpu_bound_ceiling_per_second": round(
            (os.cpu_count() or 1) * n / max(web_cpu + pg_cpu + result["cpu"], 1e-9), 1
        ),
        # Other processes on this machine (someone's tests) take cores from the run.
        "cpu_other_processes_s": round(max(busy - web_cpu - pg_cpu - result["cpu"], 0.0), 1),
        "cpu_idle_s": round(idle, 1),
        # Keep-alive connections stay with the worker that accepted them: one worker may get them all.
        "cpu_busiest_worker_share": round(max(per_worker) / web_cpu, 2) if web_cpu else 0.0,
        "wall_s": round(wall, 1),
    }


def _verify(orders: int) -> dict[str, Any]:
    """Every order recorded with a code redeemed it once; no code was used twice."""
    from django.db.models import Max

    from patron.coupons.models import Coupon, Redemption
    from patron.sales.models import Order

    redemptions = Redemption.objects.filter(reversed_at__isnull=True).count()
    with_code = Order.objects.filter(coupon_redemptions__isnull=False).distinct().count()
    most = Coupon.objects.aggregate(m=Max("uses"))["m"]
    assert redemptions == with_code == orders, (redemptions, with_code, orders)
    assert most == 1, most
    return {"redemptions_recorded": redemptions, "most_uses_of_a_code": most}


def main(
    seconds: float = 20,
    connections: int = 6,
    web_workers: int = 2,
    threads: int = 1,
    runs: int = 3,
    lines: int = 3,
    floor: bool = False,
) -> dict[str, Any]:
    server = Server()
    web = None
    try:
        var = server.dir / "var"
        setup_django(server.url, var)
        token, accounts, skus = _make_data()
        runs = max(1, runs)
        codes = _make_campaign(int((runs * seconds + WARM_UP_SECONDS) * MOST_PAIRS_PER_SECOND))
        port = _free_port()
        env = dict(
            os.environ,
            PATRON_DATABASE_URL=server.url,
            PATRON_VAR_DIR=str(var),
            PATRON_LOG_LEVEL="WARNING",
            PATRON_COUPON_CHECKS_PER_MINUTE=str(CHECKS_PER_MINUTE),
            # The server runs this checkout's code (as this process does), not the installed package's.
            PYTHONPATH=os.pathsep.join([str(HERE.parent / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]),
        )
        extra = tuple(os.environ.get("BENCH_GUNICORN_EXTRA", "").split())  # for trying server settings
        web = subprocess.Popen(gunicorn_command(f"127.0.0.1:{port}", web_workers, threads, extra=extra), env=env)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        # Warm up: every worker builds its rule book once.
        share = int(WARM_UP_SECONDS * MOST_PAIRS_PER_SECOND)
        warm: Any = mp.Queue()
        _client(port, token, accounts, skus, codes[:share], WARM_UP_SECONDS, connections, lines, warm)
        redeemed = len(warm.get()["pairs"])
        figures: list[dict[str, Any]] = []
        for i in range(runs):
            start = share + i * int(seconds * MOST_PAIRS_PER_SECOND)
            mine = codes[start : start + int(seconds * MOST_PAIRS_PER_SECOND)]
            figures.append(_measure(web.pid, server, port, token, accounts, skus, mine, seconds, connections, lines))
            redeemed += figures[-1]["pairs"]
        checked = _verify(redeemed)
        if floor:  # after the check: these pairs redeem nothing
            mine = codes[: int(seconds * MOST_PAIRS_PER_SECOND)]
            cheapest = _measure(web.pid, server, port, token, accounts, skus, mine, seconds, connections, lines, True)
            shown = ("pairs_per_second", "cpu_web_ms_per_pair", "cpu_postgres_ms_per_pair", "cpu_client_ms_per_pair")
            checked.update({f"floor_{k}": cheapest[k] for k in shown})
        rates = [f["pairs_per_second"] for f in figures]
        best = sorted(figures, key=lambda f: f["pairs_per_second"])[len(figures) // 2]  # the median run
        median = statistics.median(rates)
        return {
            **best,
            "pairs_per_second": round(median, 1),
            "ratio_to_bar": round(median / BAR, 2),
            "runs": len(rates),
            "runs_per_second": " ".join(f"{r:.0f}" for r in rates),
            "runs_at_bar": f"{sum(r >= BAR for r in rates)} of {len(rates)} at {BAR}/s or more",
            **checked,
            "connections": connections,
            "web_workers": web_workers,
            "threads_per_worker": threads,
            "lines_per_cart": lines,
            "rules": 100,
            "coupon_checks_per_minute": CHECKS_PER_MINUTE,
        }
    finally:
        if web is not None:
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=20)
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=6)
    parser.add_argument("--web-workers", type=int, default=2, help="patron serve: one per core")
    parser.add_argument("--threads", type=int, default=1, help="threads per web worker (patron serve: 1)")
    parser.add_argument(
        "--runs", type=int, default=3, help="measured runs against the one warm server; the median is shown"
    )
    parser.add_argument("--lines", type=int, default=3, help="cart lines per check and order")
    parser.add_argument(
        "--floor", action="store_true", help="then one run of pairs of GET /api/me: what this stack serves at most"
    )
    args = parser.parse_args()
    for key, value in main(
        args.seconds, args.connections, args.web_workers, args.threads, args.runs, args.lines, args.floor
    ).items():
        print(f"{key:30} {value}")
