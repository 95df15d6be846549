"""Ratings benchmark: data points + grades for 10,000 tokens x 90 days of hourly candles.

    .venv/bin/python bench/ratings_bench.py [--tokens 10000] [--days 90] [--loop-sample 100] [--trees N]

The candles (and every other panel series: liquidity, holders, whale flows, activity,
social) are generated in memory as float32 arrays, exactly the shape ``market_panel_load``
returns, so the timing covers the ratings computation, not database reads. Timed, in one
run on the same data:

1. vectorised: every registry data point for all tokens (hourly panel, latest hour, and the
   daily panel), then the Trader and Investor Grades from the rules and from LightGBM
   models with their exact per-feature contributions (TreeSHAP), through the tradability
   gate;
2. the same work per token in a Python loop (each token's own one-column panel through the
   same functions), on a sample of tokens, extrapolated linearly to all tokens.

Prints wall times and CPU seconds (the host is shared: under load the wall time includes
waiting for a core), the ratio, and peak memory (traced allocations during the compute and
the process's peak RSS).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tmsite.settings")

import django  # noqa: E402

django.setup()

from threadpoolctl import threadpool_limits  # noqa: E402

from ratings import grading  # noqa: E402
from ratings.datapoints import PANEL_SERIES, REGISTRY, MarketPanel, data_points_compute, data_points_matrix  # noqa: E402
from ratings.grading import (  # noqa: E402
    INVESTOR_RULES,
    TRADER_RULES,
    TrainingSet,
    forward_log_return,
    model_features,
    model_fit,
    rules_grade,
    tradability_gate,
    tradable,
)
from ratings.market_data import panel_to_daily  # noqa: E402


def synthetic_panel(tokens: int, days: int, seed: int = 7) -> MarketPanel:
    """Random-walk prices with regime drift, volume tied to moves, slowly varying liquidity."""
    rng = np.random.default_rng(seed)
    t = days * 24
    drift = rng.normal(0, 0.0008, (1, tokens)).astype(np.float32)
    vol = rng.uniform(0.004, 0.03, (1, tokens)).astype(np.float32)
    r = rng.standard_normal((t, tokens), dtype=np.float32) * vol + drift
    close = (rng.uniform(0.01, 50, (1, tokens)).astype(np.float32) * np.exp(np.cumsum(r, axis=0))).astype(np.float32)
    # Tokens list at different times: NaN before the first trade.
    listed = rng.integers(0, t // 3, tokens)
    close[np.arange(t)[:, None] < listed[None, :]] = np.nan
    s = {name: np.zeros((t, tokens), np.float32) for name in PANEL_SERIES}
    wiggle = np.abs(rng.standard_normal((t, tokens), dtype=np.float32)) * vol
    s["close"], s["high"], s["low"] = close, close * (1 + wiggle), close * (1 - wiggle)
    s["volume_usd"] = rng.gamma(1.0, 2_000.0, (t, tokens)).astype(np.float32) * (1 + 50 * np.abs(r))
    s["buy_volume_usd"] = s["volume_usd"] * rng.uniform(0.3, 0.7, (t, tokens)).astype(np.float32)
    s["trades"] = rng.poisson(6, (t, tokens)).astype(np.float32)
    s["liquidity_usd"] = (
        np.float32(1)
        * rng.lognormal(11, 1.5, (1, tokens)).astype(np.float32)
        * np.exp(np.cumsum(rng.normal(0, 0.005, (t, tokens)).astype(np.float32), axis=0))
    )
    s["new_holders"] = rng.poisson(0.3, (t, tokens)).astype(np.float32)
    s["holders"] = np.cumsum(s["new_holders"], axis=0) + 10
    whale = rng.random((t, tokens), dtype=np.float32) < 0.01
    s["whale_buys"] = (whale & (r > 0)).astype(np.float32)
    s["whale_sells"] = (whale & (r <= 0)).astype(np.float32)
    s["whale_buy_usd"] = s["whale_buys"] * 30_000
    s["whale_sell_usd"] = s["whale_sells"] * 30_000
    s["whale_transfers"] = s["whale_buys"] + s["whale_sells"]
    s["transfers"] = s["trades"] * 1.5
    s["active_addresses"] = s["trades"] * 1.2
    s["swaps"] = s["trades"]
    s["unique_traders"] = s["trades"] * 0.8
    s["mentions"] = rng.poisson(0.2, (t, tokens)).astype(np.float32)
    s["sentiment_sum"] = s["mentions"] * rng.uniform(-0.5, 0.5, (t, tokens)).astype(np.float32)
    s["positive_mentions"] = np.floor(s["mentions"] / 2)
    for name in ("high", "low"):
        s[name][np.isnan(close)] = np.nan
    times = np.datetime64("2025-01-01T00:00:00") + np.arange(t) * np.timedelta64(3600, "s")
    return MarketPanel(
        "1h",
        times,
        np.arange(tokens, dtype=np.int64),
        s,
        supply=rng.lognormal(18, 2, tokens),
        top10_share=rng.uniform(0.1, 0.99, tokens),
        top1_share=rng.uniform(0.01, 0.6, tokens),
        gini=rng.uniform(0.3, 0.99, tokens),
        fee=np.full(tokens, 0.003),
    )


THIN_USD = 10_000.0  # RATINGS_THIN_LIQUIDITY_USD's default
CAP = 25.0  # RATINGS_UNTRADABLE_GRADE_CAP's default
MODEL_GRADES = "model grades (2 models)"
MODEL_CONTRIBUTIONS = "model contributions (TreeSHAP, 2 models)"


def grade_all(
    panel: MarketPanel, artifacts: dict, stages: dict | None = None, cpu: dict | None = None
) -> dict[str, np.ndarray]:
    """Everything a grading run computes from a panel (no database); adds stage wall seconds
    to ``stages`` and CPU seconds of this thread to ``cpu``."""
    stages = {} if stages is None else stages
    cpu = {} if cpu is None else cpu
    mark, mark_cpu = time.perf_counter(), time.thread_time()

    def lap(name: str) -> None:
        nonlocal mark, mark_cpu
        now, now_cpu = time.perf_counter(), time.thread_time()
        stages[name] = stages.get(name, 0.0) + now - mark
        cpu[name] = cpu.get(name, 0.0) + now_cpu - mark_cpu
        mark, mark_cpu = now, now_cpu

    values = data_points_compute(panel)
    lap("data points, hourly (latest hour)")
    data_points_compute(panel_to_daily(panel))
    lap("data points, daily (latest day)")
    latest = {name: v[-1] for name, v in values.items()}
    traded = {h: tradable(latest, h, min_liquidity_usd=THIN_USD) for h in ("trader", "investor")}
    out = {
        "rules_trader": tradability_gate(rules_grade(latest, TRADER_RULES), traded["trader"], cap=CAP).grades,
        "rules_investor": tradability_gate(rules_grade(latest, INVESTOR_RULES), traded["investor"], cap=CAP).grades,
    }
    lap("rule grades + contributions")
    for horizon, artifact in artifacts.items():
        x = data_points_matrix(values, artifact.features)
        out[f"model_{horizon}"] = np.where(traded[horizon], artifact.grade(x), np.minimum(artifact.grade(x), CAP))
        lap(MODEL_GRADES)
        explained = tradability_gate(artifact.explain(x), traded[horizon], cap=CAP)
        # Exact attribution: how far base + contributions is from the grade, at worst.
        out[f"gap_{horizon}"] = np.abs(explained.base + explained.contributions.sum(axis=1) - explained.grades)
        lap(MODEL_CONTRIBUTIONS)
    return out


def train_models(panel: MarketPanel, sample_tokens: int = 100, trees: int | None = None) -> dict:
    """Small models on a slice of the synthetic market (not timed). Early stopping keeps few
    trees on this market; ``trees`` grows exactly that many instead (the exact
    contributions cost grows with the trees)."""
    if trees is not None:
        grading.EARLY_STOPPING_MIN_ROWS, grading.BOOSTING_ROUNDS = 10**12, trees
    small = panel.take(np.arange(min(sample_tokens, len(panel.token_ids))))
    rows = np.arange(24 * 31, len(small.times) - 24 * 7, 24)
    values = data_points_compute(small, rows)
    features = model_features()
    artifacts = {}
    for horizon, hours in (("trader", 24), ("investor", 168)):
        y = forward_log_return(small.series["close"], rows, hours).reshape(-1)
        x = data_points_matrix(values, features)
        times = np.repeat(small.times[rows], len(small.token_ids))
        keep = np.isfinite(y) & tradable(values, horizon, min_liquidity_usd=THIN_USD).reshape(-1)
        training = TrainingSet(x[keep], y[keep], times[keep], features)
        artifacts[horizon], _ = model_fit(
            training, horizon=horizon, horizon_bars=hours, bar=np.timedelta64(3600, "s"), version=f"bench-{horizon}"
        )
    return artifacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--loop-sample", type=int, default=100, help="tokens timed in the per-token loop")
    parser.add_argument("--threads", type=int, default=2, help="cores used: BLAS threads and token halves")
    parser.add_argument("--trees", type=int, default=None, help="trees per model instead of early stopping")
    args = parser.parse_args()

    print(f"generating {args.tokens:,} tokens x {args.days} days of hourly data in memory ...", flush=True)
    panel = synthetic_panel(args.tokens, args.days)
    cells = len(panel.times) * args.tokens
    print(f"  {len(panel.series)} series x {len(panel.times):,} hours x {args.tokens:,} tokens = {cells:,} cells each")
    print("training small models for the model-grade step (not timed) ...", flush=True)
    started = time.perf_counter()
    artifacts = train_models(panel, trees=args.trees)
    trees = ", ".join(f"{h} {a.estimator.num_trees()}" for h, a in artifacts.items())
    print(f"  trained in {time.perf_counter() - started:.1f}s ({trees} trees)", flush=True)

    with threadpool_limits(limits=args.threads):
        grade_all(panel.take(np.arange(50)), artifacts)  # warm caches and imports
        tracemalloc.start()
        stages: dict[str, float] = {}
        cpu: dict[str, float] = {}
        started, started_cpu = time.perf_counter(), time.process_time()
        result = grade_all(panel, artifacts, stages, cpu)
        vector_seconds, vector_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        # The same, with the tokens split across threads (numpy releases the GIL in its loops).
        halves = np.array_split(np.arange(args.tokens), args.threads)
        parts = [panel.take(h) for h in halves]
        started, started_cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(args.threads) as pool:
            threaded = list(pool.map(lambda p: grade_all(p, artifacts), parts))
        threaded_seconds, threaded_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        # Rule grades only: the model also reads market-relative data points (beta, correlation,
        # relative strength against the equal-weight market of the tokens graded together), so a
        # half or a single token sees a different market.
        graded = ("rules_trader", "rules_investor")
        same = all(np.allclose(np.concatenate([r[g] for r in threaded]), result[g]) for g in graded)

        sample = min(args.loop_sample, args.tokens)
        started = time.perf_counter()
        looped = [grade_all(panel.take([i]), artifacts) for i in range(sample)]
        loop_seconds = (time.perf_counter() - started) * args.tokens / sample
        agree = all(np.allclose([r[g][0] for r in looped], result[g][:sample], atol=1e-6) for g in graded)

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"data points per token and step: {len(REGISTRY)}; cores used: {args.threads}")
    print(f"{'implementation':44} {'seconds':>9} {'CPU s':>9}")
    for stage, seconds in stages.items():
        print(f"  {stage:42} {seconds:9.2f} {cpu[stage]:9.2f}")
    print(f"{'vectorised, one thread':44} {vector_seconds:9.2f} {vector_cpu:9.2f}")
    print(
        f"{f'vectorised, tokens split over {args.threads} threads':44} {threaded_seconds:9.2f} {threaded_cpu:9.2f}"
        f"   same grades: {same}"
    )
    print(f"{f'per-token loop (timed on {sample}, extrapolated)':44} {loop_seconds:9.2f} {'':9}   same grades: {agree}")
    gap = max(float(result[f"gap_{h}"].max()) for h in artifacts)
    print(f"model contributions: base + sum of contributions is the grade within {gap:.1e} grade points")
    best = min(vector_seconds, threaded_seconds)
    print(f"speed-up of the vectorised pipeline over the loop: {loop_seconds / best:,.0f}x")
    print(f"peak traced memory during the vectorised compute: {traced_peak / 2**20:,.0f} MiB")
    print(f"peak resident memory of the process: {rss_mb:,.0f} MiB")
    rules_only = sum(v for k, v in stages.items() if not k.startswith("model"))
    print(f"data points + rule grades (one thread): {rules_only:.2f} s; with model grades: {vector_seconds:.2f} s")
    print(f"under 5 s: {'yes' if best < 5 else 'NO'} (all stages), {'yes' if rules_only < 5 else 'NO'} (rules path)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
