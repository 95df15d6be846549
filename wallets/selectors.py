"""Reads of accounts, wallets, watchlists and token fundamentals. Selectors never write."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from market.models import Token
from wallets.models import LinkedWallet, TokenFundamentals, User, Watchlist, WatchlistItem


def watchlist_default(*, user: User) -> Watchlist | None:
    """The user's first watchlist (the one the ratings table's star buttons fill), if any."""
    if not user.is_authenticated:
        return None
    return Watchlist.objects.filter(owner=user).order_by("created_at", "pk").first()


def watchlist_get_for_user(*, watchlist_id: int, user: User) -> Watchlist:
    """Fetch and authorise in one step: another user's watchlist does not exist for them (404)."""
    if not user.is_authenticated:
        raise Http404("no such watchlist")
    try:
        return Watchlist.objects.get(pk=watchlist_id, owner=user)
    except Watchlist.DoesNotExist:
        raise Http404("no such watchlist") from None


def watchlists_of(*, user: User) -> QuerySet[Watchlist]:
    return Watchlist.objects.filter(owner=user).order_by("created_at", "pk")


def watchlist_token_ids(*, user: User) -> frozenset[int]:
    """Ids of every token on any of the user's watchlists (one query; empty when signed out)."""
    if not user.is_authenticated:
        return frozenset()
    return frozenset(WatchlistItem.objects.filter(watchlist__owner=user).values_list("token_id", flat=True))


def watchlist_items(*, watchlist: Watchlist) -> QuerySet[WatchlistItem]:
    return watchlist.items.select_related("token").order_by("-added_at", "pk")


def user_wallets(*, user: User) -> QuerySet[LinkedWallet]:
    return LinkedWallet.objects.filter(user=user).order_by("linked_at", "pk")


def token_fundamentals(*, token: Token) -> TokenFundamentals | None:
    return TokenFundamentals.objects.filter(token=token).first()
