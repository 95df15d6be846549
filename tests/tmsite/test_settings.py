"""Settings come from the environment, with safe embedded defaults and fail-fast errors.

Each case starts a fresh interpreter, because settings are read once at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tmsite.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]
PROD_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3J9-prod-like-secret-Qw8sZt2vXy7uB4nM6pLr0aEc5dFg1hJ-uniq",
    "ALLOWED_HOSTS": "tmsite.example",
}
PRINT_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'engine': db['ENGINE'], 'name': str(db['NAME']), 'pool': db.get('OPTIONS', {}).get('pool'), "
    "'cache': s.CACHES['default']['BACKEND'], 'eager': s.CELERY_TASK_ALWAYS_EAGER, "
    "'broker': s.CELERY_BROKER_URL, 'web3': s.WEB3_PROVIDER_URI}))"
)


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}}
    clean.update({"DJANGO_SETTINGS_MODULE": "tmsite.settings", "VAR_DIR": str(ROOT / "var" / "test-settings")})
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_no_settings_means_sqlite_locmem_and_eager_tasks() -> None:
    result = run_python(PRINT_SETTINGS, {})
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["engine"] == "django.db.backends.sqlite3"
    assert seen["name"].endswith("tmsite.sqlite3")
    assert seen["cache"].endswith("LocMemCache")
    assert seen["eager"] is True
    assert seen["web3"] == "http://127.0.0.1:8545"


def test_service_urls_switch_to_pooled_postgres_and_redis() -> None:
    result = run_python(
        PRINT_SETTINGS,
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/tmsite", "REDIS_URL": "redis://127.0.0.1:6379/3"},
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["engine"] == "django.db.backends.postgresql"
    assert seen["name"] == "tmsite"
    assert seen["pool"]["max_size"] == 10
    assert seen["cache"].endswith("RedisCache")
    assert seen["eager"] is False
    assert seen["broker"] == "redis://127.0.0.1:6379/3"


def test_production_without_secret_key_fails_fast_with_a_clear_message() -> None:
    env = dict(PROD_ENV)
    del env["SECRET_KEY"]
    result = run_python("import django; django.setup()", env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_under_production_settings() -> None:
    result = run_python(
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        PROD_ENV,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_non_postgres_database_url_is_refused() -> None:
    result = run_python("import django; django.setup()", {"DATABASE_URL": "mysql://root@127.0.0.1/x"})
    assert result.returncode != 0
    assert "DATABASE_URL must be a postgres:// URL" in result.stderr


@pytest.mark.parametrize(
    ("reader", "raw", "message"),
    [
        (lambda: env_bool("TM_TEST_KNOB", False), "ture", "TM_TEST_KNOB must be one of"),
        (lambda: env_int("TM_TEST_KNOB", 1), "ten", "TM_TEST_KNOB must be an integer"),
        (lambda: env_int("TM_TEST_KNOB", 1, minimum=1), "0", "TM_TEST_KNOB must be >= 1"),
    ],
)
def test_env_helpers_reject_bad_values_naming_the_variable(monkeypatch, reader, raw, message) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TM_TEST_KNOB", raw)
    with pytest.raises(ImproperlyConfigured, match=message):
        reader()


def test_env_list_drops_blanks(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TM_TEST_KNOB", "a.example, b.example,,")
    assert env_list("TM_TEST_KNOB", []) == ["a.example", "b.example"]
