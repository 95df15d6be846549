"""Moonshot scans and exits: the only code that writes ``Moonshot`` rows.

The scorer (``moonshot-rules-v1``) is a transparent weighted sum over the latest hourly data
points and the Trader Grade of each rated token under the market-cap ceiling. Five
components, each scaled to 0-1 and multiplied by its weight (weights sum to 100, so the score
is 0-100):

- rising Trader Grade: grade points gained over 24h;
- volume without a matching price move: 24h volume growth, damped by the 24h price move;
- whale accumulation: 7d whale net flow as a share of pool liquidity, plus the streak of days
  with net whale buying;
- growing holders: holder count growth over 24h and 7d;
- exit liquidity: pool liquidity against the minimum needed to get out.

Gates come before the score: a ceiling on fully diluted market cap, a floor on liquidity, a
Trader Grade at or above the exit threshold (else the next scan would close the pick), no
exit-blocking risk flag (stored flags, and, when an RPC client is given, a fresh simulated
sell of each candidate), and no open pick of the same token. Times are market time: the block
time of the latest indexed token state, so a replayed or paused chain keeps its own clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from market.models import Token
from market.rpc import RpcClient
from monitoring.services import moonshot_scan_record
from moonshots.models import Moonshot, MoonshotModel
from ratings.models import DataPointValue, GradeInterval, RiskFlag, TokenRating
from ratings.services import chain_risk_check

logger = logging.getLogger(__name__)

MODEL_VERSION = "moonshot-rules-v1"
# Weights sum to 100; scales are the data point value that earns the full weight.
MODEL_PARAMETERS: dict[str, Any] = {
    "grade_momentum": {"weight": 20.0, "scale": 15.0},  # Trader Grade points gained over 24h
    "volume_without_price": {"weight": 15.0, "scale": 200.0, "price_damp": 20.0},  # % volume growth; % move
    "whale_accumulation": {"weight": 35.0, "flow_scale": 0.05, "streak_scale": 2.0},  # net flow/liquidity; days
    "holder_growth": {"weight": 15.0, "scale_24h": 10.0, "scale_7d": 25.0},  # percent
    "exit_liquidity": {"weight": 15.0, "multiple": 5.0},  # x MOONSHOT_MIN_LIQUIDITY_USD for the full weight
}
# Hourly data points the scorer reads.
DATA_POINTS = (
    "volume_change_24h",
    "ret_24h",
    "whale_net_flow_to_liquidity_7d",
    "whale_net_flow_7d_usd",
    "whale_net_flow_24h_usd",
    "whale_accumulation_streak",
    "holder_growth_24h",
    "holder_growth_7d",
)

PICK_IMMUTABLE = "a moonshot pick is never changed except by its exit; pick {pick_id} is already closed"
EXIT_BEFORE_ENTRY = "exit time {exited_at} is before the pick's entry {entered_at}"
NO_PRICE = "token {token_id} has no indexed USD price"


@dataclass(frozen=True)
class Candidate:
    token: Token
    rating: TokenRating
    score: float
    reasons: list[str]
    components: dict[str, float] = field(default_factory=dict)


@dataclass
class ScanRun:
    chain_id: int
    market_time: datetime | None
    scored: int = 0
    picked: list[Moonshot] = field(default_factory=list)
    exited: list[Moonshot] = field(default_factory=list)
    blocked: dict[int, list[str]] = field(default_factory=dict)  # token id -> risk codes that kept it out


def market_now(*, chain_id: int) -> datetime:
    """Block time of the chain's latest indexed token state (the wall clock before any indexing)."""
    latest = Token.objects.filter(chain_id=chain_id).aggregate(latest=Max("market_updated_at"))["latest"]
    return latest or timezone.now()


@transaction.atomic
def moonshot_model_ensure() -> MoonshotModel:
    """The registry row of the scorer in this code, made active (older versions retired)."""
    model, _ = MoonshotModel.objects.get_or_create(
        version=MODEL_VERSION, defaults={"parameters": MODEL_PARAMETERS, "active": False}
    )
    if not model.active:
        MoonshotModel.objects.filter(active=True).exclude(pk=model.pk).update(active=False)
        model.active = True
        model.save(update_fields=["active"])
    return model


