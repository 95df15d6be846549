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
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from market.models import Token, Transfer
from market.rpc import RpcClient
from monitoring.services import moonshot_scan_record
from moonshots.models import Moonshot, MoonshotModel, MoonshotScan
from ratings.datapoints import MarketPanel, data_points_compute
from ratings.market_data import market_panel_load, market_time_range
from ratings.models import DataPointValue, GradeInterval, GradeModel, RiskFlag, TokenRating
from ratings.services import CHAIN_RISK_CODES, chain_risk_check, data_risk_findings, grades_compute, social_source

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
    price_usd: float | None = None  # entry price; None: the token's latest indexed price


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
def moonshot_open(
    *, candidate: Candidate, model: MoonshotModel, entered_at: datetime, replayed: bool = False
) -> Moonshot | None:
    """Store a pick at the candidate's price (by default the token's current indexed price);
    None if the token already has an open pick."""
    token = candidate.token
    price = candidate.price_usd if candidate.price_usd is not None else token.price_usd
    if not price or price <= 0:
        raise ValidationError(NO_PRICE.format(token_id=token.id))
    if Moonshot.objects.filter(token=token, exited_at__isnull=True).exists():
        return None
    try:
        with transaction.atomic():  # the partial unique index settles a race between two scans
            return Moonshot.objects.create(
                token=token,
                chain_id=token.chain_id,
                entered_at=entered_at,
                entry_price_usd=price,
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
                replayed=replayed,
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


def _picks_close(
    *,
    picks: list[Moonshot],
    prices: dict[int, float | None],
    grades: dict[int, float],
    blocked: dict[int, set[str]],
    now: datetime,
) -> list[Moonshot]:
    """Close each pick that meets an exit rule at ``now``, at its token's price then."""
    closed = []
    for pick in picks:
        price = prices.get(pick.token_id)
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


def moonshots_exit_check(*, chain_id: int, now: datetime | None = None) -> list[Moonshot]:
    """Close every open pick that meets an exit rule, at the token's current indexed price."""
    now = now or market_now(chain_id=chain_id)
    open_picks = list(Moonshot.objects.filter(chain_id=chain_id, exited_at__isnull=True).select_related("token"))
    grades = dict(
        TokenRating.objects.filter(token_id__in=[p.token_id for p in open_picks]).values_list(
            "token_id", "trader_grade"
        )
    )
    return _picks_close(
        picks=open_picks,
        prices={p.token_id: p.token.price_usd for p in open_picks},
        grades=grades,
        blocked=_blocking_codes([p.token_id for p in open_picks]),
        now=now,
    )


def _picks_make(
    *,
    run: ScanRun,
    candidates: list[Candidate],
    model: MoonshotModel,
    now: datetime,
    rpc: RpcClient | None = None,
    replayed: bool = False,
) -> None:
    """Open picks for the best candidates (best first) until the per-scan cap or the score floor."""
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
        pick = moonshot_open(candidate=candidate, model=model, entered_at=now, replayed=replayed)
        if pick is not None:
            run.picked.append(pick)


def _scan_log(run: ScanRun, *, model: MoonshotModel, replayed: bool) -> MoonshotScan:
    assert run.market_time is not None  # a scan always judges a market time
    return MoonshotScan(
        chain_id=run.chain_id,
        market_time=run.market_time,
        replayed=replayed,
        model_version=model.version,
        scored=run.scored,
        picked=len(run.picked),
        closed=len(run.exited),
    )


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
    _picks_make(run=run, candidates=candidates, model=model, now=now, rpc=rpc)
    _scan_log(run, model=model, replayed=False).save()
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


# --- point-in-time replay of history -----------------------------------------------------------

HOUR = timedelta(hours=1)
REPLAY_WARMUP = timedelta(days=1)  # the first step needs a day of history (24h changes)


@dataclass
class ReplayRun:
    chain_id: int
    first_step: datetime | None = None  # market time of the first and last step
    last_step: datetime | None = None
    steps: int = 0
    picked: list[Moonshot] = field(default_factory=list)
    exited: list[Moonshot] = field(default_factory=list)
    seconds: float = 0.0


def moonshot_scan_log_reset(*, chain_id: int) -> None:
    """Forget the scan log of a chain that was replaced by a new one under the same id (its
    picks went with its tokens), so the new chain's history can be replayed."""
    MoonshotScan.objects.filter(chain_id=chain_id).delete()


def replay_cursor(*, chain_id: int) -> datetime | None:
    """The latest market time the chain's record already covers: its latest scan, entry or exit.

    A replay only steps after it, so the record only ever grows forward in market time and no
    pick is back-dated into a period a scan already judged.
    """
    scans = MoonshotScan.objects.filter(chain_id=chain_id).aggregate(latest=Max("market_time"))["latest"]
    picks = Moonshot.objects.filter(chain_id=chain_id).aggregate(entered=Max("entered_at"), exited=Max("exited_at"))
    known = [t for t in (scans, picks["entered"], picks["exited"]) if t is not None]
    return max(known) if known else None


def _as_datetime(value: np.datetime64) -> datetime:
    return datetime.fromtimestamp(int(value.astype("datetime64[s]").astype(np.int64)), tz=UTC)


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def supply_by_row(panel: MarketPanel) -> np.ndarray:
    """(T, N) whole-token supply at the end of each panel row: today's supply less what was
    minted, plus what was burnt, after that row (mints and burns are zero-address transfers)."""
    t, n = len(panel.times), len(panel.token_ids)
    col_of = {int(token_id): i for i, token_id in enumerate(panel.token_ids)}
    scale = {
        token_id: 10 ** (18 if decimals is None else decimals)
        for token_id, decimals in Token.objects.filter(id__in=col_of).values_list("id", "decimals")
    }
    start = _as_datetime(panel.times[0])
    changes = np.zeros((t + 1, n))  # row t collects what happened after the grid
    for token_id, stamp, kind, value in Transfer.objects.filter(
        token_id__in=col_of, kind__in=(Transfer.Kind.MINT, Transfer.Kind.BURN), timestamp__gte=start
    ).values_list("token_id", "timestamp", "kind", "value"):
        row = min(int((stamp - start) // HOUR), t)
        amount = int(value) / scale[token_id]
        changes[row, col_of[token_id]] += amount if kind == Transfer.Kind.MINT else -amount
    after = np.cumsum(changes[::-1], axis=0)[::-1]  # after[j]: changes in rows j and later
    return panel.supply[np.newaxis, :] - after[1:]


def moonshots_replay(
    *, chain_id: int, since: datetime | None = None, until: datetime | None = None, step_hours: int = 1
) -> ReplayRun:
    """Scan the chain's indexed history as hourly scans would have, one step per ``step_hours``.

    Point-in-time by construction: the market panel is loaded only up to the last replayed
    hour, and the step at the end of hour ``h`` reads row ``h`` of it, which trailing windows
    build from rows up to ``h`` only. A step closes open picks meeting an exit rule and picks
    new candidates exactly as ``moonshots_scan`` does, at the close of hour ``h`` (the indexed
    price at that moment); market cap uses the supply then (mints and burns replayed). The
    Trader Grade is the rule grade recomputed from those data points, capped as the ratings
    are by high-severity risk findings of that hour: a trained model's stored grades are not
    used, since a model trained on this history has seen the hours it would be grading.
    Exit-blocking flags are those found in the hour's data (pulled liquidity) plus the stored
    contract checks (honeypot), which are properties of the token's code from deployment on.

    Steps run from ``since`` (default: a day after the first candle) up to the last complete
    hour (or ``until``), and only after ``replay_cursor``: running it again adds nothing for
    hours already covered, and hours a live scan covered are never replayed.
    """
    started = time.perf_counter()
    run = ReplayRun(chain_id)
    span = market_time_range(chain_id=chain_id)
    if span is None:
        return run
    first, last = span  # hour starts; the last hour may still be filling, so it is left to a live scan
    lower = max(first + REPLAY_WARMUP, since or first)
    cursor = replay_cursor(chain_id=chain_id)
    upper = min(last, until) if until is not None else last  # step times are hour ends
    if upper < lower or (cursor is not None and upper <= cursor):
        return run
    last_row_start = upper.replace(minute=0, second=0, microsecond=0) - HOUR
    load_from = max(first, (lower - HOUR - timedelta(days=32)).replace(hour=0, minute=0, second=0, microsecond=0))
    panel = market_panel_load(
        chain_id=chain_id, since=load_from, until=last_row_start, social=social_source(chain_id=chain_id)
    )
    if panel is None:
        return run
    ends = panel.times + np.timedelta64(3600, "s")
    first_end = np.datetime64(lower.replace(tzinfo=None), "us")
    if cursor is not None:  # strictly after: the cursor's own hour was judged already
        first_end = max(first_end, np.datetime64(cursor.replace(tzinfo=None), "us") + np.timedelta64(1, "us"))
    eligible = np.flatnonzero(ends.astype("datetime64[us]") >= first_end)
    if not len(eligible):
        return run
    step_rows = eligible[:: max(1, step_hours)]
    value_rows = np.arange(max(0, int(step_rows[0]) - 24), len(panel.times))
    values = data_points_compute(panel, value_rows)
    grades = grades_compute(chain_id=None, values=values, horizon=GradeModel.Horizon.TRADER).grades  # (K, N)
    supply = supply_by_row(panel)
    token_ids = [int(t) for t in panel.token_ids]
    tokens = Token.objects.in_bulk(token_ids)
    blocking = set(settings.MOONSHOT_BLOCKING_RISK_FLAGS)
    contract_flags: dict[int, list[tuple[str, str]]] = {}
    for token_id, code, severity in RiskFlag.objects.filter(
        token_id__in=token_ids, active=True, code__in=CHAIN_RISK_CODES
    ).values_list("token_id", "code", "severity"):
        contract_flags.setdefault(token_id, []).append((code, severity))
    # Blocking codes and grade caps of every row, from that row's data and the contract checks.
    blocked_rows: list[dict[int, set[str]]] = []
    for k in range(len(value_rows)):
        found = data_risk_findings(values={name: v[k] for name, v in values.items()})
        blocked_k: dict[int, set[str]] = {}
        for i, token_id in enumerate(token_ids):
            flags = [(f.code, f.severity) for f in found.get(i, [])] + contract_flags.get(token_id, [])
            if any(severity == "high" for _, severity in flags):
                grades[k, i] = min(grades[k, i], settings.RATINGS_RISK_GRADE_CAP)
            codes = {code for code, _ in flags} & blocking
            if codes:
                blocked_k[token_id] = codes
        blocked_rows.append(blocked_k)

    model = moonshot_model_ensure()
    still_open = Moonshot.objects.filter(chain_id=chain_id, exited_at__isnull=True).select_related("token")
    open_picks = {p.token_id: p for p in still_open}
    close, offset = panel.series["close"], int(value_rows[0])
    scans = []
    with transaction.atomic():
        for r in step_rows.tolist():
            k = r - offset
            now = _as_datetime(ends[r])
            step = ScanRun(chain_id=chain_id, market_time=now)
            prices = {token_id: _finite_or_none(close[r, i]) for i, token_id in enumerate(token_ids)}
            step.exited = _picks_close(
                picks=list(open_picks.values()),
                prices=prices,
                grades={token_id: float(grades[k, i]) for i, token_id in enumerate(token_ids)},
                blocked=blocked_rows[k],
                now=now,
            )
            for pick in step.exited:
                open_picks.pop(pick.token_id, None)
            candidates = []
            for i, token_id in enumerate(token_ids):
                price, liquidity = prices[token_id], float(np.nan_to_num(values["liquidity_usd"][k, i]))
                if token_id in open_picks or price is None or price <= 0 or supply[r, i] <= 0:
                    continue
                market_cap = price * supply[r, i]
                if market_cap > settings.MOONSHOT_MAX_MARKET_CAP_USD or liquidity < settings.MOONSHOT_MIN_LIQUIDITY_USD:
                    continue
                if token_id in blocked_rows[k]:
                    step.blocked[token_id] = sorted(blocked_rows[k][token_id])
                    continue
                grade = float(grades[k, i])
                if grade < settings.MOONSHOT_EXIT_GRADE_BELOW:
                    continue
                rating = TokenRating(
                    token=tokens[token_id],
                    trader_grade=grade,
                    trader_grade_change_24h=_finite_or_none(grade - grades[k - 24, i]) if k >= 24 else None,
                    liquidity_usd=liquidity,
                    market_cap_usd=market_cap,
                )
                points = {name: _finite_or_none(values[name][k, i]) for name in DATA_POINTS}
                score, reasons, parts = moonshot_score(rating=rating, points=points)
                candidates.append(Candidate(tokens[token_id], rating, score, reasons, parts, price_usd=price))
            candidates.sort(key=lambda c: (-c.score, c.token.id))
            step.scored = len(candidates)
            _picks_make(run=step, candidates=candidates, model=model, now=now, replayed=True)
            open_picks.update({pick.token_id: pick for pick in step.picked})
            run.picked += step.picked
            run.exited += step.exited
            scans.append(_scan_log(step, model=model, replayed=True))
        MoonshotScan.objects.bulk_create(scans, batch_size=1000)
    run.steps = len(scans)
    run.first_step, run.last_step = scans[0].market_time, scans[-1].market_time
    run.seconds = time.perf_counter() - started
    logger.info(
        "chain %s: replayed %s moonshot scans %s..%s in %.1fs: %s picks, %s closed",
        chain_id,
        run.steps,
        run.first_step,
        run.last_step,
        run.seconds,
        len(run.picked),
        len(run.exited),
    )
    return run
