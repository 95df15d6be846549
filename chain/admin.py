"""Read-only admin for the deployment registry: rows come from deploy code, not people."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from chain.models import Deployment


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "chain_id", "address", "block_number", "created_at"]
    list_filter = ["chain_id", "kind"]
    search_fields = ["name", "address"]
    ordering = ["chain_id", "kind", "name"]
    readonly_fields = ["chain_id", "name", "kind", "address", "block_number", "metadata", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
