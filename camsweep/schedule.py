"""Scheduled scans on one machine: due jobs, overlap locks, run records, diffs, notices.

``camsweep schedule run`` executes the jobs of the configuration whose cron
time has come: a job is *due* when its last recorded start is before its most
recent cron time (a job that never ran is due at once).  Each job holds an
exclusive ``fcntl.flock`` on its own lock file for as long as it runs, so two
``schedule run`` processes never run the same job at once; the second records
a skip.  Every run is in the audit log (``schedule.start``, then
``schedule.run`` with start, end, status, scan ids, diff counts and notices).

``camsweep schedule show --format cron|systemd`` prints equivalent crontab
lines or systemd units for those who prefer their system's scheduler; those
entries call ``schedule run --job NAME``, which runs the job at once (the
system scheduler has decided it is due) with the same lock, records and
notices.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy.engine import make_url

from camsweep import api
from camsweep.config import Config, JobConfig, SiteConfig
from camsweep.exports import export_record
from camsweep.notify import NotifyError, post_webhook, redact_url, send_email
from db.repository import DeviceFilter, DeviceRecord, Inventory
from fingerprints.errors import CamsweepError, ConfigError, NotFoundError
from scanner.engine import Progress

#: The longest ``schedule run --loop`` sleeps before looking at the clock and the configuration again.
LOOP_MAX_SLEEP_S = 60.0
#: Fields compared between two scans of a device (the minimal diff; see ``_diff_previous``).
DIFF_FIELDS = ("ip", "brand", "manufacturer", "model", "firmware", "category", "connectivity", "policy_flags")
_DOW_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


# -- time -------------------------------------------------------------------


def schedule_tz(config: Config) -> tzinfo:
    """The configuration's ``[schedule] timezone``, else the machine's local time (as cron uses)."""
    if config.timezone:
        return ZoneInfo(config.timezone)
    local = datetime.now().astimezone().tzinfo
    return local or UTC


def parse_now(text: str | None, tz: tzinfo) -> datetime:
    """``--now`` (ISO 8601; without an offset it is in the schedule's time zone), else the clock."""
    if not text:
        return datetime.now(tz)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--now {text!r} is not an ISO 8601 time (e.g. 2026-12-01T01:35)") from None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def last_cron_time(cron: str, now: datetime) -> datetime:
    """The most recent time at or before ``now`` that ``cron`` names."""
    # croniter's get_prev is strictly before its base: start one second after
    # ``now`` (floored to the second) so a run at exactly 01:30:00 counts 01:30.
    base = now.replace(microsecond=0) + timedelta(seconds=1)
    return croniter(cron, base).get_prev(datetime)


def next_cron_time(cron: str, now: datetime) -> datetime:
    return croniter(cron, now).get_next(datetime)


# -- cron -> systemd OnCalendar ----------------------------------------------


def _compress(values: Sequence[int], width: int = 0) -> str:
    """``[1,2,3,4,7]`` -> ``01..04,07``: runs of three or more become ranges."""
    parts: list[str] = []
    vals = sorted(set(values))
    i = 0
    while i < len(vals):
        j = i
        while j + 1 < len(vals) and vals[j + 1] == vals[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{vals[i]:0{width}d}..{vals[j]:0{width}d}")
        else:
            parts.extend(f"{v:0{width}d}" for v in vals[i : j + 1])
        i = j + 1
    return ",".join(parts)


def cron_to_oncalendar(cron: str, timezone: str | None = None) -> list[str]:
    """systemd ``OnCalendar=`` values that fire exactly when ``cron`` does.

    Cron runs when day-of-month *or* day-of-week matches if both are
    restricted (crontab(5)); systemd requires both, so that case becomes two
    ``OnCalendar=`` lines (a timer fires on any of its lines).
    """
    try:
        expanded = croniter(cron).expanded
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{cron!r} is not a cron expression: {exc}") from exc
    if len(expanded) != 5:
        raise ConfigError(f"{cron!r}: only five-field cron expressions translate to systemd")
    for fld in expanded:
        if any(not isinstance(v, int) and v != "*" for v in fld):
            raise ConfigError(f"{cron!r}: special forms (L, #, ?) have no systemd equivalent")

    def field_text(values: list[Any], width: int) -> str:
        return "*" if values == ["*"] else _compress(values, width)

    minute, hour, dom, month, dow = expanded
    time_part = f"{field_text(hour, 2)}:{field_text(minute, 2)}:00"
    month_text = field_text(month, 2)
    dom_text = field_text(dom, 2)
    dow_text = ""
    if dow != ["*"]:
        days = sorted({int(d) % 7 for d in dow})
        # systemd weekday ranges run Mon..Sun; name them one by one unless Mon-based runs
        dow_text = _weekday_text(days)
    suffix = f" {timezone}" if timezone else ""
    if dom != ["*"] and dow != ["*"]:
        return [
            f"{dow_text} *-{month_text}-* {time_part}{suffix}",
            f"*-{month_text}-{dom_text} {time_part}{suffix}",
        ]
    prefix = f"{dow_text} " if dow_text else ""
    return [f"{prefix}*-{month_text}-{dom_text} {time_part}{suffix}"]


def _weekday_text(days: Sequence[int]) -> str:
    """Cron weekdays (0 = Sunday) as systemd names; ranges only within Mon..Sun order."""
    order = [1, 2, 3, 4, 5, 6, 0]  # systemd's week starts on Monday
    positions = sorted(order.index(d) for d in days)
    parts: list[str] = []
    i = 0
    while i < len(positions):
        j = i
        while j + 1 < len(positions) and positions[j + 1] == positions[j] + 1:
            j += 1
        names = [_DOW_NAMES[order[p]] for p in positions[i : j + 1]]
        parts.append(f"{names[0]}..{names[-1]}" if j - i >= 2 else ",".join(names))
        i = j + 1
    return ",".join(parts)


def _default_command() -> str:
    import shutil
    import sys

    found = shutil.which("camsweep")
    return found or f"{sys.executable} -m camsweep"


def render_cron(config: Config, command: str | None = None) -> str:
    """Crontab lines, one per job, each calling ``schedule run --job NAME``."""
    command = command or _default_command()
    lines = [
        f"# camsweep jobs from {config.path} (install with: crontab -e, or a file in /etc/cron.d with a user field)",
    ]
    if config.timezone:
        lines.append(
            f"# times are in {config.timezone}: cronie honours the next line; other crons use the system zone"
        )
        lines.append(f"CRON_TZ={config.timezone}")
    for job in config.jobs.values():
        lines.append(f"# {job.name}: sites {', '.join(job.sites)}")
        lines.append(f"{job.cron} {command} schedule run --config {config.path} --job {job.name}")
    return "\n".join(lines) + "\n"


def render_systemd(config: Config, command: str | None = None, unit_prefix: str = "camsweep-") -> str:
    """A ``.service`` and a ``.timer`` per job, each headed by the file it belongs in."""
    command = command or _default_command()
    blocks: list[str] = []
    for job in config.jobs.values():
        unit = f"{unit_prefix}{job.name}"
        desc = f"camsweep scheduled scan {job.name} (sites {', '.join(job.sites)})"
        calendar = "\n".join(f"OnCalendar={c}" for c in cron_to_oncalendar(job.cron, config.timezone))
        blocks.append(
            f"# /etc/systemd/system/{unit}.service\n"
            f"[Unit]\nDescription={desc}\nAfter=network-online.target\nWants=network-online.target\n\n"
            f"[Service]\nType=oneshot\n"
            f"ExecStart={command} schedule run --config {config.path} --job {job.name}\n"
        )
        blocks.append(
            f"# /etc/systemd/system/{unit}.timer\n"
            f"[Unit]\nDescription={desc}\n\n"
            f"[Timer]\n# cron: {job.cron}\n{calendar}\nPersistent=true\n\n"
            f"[Install]\nWantedBy=timers.target\n"
        )
    blocks.append(
        "# then: systemctl daemon-reload && systemctl enable --now "
        + " ".join(f"{unit_prefix}{j}.timer" for j in config.jobs)
        + "\n"
    )
    return "\n".join(blocks)


# -- locks --------------------------------------------------------------------


class JobLocked(CamsweepError):
    """Another ``schedule run`` holds this job's lock."""


def lock_path(config: Config, db_url: str, job: str) -> Path:
    """One lock file per job and inventory: in ``[schedule] lock_dir``, beside a SQLite
    database, else in the temporary directory."""
    directory = config.lock_dir
    if directory is None:
        url = make_url(db_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            directory = Path(url.database).resolve().parent
        else:
            directory = Path(tempfile.gettempdir())
    tag = hashlib.sha256(db_url.encode()).hexdigest()[:10]
    return directory / f".camsweep-{tag}-{job}.lock"


@contextmanager
def job_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking ``flock`` on ``path``; raise :class:`JobLocked` if taken.

    The kernel drops the lock when the process dies, so a crashed run never
    blocks the next one.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(f"cannot open lock file {path}: {exc.strerror} (set [schedule] lock_dir)") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobLocked(f"lock {path} is held by another run") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# -- diffs --------------------------------------------------------------------


@dataclass(slots=True)
class ScanDiff:
    """Devices new, gone and changed between a site's previous scan and this one."""

    previous_scan_id: int | None
    scan_id: int
    new: list[dict[str, Any]] = field(default_factory=list)
    gone: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "gone": len(self.gone), "changed": len(self.changed)}


def _device_state(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: rec.get(k) for k in ("id", *DIFF_FIELDS)}


def _devices_seen(inventory: Inventory, site: str, scan_id: int) -> list[dict[str, Any]]:
    """Export records (with ``id``) of the site's devices that scan ``scan_id`` saw.

    ``record_host`` stamps ``last_seen`` when a scan records a device, so the
    latest scan of a site saw exactly the devices last seen since it began.
    """
    try:
        scan = inventory.get_scan(scan_id)
    except NotFoundError:
        return []
    return [
        export_record(d) | {"id": d.id}
        for d in inventory.devices(DeviceFilter(site=site))
        if d.last_seen is not None and d.last_seen >= scan.started_at
    ]


def _state(device: DeviceRecord) -> dict[str, Any]:
    return _device_state(export_record(device) | {"id": device.id})


def _diff_previous(inventory: Inventory, site: str, scan_id: int) -> ScanDiff:
    """Diff this scan of ``site`` against the site's previous scan (``Inventory.diff_scans``,
    which compares the sightings each scan recorded)."""
    previous = inventory.previous_scan(site, scan_id)
    if previous is None:
        return ScanDiff(
            None, scan_id, new=[_device_state(r) for r in _devices_seen(inventory, site, scan_id)]
        )
    diff = inventory.diff_scans(previous.id, scan_id)
    return ScanDiff(
        previous.id,
        scan_id,
        new=[_state(d) for d in diff.new],
        gone=[_state(d) for d in diff.gone],
        changed=[{**_state(c.device), "changes": c.changes} for c in diff.changed],
    )


# -- running jobs -------------------------------------------------------------


@dataclass(slots=True)
class SiteRun:
    site: str
    scan_id: int | None = None
    status: str = "pending"
    error: str | None = None
    addresses: int = 0
    responsive: int = 0
    devices: int = 0
    flagged: list[dict[str, Any]] = field(default_factory=list)
    new_flagged: list[dict[str, Any]] = field(default_factory=list)
    diff: ScanDiff | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "scan_id": self.scan_id,
            "status": self.status,
            "error": self.error,
            "addresses": self.addresses,
            "responsive": self.responsive,
            "devices": self.devices,
            "flagged": self.flagged,
            "new_flagged": self.new_flagged,
            "previous_scan_id": self.diff.previous_scan_id if self.diff else None,
            "diff": self.diff.counts() if self.diff else None,
            "new": self.diff.new if self.diff else [],
            "gone": self.diff.gone if self.diff else [],
            "changed": self.diff.changed if self.diff else [],
        }


@dataclass(slots=True)
class JobRun:
    job: str
    clock: datetime
    status: str = "running"  # ok, failed, notify-failed, skipped
    started_at: datetime | None = None
    finished_at: datetime | None = None
    sites: list[SiteRun] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "clock": self.clock.isoformat(),
            "status": self.status,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "sites": [s.as_dict() for s in self.sites],
            "notified": self.notified,
            "errors": self.errors,
        }


