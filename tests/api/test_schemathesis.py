"""Property-based conformance: generated requests against the documented read endpoints must
get answers (2xx or documented 4xx) that match the OpenAPI schema, and never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth

from tests.api.conftest import Market
from tmsite.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def fast_plan(market: Market, settings):
    settings.API_PLAN_RATES = {**settings.API_PLAN_RATES, "free": "100000/min"}


@schema.include(method="GET", path_regex=r"^/api/v1/(tokens|market)/").parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_read_endpoints_conform(case, fast_plan, alice_key: str) -> None:
    # Every generated call carries a valid key in X-API-Key, so "ignored auth" (a bad value in
    # another scheme's header still answered) is expected here: the key auth itself is tested
    # in test_auth_and_throttling.py.
    case.call_and_validate(headers={"X-API-Key": alice_key}, excluded_checks=[ignored_auth])
