from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ratings.services import NotEnoughHistory, grade_models_train


class Command(BaseCommand):
    help = "Train, register and activate the Trader and Investor Grade models on the chain's history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain-id", type=int, default=settings.CHAIN_ID)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            models = grade_models_train(chain_id=options["chain_id"])
        except NotEnoughHistory as exc:
            raise CommandError(str(exc)) from exc
        for model in models:
            self.stdout.write(
                f"{model.version}: {model.train_rows} training rows "
                f"({model.train_start:%Y-%m-%d %H:%M}..{model.train_end:%Y-%m-%d %H:%M}), "
                f"{model.holdout_rows} held-out rows "
                f"({model.holdout_start:%Y-%m-%d %H:%M}..{model.holdout_end:%Y-%m-%d %H:%M})\n"
                f"  train {json.dumps(model.train_metrics)}\n  held-out {json.dumps(model.holdout_metrics)}\n"
                f"  artifact {model.artifact_path} sha256 {model.artifact_sha256}"
            )
