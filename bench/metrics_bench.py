"""What the metrics cost on the hot path, measured side by side in one run.

One command (``.venv/bin/python bench/metrics_bench.py``) times, with and without the
instrumentation, in single-process mode and again in multiprocess mode (a child process
with ``PROMETHEUS_MULTIPROC_DIR`` set, as under ``make serve``, where every observation is
a write to a memory-mapped file):

* ``RequestMetricsMiddleware`` around a view that does nothing, against the bare view (and,
  for scale, a whole ``GET /healthz`` through Django's test client);
* a ``SELECT 1`` through Django's cursor, with and without the timing execute wrapper;
* a local-memory cache ``get``, counting backend vs Django's own.

Embedded settings (SQLite, local-memory cache): the figures are the instrumentation's own
cost, not a database's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any directory


def _paired(
    with_: Callable[[], object], without: Callable[[], object], calls: int, rounds: int = 9
) -> tuple[float, float]:
    """Microseconds per call of each, rounds interleaved, the best round of each (least disturbed)."""
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for i, fn in enumerate((with_, without)):
            started = time.perf_counter()
            for _ in range(calls):
                fn()
            best[i] = min(best[i], (time.perf_counter() - started) / calls)
    return best[0] * 1e6, best[1] * 1e6


def measure(requests: int, queries: int, gets: int) -> dict[str, float]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tmsite.settings")
    django.setup()
    from django.core.cache.backends.locmem import LocMemCache as PlainLocMem
    from django.db import connection
    from django.http import HttpResponse
    from django.test import Client, RequestFactory
    from django.test.utils import setup_test_environment
    from django.urls import resolve

    from monitoring.cache import LocMemCache as CountingLocMem
    from monitoring.middleware import RequestMetricsMiddleware

    setup_test_environment()
    figures: dict[str, float] = {}
    # The middleware around a view that does nothing, so the difference is the middleware alone.
    request = RequestFactory().get("/healthz")
    request.resolver_match = resolve("/healthz")
    response = HttpResponse("ok")
    instrumented = RequestMetricsMiddleware(lambda r: response)
    figures["request_with_us"], figures["request_without_us"] = _paired(
        lambda: instrumented(request), lambda: (lambda r: response)(request), requests * 10
    )
    client = Client()
    figures["healthz_request_us"] = _paired(lambda: client.get("/healthz"), lambda: None, requests, rounds=3)[0]

    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    select_one()  # opens the connection, which installs the wrapper
    wrappers = list(connection.execute_wrappers)
    unwrapped = [w for w in wrappers if not getattr(w, "tmsite_metrics", False)]

    def select_unwrapped() -> None:
        connection.execute_wrappers[:] = unwrapped
        select_one()

    def select_wrapped() -> None:
        connection.execute_wrappers[:] = wrappers
        select_one()

    figures["query_with_us"], figures["query_without_us"] = _paired(select_wrapped, select_unwrapped, queries)
    connection.execute_wrappers[:] = wrappers

    counting, plain_cache = CountingLocMem("bench-a", {}), PlainLocMem("bench-b", {})
    counting.set("k", 1)
    plain_cache.set("k", 1)
    figures["cache_get_with_us"], figures["cache_get_without_us"] = _paired(
        lambda: counting.get("k"), lambda: plain_cache.get("k"), gets
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--gets", type=int, default=50000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.requests, args.queries, args.gets)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as var_dir, tempfile.TemporaryDirectory() as metrics_dir:
        dropped = ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
        base = {k: v for k, v in os.environ.items() if k not in dropped}
        base.update(VAR_DIR=var_dir, DEBUG="1", LOG_LEVEL="error")
        for mode, extra in (("single-process", {}), ("multiprocess", {"PROMETHEUS_MULTIPROC_DIR": metrics_dir})):
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env={**base, **extra},
                check=True,
            )
            out = subprocess.run(
                [sys.executable, __file__, "--child"]
                + ["--requests", str(args.requests), "--queries", str(args.queries), "--gets", str(args.gets)],
                cwd=ROOT,
                env={**base, **extra},
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results[mode] = json.loads(out.strip().splitlines()[-1])
    print(f"{'':16} {'what':22} {'with':>10} {'without':>10} {'added':>10} {'ratio':>7}")
    for mode, figures in results.items():
        print(f"{mode:16} {'GET /healthz, whole stack (us)':34} {figures['healthz_request_us']:10.2f}")
        for what in ("request", "query", "cache_get"):
            with_, without = figures[f"{what}_with_us"], figures[f"{what}_without_us"]
            print(
                f"{mode:16} {what + ' (us/call)':22} {with_:10.2f} {without:10.2f} "
                f"{with_ - without:10.2f} {with_ / without:7.3f}"
            )


if __name__ == "__main__":
    main()