def last_started(inventory: Inventory, job: str) -> datetime | None:
    """The schedule clock of the job's last recorded start."""
    times = [
        datetime.fromisoformat(e.detail["clock"])
        for e in inventory.actions("schedule.start")
        if e.detail.get("job") == job and "clock" in e.detail
    ]
    return max(times) if times else None


def is_due(inventory: Inventory, job: JobConfig, now: datetime) -> bool:
    last = last_started(inventory, job.name)
    return last is None or last < last_cron_time(job.cron, now)


def _brief(rec: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "ip", "site", "brand", "manufacturer", "model", "firmware", "connectivity", "policy_flags")
    return {k: rec.get(k) for k in keys}


def _scan_site(
    site: SiteConfig,
    db_url: str,
    inventory: Inventory,
    run: SiteRun,
    actor: str,
    on_progress: Callable[[Progress], None] | None = None,
) -> None:
    request = replace(api.site_request(site, operator=actor), credentials=api.site_credentials(site))
    outcome = api.scan(request, db_url, on_progress=on_progress)
    run.scan_id, run.status = outcome.scan_id, outcome.status
    run.addresses, run.responsive = outcome.addresses, outcome.responsive
    run.diff = _diff_previous(inventory, site.name, outcome.scan_id)
    seen = _devices_seen(inventory, site.name, outcome.scan_id)
    run.devices = len(seen)
    run.flagged = [_brief(r) for r in seen if r["policy_flags"]]
    newly = {int(s["id"]) for s in run.diff.new} | {
        int(c["id"]) for c in run.diff.changed if "policy_flags" in c["changes"]
    }
    run.new_flagged = [f for f in run.flagged if int(f["id"]) in newly]


