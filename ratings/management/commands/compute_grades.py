from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from market.services import chain_lock, rpc_client
from ratings.services import chain_risks_refresh, ratings_compute


class Command(BaseCommand):
    help = "Grade every rated token of a chain up to the last indexed hour (and optionally run the chain risk checks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain-id", type=int, default=settings.CHAIN_ID)
        parser.add_argument("--backfill-days", type=int, default=None, help="days of history a first run grades")
        parser.add_argument("--risk", action="store_true", help="also check bytecode and simulate sells over RPC")
        parser.add_argument("--rpc", default=settings.WEB3_PROVIDER_URI, help="JSON-RPC URL for --risk")

    def handle(self, *args: Any, **options: Any) -> None:
        chain_id = options["chain_id"]
        with chain_lock(chain_id, "ratings") as held:
            if not held:
                self.stderr.write(f"chain {chain_id}: another ratings run holds the lock")
                return
            if options["risk"]:
                found = chain_risks_refresh(chain_id=chain_id, rpc=rpc_client(options["rpc"]))
                flagged = {t: codes for t, codes in found.items() if codes}
                self.stdout.write(f"risk checks: {len(found)} tokens checked, {len(flagged)} flagged {flagged}")
            run = ratings_compute(chain_id=chain_id, backfill_days=options["backfill_days"])
        self.stdout.write(
            f"chain {chain_id}: {run.tokens} tokens x {run.steps} hourly steps graded in {run.seconds:.2f}s "
            f"(trader {run.model_versions.get('trader')}, investor {run.model_versions.get('investor')}); "
            f"{run.anomalies} anomalies, {run.signal_changes} signal changes"
        )
