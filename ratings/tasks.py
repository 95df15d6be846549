"""Celery tasks of the ratings engine: lock, call, log. Chain ids in, never objects."""

from __future__ import annotations

import logging

from celery import shared_task

from market.rpc import RpcUnavailable
from market.services import chain_lock, rpc_client
from ratings.services import NotEnoughHistory, chain_risks_refresh, grade_models_train, ratings_compute
from tmsite.api.caching import data_version

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, soft_time_limit=240, time_limit=300, ignore_result=True)
def compute_grades_task(chain_id: int) -> int:
    """Grade every rated token up to the last indexed hour; returns tokens graded (0 if another run holds the lock).

    Safe to run twice: a second run finds the lock taken, and a repeated run re-grades the
    same steps with the same result (upserts on natural keys).
    """
    with chain_lock(chain_id, "ratings") as held:
        if not held:
            logger.info("chain %s: ratings run already in progress; skipping", chain_id)
            return 0
        return ratings_compute(chain_id=chain_id).tokens


@shared_task(
    acks_late=True,
    autoretry_for=(RpcUnavailable,),
    retry_backoff=True,
    retry_backoff_max=120,
    max_retries=5,
    soft_time_limit=240,
    time_limit=300,
    ignore_result=True,
)
def check_token_risks_task(chain_id: int) -> int:
    """Bytecode privileges and simulated sells for every rated token; returns tokens flagged."""
    with chain_lock(chain_id, "risk") as held:
        if not held:
            return 0
        found = chain_risks_refresh(chain_id=chain_id, rpc=rpc_client())
        return sum(1 for codes in found.values() if codes)


@shared_task(acks_late=True, soft_time_limit=1500, time_limit=1800, ignore_result=True)
def train_grade_models_task(chain_id: int) -> list[str]:
    """Train and activate new Trader/Investor models when there is enough history; returns versions."""
    with chain_lock(chain_id, "train") as held:
        if not held:
            return []
        try:
            return [model.version for model in grade_models_train(chain_id=chain_id)]
        except NotEnoughHistory as exc:
            logger.info("chain %s: no model trained: %s", chain_id, exc)
            return []


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90, ignore_result=True)
def warm_ratings_pages_task(version: str) -> int:
    """Render page 1 of each ratings order for signed-out visitors under data ``version``;
    returns the pages rendered (0 when the data changed again since: its own task warms it).

    Queued when new grades or risk flags are committed (``ratings.services.graded_data_published``).
    Safe to run twice: a page already cached under the current version is not rendered again.
    """
    from ratings.views import ratings_first_pages_warm  # the view renders them (forms, templates: web code)

    if data_version() != version:
        return 0
    return ratings_first_pages_warm()
