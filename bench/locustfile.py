"""The load profile of ``bench/load_bench.py``: what a crowd of visitors and API clients does.

Weights: ratings pages 3, token pages 3, API reads 3, swap quotes 1. Token addresses and the
swap pairs come from ``LOAD_TARGETS`` (a JSON file the harness writes after indexing). Every
request is also appended, with its wall-clock time, to ``LOAD_REQUESTS_CSV`` so the harness
can split errors and latencies by fault window.
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
from typing import Any

from locust import HttpUser, between, events, task

TARGETS: dict[str, Any] = json.loads(open(os.environ["LOAD_TARGETS"]).read())  # noqa: SIM115
SORTS = ["trader_grade", "investor_grade", "price", "change_24h", "volume_24h", "market_cap", "liquidity"]
FILTERS = [{}, {"trader_min": "60"}, {"signal": "bullish"}, {"risk": "none"}, {"mcap_min": "1000"}]
_rows: list[tuple[float, str, float, int, int]] = []


@events.request.add_listener
def _record(name: str, response_time: float, response: Any, exception: Any, **_: Any) -> None:
    status = getattr(response, "status_code", 0) or 0
    _rows.append((time.time(), name, response_time, 0 if exception else 1, status))


@events.quitting.add_listener
def _write(**_: Any) -> None:
    with open(os.environ["LOAD_REQUESTS_CSV"], "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["time", "name", "ms", "ok", "status"])
        writer.writerows(_rows)


class Visitor(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.api_headers = {"Authorization": f"Api-Key {TARGETS['api_key']}"}  # a pro-plan key

    def _token(self) -> str:
        return str(random.choice(TARGETS["tokens"]))

    @task(3)
    def ratings_page(self) -> None:
        params = {"sort": random.choice(SORTS), **random.choice(FILTERS)}
        self.client.get("/ratings/", params=params, name="ratings page")

    @task(3)
    def token_page(self) -> None:
        address = self._token()
        self.client.get(f"/tokens/{TARGETS['chain_id']}/{address}/", name="token page")
        self.client.get(f"/tokens/{TARGETS['chain_id']}/{address}/candles.json", name="token candles")

    @task(3)
    def api(self) -> None:
        chain, address = TARGETS["chain_id"], self._token()
        name, path = random.choice(
            [
                ("api tokens list", "/api/v1/tokens/?ordering=-trader_grade"),
                ("api token", f"/api/v1/tokens/{chain}/{address}/"),
                ("api token grades", f"/api/v1/tokens/{chain}/{address}/grades/"),
                ("api token ohlcv", f"/api/v1/tokens/{chain}/{address}/ohlcv/daily/"),
                ("api market overview", "/api/v1/market/overview/"),
            ]
        )
        self.client.get(path, name=name, headers=self.api_headers)

    @task(1)
    def swap_quote(self) -> None:
        params = {"sellToken": "ETH", "buyToken": self._token(), "sellAmount": str(random.randint(1, 50) * 10**16)}
        with self.client.get(
            "/api/v1/swap/quote", params=params, name="swap quote", headers=self.api_headers, catch_response=True
        ) as reply:
            # a token with no route (e.g. its pool pulled) answers 4xx by design; that is not a failure
            if reply.status_code in (400, 404, 422):
                reply.success()
