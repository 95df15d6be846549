"""Account rules: the demo login, watchlists, and Sign-In With Ethereum (EIP-4361)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone
from eth_utils import to_checksum_address
from siwe import SiweMessage, generate_nonce
from siwe.siwe import VerificationError

from market.models import Token
from wallets.models import LinkedWallet, SiweNonce, User, Watchlist, WatchlistItem

WATCHLIST_NOT_YOURS = "watchlist {watchlist_id} does not belong to this user"
SIWE_MALFORMED = "the signed message is not a valid EIP-4361 message"
SIWE_WRONG_DOMAIN = "the message was signed for {domain!r}, not this site"
SIWE_WRONG_URI = "the message names {uri!r}, not this site"
SIWE_WRONG_CHAIN = "chain {chain_id} is not accepted for sign-in"
SIWE_UNKNOWN_NONCE = "the nonce was not issued by this site for this session"
SIWE_EXPIRED = "the sign-in message has expired; ask for a new one"
SIWE_REPLAYED = "this sign-in message was already used"
SIWE_BAD_SIGNATURE = "the signature does not match the message's address"
SIWE_WALLET_TAKEN = "wallet {address} is already linked to another account"
SIWE_STATEMENT = "Sign in to tmsite. This request will not trigger a transaction or cost any gas."


@transaction.atomic
def demo_user_ensure(*, username: str, password: str) -> tuple[User, bool]:
    """Create (or reset) the staff superuser the local demo prints; returns (user, created).

    Idempotent: running ``make run`` twice keeps one demo account with the known password.
    """
    user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    return user, created


# --- Watchlists -------------------------------------------------------------------------


@transaction.atomic
def watchlist_default_ensure(*, user: User) -> Watchlist:
    """The user's first watchlist, created on first use."""
    watchlist = Watchlist.objects.filter(owner=user).order_by("created_at", "pk").first()
    if watchlist is None:
        watchlist = Watchlist.objects.create(owner=user, name=Watchlist.DEFAULT_NAME)
    return watchlist


@transaction.atomic
def watchlist_token_set(*, user: User, token: Token, watched: bool, watchlist: Watchlist | None = None) -> bool:
    """Add the token to (``watched``) or remove it from the user's watchlist; returns ``watched``.

    Without ``watchlist`` the default one is used; removing from the default removes it from
    every list the user owns, so the star button always means "on any of my lists". Safe to
    repeat: adding twice keeps one row.
    """
    if watchlist is not None and watchlist.owner_id != user.pk:
        raise PermissionDenied(WATCHLIST_NOT_YOURS.format(watchlist_id=watchlist.pk))
    if watched:
        target = watchlist or watchlist_default_ensure(user=user)
        WatchlistItem.objects.get_or_create(watchlist=target, token=token)
    elif watchlist is not None:
        WatchlistItem.objects.filter(watchlist=watchlist, token=token).delete()
    else:
        WatchlistItem.objects.filter(watchlist__owner=user, token=token).delete()
    return watched


# --- Sign-In With Ethereum --------------------------------------------------------------


@dataclass(frozen=True)
class SiweChallenge:
    message: str  # the EIP-4361 text the wallet signs with personal_sign
    nonce: str


@transaction.atomic
def siwe_challenge_issue(*, domain: str, uri: str, address: str, chain_id: int, session_key: str) -> SiweChallenge:
    """A fresh EIP-4361 message for ``address`` with a server nonce stored for one use.

    ``domain`` is the host the browser reached (``request.get_host()``), ``uri`` the site's
    origin; both are checked again on verification. The message expires after
    ``SIWE_NONCE_TTL`` seconds.
    """
    if chain_id not in settings.SIWE_CHAIN_IDS:
        raise ValidationError(SIWE_WRONG_CHAIN.format(chain_id=chain_id))
    now = timezone.now().replace(microsecond=0)
    expires = now + timedelta(seconds=settings.SIWE_NONCE_TTL)
    nonce = generate_nonce() + secrets.token_hex(4)  # 11 alphanumerics + 8 hex: well over EIP-4361's 8
    SiweNonce.objects.create(nonce=nonce, session_key=session_key, issued_at=now, expires_at=expires)
    message = SiweMessage(
        domain=domain,
        address=to_checksum_address(address),
        statement=SIWE_STATEMENT,
        uri=uri,
        version="1",
        chain_id=chain_id,
        nonce=nonce,
        issued_at=now.isoformat().replace("+00:00", "Z"),
        expiration_time=expires.isoformat().replace("+00:00", "Z"),
    )
    return SiweChallenge(message=message.prepare_message(), nonce=nonce)


