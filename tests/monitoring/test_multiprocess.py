"""/metrics under the production server: granian with two worker processes, one metrics dir.

Each worker process counts only the requests it served; in multiprocess mode every one of
them writes its own file and any worker's /metrics answer adds them all up, so the total is
exact whichever process answers the scrape.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from chain.node import free_port
from tests.monitoring.conftest import METRICS_TOKEN, parse_metrics, value

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 30  # at least
MAX_REQUESTS = 2000


@pytest.mark.slow
def test_metrics_add_up_across_two_server_worker_processes(tmp_path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    # Embedded settings (SQLite in a scratch VAR_DIR): only the request counts matter here.
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "DJANGO_SETTINGS_MODULE": "tmsite.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "METRICS_TOKEN": METRICS_TOKEN,
        "METRICS_ALLOWED_IPS": "192.0.2.1",  # not this test's loopback address
        "WEB3_PROVIDER_URI": f"http://127.0.0.1:{free_port()}",  # no node: its gauges are left out
        "VAR_DIR": str(tmp_path / "var"),
    }
    log = (tmp_path / "granian.log").open("w")
    granian = Path(sys.executable).parent / "granian"
    server = subprocess.Popen(
        [str(granian), "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--no-ws"]
        + ["tmsite.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so its workers are stopped with it
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=120).status_code == 200:  # never abandoned: counted
                    break
            except requests.ConnectionError:  # not listening yet
                pass
            assert time.monotonic() < deadline, (tmp_path / "granian.log").read_text()
            assert server.poll() is None, (tmp_path / "granian.log").read_text()
            time.sleep(0.3)
        # New connections until both workers have served some (each writes files named by its pid).
        sent = 1  # the readiness loop's last request
        while len({p.stem.rsplit("_", 1)[-1] for p in metrics_dir.glob("histogram_*.db")}) < 2 or sent < REQUESTS:
            assert sent < MAX_REQUESTS, (
                f"one worker served all {sent} requests: " + (tmp_path / "granian.log").read_text()
            )
            assert requests.get(f"{base}/healthz", timeout=60, headers={"Connection": "close"}).status_code == 200
            sent += 1
        assert requests.get(f"{base}/metrics", timeout=10).status_code == 403
        for _ in range(4):
            scrape = requests.get(
                f"{base}/metrics",
                timeout=10,
                headers={"Authorization": f"Bearer {METRICS_TOKEN}", "Connection": "close"},
            )
            assert scrape.status_code == 200
            samples = parse_metrics(scrape.text)
            count = value(
                samples, "tmsite_http_request_duration_seconds_count", route="healthz", method="GET", status="200"
            )
            assert count == sent
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()
