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
