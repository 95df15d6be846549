"""Public API benchmark: tmsite's token list and detail beside FastAPI + asyncpg and fixed bytes.

    make bench-api      # or: .venv/bin/python -m bench.api_bench [--duration 5] [--rounds 3] [--connections 64]

Builds its own PostgreSQL database (``BENCH_API_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/tmsite_api_bench``, dropped and re-created) with 10,000
rated tokens (the pages benchmark's fixture), then, on loopback and in one run:

- the project under ``make serve``'s server command (granian, ``DEBUG=0``, Redis cache at
  ``BENCH_REDIS_URL``), its settings plus one bench-only URL (``bench/api_bench_settings.py``);
- ``GET /api/v1/tokens/?ordering=-trader_grade`` (page of 50) and a token detail, with a pro
  plan API key, uncached (``API_CACHE_TTL=0``: every answer built from the database) and
  cached (the default TTL; the benchmark warms each URL first);
- the same two endpoints in FastAPI + uvicorn + asyncpg over the same tables
  (``bench/api_bench_fastapi.py``), with as many worker processes;
- a view returning fixed bytes of the list's size through the same server, settings and
  middleware.

Each is driven by wrk (``--connections`` connections, 2 threads) for ``--duration`` seconds
after a short warm-up; req/s, p50 and p99 are wrk's. The three servers run side by side and
the seven measurements take turns for ``--rounds`` rounds; each figure is its rounds' median,
so a change in the machine's load during the run weighs on every endpoint alike. Throttling
stays on: the bench key's plan (pro) is given a rate the run cannot reach (``API_RATE_PRO``),
so the counters are still kept and the rate headers still sent on every answer.
Targets: uncached >= 0.5x FastAPI; cached >= 2x FastAPI and >= 0.5x fixed bytes, p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import atexit
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.pages_bench import serve_command

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/tmsite_api_bench"
UNREACHABLE_RATE = "1000000000/min"  # the bench key's plan: counted, never reached


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(name: str, url: str, *, duration: int, connections: int, headers: dict[str, str]) -> Result:
    args = ["wrk", "-t2", f"-c{connections}", "--latency", "--timeout", "10s"]
    for header, value in headers.items():
        args += ["-H", f"{header}: {value}"]
    subprocess.run([*args, "-d2s", url], check=True, capture_output=True)  # warm-up: pools, caches
    out = subprocess.run([*args, f"-d{duration}s", url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return Result(name, rps, p50, p99, errors)


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server at {url} did not start")
        time.sleep(0.3)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def fetch(url: str, headers: dict[str, str]) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as answer:
        assert answer.status == 200, (url, answer.status)
        return answer.read()


def recreate_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def populate(tokens: int) -> tuple[str, str]:
    """The pages benchmark's 10,000 rated tokens, addresses checksummed as the indexer stores
    them; returns (a rated token's detail path, a pro plan API key)."""
    from django.db import connection
    from web3 import Web3

    from bench.pages_bench import populate as pages_populate
    from market.models import Token
    from tmsite.api.models import ApiKey
    from wallets.models import User

    pages_populate(tokens)
    rows = list(Token.objects.only("id", "address"))
    for row in rows:
        row.address = Web3.to_checksum_address(row.address)
    Token.objects.bulk_update(rows, ["address"], batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    owner = User.objects.create_user(username="bench", email="bench@example.com", password=None)
    _, key = ApiKey.objects.create_key(owner=owner, name="bench", plan=ApiKey.Plan.PRO)
    token = Token.objects.filter(rating__isnull=False).order_by("-rating__trader_grade").first()
    assert token is not None
    return f"/api/v1/tokens/{token.chain_id}/{token.address}/", key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each endpoint, taken in turns")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="server processes, each side")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make bench-api installs Debian's package)")

    database_url = os.environ.get("BENCH_API_DATABASE_URL", DEFAULT_DB)
    var_dir = tempfile.mkdtemp(prefix="api-bench-")
    atexit.register(shutil.rmtree, var_dir, True)
    redis_url = os.environ.get("BENCH_REDIS_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.api_bench_settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_FORMAT": "json",
        "API_RATE_PRO": UNREACHABLE_RATE,
        "WORKERS": str(args.workers),
        "VAR_DIR": var_dir,
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    recreate_database(database_url)
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection

    from tmsite.api.caching import data_version_bump

    call_command("migrate", verbosity=0)
    detail_path, key = populate(args.tokens)
    data_version_bump()  # nothing cached by an earlier run is served
    connection.close()
    cache.close()
    print(f"{args.tokens:,} rated tokens in {database_url.rsplit('/', 1)[1]} in {time.perf_counter() - started:.0f} s")

    list_path = "/api/v1/tokens/?ordering=-trader_grade"
    auth = {"Authorization": f"Api-Key {key}"}
    measure = {"duration": args.duration, "connections": args.connections}
    results: dict[str, Result] = {}

    def serve(extra: dict[str, str]) -> tuple[subprocess.Popen, str]:
        """The server command of ``make serve`` (its migrate and collectstatic steps were done
        above, or are not needed by the API: they take minutes of CPU on this machine)."""
        port = free_port()
        make_args = ["HOST=127.0.0.1", f"PORT={port}", f"WORKERS={args.workers}", f"METRICS_DIR={var_dir}/metrics"]
        process = subprocess.Popen(
            ["bash", "-c", serve_command(make_args, env)],
            cwd=ROOT,
            env={**env, **extra},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/healthz", process)
        return process, base

    # The three servers run side by side (an idle one costs nothing) and the measurements take
    # turns, round after round: on a shared machine the load drifts over minutes, and measuring
    # each server in one block let that drift decide the ratios (the same reference measured
    # 355 and 1,441 req/s in two runs an hour apart). Each figure is the median of its rounds.
    servers: list[subprocess.Popen] = []
    try:
        uncached, base_uncached = serve({"API_CACHE_TTL": "0"})
        servers.append(uncached)
        cached, base_cached = serve({})
        servers.append(cached)
        port = free_port()
        reference = subprocess.Popen(
            [str(ROOT / ".venv/bin/uvicorn"), "bench.api_bench_fastapi:app", "--host", "127.0.0.1"]
            + ["--port", str(port), "--workers", str(args.workers), "--no-access-log", "--log-level", "warning"],
            cwd=ROOT,
            env={**env, "BENCH_REF_DATABASE_URL": database_url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        servers.append(reference)
        base_reference = f"http://127.0.0.1:{port}"
        wait_ready(base_reference + detail_path, reference)

        list_body = fetch(base_uncached + list_path, auth)
        detail_body = fetch(base_uncached + detail_path, auth)
        assert orjson.loads(fetch(base_cached + list_path, auth))["data"] == orjson.loads(list_body)["data"]
        _same_fields(
            fetch(base_reference + list_path, {}), list_body, fetch(base_reference + detail_path, {}), detail_body
        )
        plan = [
            ("tmsite list uncached", base_uncached + list_path, auth),
            ("tmsite detail uncached", base_uncached + detail_path, auth),
            ("tmsite list cached", base_cached + list_path, auth),
            ("tmsite detail cached", base_cached + detail_path, auth),
            ("django fixed bytes", f"{base_cached}/bench/fixed/{len(list_body)}", {}),
            ("fastapi list", base_reference + list_path, {}),
            ("fastapi detail", base_reference + detail_path, {}),
        ]
        rounds: dict[str, list[Result]] = {name: [] for name, _, _ in plan}
        for number in range(1, args.rounds + 1):
            print(f"round {number} of {args.rounds}")
            for name, url, headers in plan:
                result = wrk(name, url, headers=headers, **measure)
                rounds[name].append(result)
                print(f"  {name:24} {result.rps:9,.0f} req/s  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms")
        results.update({name: _median(name, found) for name, found in rounds.items()})
    finally:
        for process in servers:
            stop(process)

    return report(results, list_bytes=len(list_body), connections=args.connections, workers=args.workers)


def _median(name: str, found: list[Result]) -> Result:
    """Each figure's median over the rounds (errors summed)."""
    return Result(
        name,
        statistics.median(r.rps for r in found),
        statistics.median(r.p50_ms for r in found),
        statistics.median(r.p99_ms for r in found),
        sum(r.errors for r in found),
    )


def _same_fields(ref_list: bytes, list_body: bytes, ref_detail: bytes, detail_body: bytes) -> None:
    """The reference answers the same rows with the same fields (values may differ in format)."""
    ours, theirs = orjson.loads(list_body), orjson.loads(ref_list)
    assert [row["address"] for row in ours["data"]] == [row["address"] for row in theirs["data"]]
    assert set(ours["data"][0]) == set(theirs["data"][0]), set(ours["data"][0]) ^ set(theirs["data"][0])
    assert set(orjson.loads(detail_body)["data"]) == set(orjson.loads(ref_detail)["data"])


def report(results: dict[str, Result], *, list_bytes: int, connections: int, workers: int) -> int:
    cpus = os.cpu_count()
    print(f"\nwrk -t2 -c{connections}; {workers} server processes each; {cpus} CPUs; list page {list_bytes:,} B")
    print(f"| {'endpoint':24} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | errors |")
    print(f"| {'-' * 24} | {'-' * 8}:| {'-' * 7}:| {'-' * 7}:| ------:|")
    for r in results.values():
        print(f"| {r.name:24} | {r.rps:8,.0f} | {r.p50_ms:7.2f} | {r.p99_ms:7.2f} | {r.errors:6d} |")
    fixed = results["django fixed bytes"].rps
    ok = all(r.errors == 0 for r in results.values())
    print()
    for kind in ("list", "detail"):
        ref = results[f"fastapi {kind}"].rps
        uncached, cached = results[f"tmsite {kind} uncached"], results[f"tmsite {kind} cached"]
        checks = [
            (f"{kind} uncached / fastapi", uncached.rps / ref, ">= 0.5", uncached.rps / ref >= 0.5),
            (f"{kind} cached / fastapi", cached.rps / ref, ">= 2", cached.rps / ref >= 2),
            (f"{kind} cached / fixed bytes", cached.rps / fixed, ">= 0.5", cached.rps / fixed >= 0.5),
            (f"{kind} cached p99 (ms)", cached.p99_ms, "< 50", cached.p99_ms < 50),
        ]
        for label, value, target, met in checks:
            ok &= met
            print(f"  {label:30} {value:7.2f}  target {target:6}  {'met' if met else 'NOT MET'}")
    return 0 if ok else 2


if __name__ == "__main__":
    raise SystemExit(main())
