from __future__ import annotations

import pytest
from django.test import override_settings

REDIS_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        # Port 1 on loopback: nothing listens, so the connection is refused at once.
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


def test_healthz_answers_without_touching_dependencies(client) -> None:  # type: ignore[no-untyped-def]
    with override_settings(CACHES=REDIS_DOWN, WEB3_PROVIDER_URI="http://127.0.0.1:1"):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_names_an_unreachable_cache_and_answers_503(client) -> None:  # type: ignore[no-untyped-def]
    with override_settings(CACHES=REDIS_DOWN):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert "cache" in body["failing"]
    assert body["checks"]["cache"]["ok"] is False
    assert "Connection" in body["checks"]["cache"]["error"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["latency_ms"] >= 0


@pytest.mark.django_db
def test_readyz_names_an_unreachable_chain_node(client) -> None:  # type: ignore[no-untyped-def]
    with override_settings(WEB3_PROVIDER_URI="http://127.0.0.1:1"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "chain" in response.json()["failing"]


@pytest.mark.django_db
def test_readyz_names_an_unreachable_broker(client) -> None:  # type: ignore[no-untyped-def]
    with override_settings(
        CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL="redis://127.0.0.1:1/0", READYZ_TIMEOUT=0.5
    ):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "broker" in response.json()["failing"]


@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_reaches_real_redis_as_cache_and_broker(client, redis_url) -> None:  # type: ignore[no-untyped-def]
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    with override_settings(CACHES=caches, CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=redis_url):
        response = client.get("/readyz")
    checks = response.json()["checks"]
    assert checks["cache"] == {**checks["cache"], "ok": True, "backend": "RedisCache"}
    assert checks["broker"]["ok"] is True
    assert checks["broker"]["mode"] == "broker"
