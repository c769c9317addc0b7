"""Celery beat's schedule from the configured scan jobs.

Each job (name, site, five-field cron expression, targets) becomes one beat
entry that sends ``scheduled_scan`` to the site's own queue, so the scan is
created and chunked by a worker inside that site.  The cron fields are the
classic ``minute hour day-of-month month day-of-week`` (crontab(5)); Celery's
``crontab`` takes the same fields in the same order.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery.schedules import crontab

from camsweep.worker import site_queue
from camsweep.worker.app import SCHEDULED_SCAN_TASK
from camsweep.worker.chunks import DEFAULT_CHUNK_SIZE
from fingerprints.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """One scheduled scan as the configuration file gives it."""

    name: str
    site: str
    cron: str
    targets: Sequence[str]
    site_networks: Sequence[str] = field(default_factory=tuple)
    chunk_size: int = DEFAULT_CHUNK_SIZE
    exclude: Sequence[str] = field(default_factory=tuple)
    ports: Sequence[int] | None = None  # None: the camera port set
    rate_pps: float | None = None  # None: the engine's default


def parse_cron(expression: str, where: str = "") -> crontab:
    """A five-field cron expression as a Celery ``crontab``; a clear error otherwise."""
    fields = expression.split()
    at = f" ({where})" if where else ""
    if len(fields) != 5:
        raise ConfigError(
            f"cron expression {expression!r}{at} must have five fields: "
            "minute hour day-of-month month day-of-week"
        )
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    except ValueError as exc:
        raise ConfigError(f"cron expression {expression!r}{at} is invalid: {exc}") from exc


def beat_schedule(jobs: Iterable[ScheduledJob]) -> dict[str, dict[str, Any]]:
    """The ``beat_schedule`` setting for ``jobs``: one entry per job, routed to its site."""
    schedule: dict[str, dict[str, Any]] = {}
    for job in jobs:
        if job.name in schedule:
            raise ConfigError(f"schedule job {job.name!r} is defined twice")
        if not job.targets:
            raise ConfigError(f"schedule job {job.name!r} has no targets")
        schedule[job.name] = {
            "task": SCHEDULED_SCAN_TASK,
            "schedule": parse_cron(job.cron, f"job {job.name!r}"),
            "kwargs": {
                "job": job.name,
                "site": job.site,
                "targets": list(job.targets),
                "site_networks": list(job.site_networks),
                "chunk_size": job.chunk_size,
                "exclude": list(job.exclude),
                "ports": None if job.ports is None else list(job.ports),
                "rate_pps": job.rate_pps,
            },
            "options": {"queue": site_queue(job.site)},
        }
    return schedule


def jobs_from_config(config: Any) -> list[ScheduledJob]:
    """One beat job per (configured job, site) of a ``camsweep.config.Config``.

    Read by attribute (``config.jobs[name].sites/.cron``, ``config.sites[name]
    .networks/.exclude/.ports/.rate_pps``) so this module does not import the
    configuration loader; each entry is named ``<job>@<site>``.
    """
    jobs: list[ScheduledJob] = []
    for job in config.jobs.values():
        for site_name in job.sites:
            site = config.sites[site_name]
            networks = [str(n) for n in site.networks]
            jobs.append(
                ScheduledJob(
                    name=f"{job.name}@{site_name}",
                    site=site_name,
                    cron=job.cron,
                    targets=networks,
                    site_networks=networks,
                    exclude=[str(n) for n in site.exclude],
                    ports=list(site.ports),
                    rate_pps=site.rate_pps,
                )
            )
    return jobs


def beat_settings_from_env() -> dict[str, Any]:
    """Beat's settings from ``$CAMSWEEP_CONFIG`` (the same file ``camsweep schedule`` reads).

    The schedule, and the file's timezone for the cron times when it names one.
    No jobs, with a warning, when no file is set; a broken file stops beat with
    the loader's file:line error.
    """
    path = os.environ.get("CAMSWEEP_CONFIG")
    if not path:
        log.warning("CAMSWEEP_CONFIG is not set: beat has no scheduled scans")
        return {"beat_schedule": {}}
    loader = importlib.import_module("camsweep.config")  # the ops configuration loader
    config = loader.load_config(path)
    settings: dict[str, Any] = {"beat_schedule": beat_schedule(jobs_from_config(config))}
    if getattr(config, "timezone", None):
        settings["timezone"] = config.timezone
    return settings
