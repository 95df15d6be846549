"""The market simulator: deploys a DEX market on a local chain and trades it for days.

Entry point :func:`simulate_market` (``python manage.py simulate_market``); see
``engine.py`` for how the history is made fast and deterministic, ``market.py`` for the
agents, ``scenarios.py`` for the scripted ground truth and ``social.py`` for the feed.
"""

from chain.simulator.engine import (
    SimulationConfig,
    SimulationError,
    SimulationResult,
    default_start_time,
    simulate_market,
)

__all__ = ["SimulationConfig", "SimulationError", "SimulationResult", "default_start_time", "simulate_market"]
