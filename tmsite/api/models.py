"""API keys: stored hashed (only a short prefix is kept in clear), owned by a user, on a plan."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager


class ApiKeyManager(APIKeyManager):
    def get_usable_keys(self) -> models.QuerySet:
        return super().get_usable_keys().select_related("owner")  # one query per authenticated request


class ApiKey(AbstractAPIKey):
    class Plan(models.TextChoices):
        FREE = "free"
        PRO = "pro"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    plan = models.CharField(max_length=8, choices=Plan.choices, default=Plan.FREE, help_text="sets the rate limit")
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyManager()  # type: ignore[misc]

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        indexes = [models.Index(fields=["owner", "-created"], name="apikey_owner_recent")]  # API keys page
