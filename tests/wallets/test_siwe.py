"""Sign-In With Ethereum: a real eth-account key signs the server's EIP-4361 message."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct

from wallets.models import LinkedWallet, SiweNonce
from wallets.services import (
    SIWE_BAD_SIGNATURE,
    SIWE_EXPIRED,
    SIWE_REPLAYED,
    SIWE_UNKNOWN_NONCE,
    SIWE_WALLET_TAKEN,
    SIWE_WRONG_CHAIN,
)

pytestmark = pytest.mark.django_db

# anvil's first development account (public test key: never holds real funds).
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ACCOUNT = Account.from_key(KEY)


def challenge(client, chain_id: int = 31337, address: str = ACCOUNT.address):  # type: ignore[no-untyped-def]
    return client.post(
        "/wallets/siwe/challenge", json.dumps({"address": address, "chain_id": chain_id}), "application/json"
    )


def sign(message: str, key: str = KEY) -> str:
    return "0x" + Account.sign_message(encode_defunct(text=message), private_key=key).signature.hex().removeprefix("0x")


def verify(client, message: str, signature: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/wallets/siwe/verify", json.dumps({"message": message, "signature": signature}), "application/json"
    )


def test_first_wallet_sign_in_creates_an_account_and_signs_it_in(client) -> None:  # type: ignore[no-untyped-def]
    message = challenge(client).json()["message"]
    assert "testserver wants you to sign in with your Ethereum account" in message
    assert "Chain ID: 31337" in message and "Expiration Time:" in message
    response = verify(client, message, sign(message))
    assert response.status_code == 200, response.json()
    assert response.json()["address"] == ACCOUNT.address
    wallet = LinkedWallet.objects.get(address=ACCOUNT.address)
    assert client.get("/wallets/").context["user"] == wallet.user


def test_replayed_message_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    message = challenge(client).json()["message"]
    signature = sign(message)
    assert verify(client, message, signature).status_code == 200
    replay = verify(client, message, signature)
    assert replay.status_code == 400 and replay.json()["error"] == SIWE_REPLAYED


def test_signature_from_another_key_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    message = challenge(client).json()["message"]
    other = Account.create().key.hex()
    response = verify(client, message, sign(message, other))
    assert response.json()["error"] == SIWE_BAD_SIGNATURE


def test_message_for_another_domain_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    message = challenge(client).json()["message"].replace("testserver wants", "evil.example wants")
    response = verify(client, message, sign(message))
    assert response.status_code == 400 and "evil.example" in response.json()["error"]


def test_unaccepted_chain_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    response = challenge(client, chain_id=1)
    assert response.status_code == 400 and response.json()["error"] == SIWE_WRONG_CHAIN.format(chain_id=1)
    message = challenge(client).json()["message"].replace("Chain ID: 31337", "Chain ID: 1")
    assert verify(client, message, sign(message)).json()["error"] == SIWE_WRONG_CHAIN.format(chain_id=1)


def test_expired_message_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    message = challenge(client).json()["message"]
    SiweNonce.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert verify(client, message, sign(message)).json()["error"] == SIWE_EXPIRED


def test_nonce_issued_to_another_session_is_refused(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    message = challenge(Client()).json()["message"]
    assert verify(client, message, sign(message)).json()["error"] == SIWE_UNKNOWN_NONCE


def test_signed_in_user_links_a_wallet_and_can_then_sign_in_with_it(client, alice) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    message = challenge(client).json()["message"]
    assert verify(client, message, sign(message)).status_code == 200
    assert LinkedWallet.objects.get(address=ACCOUNT.address).user == alice
    client.logout()
    message = challenge(client).json()["message"]
    verify(client, message, sign(message))
    assert client.get("/wallets/").context["user"] == alice


def test_wallet_of_another_account_cannot_be_linked(client, alice, bob) -> None:  # type: ignore[no-untyped-def]
    LinkedWallet.objects.create(user=alice, address=ACCOUNT.address, chain_id=31337)
    client.force_login(bob)
    message = challenge(client).json()["message"]
    response = verify(client, message, sign(message))
    assert response.json()["error"] == SIWE_WALLET_TAKEN.format(address=ACCOUNT.address)


def test_garbage_body_is_a_400_not_a_500(client) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/wallets/siwe/verify", "nope", "application/json").status_code == 400
    assert verify(client, "not a siwe message", "0x00").status_code == 400
