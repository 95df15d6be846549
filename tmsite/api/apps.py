from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_delete, post_save


class PublicApiConfig(AppConfig):
    name = "tmsite.api"
    label = "publicapi"
    verbose_name = "Public API"

    def ready(self) -> None:
        # A revoked, expired or deleted key, or a deactivated owner, must stop working at once,
        # also on the cached path that checks keys without the database (tmsite.api.hot).
        post_save.connect(_forget_key, sender="publicapi.ApiKey", dispatch_uid="api-key-forget-saved")
        post_delete.connect(_forget_key, sender="publicapi.ApiKey", dispatch_uid="api-key-forget-deleted")
        post_save.connect(_forget_owner_keys, sender=settings.AUTH_USER_MODEL, dispatch_uid="api-key-forget-owner")


def _forget_key(sender: Any, instance: Any, **kwargs: Any) -> None:
    from tmsite.api.auth import key_entries_forget

    key_entries_forget([instance.prefix])


def _forget_owner_keys(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A remembered key holds a copy of its owner: any change to the owner forgets it."""
    from tmsite.api.auth import key_entries_forget
    from tmsite.api.models import ApiKey

    prefixes = list(ApiKey.objects.filter(owner_id=instance.pk).values_list("prefix", flat=True))
    if prefixes:
        key_entries_forget(prefixes)