def _should_notify(job: JobConfig, run: JobRun) -> bool:
    if not job.notify.enabled:
        return False
    if job.notify.when == "always":
        return True
    if job.notify.when == "flagged":
        return any(s.flagged for s in run.sites)
    return any(s.new_flagged for s in run.sites)


def _notify(config: Config, job: JobConfig, run: JobRun) -> None:
    payload = {"event": "camsweep.scheduled-scan", **run.as_dict()}
    flagged = sum(len(s.flagged) for s in run.sites)
    new_flagged = sum(len(s.new_flagged) for s in run.sites)
    if job.notify.webhook or job.notify.webhook_env:
        try:
            url = job.notify.webhook_url()
            if url:
                post_webhook(url, payload, config.webhook_timeout_s)
                run.notified.append(f"webhook {redact_url(url)}")
        except (NotifyError, ConfigError) as exc:
            run.errors.append(str(exc))
    if job.notify.email and config.smtp:
        subject = f"camsweep {job.name}: {new_flagged} new flagged, {flagged} flagged devices"
        lines = [f"camsweep scheduled scan {job.name!r} at {run.clock.isoformat()}", ""]
        for s in run.sites:
            diff = s.diff.counts() if s.diff else {}
            lines.append(
                f"site {s.site}: scan {s.scan_id} {s.status}, {s.devices} devices, "
                f"{len(s.flagged)} flagged ({len(s.new_flagged)} new); diff {diff}"
            )
            for f in s.flagged:
                mark = "NEW " if f in s.new_flagged else ""
                lines.append(
                    f"  {mark}{f['ip']} {f['brand'] or ''} made by {f['manufacturer'] or '?'} "
                    f"{f['model'] or ''} firmware {f['firmware'] or '?'}: {', '.join(f['policy_flags'])}"
                )
        try:
            send_email(config.smtp, job.notify.email, subject, "\n".join(lines) + "\n", payload)
            run.notified.append(f"email {', '.join(job.notify.email)}")
        except NotifyError as exc:
            run.errors.append(str(exc))


