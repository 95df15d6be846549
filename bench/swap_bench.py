"""Swap quote benchmark: 1,000 random quotes over 200+ real pools on a fresh anvil.

    .venv/bin/python bench/swap_bench.py [--tokens 110] [--requests 1000] [--seed 5]

Builds a market on its own anvil (WETH, USDC, two Uniswap V2 DEXes; every token has a WETH
pool on both DEXes, every third one a USDC pool too), indexes it into a throwaway SQLite
database, then times for the same random requests (pay ETH, USDC or a token; buy a token):

1. ``swap_quote(reserves="indexed")``: the hot path, indexer reserves, routing in Python
   (honeypot/tax checks warmed once per token beforehand, as in production's cache);
2. ``swap_quote(reserves="latest")``: the same plus one batched ``getReserves`` read at the
   latest block, which is what the API does by default;
3. the routers' ``getAmountsOut`` over JSON-RPC for the same candidate paths (single-DEX
   paths only, since a router cannot mix DEXes), one ``eth_call`` per path, and the same
   calls sent as one JSON-RPC batch.

Prints p50/p95/p99 per method and how often the local quote's best single path agrees with
the router to the unit. Target: p95 < 50 ms for the quote.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_TMP = tempfile.mkdtemp(prefix="swap-bench-")
os.environ["VAR_DIR"] = _TMP  # a throwaway SQLite database and registry file
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tmsite.settings")
os.environ.setdefault("LOG_LEVEL", "warning")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from chain.contracts import connect  # noqa: E402
from chain.deploy import (  # noqa: E402
    create_pool_with_liquidity,
    deploy_dex,
    deploy_erc20,
    deploy_swap_executor,
    deploy_weth,
)
from chain.node import free_port, start_anvil  # noqa: E402
from chain.registry import DeploymentSpec, deployments_record  # noqa: E402
from market.models import Pool  # noqa: E402
from market.services import chain_index_to_head, rpc_client  # noqa: E402
from swaps.chain import NATIVE, encode_call, rpc_for  # noqa: E402
from swaps.routing import candidate_paths  # noqa: E402
from swaps.selectors import swap_pools  # noqa: E402
from swaps.services import SwapError, swap_quote  # noqa: E402

E18 = 10**18
GET_AMOUNTS_OUT = "getAmountsOut(uint256,address[])"


def build_market(w3: Any, tokens: int, rng: random.Random) -> tuple[Any, ...]:
    deployer = w3.eth.accounts[0]
    w3.provider.make_request("anvil_setBalance", [deployer, hex(10**30)])
    weth = deploy_weth(w3, sender=deployer)
    dexes = [deploy_dex(w3, weth=weth, sender=deployer, name=n) for n in ("alphaswap", "betaswap")]
    usdc = deploy_erc20(w3, name="USD Coin", symbol="USDC", supply=10**15 * 10**6, decimals=6, sender=deployer)
    executor = deploy_swap_executor(w3, weth=weth, sender=deployer)
    for dex, eth in zip(dexes, (500, 200), strict=True):
        create_pool_with_liquidity(
            w3, dex=dex, token_a=weth, amount_a=eth * E18, token_b=usdc, amount_b=eth * 3000 * 10**6, provider=deployer
        )
    addresses = []
    for i in range(tokens):
        token = deploy_erc20(w3, name=f"Token {i}", symbol=f"T{i}", supply=10**12 * E18, sender=deployer)
        addresses.append(token)
        price = rng.uniform(0.5, 50)  # tokens per ETH, in thousands
        for dex in dexes:
            eth = rng.randint(5, 80)
            create_pool_with_liquidity(
                w3,
                dex=dex,
                token_a=weth,
                amount_a=eth * E18,
                token_b=token,
                amount_b=int(eth * price * 1000 * rng.uniform(0.97, 1.03)) * E18,
                provider=deployer,
            )
        if i % 3 == 0:
            usd = rng.randint(20_000, 200_000)
            create_pool_with_liquidity(
                w3,
                dex=dexes[0],
                token_a=usdc,
                amount_a=usd * 10**6,
                token_b=token,
                amount_b=int(usd / 3000 * price * 1000) * E18,
                provider=deployer,
            )
    specs = [
        DeploymentSpec("weth", "weth", weth, 0),
        DeploymentSpec("token:USDC", "stablecoin", usdc, 0, {"decimals": 6}),
        DeploymentSpec("executor", "executor", executor, 0, {"weth": weth}),
    ] + [
        DeploymentSpec(
            f"dex:{d.name}:factory", "dex_factory", d.factory, 0, {"dex": d.name, "router": d.router, "fee_bps": 30}
        )
        for d in dexes
    ]
    return weth, usdc, dexes, addresses, specs


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return (
        f"p50 {statistics.median(ordered) * 1000:7.2f} ms   p95 {pick(0.95) * 1000:7.2f} ms   "
        f"p99 {pick(0.99) * 1000:7.2f} ms   mean {statistics.fmean(ordered) * 1000:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=110)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    call_command("migrate", verbosity=0)
    node = start_anvil(port=free_port(), log_path=Path(_TMP) / "anvil.log")
    try:
        w3 = connect(node.url)
        from django.conf import settings

        settings.WEB3_PROVIDER_URI = node.url
        t0 = time.perf_counter()
        weth, usdc, dexes, tokens, specs = build_market(w3, args.tokens, rng)
        chain_id = w3.eth.chain_id
        deployments_record(chain_id=chain_id, records=specs, replace=True)
        chain_index_to_head(chain_id=chain_id, rpc=rpc_client(node.url))
        pools = Pool.objects.filter(chain_id=chain_id).count()
        print(f"market: {len(tokens)} tokens, {pools} pools indexed in {time.perf_counter() - t0:.1f}s")

        requests = []
        for _ in range(args.requests):
            buy = rng.choice(tokens)
            kind = rng.random()
            if kind < 0.5:
                requests.append((NATIVE, buy, int(rng.uniform(0.001, 1.0) * E18)))
            elif kind < 0.8:
                requests.append((usdc, buy, int(rng.uniform(10, 2000) * 10**6)))
            else:
                sell = rng.choice([t for t in tokens if t != buy])
                requests.append((sell, buy, int(rng.uniform(10, 5000)) * E18))

        # Warm the per-token honeypot/tax checks (cached for SWAP_TOKEN_CHECK_TTL in production).
        t0 = time.perf_counter()
        for token in tokens:
            swap_quote(chain_id=chain_id, sell_token=NATIVE, buy_token=token, sell_amount=10**15)
        print(f"token checks warmed for {len(tokens)} tokens in {time.perf_counter() - t0:.1f}s")

        timings: dict[str, list[float]] = {"indexed": [], "latest": []}
        refused = 0
        quotes = []
        for mode in ("indexed", "latest"):
            for sell, buy, amount in requests:
                start = time.perf_counter()
                try:
                    q = swap_quote(chain_id=chain_id, sell_token=sell, buy_token=buy, sell_amount=amount, reserves=mode)
                except SwapError:
                    refused += mode == "indexed"
                    q = None
                timings[mode].append(time.perf_counter() - start)
                if mode == "latest":
                    quotes.append(q)

        # The routers over the node, for the same candidate paths.
        rpc = rpc_for(node.url)
        connectors = [weth, usdc]
        router_seq: list[float] = []
        router_batch: list[float] = []
        path_counts: list[int] = []
        agree = compared = 0
        for (sell, buy, amount), q in zip(requests, quotes, strict=True):
            s = weth if sell == NATIVE else sell
            candidates = [
                p
                for p in candidate_paths(
                    swap_pools(chain_id=chain_id, tokens=[s, buy], connectors=connectors), s, buy, connectors
                )
                if len(p.dexes) == 1
            ]
            calls = [
                {"to": p.hops[0].pool.router, "data": encode_call(GET_AMOUNTS_OUT, [amount, p.tokens])}
                for p in candidates
            ]
            path_counts.append(len(calls))
            start = time.perf_counter()
            outs = []
            for call in calls:
                try:
                    outs.append(int(rpc.call("eth_call", [call, "latest"])[-64:], 16))
                except Exception:  # noqa: BLE001 - a path the router cannot price counts as 0
                    outs.append(0)
            router_seq.append(time.perf_counter() - start)
            start = time.perf_counter()
            rpc.batch([("eth_call", [call, "latest"]) for call in calls])
            router_batch.append(time.perf_counter() - start)
            if q is not None and q.route.kind == "single" and q.route.single_dex:
                compared += 1
                best = q.route.fills[0].path
                index = next((i for i, p in enumerate(candidates) if p.pools == best.pools), None)
                agree += index is not None and outs[index] == q.route.amount_out

        print(f"\n{args.requests} random quotes over {pools} pools ({refused} refused by the impact limit)")
        print(f"  candidate router paths per request: mean {statistics.fmean(path_counts):.1f}")
        print(f"  local quote, indexed reserves     {percentiles(timings['indexed'])}")
        print(f"  local quote, latest reserves      {percentiles(timings['latest'])}")
        print(f"  router getAmountsOut, sequential  {percentiles(router_seq)}")
        print(f"  router getAmountsOut, one batch   {percentiles(router_batch)}")
        print(f"  single-path quotes equal to the router's getAmountsOut: {agree}/{compared}")
        p95 = sorted(timings["latest"])[int(0.95 * len(timings["latest"]))] * 1000
        print(f"\ntarget p95 < 50 ms (latest reserves): {'met' if p95 < 50 else 'MISSED'} ({p95:.1f} ms)")
    finally:
        node.stop()


if __name__ == "__main__":
    main()
