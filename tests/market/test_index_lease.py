"""The scheduled indexer's lock is a lease: renewed per batch, it lapses soon after a worker
dies mid-run, so the next worker indexes within ``INDEX_LEASE_TTL`` instead of 10 minutes."""

from __future__ import annotations

import time

from django.core.cache import cache

from market.services import LOCK_KEY, chain_lock, chain_lock_renew


def test_a_renewed_lease_outlives_its_ttl_and_a_dead_holders_lapses() -> None:
    with chain_lock(90001, "index", ttl=1) as held:
        assert held
        for _ in range(3):  # three "batches", 1.5 s in all: past the TTL, kept by renewal
            time.sleep(0.5)
            chain_lock_renew(90001, "index", ttl=1)
        with chain_lock(90001, "index", ttl=1) as second:
            assert not second

    cache.add(LOCK_KEY.format(chain_id=90002, name="index"), "killed-worker", timeout=1)  # never released
    with chain_lock(90002, "index", ttl=1) as taken:
        assert not taken
    time.sleep(1.1)
    with chain_lock(90002, "index", ttl=1) as taken:
        assert taken
