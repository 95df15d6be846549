"""/metrics: who may read it, and request, cache and database figures with exact counts."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.monitoring.conftest import METRICS_TOKEN, Samples, value

pytestmark = pytest.mark.django_db

COUNT = "tmsite_http_request_duration_seconds_count"


def test_metrics_refused_without_the_token_and_served_with_it(settings) -> None:
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_ALLOWED_IPS = []
    client = Client()
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=METRICS_TOKEN).status_code == 403  # not a bearer header
    served = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert served.status_code == 200
    assert b"# TYPE tmsite_http_request_duration_seconds histogram" in served.content


def test_metrics_served_to_the_allow_list_only_by_peer_address(settings) -> None:
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.20.0.0/16"]
    client = Client()
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.21.3.4").status_code == 403
    # A forwarded-for header is written by the client: it never opens the endpoint.
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="10.20.3.4").status_code == 403
    # With no token configured, an empty bearer token is no key either.
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_metrics_answer_any_host_name_prometheus_uses(settings) -> None:
    """Prometheus addresses each web process by IP:port, which ALLOWED_HOSTS does not list."""
    settings.METRICS_TOKEN = METRICS_TOKEN
    client = Client(HTTP_HOST="10.0.0.5:8000")
    assert client.get("/healthz").status_code == 400  # the site itself still checks the host
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").status_code == 200


def test_request_latency_counted_by_route_name_and_status(scrape) -> None:
    before = scrape()
    client = Client()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/no-such-page/").status_code == 404
    assert client.post("/healthz").status_code == 405
    after = scrape()

    def delta(**labels: str) -> float:
        return (value(after, COUNT, **labels) or 0) - (value(before, COUNT, **labels) or 0)

    assert delta(route="healthz", method="GET", status="200") == 3
    assert delta(route="healthz", method="POST", status="405") == 1
    assert delta(route="<unmatched>", method="GET", status="404") == 1
    # Scrapes are not requests of the site.
    assert not any(name == COUNT and dict(labels).get("route") == "metrics" for name, labels in after)


def test_cache_hits_and_misses_and_query_time_are_counted(scrape, settings) -> None:
    from django.core.cache import cache

    # A cache of this test's own, so that nothing else writing keys changes what a scrape reads.
    settings.CACHES = {"default": {"BACKEND": "monitoring.cache.LocMemCache", "LOCATION": "metrics-test"}}

    from wallets.models import User

    first, second = scrape(), scrape()  # what one scrape reads from the cache itself
    cache.set("metrics-test-key", 1)
    assert cache.get("metrics-test-key") == 1
    assert cache.get("metrics-test-missing") is None
    assert cache.get_many(["metrics-test-key", "metrics-test-missing-2"]) == {"metrics-test-key": 1}
    User.objects.filter(username="nobody").exists()
    third = scrape()

    def delta(old: Samples, new: Samples, name: str, **labels: str) -> float:
        return (value(new, name, **labels) or 0) - (value(old, name, **labels) or 0)

    for result in ("hit", "miss"):
        per_scrape = delta(first, second, "tmsite_cache_requests_total", result=result)
        assert delta(second, third, "tmsite_cache_requests_total", result=result) == per_scrape + 2, result
    assert delta(second, third, "tmsite_db_query_duration_seconds_count", alias="default") >= 1


def test_refused_swap_quotes_and_builds_counted_by_reason(scrape) -> None:
    from rest_framework.test import APIClient

    api = APIClient()
    taker = "0x" + "11" * 20
    before = scrape()
    quote = api.get(
        "/api/v1/swap/quote", {"sellToken": "0x" + "22" * 20, "buyToken": "0x" + "33" * 20, "sellAmount": "1000"}
    )
    build = api.post("/api/v1/swap/build", {"quoteId": "no-such-quote", "taker": taker}, format="json")
    after = scrape()
    assert quote.status_code >= 400 and build.status_code >= 400
    quote_code, build_code = quote.json()["error"]["code"], build.json()["error"]["code"]
    assert build_code == "quote_expired"

    def delta(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert delta("tmsite_swap_quotes_total", provider="local", outcome=quote_code) == 1
    assert delta("tmsite_swap_builds_refused_total", provider="local", reason="quote_expired") == 1
    assert delta("tmsite_swap_builds_total", provider="local") == 0
