"""Property-based conformance: generated requests against the documented read endpoints must
get answers (2xx or documented 4xx) that match the OpenAPI schema, and never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth, negative_data_rejection

from tests.api.conftest import Market

# The bare WSGI handler, not ``tmsite.wsgi``: that one also starts the web process's tracing,
# which would stay instrumented for every later test in this process.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture
def fast_plan(market: Market, settings) -> Iterator[None]:
    """A high rate, and the WSGI app kept inside the test's transaction the way Django's own
    test client does it (no closing of "old" connections at request start and end)."""
    settings.API_PLAN_RATES = {**settings.API_PLAN_RATES, "free": "100000/min"}
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.include(method="GET", path_regex=r"^/api/v1/(tokens|market)/").parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_read_endpoints_conform(case, fast_plan, alice_key: str) -> None:
    # Every generated call carries a valid key in X-API-Key, so "ignored auth" (a bad value in
    # another scheme's header still answered) is expected here: the key auth itself is tested
    # in test_auth_and_throttling.py.
    # An empty filter value (``?signal=``) means "no filter" (django-filter's convention), which
    # the schema cannot express; malformed values are still checked never to be a 5xx.
    case.call_and_validate(headers={"X-API-Key": alice_key}, excluded_checks=[ignored_auth, negative_data_rejection])