def _clip(value: float | None, scale: float) -> float:
    if value is None or scale <= 0 or value != value:  # None or NaN earns nothing
        return 0.0
    return max(0.0, min(1.0, value / scale))


def moonshot_score(*, rating: TokenRating, points: dict[str, float | None]) -> tuple[float, list[str], dict]:
    """Score 0-100 of one token, its reasons in words (largest first) and each component's points."""
    p, min_liquidity = MODEL_PARAMETERS, settings.MOONSHOT_MIN_LIQUIDITY_USD
    grade_change = rating.trader_grade_change_24h
    volume_change, price_move = points.get("volume_change_24h"), points.get("ret_24h")
    streak = points.get("whale_accumulation_streak")
    # The 7d flow needs 7d of history; a younger token is judged on its 24h flow over liquidity.
    net_usd = points.get("whale_net_flow_7d_usd")
    flow = points.get("whale_net_flow_to_liquidity_7d")
    if flow is None:
        net_usd = points.get("whale_net_flow_24h_usd")
        flow = (net_usd or 0.0) / rating.liquidity_usd if rating.liquidity_usd > 0 else None
    h24, h7 = points.get("holder_growth_24h"), points.get("holder_growth_7d")
    vw = p["volume_without_price"]
    damp = 1.0 - _clip(abs(price_move) if price_move is not None else None, vw["price_damp"])
    whale = p["whale_accumulation"]
    holders = p["holder_growth"]
    parts = {
        "grade_momentum": p["grade_momentum"]["weight"] * _clip(grade_change, p["grade_momentum"]["scale"]),
        "volume_without_price": vw["weight"] * _clip(volume_change, vw["scale"]) * damp,
        "whale_accumulation": whale["weight"]
        * (0.75 * _clip(flow, whale["flow_scale"]) + 0.25 * _clip(streak, whale["streak_scale"])),
        "holder_growth": holders["weight"] * max(_clip(h24, holders["scale_24h"]), _clip(h7, holders["scale_7d"])),
        "exit_liquidity": p["exit_liquidity"]["weight"]
        * _clip(rating.liquidity_usd, p["exit_liquidity"]["multiple"] * min_liquidity),
    }
    words = {
        "grade_momentum": f"Trader Grade up {grade_change or 0:+.1f} points in 24h",
        "volume_without_price": f"24h volume {volume_change or 0:+.0f}% with price {price_move or 0:+.1f}%",
        "whale_accumulation": (
            f"whales net bought ${net_usd or 0:,.0f} "
            f"({(flow or 0) * 100:.1f}% of liquidity), {int(streak or 0)} day(s) in a row"
        ),
        "holder_growth": f"holders {h24 or 0:+.1f}% in 24h, {h7 or 0:+.1f}% in 7d",
        "exit_liquidity": f"${rating.liquidity_usd:,.0f} of pool liquidity to exit into",
    }
    ranked = sorted(((v, k) for k, v in parts.items() if v > 0), reverse=True)
    reasons = [f"{words[k]} (+{v:.1f} points)" for v, k in ranked[:3]]
    return min(100.0, sum(parts.values())), reasons, {k: round(v, 3) for k, v in parts.items()}


def _blocking_codes(token_ids: list[int]) -> dict[int, set[str]]:
    """Exit-blocking risk codes per token, from active flags and the rating's denormalised list."""
    blocking = set(settings.MOONSHOT_BLOCKING_RISK_FLAGS)
    found: dict[int, set[str]] = {}
    for token_id, code in RiskFlag.objects.filter(token_id__in=token_ids, active=True, code__in=blocking).values_list(
        "token_id", "code"
    ):
        found.setdefault(token_id, set()).add(code)
    for token_id, codes in TokenRating.objects.filter(token_id__in=token_ids).values_list("token_id", "risk_flags"):
        hit = blocking & set(codes or [])
        if hit:
            found.setdefault(token_id, set()).update(hit)
    return found


