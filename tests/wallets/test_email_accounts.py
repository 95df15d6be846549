from __future__ import annotations

import re

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db


def test_sign_up_with_email_sends_a_verification_link_then_sign_in_works(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/accounts/signup/",
        {"email": "carol@example.com", "password1": "a-long-pass-9876", "password2": "a-long-pass-9876"},
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["carol@example.com"]
    link = re.search(r"https?://testserver(/accounts/confirm-email/[^\s]+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    client.post(link.group(1))
    client.logout()
    signed_in = client.post("/accounts/login/", {"login": "carol@example.com", "password": "a-long-pass-9876"})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/ratings/"


def test_sign_in_page_offers_the_wallet_too(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/accounts/login/").content.decode()
    assert "Sign in with Ethereum" in body and 'href="/wallets/sign-in/"' in body


def test_unverified_email_cannot_sign_in(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    django_user_model.objects.create_user(username="dave", email="dave@example.com", password="a-long-pass-9876")
    response = client.post("/accounts/login/", {"login": "dave@example.com", "password": "a-long-pass-9876"})
    assert "confirm-email" in response.get("Location", "") or b"verif" in response.content.lower()
