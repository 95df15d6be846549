"""Suite-wide fixtures: service requirements, personas and clients.

Tests that need PostgreSQL or Redis talk to the real servers named by ``DATABASE_URL`` /
``REDIS_URL``. Without them such a test skips, except under ``REQUIRE_SERVICES=1`` (CI),
where every skip is turned into a failure so a missing service can never pass silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tmsite.celery import app as celery_app

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") == "1"

# A small real market on its own anvil (market_node, mini_market, registered_market).
pytest_plugins = ["tests.fixtures.market"]


def service_missing(reason: str) -> None:
    """Skip for a service that is not configured, or fail when CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under REQUIRE_SERVICES=1: {report.longrepr}"


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        service_missing("REDIS_URL is not set")
    return url


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        service_missing("DATABASE_URL is not a PostgreSQL URL")
    return url


@pytest.fixture(autouse=True)
def _eager_celery() -> Iterator[None]:
    """Tasks enqueued by code under test run in-process unless a test opts out.

    Only the execution mode changes; the tasks themselves are the real ones.
    """
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fresh_page_cache() -> None:
    """Every test starts with nothing cached from another test's rows: test data repeats market
    times and token ids, which the cached pages' keys are made of (ratings/page_parts.py)."""
    from tmsite.api.caching import data_version_bump

    data_version_bump()


@pytest.fixture
def admin_user(db):  # type: ignore[no-untyped-def]
    from wallets.services import demo_user_ensure

    user, _ = demo_user_ensure(username="root-admin", password="admin-pass-123")
    return user
