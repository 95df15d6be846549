"""Admin: picks are the model's record, so everything is read-only except the editor's note."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from moonshots.models import Moonshot, MoonshotModel, MoonshotScan


@admin.register(Moonshot)
class MoonshotAdmin(admin.ModelAdmin):
    list_display = (
        "token",
        "entered_at",
        "entry_price_usd",
        "score",
        "model_version",
        "exited_at",
        "exit_reason",
        "replayed",
    )
    list_filter = ("model_version", "exit_reason", "replayed")
    search_fields = ("token__symbol", "token__address")
    list_select_related = ("token",)
    fields = (
        "token",
        "chain_id",
        "entered_at",
        "entry_price_usd",
        "entry_market_cap_usd",
        "entry_trader_grade",
        "score",
        "model_version",
        "model_parameters",
        "reasons",
        "exit_grade_below",
        "stop_loss_pct",
        "take_profit_pct",
        "max_holding_hours",
        "exited_at",
        "exit_price_usd",
        "exit_reason",
        "replayed",
        "created_at",
        "note",
    )
    readonly_fields = tuple(f for f in fields if f != "note")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MoonshotModel)
class MoonshotModelAdmin(admin.ModelAdmin):
    list_display = ("version", "active", "created_at")
    readonly_fields = ("version", "parameters", "active", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MoonshotScan)
class MoonshotScanAdmin(admin.ModelAdmin):
    """The scan log is written by scans only."""

    list_display = ("chain_id", "market_time", "replayed", "model_version", "scored", "picked", "closed", "created_at")
    list_filter = ("chain_id", "replayed", "model_version")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
