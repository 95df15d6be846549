"""Writes behind the public API: API keys and watchlists."""

from __future__ import annotations

from typing import cast

from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from market.models import Token
from tmsite.api.models import ApiKey
from wallets.models import User, Watchlist, WatchlistItem

WATCHLIST_NAME_TAKEN = "you already have a watchlist named {name!r}"
API_KEYS_MAX = 20  # live keys per user


def api_key_create(*, user: User, name: str, plan: str = ApiKey.Plan.FREE) -> tuple[ApiKey, str]:
    """A new key; the clear key is returned once and never stored (only its hash is)."""
    if ApiKey.objects.filter(owner=user, revoked=False).count() >= API_KEYS_MAX:
        raise ValidationError({"name": [f"at most {API_KEYS_MAX} live keys; revoke one first"]})
    key, secret = ApiKey.objects.create_key(owner=user, name=name, plan=plan)
    return cast(ApiKey, key), secret


def api_key_revoke(*, key: ApiKey) -> None:
    if not key.revoked:
        key.revoked = True
        key.save(update_fields=["revoked"])


@transaction.atomic
def watchlist_create(*, user: User, name: str) -> Watchlist:
    try:
        with transaction.atomic():
            return Watchlist.objects.create(owner=user, name=name)
    except IntegrityError:
        raise ValidationError({"name": [WATCHLIST_NAME_TAKEN.format(name=name)]}) from None


@transaction.atomic
def watchlist_rename(*, watchlist: Watchlist, name: str) -> Watchlist:
    if Watchlist.objects.filter(owner_id=watchlist.owner_id, name=name).exclude(pk=watchlist.pk).exists():
        raise ValidationError({"name": [WATCHLIST_NAME_TAKEN.format(name=name)]})
    watchlist.name = name
    watchlist.save(update_fields=["name"])
    return watchlist


def watchlist_delete(*, watchlist: Watchlist) -> None:
    watchlist.delete()


def watchlist_item_add(*, watchlist: Watchlist, token: Token) -> WatchlistItem:
    item, _ = WatchlistItem.objects.get_or_create(watchlist=watchlist, token=token)
    return item


def watchlist_item_remove(*, watchlist: Watchlist, token: Token) -> None:
    WatchlistItem.objects.filter(watchlist=watchlist, token=token).delete()
