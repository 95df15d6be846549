"""Scripted scenarios: which token plays which part, when each phase runs, and the ground
truth file that records it.

The roles are what the analytics must later recognise from chain data alone (a whale
accumulating before a rally, a pump and dump, a soft rug, a honeypot...), so they are
written to ``<VAR_DIR>/chain/scenarios-<chain_id>.json`` for tests and model evaluation::

    {"chain_id": 31337, "seed": 7, "start_time": ..., "end_time": ...,
     "scenarios": [{"token": "0x..", "symbol": "FROG", "scenario": "soft_rug",
                    "phases": [{"phase": "trading", "start_time": ..., "end_time": ...,
                                "start_block": ..., "end_block": ...}, ...],
                    "actors": {"owner": "0x..", "whales": [...]}}]}

Times are unix seconds, half-open ``[start_time, end_time)``; blocks are the first and last
simulated blocks inside the phase (``null`` if none was mined in it).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Scenario kinds in the order they are kept when there are fewer tokens than kinds.
SCENARIO_FRACTIONS: tuple[tuple[str, float], ...] = (
    ("whale_rally", 0.04),
    ("soft_rug", 0.04),
    ("honeypot", 0.03),
    ("tax", 0.05),
    ("pump_dump", 0.06),
    ("mintable", 0.03),
    ("dead", 0.12),
)
ORGANIC = "organic"


def scenario_roles(count: int, rng: random.Random) -> list[str]:
    """Give each of ``count`` tokens a scenario kind; the rest trade organically.

    Every kind appears at least once when there is room (6 tokens cover all but ``dead``);
    larger markets scale each kind by its fraction. The order is shuffled by ``rng``.
    """
    roles: list[str] = []
    for kind, fraction in SCENARIO_FRACTIONS:
        roles += [kind] * max(1, round(count * fraction))
    roles = roles[:count]
    roles += [ORGANIC] * (count - len(roles))
    rng.shuffle(roles)
    return roles


@dataclass
class Phase:
    """One phase of a scenario, ``[start, end)`` in unix seconds."""

    name: str
    start: int
    end: int
    start_block: int | None = None
    end_block: int | None = None


@dataclass
class Scenario:
    """A token's script: its launch time and phases, plus the addresses playing it."""

    kind: str
    launch: int
    phases: list[Phase]
    actors: dict[str, Any] = field(default_factory=dict)

    def phase_at(self, timestamp: int) -> Phase | None:
        """The phase running at ``timestamp`` (``None`` before launch)."""
        for phase in self.phases:
            if phase.start <= timestamp < phase.end:
                return phase
        return None

    def mark_block(self, timestamp: int, block: int) -> None:
        """Note that ``block`` was mined at ``timestamp`` (fills phase block ranges)."""
        phase = self.phase_at(timestamp)
        if phase is not None:
            if phase.start_block is None:
                phase.start_block = block
            phase.end_block = block


def scenario_plan(kind: str, rng: random.Random, start: int, end: int) -> Scenario:
    """Draw a timeline for ``kind`` inside the history window ``[start, end)`` (unix seconds).

    Phases are fractions of the window so a 2-day test run and a 30-day demo tell the same
    story; every phase is at least one hour long where the script needs time to show.
    """
    span = end - start

    def at(fraction: float) -> int:
        return min(end - 1, start + int(span * fraction))

    def phases(launch: int, *parts: tuple[str, int]) -> list[Phase]:
        result, cursor = [], launch
        for name, length in parts:
            stop = min(end, cursor + max(length, 0))
            if stop > cursor:
                result.append(Phase(name, cursor, stop))
            cursor = stop
        return result

    hour = 3600
    if kind == "whale_rally":
        launch = at(rng.uniform(0.0, 0.08))
        accumulate = at(rng.uniform(0.2, 0.28))
        rally = accumulate + int(span * rng.uniform(0.3, 0.35))
        rally_len = max(2 * hour, int(span * rng.uniform(0.08, 0.1)))
        plan = phases(
            launch,
            ("trading", accumulate - launch),
            ("accumulation", rally - accumulate),
            ("rally", rally_len),
            ("distribution", max(hour, int(span * 0.1))),
            ("trading", end),
        )
    elif kind == "pump_dump":
        launch = at(rng.uniform(0.1, 0.45))
        plan = phases(
            launch,
            ("launch", max(hour, int(span * 0.03))),
            ("hype", max(2 * hour, int(span * 0.06))),
            ("pump", max(2 * hour, int(span * 0.02))),
            ("dump", 3 * hour),
            ("dead", end),
        )
    elif kind == "soft_rug":
        launch = at(rng.uniform(0.05, 0.3))
        plan = phases(launch, ("trading", int(span * rng.uniform(0.2, 0.3))), ("rug", hour // 2), ("aftermath", end))
    elif kind == "honeypot":
        launch = at(rng.uniform(0.05, 0.3))
        plan = phases(launch, ("trap", int(span * rng.uniform(0.25, 0.35))), ("drain", hour), ("aftermath", end))
    elif kind == "mintable":
        launch = at(rng.uniform(0.0, 0.15))
        plan = phases(
            launch,
            ("trading", int(span * 0.25)),
            ("mint", 2 * hour),
            ("trading", int(span * 0.25)),
            ("mint", 2 * hour),
            ("trading", end),
        )
    elif kind == "dead":
        launch = at(rng.uniform(0.05, 0.8))
        plan = phases(launch, ("launch", hour), ("dead", end))
    else:  # organic and tax: trade for the whole window after launch
        launch = start if rng.random() < 0.6 else at(rng.uniform(0.0, 0.7))
        if kind == "tax":
            launch = at(rng.uniform(0.0, 0.2))
        plan = phases(launch, ("trading", end))
    return Scenario(kind=kind, launch=launch, phases=plan)


def scenarios_file_path(var_dir: Path, chain_id: int) -> Path:
    return Path(var_dir) / "chain" / f"scenarios-{chain_id}.json"


def scenarios_write(path: Path, *, chain_id: int, seed: int, start: int, end: int, rows: list[dict[str, Any]]) -> Path:
    """Write the ground-truth file (see the module docstring for the format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"chain_id": chain_id, "seed": seed, "start_time": start, "end_time": end, "scenarios": rows}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def scenarios_read(path: Path) -> dict[str, Any]:
    """The ground-truth file as a dict (for tests and model evaluation)."""
    return json.loads(Path(path).read_text())
