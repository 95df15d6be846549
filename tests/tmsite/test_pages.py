from __future__ import annotations

import logging

import pytest


@pytest.mark.django_db
def test_home_page_renders_with_navigation(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code == 200
    assert b"On-chain token ratings" in response.content
    assert b"Sign in" in response.content


@pytest.mark.django_db
def test_each_request_logs_one_line_with_method_path_status_and_duration(client, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.INFO, logger="tmsite.request"):
        client.get("/healthz?probe=1")
        client.get("/no-such-page/")
    lines = [r for r in caplog.records if r.name == "tmsite.request"]
    assert [(r.method, r.path, r.status) for r in lines] == [("GET", "/healthz", 200), ("GET", "/no-such-page/", 404)]
    assert all(r.duration_ms >= 0 for r in lines)
    assert lines[0].getMessage().startswith("GET /healthz?probe=1 200 ")


def test_json_log_format_emits_one_parseable_object_per_line() -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "tmsite.settings"}
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('tmsite.request').info('GET / 200 1.0ms', extra={'status': 200, 'path': '/'})"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record["logger"] == "tmsite.request"
    assert record["status"] == 200
    assert record["message"] == "GET / 200 1.0ms"
