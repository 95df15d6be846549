"""django-allauth adapter: account e-mail is rendered in the request and sent by a worker."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site

from wallets.services import email_send_later


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """As allauth's own, except ``msg.send()`` becomes a Celery task (SMTP off the request path)."""
        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request), **context}
        email_send_later(message=self.render_mail(template_prefix, email, ctx))
