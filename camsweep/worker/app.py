"""The Celery app every site worker, beat and submitter share.

``celery -A camsweep.worker.app worker -Q camsweep.site.<name>`` runs a site's
worker (``camsweep worker run --site <name>`` does exactly that).  Settings
come from the environment so one image serves every site:

- ``CAMSWEEP_BROKER_URL``: Redis (``redis://host:6379/0``) or RabbitMQ
  (``amqp://user:pass@host:5672//``); default Redis on 127.0.0.1.
- ``CAMSWEEP_DB``: the central inventory (PostgreSQL URL in a deployment).
- ``CAMSWEEP_BROKER_TRANSPORT_OPTIONS``: a JSON object merged over the
  defaults below, e.g. ``{"visibility_timeout": 7200}`` (Redis: how long an
  unacknowledged chunk waits before it is redelivered) or
  ``{"global_keyprefix": "camsweep:"}`` (Redis: share a database with others).
- ``CAMSWEEP_TIMEZONE``: the timezone of beat's cron expressions (default UTC).
"""

from __future__ import annotations

import json
import os
from typing import Any

from celery import Celery

from fingerprints.errors import ConfigError

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"

#: Redis has no connection-bound acknowledgement: an unacked message comes back
#: only after this long.  It must exceed the longest chunk, or a slow chunk is
#: redelivered while still running (harmless, since recording is idempotent,
#: but wasted work).  RabbitMQ redelivers as soon as the worker's connection drops.
DEFAULT_VISIBILITY_TIMEOUT_S = 3600.0

SCAN_CHUNK_TASK = "camsweep.worker.scan_chunk"
SCHEDULED_SCAN_TASK = "camsweep.worker.scheduled_scan"


def broker_url_from_env() -> str:
    return os.environ.get("CAMSWEEP_BROKER_URL") or DEFAULT_BROKER_URL


def transport_options_from_env() -> dict[str, Any]:
    options: dict[str, Any] = {"visibility_timeout": DEFAULT_VISIBILITY_TIMEOUT_S}
    raw = os.environ.get("CAMSWEEP_BROKER_TRANSPORT_OPTIONS")
    if raw:
        try:
            extra = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"CAMSWEEP_BROKER_TRANSPORT_OPTIONS is not JSON: {exc}") from exc
        if not isinstance(extra, dict):
            raise ConfigError("CAMSWEEP_BROKER_TRANSPORT_OPTIONS must be a JSON object")
        options.update(extra)
    return options


def make_app(broker_url: str | None = None, transport_options: dict[str, Any] | None = None) -> Celery:
    """A Celery app with camsweep's delivery guarantees."""
    if transport_options is None:
        transport_options = transport_options_from_env()
    celery_app = Celery(
        "camsweep", broker=broker_url or broker_url_from_env(), include=["camsweep.worker.tasks"]
    )
    celery_app.conf.update(
        # Late ack: a chunk is acknowledged only after it is recorded, so a worker
        # that dies mid-chunk gets it redelivered; a pool child killed by the OS
        # likewise requeues (reject_on_worker_lost) instead of losing it.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message at a time per process: a dead worker holds back one chunk, not a backlog.
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue="camsweep.default",
        task_create_missing_queues=True,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
        timezone=os.environ.get("CAMSWEEP_TIMEZONE") or "UTC",
        enable_utc=True,
    )
    return celery_app


#: The app ``celery -A camsweep.worker.app`` finds.
app = make_app()


@app.on_after_configure.connect
def _load_beat_schedule(sender: Celery, **_: Any) -> None:
    """Beat reads the scheduled jobs from the configuration file; workers do not need them."""
    if os.environ.get("CAMSWEEP_BEAT") == "1":
        from camsweep.worker.schedule import beat_settings_from_env

        sender.conf.update(beat_settings_from_env())
