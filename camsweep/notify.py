"""Notifications of scheduled scans: a webhook (JSON POST) and email (SMTP).

Both are bounded by explicit timeouts; failures come back as
:class:`NotifyError` (a ``CamsweepError``) so the scheduler records them and
carries on with the next job.  SMTP credentials come from environment
variables named in the configuration, never from the file itself.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx

from camsweep.config import SmtpConfig
from fingerprints.errors import CamsweepError

#: Largest webhook answer body kept for the run record.
MAX_ANSWER_BYTES = 2048


class NotifyError(CamsweepError):
    """A webhook or email notification could not be delivered."""


def redact_url(url: str) -> str:
    """``https://hooks.example/services/T0/B0/secret`` -> ``https://hooks.example/...``.

    Chat webhooks carry their token in the path or query: only the origin is
    ever logged or stored in the audit log.
    """
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}/..."


def post_webhook(url: str, payload: dict[str, Any], timeout_s: float = 10.0) -> int:
    """POST ``payload`` as JSON; returns the HTTP status (2xx), raises :class:`NotifyError` otherwise."""
    where = redact_url(url)
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False) as client:
            answer = client.post(url, json=payload, headers={"User-Agent": "camsweep"})
    except httpx.HTTPError as exc:
        # httpx messages may quote the URL (and its token): name the error class only
        raise NotifyError(f"webhook {where}: {exc.__class__.__name__}") from exc
    if not 200 <= answer.status_code < 300:
        raise NotifyError(
            f"webhook {where} answered {answer.status_code}: {answer.text[:MAX_ANSWER_BYTES]!r}"
        )
    return answer.status_code


def send_email(
    smtp: SmtpConfig,
    recipients: Sequence[str],
    subject: str,
    body: str,
    payload: dict[str, Any] | None = None,
) -> None:
    """Send a plain-text email (with the JSON payload attached) through ``smtp``."""
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg.set_content(body)
    if payload is not None:
        msg.add_attachment(
            json.dumps(payload, indent=2, default=str).encode("utf-8"),
            maintype="application",
            subtype="json",
            filename="camsweep-report.json",
        )
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.username_env and smtp.password_env:
                user = os.environ.get(smtp.username_env)
                password = os.environ.get(smtp.password_env)
                if user is None or password is None:
                    raise NotifyError(
                        f"SMTP login needs ${smtp.username_env} and ${smtp.password_env} in the environment"
                    )
                client.login(user, password)
            client.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise NotifyError(f"email via {smtp.host}:{smtp.port}: {exc.__class__.__name__}: {exc}") from exc
