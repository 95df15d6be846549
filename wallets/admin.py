from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from wallets.models import LinkedWallet, SiweNonce, TokenFundamentals, User, Watchlist, WatchlistItem


class LinkedWalletInline(admin.TabularInline):
    model = LinkedWallet
    extra = 0
    readonly_fields = ("address", "chain_id", "linked_at", "last_sign_in_at")


@admin.register(User)
class SiteUserAdmin(UserAdmin):
    inlines = (LinkedWalletInline,)
    search_fields = ("username", "email", "first_name", "last_name", "wallets__address")
    list_filter = ("is_staff", "is_superuser", "is_active", "date_joined")


@admin.register(LinkedWallet)
class LinkedWalletAdmin(admin.ModelAdmin):
    list_display = ("address", "user", "chain_id", "linked_at", "last_sign_in_at")
    search_fields = ("address", "user__username", "user__email")
    list_filter = ("chain_id", "linked_at")
    raw_id_fields = ("user",)


class WatchlistItemInline(admin.TabularInline):
    model = WatchlistItem
    extra = 0
    raw_id_fields = ("token",)


@admin.register(Watchlist)
class WatchlistAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "created_at")
    search_fields = ("name", "owner__username", "owner__email", "items__token__symbol")
    list_filter = ("created_at",)
    raw_id_fields = ("owner",)
    inlines = (WatchlistItemInline,)


@admin.register(TokenFundamentals)
class TokenFundamentalsAdmin(admin.ModelAdmin):
    list_display = ("token", "website", "updated_at")
    search_fields = ("token__symbol", "token__name", "token__address", "description")
    list_filter = ("token__chain_id", "updated_at")
    raw_id_fields = ("token",)


@admin.register(SiweNonce)
class SiweNonceAdmin(admin.ModelAdmin):
    list_display = ("nonce", "issued_at", "expires_at", "used_at")
    list_filter = ("used_at", "issued_at")
    search_fields = ("nonce",)
