"""Account rules: creating users and the demo login."""

from __future__ import annotations

from django.db import transaction

from wallets.models import User


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
