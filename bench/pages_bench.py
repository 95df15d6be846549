"""Page benchmark: the ratings table over 10,000 tokens and a busy token page, 16 clients.

    .venv/bin/python -m bench.pages_bench [--tokens 10000] [--clients 16] [--requests 800] [--port N]

Builds a throw-away database (SQLite under a temp ``VAR_DIR``, or ``DATABASE_URL`` if set: flushed first),
fills it with generated tokens, ratings, candles, holders and whale transfers, serves the
site with ``make serve``'s server command (granian, ``DEBUG=0``) and drives it with
concurrent HTTP clients. Server time is the request log's ``duration_ms`` (the outermost
middleware: the whole Django stack, not the socket queue); client time is shown beside it.
Targets: ratings p95 < 100 ms, token page p95 < 150 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKET_TIME = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SORTS = ["trader_grade", "investor_grade", "price", "change_24h", "volume_24h", "market_cap", "liquidity", "token"]
FILTERS = [
    {},
    {"trader_min": "60"},
    {"trader_min": "40", "trader_max": "70", "investor_min": "50"},
    {"signal": "bullish"},
    {"risk": "none"},
    {"risk": "any", "signal": "bearish"},
    {"mcap_min": "100000", "mcap_max": "50000000"},
    {"q": "TK12"},
]


def populate(tokens: int) -> str:
    """Generate the rows; returns the token page path."""
    from market.models import Candle, HolderBalance, Interval, Token, Transfer
    from ratings.models import GradeHistory, TokenRating

    rng = random.Random(7)
    Token.objects.bulk_create(
        [
            Token(
                chain_id=31337,
                address=f"0x{i:040x}",
                name=f"Token {i}",
                symbol=f"TK{i}",
                decimals=18,
                total_supply=rng.randint(10**6, 10**10) * 10**18,
                first_seen_block=1,
                price_usd=10 ** rng.uniform(-6, 3),
                liquidity_usd=10 ** rng.uniform(2, 7),
                holder_count=rng.randint(1, 50_000),
                market_block=1000,
                market_updated_at=MARKET_TIME,
            )
            for i in range(1, tokens + 1)
        ],
        batch_size=2000,
    )
    ids = list(Token.objects.order_by("pk").values_list("pk", flat=True))
    ratings = []
    for token_id in ids[: int(len(ids) * 0.9)]:  # a tenth stays unrated: the market-data fallback path
        trader, investor = rng.uniform(0, 100), rng.uniform(0, 100)
        ratings.append(
            TokenRating(
                token_id=token_id,
                trader_grade=trader,
                investor_grade=investor,
                overall_grade=(trader + investor) / 2,
                trader_grade_change_24h=rng.uniform(-10, 10),
                trader_grade_change_7d=rng.uniform(-20, 20),
                investor_grade_change_24h=rng.uniform(-5, 5),
                investor_grade_change_7d=rng.uniform(-10, 10),
                signal=rng.choice(["bullish", "bearish", "neutral"]),
                signal_since=MARKET_TIME,
                risk_flags=rng.choice([[], [], [], ["thin_liquidity"], ["mintable", "holder_concentration"]]),
                top_contributions=[],
                model_version="rules-v0",
                computed_at=MARKET_TIME,
                price_usd=10 ** rng.uniform(-6, 3),
                price_change_24h=rng.uniform(-50, 50),
                price_change_7d=rng.uniform(-80, 80),
                volume_24h_usd=10 ** rng.uniform(2, 8),
                market_cap_usd=10 ** rng.uniform(4, 10),
                liquidity_usd=10 ** rng.uniform(2, 7),
                holder_count=rng.randint(1, 50_000),
            )
        )
    TokenRating.objects.bulk_create(ratings, batch_size=2000)
    busy = Token.objects.get(pk=ids[0])
    price, candles = 1.0, []
    for interval, count, step in ((Interval.HOUR, 720, timedelta(hours=1)), (Interval.DAY, 365, timedelta(days=1))):
        for n in range(count):
            close = price * (1 + rng.gauss(0, 0.02))
            candles.append(
                Candle(
                    token=busy,
                    interval=interval,
                    bucket=MARKET_TIME - step * (count - n),
                    open=price,
                    high=max(price, close) * 1.01,
                    low=min(price, close) * 0.99,
                    close=close,
                    volume=1e4,
                    volume_usd=1e4 * close,
                    trades=20,
                )
            )
            price = close
    Candle.objects.bulk_create(candles)
    HolderBalance.objects.bulk_create(
        [
            HolderBalance(token=busy, address=f"0x{n:040x}", balance=rng.randint(1, 10**6) * 10**18, updated_block=1000)
            for n in range(1, 2001)
        ]
    )
    Transfer.objects.bulk_create(
        [
            Transfer(
                chain_id=31337,
                block_number=900 + n,
                tx_hash=f"0x{n:064x}",
                log_index=0,
                timestamp=MARKET_TIME - timedelta(minutes=n),
                token=busy,
                from_address=f"0x{'a' * 40}",
                to_address=f"0x{'b' * 40}",
                value=10**24,
                kind="buy",
                usd_value=1e5,
                is_whale=n % 10 == 0,
            )
            for n in range(1, 5001)
        ]
    )
    GradeHistory.objects.bulk_create(
        [
            GradeHistory(
                token=busy,
                interval="1h",
                at=MARKET_TIME - timedelta(hours=n),
                trader_grade=rng.uniform(0, 100),
                investor_grade=rng.uniform(0, 100),
                overall_grade=50,
                model_version="rules-v0",
            )
            for n in range(720)
        ]
    )
    return f"/tokens/31337/{busy.address}/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def serve_command(make_args: list[str], env: dict[str, str]) -> str:
    """The server command of ``make serve`` for these make variables, read from make's dry run
    without its migrate and collectstatic steps, so a bench measures the settings it ships with."""
    plan = subprocess.run(
        ["make", "-n", "--no-print-directory", "serve", *make_args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.replace("\\\n", " ")
    lines = plan.splitlines()
    return " && ".join(lines[next(n for n, line in enumerate(lines) if "collectstatic" in line) + 1 :])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=800, help="requests per page kind")
    parser.add_argument("--workers", type=int, default=None, help="server processes (default: make serve's)")
    parser.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pages-bench-"))
    env = {
        **os.environ,
        "VAR_DIR": str(workdir),
        "DJANGO_SETTINGS_MODULE": "tmsite.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_FORMAT": "json",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tmsite.api.caching import data_version_bump

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("flush", verbosity=0, interactive=False)  # a throw-away database: rows of an earlier run go
    call_command("collectstatic", verbosity=0, interactive=False)
    token_path = populate(args.tokens)
    data_version_bump()  # new grades landed: nothing an earlier run cached is served
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # planner statistics, as autovacuum would keep them
    connection.close()
    print(f"database: {connection.vendor}, {args.tokens} tokens generated in {time.perf_counter() - started:.1f}s")

    port = args.port or free_port()
    # The server command of `make serve`, read from make's dry run (its migrate and
    # collectstatic steps were done above), so the bench measures the settings it ships with.
    make_args = ["HOST=127.0.0.1", f"PORT={port}", f"METRICS_DIR={workdir}/metrics"]
    make_args += [f"WORKERS={args.workers}"] if args.workers else []
    command = serve_command(make_args, env)
    print(f"server: {' '.join(command.split())}")
    server = subprocess.Popen(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # stopped as a process group: bash, granian and its workers
    )
    server_ms: dict[str, list[float]] = {"ratings": [], "token": []}
    lock = threading.Lock()

    def read_log() -> None:
        assert server.stderr is not None
        for line in server.stderr:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            path = record.get("path", "")
            kind = "ratings" if path.startswith("/ratings/") else "token" if path.startswith("/tokens/") else None
            if kind and "duration_ms" in record and record.get("status") == 200:
                with lock:
                    server_ms[kind].append(float(record["duration_ms"]))

    threading.Thread(target=read_log, daemon=True).start()
    import requests

    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(base + "/healthz", timeout=5).ok:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            print("server did not start", file=sys.stderr)
            return 1
        time.sleep(0.2)

    load_at_start = os.getloadavg()  # 1, 5 and 15 minutes: the machine may be busy with other work
    rng = random.Random(3)
    local = threading.local()

    def get(url: str) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        t0 = time.perf_counter()
        response = session.get(url, timeout=30)
        response.raise_for_status()
        return (time.perf_counter() - t0) * 1000

    def ratings_url() -> str:
        params = {**rng.choice(FILTERS), "sort": rng.choice(SORTS), "dir": rng.choice(["asc", "desc"])}
        params["page"] = str(rng.choice([1, 1, 2, 5, 20]))
        return base + "/ratings/?" + "&".join(f"{k}={v}" for k, v in params.items())

    results = {}
    firsts: dict[str, list[float]] = {}
    try:
        for kind, make_url in (("ratings", ratings_url), ("token", lambda: base + token_path)):
            for _ in range(args.clients):  # warm every worker
                get(make_url())
            with lock:
                server_ms[kind].clear()
            urls = [make_url() for _ in range(args.requests)]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                client_ms = list(pool.map(get, urls))
            elapsed = time.perf_counter() - t0
            time.sleep(0.5)  # let the log reader catch up
            with lock:
                measured = list(server_ms[kind])
            results[kind] = (measured, client_ms, elapsed)
            # The site caches rendered parts per query string: a URL's first request renders it.
            seen: set[str] = set()
            first = [url not in seen and not seen.add(url) for url in urls]  # type: ignore[func-returns-value]
            firsts[kind] = [ms for ms, is_first in zip(client_ms, first, strict=True) if is_first]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(workdir, ignore_errors=True)

    targets = {"ratings": 100.0, "token": 150.0}
    print(f"{args.clients} concurrent clients, {os.cpu_count()} CPUs")
    load_at_end = os.getloadavg()
    print(
        f"load average (1 / 5 min) at the start {load_at_start[0]:.2f} / {load_at_start[1]:.2f}, "
        f"at the end {load_at_end[0]:.2f} / {load_at_end[1]:.2f}"
    )
    print(
        f"{'page':8} {'n':>5} {'server p50':>11} {'p95':>8} {'p99':>8} {'client p50':>11} {'p95':>8} {'p99':>8}"
        f" {'req/s':>7}  target p95"
    )
    ok = True
    for kind, (measured, client_ms, elapsed) in results.items():
        p95 = percentile(measured, 95)
        ok &= p95 < targets[kind]
        print(
            f"{kind:8} {len(measured):5d} {statistics.median(measured):9.1f}ms {p95:6.1f}ms "
            f"{percentile(measured, 99):6.1f}ms {statistics.median(client_ms):9.1f}ms "
            f"{percentile(client_ms, 95):6.1f}ms {percentile(client_ms, 99):6.1f}ms {len(client_ms) / elapsed:7.1f}"
            f"  < {targets[kind]:.0f} ms {'ok' if p95 < targets[kind] else 'MISSED'}"
        )
        if firsts.get(kind):
            print(
                f"{'':8} {len(firsts[kind]):5d} distinct URLs; client p95 of their first requests "
                f"{percentile(firsts[kind], 95):.1f} ms"
            )
    return 0 if ok else 2


if __name__ == "__main__":
    raise SystemExit(main())
