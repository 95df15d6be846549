"""Account e-mail goes out from a worker, so a slow or down SMTP server never holds a request."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from celery import shared_task
from django.core.mail import EmailMultiAlternatives

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),  # the mail server refused or could not be reached
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
    ignore_result=True,
)
def send_email_task(message: dict[str, Any]) -> None:
    """Send one rendered message (``wallets.services.email_payload``); EMAIL_TIMEOUT bounds each SMTP step."""
    email = EmailMultiAlternatives(
        subject=message["subject"],
        body=message["body"],
        from_email=message["from_email"],
        to=message["to"],
        headers=message["headers"],
    )
    for content, mimetype in message["alternatives"]:
        email.attach_alternative(content, mimetype)
    email.send()
    logger.info("sent account e-mail %r to %d recipient(s)", message["subject"], len(message["to"]))
