from __future__ import annotations

from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from market.models import Token
from ratings.evaluation import backtest
from ratings.market_data import market_panel_load
from ratings.models import GradeHistory, GradeInterval


class Command(BaseCommand):
    help = "Return of following each token's stored bullish signal (long while bullish, else flat) against holding it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain-id", type=int, default=settings.CHAIN_ID)
        parser.add_argument("--top", type=int, default=20, help="tokens listed, best signal return first")

    def handle(self, *args: Any, **options: Any) -> None:
        chain_id = options["chain_id"]
        history = list(
            GradeHistory.objects.filter(token__chain_id=chain_id, interval=GradeInterval.HOUR)
            .order_by("at")
            .values_list("token_id", "at", "trader_grade")
        )
        if not history:
            raise CommandError(f"chain {chain_id}: no grade history; run compute_grades first")
        panel = market_panel_load(chain_id=chain_id, since=history[0][1])
        if panel is None:
            raise CommandError(f"chain {chain_id}: no market data")
        col = {int(t): i for i, t in enumerate(panel.token_ids)}
        grades = np.full((len(panel.times), len(col)), np.nan)
        for token_id, at, grade in history:
            row = int(np.searchsorted(panel.times, np.datetime64(at.replace(tzinfo=None), "s")))
            if token_id in col and row < len(panel.times):
                grades[row, col[token_id]] = grade
        result = backtest(panel, grades, 0)
        symbols = dict(Token.objects.filter(id__in=list(col)).values_list("id", "symbol"))
        self.stdout.write(
            f"chain {chain_id}: {result.tokens} tokens over {len(panel.times)} hours; following the signal "
            f"mean {result.mean_signal_return:+.2f}% (median {result.median_signal_return:+.2f}%), holding "
            f"mean {result.mean_hold_return:+.2f}% (median {result.median_hold_return:+.2f}%); signal beats "
            f"holding on {result.beat_hold_share:.0%} of tokens"
        )
        self.stdout.write(f"{'token':12} {'signal %':>9} {'hold %':>9} {'hours long':>10}")
        for token_id, sig, hold, bars in sorted(result.per_token, key=lambda r: -r[1])[: options["top"]]:
            self.stdout.write(f"{symbols.get(token_id, token_id)!s:12} {sig:+9.2f} {hold:+9.2f} {bars:10.0f}")