@transaction.atomic
def siwe_sign_in(
    *, message: str, signature: str, domain: str, uri: str, session_key: str, user: User | None
) -> tuple[User, LinkedWallet]:
    """Verify a signed EIP-4361 message and return the account it signs in (or links to).

    Checks, in order: the message parses; domain and URI are this site's; the chain is one
    of ``SIWE_CHAIN_IDS``; the nonce was issued to this session, is unexpired and unused;
    the signature recovers the message's address (EIP-191). The nonce is then spent with a
    conditional UPDATE, so a replay, even a concurrent one, is refused.

    With ``user`` (already signed in) the wallet is linked to that user; otherwise the
    wallet's owner is signed in, and an unknown wallet gets a new account.
    """
    try:
        parsed = SiweMessage.from_message(message=message)
    except (ValueError, TypeError) as error:
        raise ValidationError(SIWE_MALFORMED) from error
    if parsed.domain != domain:
        raise ValidationError(SIWE_WRONG_DOMAIN.format(domain=parsed.domain))
    if str(parsed.uri).rstrip("/") != uri.rstrip("/"):
        raise ValidationError(SIWE_WRONG_URI.format(uri=str(parsed.uri)))
    if parsed.chain_id not in settings.SIWE_CHAIN_IDS:
        raise ValidationError(SIWE_WRONG_CHAIN.format(chain_id=parsed.chain_id))
    stored = SiweNonce.objects.filter(nonce=parsed.nonce).first()
    if stored is None:
        raise ValidationError(SIWE_UNKNOWN_NONCE)
    if stored.used_at is not None:  # checked before the session: signing in rotates the session key
        raise ValidationError(SIWE_REPLAYED)
    if stored.session_key != session_key:
        raise ValidationError(SIWE_UNKNOWN_NONCE)
    now = timezone.now()
    if now >= stored.expires_at:
        raise ValidationError(SIWE_EXPIRED)
    try:
        # siwe checks the signature (EIP-191 recovery) and the message's own expiry/not-before.
        parsed.verify(signature, domain=domain, nonce=stored.nonce, timestamp=now)
    except VerificationError as error:
        if type(error).__name__ == "ExpiredMessage":
            raise ValidationError(SIWE_EXPIRED) from error
        raise ValidationError(SIWE_BAD_SIGNATURE) from error
    spent = SiweNonce.objects.filter(pk=stored.pk, used_at__isnull=True).update(used_at=now)
    if spent != 1:
        raise ValidationError(SIWE_REPLAYED)  # another request won the race with the same message
    address = to_checksum_address(parsed.address)
    wallet = LinkedWallet.objects.select_related("user").filter(address=address).first()
    if wallet is not None:
        if user is not None and wallet.user_id != user.pk:
            raise ValidationError(SIWE_WALLET_TAKEN.format(address=address))
    else:
        owner = user or _wallet_user_create(address=address)
        try:
            with transaction.atomic():
                wallet = LinkedWallet.objects.create(user=owner, address=address, chain_id=parsed.chain_id)
        except IntegrityError as error:
            raise ValidationError(SIWE_WALLET_TAKEN.format(address=address)) from error
    wallet.last_sign_in_at = now
    wallet.save(update_fields=["last_sign_in_at"])
    return wallet.user, wallet


def _wallet_user_create(*, address: str) -> User:
    """A new account for a first-time wallet: username from the address, no usable password."""
    base = f"{address[:6]}…{address[-4:]}".lower()
    username = base
    while User.objects.filter(username=username).exists():
        username = f"{base}-{secrets.token_hex(2)}"
    user = User(username=username)
    user.set_unusable_password()
    user.save()
    return user


def email_payload(message: EmailMessage) -> dict[str, Any]:
    """A rendered message as JSON-safe fields, for ``send_email_task``."""
    return {
        "subject": str(message.subject),
        "body": str(message.body),
        "from_email": str(message.from_email),
        "to": [str(address) for address in message.to],
        "headers": {str(k): str(v) for k, v in message.extra_headers.items()},
        "alternatives": [[str(content), str(mimetype)] for content, mimetype in getattr(message, "alternatives", [])],
    }


def email_send_later(*, message: EmailMessage) -> None:
    """Queue ``message`` for a worker.

    Not deferred to ``on_commit``: allauth commits the account (autocommit, no request
    transaction) before it renders the mail, and the message carries everything it needs.
    """
    from wallets.tasks import send_email_task

    send_email_task.delay(email_payload(message))
