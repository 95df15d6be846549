from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The site's user. Custom from the first migration so e-mail and wallet sign-in can
    grow here without a user-model swap later."""

    email = models.EmailField("e-mail address", blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            # Two accounts must never share an e-mail, or e-mail sign-in is ambiguous.
            models.UniqueConstraint(
                models.functions.Lower("email"),
                condition=~models.Q(email=""),
                name="user_email_unique_ci",
            ),
        ]


ADDRESS_LENGTH = 42


class LinkedWallet(models.Model):
    """An Ethereum account proven to belong to a user by a Sign-In With Ethereum signature.

    One address belongs to one user (on every chain: an EOA's key is the same everywhere);
    signing in with a linked address signs in as its user.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="wallets")
    address = models.CharField(max_length=ADDRESS_LENGTH, help_text="EIP-55 checksummed")
    chain_id = models.PositiveIntegerField(help_text="chain named in the signed message that linked it")
    linked_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["address"], name="wallet_one_owner_per_address")]
        indexes = [models.Index(fields=["user", "linked_at"], name="wallet_user_linked")]  # account page list

    def __str__(self) -> str:
        return self.address


class SiweNonce(models.Model):
    """A one-time nonce handed out for an EIP-4361 message.

    ``used_at`` is set by a conditional UPDATE when a signature is accepted, so a replayed
    message (same nonce) is refused even by a second worker racing the first.
    """

    nonce = models.CharField(max_length=64)
    session_key = models.CharField(max_length=64, blank=True, help_text="session that asked for it")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["nonce"], name="siwe_nonce_unique")]
        indexes = [models.Index(fields=["expires_at"], name="siwe_nonce_expiry")]  # purge of stale nonces

    def __str__(self) -> str:
        return self.nonce


class Watchlist(models.Model):
    """A user's list of tokens. Private: only its owner may see or change it."""

    DEFAULT_NAME = "My watchlist"

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="watchlists")
    name = models.CharField(max_length=80, default=DEFAULT_NAME)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="watchlist_name_per_owner")]

    def __str__(self) -> str:
        return f"{self.name} ({self.owner})"


class WatchlistItem(models.Model):
    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="items")
    token = models.ForeignKey("market.Token", on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["watchlist", "token"], name="watchlist_token_once")]

    def __str__(self) -> str:
        return f"{self.token_id} in {self.watchlist_id}"


class TokenFundamentals(models.Model):
    """Editorial content about a token: description, links and tokenomics notes.

    Written by people, not derived from the chain, so it is kept with the other user-facing
    content in this app rather than in ``market`` (indexed data) or ``ratings`` (model output).
    Edited in the Django admin; the token page shows it with its ``updated_at``.
    """

    token = models.OneToOneField("market.Token", on_delete=models.CASCADE, related_name="fundamentals")
    description = models.TextField(blank=True)
    website = models.URLField(blank=True)
    twitter = models.URLField(blank=True)
    docs = models.URLField("documentation", blank=True)
    tokenomics = models.TextField(blank=True, help_text="supply schedule, allocations, vesting")
    notes = models.TextField(blank=True, help_text="editor's notes shown on the token page")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "token fundamentals"

    def __str__(self) -> str:
        return f"fundamentals of token {self.token_id}"
