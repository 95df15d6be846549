from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from market.models import Token
from ratings.evaluation import backtest, horizon_report, hourly_trader_grades, scenario_grades
from ratings.models import GradeModel
from ratings.selectors import grade_model_active
from ratings.services import NotEnoughHistory, grades_compute, training_data_load


class Command(BaseCommand):
    help = (
        "Evaluate the grades on held-out history: Spearman rank correlation of each grade with its forward "
        "return, forward return by grade decile, and the signal backtest; rules v0 beside the active models."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain-id", type=int, default=settings.CHAIN_ID)

    def handle(self, *args: Any, **options: Any) -> None:
        chain_id = options["chain_id"]
        try:
            data = training_data_load(chain_id=chain_id)
        except NotEnoughHistory as exc:
            raise CommandError(str(exc)) from exc
        times = data.panel.times
        out = self.stdout.write
        model = grade_model_active(chain_id=chain_id, horizon=GradeModel.Horizon.TRADER)
        holdout_from = (
            np.datetime64(model.holdout_start.replace(tzinfo=None), "s") if model else times[int(len(times) * 0.75)]
        )
        out(f"chain {chain_id}: {len(data.panel.token_ids)} tokens, {len(times)} hours; held-out from {holdout_from}")
        for horizon in (GradeModel.Horizon.TRADER, GradeModel.Horizon.INVESTOR):
            for graded_by in ("model", "rules"):
                if graded_by == "model" and grade_model_active(chain_id=chain_id, horizon=horizon) is None:
                    out(f"  {horizon}: no trained model (run train_grade_models)")
                    continue
                report = horizon_report(
                    data=data,
                    chain_id=chain_id if graded_by == "model" else None,
                    horizon=horizon,
                    holdout_from=holdout_from,
                )
                deciles = " ".join(f"{r:+.2f}" for r in report.decile_returns)
                out(
                    f"  {horizon:8} {report.grader:40} rows {report.rows:6}  spearman {report.spearman:+.3f}  "
                    f"cross-sectional {report.spearman_cross_section:+.3f}\n    forward return % by grade decile "
                    f"(low..high): {deciles}"
                )
        start_row = int(np.searchsorted(times, holdout_from))
        for label, chain in (("model", chain_id), ("rules", None)):
            grades = hourly_trader_grades(data.panel, chain_id=chain, start_row=start_row)
            result = backtest(data.panel, grades, start_row)
            out(
                f"  signal backtest ({label}, held-out hours): {result.tokens} tokens; following the signal "
                f"mean {result.mean_signal_return:+.2f}% (median {result.median_signal_return:+.2f}%) vs holding "
                f"mean {result.mean_hold_return:+.2f}% (median {result.median_hold_return:+.2f}%); "
                f"beats holding on {result.beat_hold_share:.0%} of tokens"
            )
        scenarios = Path(settings.VAR_DIR) / "chain" / f"scenarios-{chain_id}.json"
        last = grades_compute(
            chain_id=chain_id, values={k: v[-1:] for k, v in data.values.items()}, horizon=GradeModel.Horizon.TRADER
        )
        inv = grades_compute(
            chain_id=chain_id, values={k: v[-1:] for k, v in data.values.items()}, horizon=GradeModel.Horizon.INVESTOR
        )
        addresses = dict(Token.objects.filter(id__in=data.panel.token_ids.tolist()).values_list("id", "address"))
        by_kind = scenario_grades(
            scenarios_path=scenarios,
            token_ids=data.panel.token_ids,
            addresses=addresses,
            trader=last.grades[0],
            investor=inv.grades[0],
        )
        if by_kind:
            out("  final grades by scripted scenario (tokens, mean trader, mean investor):")
            for kind, (count, trader, investor) in by_kind.items():
                out(f"    {kind:12} {count:4}  {trader:6.1f}  {investor:6.1f}")
