from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.site.factories import persona_make
from wallets.models import User


@pytest.fixture
def alice(db) -> User:  # type: ignore[no-untyped-def]
    """Owns a watchlist."""
    return persona_make("alice")


@pytest.fixture
def bob(db) -> User:  # type: ignore[no-untyped-def]
    """Another user: sees none of alice's private things."""
    return persona_make("bob")


@pytest.fixture
def alice_client(client, alice):  # type: ignore[no-untyped-def]
    client.force_login(alice)
    return client


@pytest.fixture(autouse=True)
def _fresh_sign_in_throttles() -> None:
    """Sign-in rate limits count per client IP in the cache; every test client is 127.0.0.1."""
    cache.clear()
