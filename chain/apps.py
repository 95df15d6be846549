"""Django app config for the local-chain tooling."""

from django.apps import AppConfig


class ChainConfig(AppConfig):
    """Registers ``chain`` so its management commands and models (if any) are found."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "chain"
    verbose_name = "Local chain"
