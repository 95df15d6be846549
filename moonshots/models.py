"""Moonshots: model-flagged low-cap picks, each with its entry, exit rules and exit.

A pick is a record of what the model said at a moment, so it is written once and never
edited: the scan creates it, and the exit check fills the three exit fields together, once.
Only ``note`` (an editor's remark) may change afterwards. Prices are USD per whole token
(``market.Token.price_usd`` when the pick was made or closed); ROI is in percent.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class MoonshotModel(models.Model):
    """Registry of moonshot scorer versions: one row per version with its parameters.

    A separate table rather than ``ratings.GradeModel`` with a kind: a grade model row is a
    trained artifact (train and hold-out windows, sha256, metrics) and every one of those
    columns would be empty for a rule-based scorer, while the scorer's own parameters (weights,
    scales, gates) have no home there. Each pick also copies the parameters it was made with,
    so a pick stays explainable even if this row's version is later retired.
    """

    version = models.CharField(max_length=64, unique=True)
    parameters = models.JSONField(help_text="weights, scales and gates of the scorer")
    active = models.BooleanField(default=True, help_text="the version new scans use")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="moonshotmodel_one_active")
        ]

    def __str__(self) -> str:
        return self.version


class Moonshot(models.Model):
    class ExitReason(models.TextChoices):
        GRADE_DROP = "grade_drop", "Trader Grade fell below the exit threshold"
        STOP_LOSS = "stop_loss", "stop-loss hit"
        TAKE_PROFIT = "take_profit", "take-profit hit"
        MAX_HOLDING = "max_holding", "maximum holding time reached"
        RISK_FLAG = "risk_flag", "an exit-blocking risk flag appeared"

    token = models.ForeignKey("market.Token", on_delete=models.CASCADE, related_name="moonshots")
    chain_id = models.PositiveIntegerField()
    entered_at = models.DateTimeField(help_text="market time (latest indexed block time) of the pick")
    entry_price_usd = models.FloatField(help_text="USD per whole token at entry")
    entry_market_cap_usd = models.FloatField(help_text="USD, fully diluted, at entry")
    entry_trader_grade = models.FloatField(help_text="0-100 at entry")
    score = models.FloatField(help_text="moonshot score 0-100 at entry")
    model_version = models.CharField(max_length=64, help_text="a MoonshotModel.version")
    model_parameters = models.JSONField(help_text="the scorer's parameters when the pick was made")
    reasons = models.JSONField(help_text="top contributing data points, in words, largest first")
    # Exit rules, copied from settings at entry so a later settings change never rewrites a pick.
    exit_grade_below = models.FloatField(help_text="Trader Grade (0-100) below which the pick exits")
    stop_loss_pct = models.FloatField(help_text="percent loss from entry that exits")
    take_profit_pct = models.FloatField(help_text="percent gain from entry that exits")
    max_holding_hours = models.FloatField(help_text="hours after entry the pick exits at the latest")
    exited_at = models.DateTimeField(null=True, blank=True, help_text="market time of the exit")
    exit_price_usd = models.FloatField(null=True, blank=True, help_text="USD per whole token at exit")
    exit_reason = models.CharField(max_length=16, choices=ExitReason.choices, blank=True)
    replayed = models.BooleanField(
        default=False,
        help_text="made by a point-in-time replay of indexed history (data up to its entry hour only), not a live scan",
    )
    note = models.TextField(blank=True, help_text="editor's remark; the only field editable after creation")
    created_at = models.DateTimeField(auto_now_add=True, help_text="wall-clock time the scan stored the pick")

    class Meta:
        constraints = [
            # One open pick per token (the scan's rule, enforced again by the database).
            models.UniqueConstraint(fields=["token"], condition=Q(exited_at__isnull=True), name="moonshot_one_open"),
            models.CheckConstraint(
                condition=(Q(exited_at__isnull=True, exit_price_usd__isnull=True, exit_reason=""))
                | (Q(exited_at__isnull=False, exit_price_usd__isnull=False) & ~Q(exit_reason="")),
                name="moonshot_exit_fields_together",
            ),
            models.CheckConstraint(
                condition=Q(exited_at__isnull=True) | Q(exited_at__gte=F("entered_at")),
                name="moonshot_exit_after_entry",
            ),
            models.CheckConstraint(condition=Q(entry_price_usd__gt=0), name="moonshot_entry_price_positive"),
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=100), name="moonshot_score_0_100"),
        ]
        indexes = [
            models.Index(fields=["chain_id", "-entered_at"], name="moonshot_recent"),  # Moonshots tab, open picks
            models.Index(fields=["chain_id", "-exited_at"], name="moonshot_closed"),  # past picks, track record
        ]

    def __str__(self) -> str:
        return f"moonshot {self.token_id} at {self.entered_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.exited_at is None


class MoonshotScan(models.Model):
    """One scan at one market time: the log that says the model looked and what it did.

    A replay of history only steps after the chain's latest scan, so picks are only ever added
    at market times after everything already recorded: nothing is back-dated into a period a
    live scan already covered.
    """

    chain_id = models.PositiveIntegerField()
    market_time = models.DateTimeField(help_text="market time judged: block time, or an hour's end in a replay")
    replayed = models.BooleanField(default=False, help_text="a step of a point-in-time replay of history")
    model_version = models.CharField(max_length=64)
    scored = models.PositiveIntegerField(help_text="tokens that passed the gates and were scored")
    picked = models.PositiveIntegerField()
    closed = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["chain_id", "-market_time"], name="moonshotscan_recent")]  # replay cursor

    def __str__(self) -> str:
        return f"scan of chain {self.chain_id} at {self.market_time:%Y-%m-%d %H:%M}"