def run_job(
    config: Config,
    job: JobConfig,
    db_url: str,
    now: datetime,
    actor: str = "schedule",
    on_site: Callable[[str], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> JobRun:
    """Run one job now under its lock: scan each site, diff, notify, record."""
    run = JobRun(job=job.name, clock=now)
    inventory = Inventory(db_url)
    try:
        try:
            with job_lock(lock_path(config, db_url, job.name)):
                run.started_at = datetime.now(UTC)
                inventory.log_action(
                    "schedule.start", actor=actor, job=job.name, clock=now.isoformat(), sites=list(job.sites)
                )
                for name in job.sites:
                    site_run = SiteRun(name)
                    run.sites.append(site_run)
                    if on_site:
                        on_site(name)
                    try:
                        _scan_site(config.site(name), db_url, inventory, site_run, actor, on_progress)
                    except CamsweepError as exc:
                        site_run.status, site_run.error = "failed", str(exc)
                        run.errors.append(f"site {name}: {exc}")
                if _should_notify(job, run):
                    _notify(config, job, run)
                run.finished_at = datetime.now(UTC)
                failed_scan = any(s.status == "failed" for s in run.sites)
                run.status = "failed" if failed_scan else ("notify-failed" if run.errors else "ok")
                inventory.log_action("schedule.run", actor=actor, **run.as_dict())
        except JobLocked as exc:
            run.status = "skipped"
            run.errors.append(f"job {job.name} is already running ({exc})")
            inventory.log_action(
                "schedule.skipped", actor=actor, job=job.name, clock=now.isoformat(), reason=str(exc)
            )
    finally:
        inventory.close()
    return run


def run_due(
    config: Config,
    db_url: str,
    now: datetime,
    only: Sequence[str] = (),
    actor: str = "schedule",
    on_site: Callable[[str], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> list[JobRun]:
    """Run the due jobs (or, with ``only``, those jobs at once, due or not)."""
    jobs = [config.job(n) for n in only] if only else list(config.jobs.values())
    if only:
        todo = jobs
    else:
        inventory = Inventory(db_url)
        try:
            todo = [j for j in jobs if is_due(inventory, j, now)]
        finally:
            inventory.close()
    return [run_job(config, job, db_url, now, actor, on_site, on_progress) for job in todo]


def seconds_until_next(config: Config, now: datetime) -> float:
    """Sleep for ``schedule run --loop``: until the next cron time, at most ``LOOP_MAX_SLEEP_S``."""
    if not config.jobs:
        return LOOP_MAX_SLEEP_S
    soonest = min(next_cron_time(j.cron, now) for j in config.jobs.values())
    return max(1.0, min(LOOP_MAX_SLEEP_S, (soonest - now).total_seconds()))


def sleep_bounded(seconds: float) -> None:
    time.sleep(max(0.0, min(seconds, LOOP_MAX_SLEEP_S)))


def job_status(config: Config, db_url: str, now: datetime) -> list[dict[str, Any]]:
    """For ``schedule show``: each job's cron, last start, next time and whether it is due."""
    inventory = Inventory(db_url)
    try:
        rows = []
        for job in config.jobs.values():
            last = last_started(inventory, job.name)
            rows.append(
                {
                    "job": job.name,
                    "sites": list(job.sites),
                    "cron": job.cron,
                    "last_run": last.isoformat() if last else None,
                    "next_run": next_cron_time(job.cron, now).isoformat(),
                    "due": is_due(inventory, job, now),
                    "notify": [
                        *([redact_url(job.notify.webhook)] if job.notify.webhook else []),
                        *([f"${job.notify.webhook_env}"] if job.notify.webhook_env else []),
                        *job.notify.email,
                    ],
                }
            )
        return rows
    finally:
        inventory.close()
