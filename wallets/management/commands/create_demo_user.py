from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from wallets.services import demo_user_ensure


class Command(BaseCommand):
    help = "Create or reset the demo admin account (DEMO_USERNAME / DEMO_PASSWORD) and print it."

    def handle(self, *args: Any, **options: Any) -> None:
        user, created = demo_user_ensure(username=settings.DEMO_USERNAME, password=settings.DEMO_PASSWORD)
        verb = "created" if created else "reset"
        self.stdout.write(
            self.style.SUCCESS(f"Demo login {verb}: username {user.username!r}, password {settings.DEMO_PASSWORD!r}")
        )