def moonshot_candidates(*, chain_id: int) -> tuple[list[Candidate], dict[int, list[str]]]:
    """Every rated token under the market-cap ceiling, deep enough and without a blocking flag,
    scored; best first. Also returns the tokens kept out by a risk flag."""
    ratings = list(
        TokenRating.objects.filter(
            token__chain_id=chain_id,
            token__quote_kind="",
            token__price_usd__gt=0,
            market_cap_usd__isnull=False,
            market_cap_usd__lte=settings.MOONSHOT_MAX_MARKET_CAP_USD,
            liquidity_usd__gte=settings.MOONSHOT_MIN_LIQUIDITY_USD,
        ).select_related("token")
    )
    ids = [r.token_id for r in ratings]
    blocked = _blocking_codes(ids)
    points: dict[int, dict[str, float | None]] = {}
    for token_id, name, value in DataPointValue.objects.filter(
        token_id__in=ids, interval=GradeInterval.HOUR, name__in=DATA_POINTS
    ).values_list("token_id", "name", "value"):
        points.setdefault(token_id, {})[name] = value
    candidates = []
    for rating in ratings:
        # Below the exit threshold a pick would be closed by the next scan: never enter it.
        if rating.token_id in blocked or rating.trader_grade < settings.MOONSHOT_EXIT_GRADE_BELOW:
            continue
        score, reasons, parts = moonshot_score(rating=rating, points=points.get(rating.token_id, {}))
        candidates.append(Candidate(rating.token, rating, score, reasons, parts))
    candidates.sort(key=lambda c: (-c.score, c.token.id))
    return candidates, {k: sorted(v) for k, v in blocked.items()}


@transaction.atomic
def moonshot_open(*, candidate: Candidate, model: MoonshotModel, entered_at: datetime) -> Moonshot | None:
    """Store a pick at the token's current indexed price; None if the token already has an open pick."""
    token = candidate.token
    if not token.price_usd or token.price_usd <= 0:
        raise ValidationError(NO_PRICE.format(token_id=token.id))
    if Moonshot.objects.filter(token=token, exited_at__isnull=True).exists():
        return None
    try:
        with transaction.atomic():  # the partial unique index settles a race between two scans
            return Moonshot.objects.create(
                token=token,
                chain_id=token.chain_id,
                entered_at=entered_at,
                entry_price_usd=token.price_usd,
                entry_market_cap_usd=candidate.rating.market_cap_usd or 0.0,
                entry_trader_grade=candidate.rating.trader_grade,
                score=round(candidate.score, 3),
                model_version=model.version,
                model_parameters={**model.parameters, "components": candidate.components},
                reasons=candidate.reasons,
                exit_grade_below=settings.MOONSHOT_EXIT_GRADE_BELOW,
                stop_loss_pct=settings.MOONSHOT_STOP_LOSS_PCT,
                take_profit_pct=settings.MOONSHOT_TAKE_PROFIT_PCT,
                max_holding_hours=settings.MOONSHOT_MAX_HOLDING_HOURS,
            )
    except IntegrityError:
        return None


def roi_pct(*, entry_price_usd: float, price_usd: float | None) -> float | None:
    """Percent change from entry to ``price_usd`` (None without a price)."""
    if price_usd is None:
        return None
    return (price_usd / entry_price_usd - 1.0) * 100.0


def moonshot_exit_reason(
    *, pick: Moonshot, price_usd: float | None, trader_grade: float | None, blocking: set[str], now: datetime
) -> str:
    """The exit rule a pick meets now ("" if none), checked in a fixed order: an unsafe token
    first, then stop-loss, take-profit, grade drop, and holding time."""
    roi = roi_pct(entry_price_usd=pick.entry_price_usd, price_usd=price_usd)
    if blocking:
        return Moonshot.ExitReason.RISK_FLAG
    if roi is not None and roi <= -pick.stop_loss_pct:
        return Moonshot.ExitReason.STOP_LOSS
    if roi is not None and roi >= pick.take_profit_pct:
        return Moonshot.ExitReason.TAKE_PROFIT
    if trader_grade is not None and trader_grade < pick.exit_grade_below:
        return Moonshot.ExitReason.GRADE_DROP
    if now - pick.entered_at >= timedelta(hours=pick.max_holding_hours):
        return Moonshot.ExitReason.MAX_HOLDING
    return ""


