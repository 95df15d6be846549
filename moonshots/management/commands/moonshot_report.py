from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from moonshots.selectors import TrackRecord, moonshot_track_record


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}%"


def track_record_lines(record: TrackRecord) -> list[str]:
    """The track record in plain lines, as the Moonshots tab shows it (percent, UTC)."""
    if not record.picks:
        return [f"no closed picks yet ({record.open_picks} open)"]
    span = f"{record.period_start:%Y-%m-%d %H:%M} to {record.market_time:%Y-%m-%d %H:%M} UTC"
    return [
        f"closed picks: {record.picks} ({record.open_picks} open; {record.replayed_picks} closed picks from a "
        f"point-in-time replay of history), {span}",
        f"hit rate (ROI > 0): {record.hit_rate_pct:.1f}% ({record.hits}/{record.picks})",
        f"ROI median {_pct(record.median_roi_pct)}, mean {_pct(record.mean_roi_pct)}, "
        f"best {_pct(record.best_roi_pct)}, worst {_pct(record.worst_roi_pct)}",
        f"equal-weight basket of all listed tokens over the same holding periods: "
        f"median {_pct(record.basket_median_roi_pct)}, mean {_pct(record.basket_mean_roi_pct)}",
        f"equal-weight basket held over the whole period: {_pct(record.basket_period_roi_pct)}",
    ]


class Command(BaseCommand):
    help = "Print the moonshot track record (closed picks, as stored) against an equal-weight basket."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain-id", type=int, default=settings.CHAIN_ID)

    def handle(self, *args: Any, **options: Any) -> None:
        for line in track_record_lines(moonshot_track_record(chain_id=options["chain_id"])):
            self.stdout.write(line)
