from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from market.services import chain_lock, rpc_client
from moonshots.services import moonshots_replay, moonshots_scan


def _aware_datetime(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise CommandError(f"expected an ISO 8601 time with a zone, e.g. 2026-11-02T00:00Z; got {value!r}")
    return parsed


class Command(BaseCommand):
    help = (
        "Close moonshot picks that meet an exit rule, then pick new low-cap tokens (run after compute_grades). "
        "With --replay, first scan the indexed history hour by hour, point in time, after the latest recorded scan."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain-id", type=int, default=settings.CHAIN_ID)
        parser.add_argument("--rpc", default=settings.WEB3_PROVIDER_URI, help="JSON-RPC URL for the sell simulation")
        parser.add_argument("--no-rpc", action="store_true", help="rely on stored risk flags only")
        parser.add_argument("--replay", action="store_true", help="replay the history not yet scanned, then scan now")
        parser.add_argument("--since", type=_aware_datetime, help="replay: first step at or after this market time")
        parser.add_argument(
            "--until", type=_aware_datetime, help="replay: last step at or before this market time; no live scan"
        )
        parser.add_argument("--step-hours", type=int, default=1, help="replay: hours between steps")

    def handle(self, *args: Any, **options: Any) -> None:
        chain_id = options["chain_id"]
        if (options["since"] or options["until"]) and not options["replay"]:
            raise CommandError("--since and --until need --replay")
        with chain_lock(chain_id, "moonshots") as held:
            if not held:
                self.stderr.write(f"chain {chain_id}: another moonshot scan holds the lock")
                return
            if options["replay"]:
                replay = moonshots_replay(
                    chain_id=chain_id,
                    since=options["since"],
                    until=options["until"],
                    step_hours=max(1, options["step_hours"]),
                )
                if replay.steps:
                    self.stdout.write(
                        f"chain {chain_id}: replayed {replay.steps} hourly scans from "
                        f"{replay.first_step:%Y-%m-%d %H:%M} to {replay.last_step:%Y-%m-%d %H:%M} UTC in "
                        f"{replay.seconds:.1f}s: {len(replay.picked)} picked, {len(replay.exited)} closed"
                    )
                else:
                    self.stdout.write(f"chain {chain_id}: no history left to replay")
                if options["until"]:
                    return
            rpc = None if options["no_rpc"] else rpc_client(options["rpc"])
            run = moonshots_scan(chain_id=chain_id, rpc=rpc)
        self.stdout.write(
            f"chain {chain_id} at market time {run.market_time:%Y-%m-%d %H:%M} UTC: {run.scored} tokens scored, "
            f"{len(run.picked)} picked {[p.token.symbol for p in run.picked]}, "
            f"{len(run.exited)} closed {[(p.token.symbol, p.exit_reason) for p in run.exited]}, "
            f"kept out by risk flags {run.blocked}"
        )