@transaction.atomic
def moonshot_close(*, pick: Moonshot, exited_at: datetime, exit_price_usd: float, exit_reason: str) -> Moonshot:
    """Fill a pick's exit, once: a conditional update, so a second closer changes nothing."""
    if exited_at < pick.entered_at:
        raise ValidationError(EXIT_BEFORE_ENTRY.format(exited_at=exited_at, entered_at=pick.entered_at))
    moved = Moonshot.objects.filter(pk=pick.pk, exited_at__isnull=True).update(
        exited_at=exited_at, exit_price_usd=exit_price_usd, exit_reason=exit_reason
    )
    if moved != 1:
        raise ValidationError(PICK_IMMUTABLE.format(pick_id=pick.pk))
    pick.refresh_from_db()
    return pick


def moonshots_exit_check(*, chain_id: int, now: datetime | None = None) -> list[Moonshot]:
    """Close every open pick that meets an exit rule, at the token's current indexed price."""
    now = now or market_now(chain_id=chain_id)
    open_picks = list(Moonshot.objects.filter(chain_id=chain_id, exited_at__isnull=True).select_related("token"))
    blocked = _blocking_codes([p.token_id for p in open_picks])
    grades = dict(
        TokenRating.objects.filter(token_id__in=[p.token_id for p in open_picks]).values_list(
            "token_id", "trader_grade"
        )
    )
    closed = []
    for pick in open_picks:
        price = pick.token.price_usd
        reason = moonshot_exit_reason(
            pick=pick,
            price_usd=price,
            trader_grade=grades.get(pick.token_id),
            blocking=blocked.get(pick.token_id, set()),
            now=now,
        )
        if reason and price is not None:
            closed.append(
                moonshot_close(pick=pick, exited_at=max(now, pick.entered_at), exit_price_usd=price, exit_reason=reason)
            )
    return closed


def moonshots_scan(*, chain_id: int, rpc: RpcClient | None = None, now: datetime | None = None) -> ScanRun:
    """Close picks that meet an exit rule, then pick the best-scoring new candidates.

    With ``rpc`` each candidate about to be picked also gets a fresh bytecode and simulated-sell
    check, so a honeypot the scheduled risk check has not reached yet is still kept out.
    Running twice at the same market time picks nothing new (one open pick per token).
    """
    now = now or market_now(chain_id=chain_id)
    run = ScanRun(chain_id=chain_id, market_time=now)
    run.exited = moonshots_exit_check(chain_id=chain_id, now=now)
    model = moonshot_model_ensure()
    candidates, run.blocked = moonshot_candidates(chain_id=chain_id)
    run.scored = len(candidates)
    blocking = set(settings.MOONSHOT_BLOCKING_RISK_FLAGS)
    just_closed = {p.token_id for p in run.exited}  # no re-entry in the scan that closed the pick
    for candidate in candidates:
        if candidate.token.id in just_closed:
            continue
        if len(run.picked) >= settings.MOONSHOT_MAX_PICKS_PER_SCAN or candidate.score < settings.MOONSHOT_MIN_SCORE:
            break
        if rpc is not None:
            fresh = {f.code for f in chain_risk_check(token=candidate.token, rpc=rpc)} & blocking
            if fresh:
                run.blocked[candidate.token.id] = sorted(fresh)
                continue
        pick = moonshot_open(candidate=candidate, model=model, entered_at=now)
        if pick is not None:
            run.picked.append(pick)
    logger.info(
        "chain %s: moonshot scan at %s scored %s tokens, picked %s, closed %s, kept out %s",
        chain_id,
        now,
        run.scored,
        [p.token_id for p in run.picked],
        [p.token_id for p in run.exited],
        run.blocked,
    )
    moonshot_scan_record(chain_id=chain_id, picked=len(run.picked), exited=len(run.exited), scored=run.scored)
    return run
