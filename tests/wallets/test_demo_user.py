from __future__ import annotations

import pytest
from django.core.management import call_command

from wallets.models import User


@pytest.mark.django_db
def test_demo_user_command_is_idempotent_and_the_login_reaches_admin(client, settings, capsys) -> None:  # type: ignore[no-untyped-def]
    settings.DEMO_USERNAME = "demo"
    settings.DEMO_PASSWORD = "demo-pass-8000"
    call_command("create_demo_user")
    call_command("create_demo_user")
    out = capsys.readouterr().out
    assert "username 'demo', password 'demo-pass-8000'" in out
    assert User.objects.filter(username="demo").count() == 1

    response = client.post(
        "/admin/login/?next=/admin/", {"username": "demo", "password": "demo-pass-8000"}, follow=True
    )
    assert response.status_code == 200
    assert b"Site administration" in response.content


@pytest.mark.django_db
def test_two_users_cannot_share_an_email_in_any_case() -> None:
    from django.db import IntegrityError

    User.objects.create_user(username="alice", email="Alice@example.com")
    with pytest.raises(IntegrityError):
        User.objects.create_user(username="alice2", email="alice@EXAMPLE.com")
