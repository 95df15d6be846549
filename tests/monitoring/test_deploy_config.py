"""The alert rules and the Grafana dashboard only name metrics that /metrics exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.monitoring.conftest import METRICS_TOKEN

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
METRIC = re.compile(r"\btmsite_[a-z0-9_]+")
SUFFIXES = ("_bucket", "_count", "_sum")


def _expressions() -> dict[str, list[str]]:
    rules = yaml.safe_load((DEPLOY / "tmsite.rules.yml").read_text())
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    return {
        "rules": [rule["expr"] for group in rules["groups"] for rule in group["rules"]],
        "dashboard": [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])],
    }


@pytest.mark.django_db
def test_rules_and_dashboard_name_only_exported_metrics(scrape) -> None:
    scrape()  # checks access and format
    text = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").content.decode()
    # Families are listed (HELP/TYPE) even before they have a sample.
    families = {family.name for family in text_string_to_metric_families(text)}
    known = families | {f"{family}_total" for family in families}
    for source, expressions in _expressions().items():
        assert expressions, source
        for expr in expressions:
            for name in METRIC.findall(expr):
                base = next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name)
                assert name in known or base in known, f"{source}: {name} in {expr!r}"
