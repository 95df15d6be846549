"""Readiness probes for the services tmsite depends on.

Each probe does the cheapest real round trip (``SELECT 1``, a cache write and read, a
broker connection, ``eth_blockNumber``) under a short timeout, and reports how long it
took, so ``/readyz`` tells an operator which dependency is down, not only that one is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    latency_ms: float
    detail: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "latency_ms": round(self.latency_ms, 2)}
        body.update(self.detail)
        if self.error:
            body["error"] = self.error
        return body


def _timed(name: str, probe: Callable[[], dict[str, Any]]) -> ProbeResult:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # a probe reports any failure; it must never raise
        return ProbeResult(name, False, (time.perf_counter() - started) * 1000, error=f"{type(exc).__name__}: {exc}")
    return ProbeResult(name, True, (time.perf_counter() - started) * 1000, detail)


def database_probe() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def cache_probe() -> dict[str, Any]:
    key = f"readyz:{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    cache.set(key, token, timeout=5)
    if cache.get(key) != token:
        raise RuntimeError("value written to the cache did not read back")
    cache.delete(key)
    return {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def broker_probe() -> dict[str, Any]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"mode": "eager"}
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=settings.READYZ_TIMEOUT) as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.READYZ_TIMEOUT)
        transport = conn.transport_cls
    return {"mode": "broker", "transport": str(transport)}


def chain_probe() -> dict[str, Any]:
    from web3 import HTTPProvider, Web3

    # web3's default retries a timed-out call several times with backoff: a hung node would
    # hold the probe for seconds instead of READYZ_TIMEOUT
    provider = HTTPProvider(
        settings.WEB3_PROVIDER_URI,
        request_kwargs={"timeout": settings.READYZ_TIMEOUT},
        exception_retry_configuration=None,
    )
    w3 = Web3(provider)
    return {"block_number": w3.eth.block_number, "chain_id": w3.eth.chain_id}


def readiness_check() -> list[ProbeResult]:
    """Run every probe; the database one on this thread, the network ones side by side."""
    results = [_timed("database", database_probe)]
    remote = {"cache": cache_probe, "broker": broker_probe, "chain": chain_probe}
    with ThreadPoolExecutor(max_workers=len(remote)) as pool:
        futures = {name: pool.submit(_timed, name, probe) for name, probe in remote.items()}
        results.extend(futures[name].result() for name in remote)
    return results
