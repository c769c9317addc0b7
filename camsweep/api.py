"""The library API that every front end (CLI, web, worker) calls.

Each function is one use case: parse -> scope check -> scan -> identify ->
record.  Front ends only render what these return.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from camsweep import __version__
from camsweep.config import Config, SiteConfig, find_config
from camsweep.exports import DeviceQuery
from db.repository import DEFAULT_SITE, DeviceRecord, Inventory
from fingerprints.evidence import HostReport, Identification
from fingerprints.matcher import KnowledgeBase, default_kb, identify
from scanner.engine import Engine, Progress, ScanDeadlineExceeded, ScanLimits
from scanner.probes.tcp import CAMERA_PORTS
from scanner.targets import Scope, count_addresses, iter_addresses, parse_targets

DEFAULT_DB_FILE = "camsweep.db"


def resolve_db_url(db: str | None, config_url: str | None = None) -> str:
    """``--db``, else ``$CAMSWEEP_DB``, else the configuration's ``[database] url``, else ``./camsweep.db``."""
    url = db or os.environ.get("CAMSWEEP_DB") or config_url or DEFAULT_DB_FILE
    if "://" not in url:
        url = f"sqlite:///{Path(url)}"
    return url


@dataclass(slots=True)
class ScanOutcome:
    """What one scan did and found."""

    scan_id: int
    status: str
    addresses: int
    responsive: int
    devices: list[tuple[HostReport, Identification]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScanRequest:
    targets: Sequence[str]
    site: str = DEFAULT_SITE
    ports: Sequence[int] = CAMERA_PORTS
    scope: Scope = Scope()
    limits: ScanLimits = ScanLimits()
    operator: str = ""


async def scan_async(
    request: ScanRequest,
    inventory: Inventory,
    kb: KnowledgeBase | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> ScanOutcome:
    """Scan, identify and record.  Scope is checked before any packet is sent."""
    specs = parse_targets(request.targets)
    request.scope.check(specs)
    kb = kb or default_kb()
    total = count_addresses(specs, request.scope)
    scan_id = inventory.begin_scan(
        [s.text for s in specs],
        site=request.site,
        operator=request.operator,
        total=total,
        tool_version=__version__,
    )
    progress = Progress(total=total)
    outcome = ScanOutcome(scan_id, "running", total, 0)
    engine = Engine(ports=request.ports, limits=request.limits)
    try:
        async for report in engine.scan(iter_addresses(specs, request.scope), progress, on_progress):
            ident = identify(report.evidence, kb)
            inventory.record_host(scan_id, report, ident)
            outcome.devices.append((report, ident))
        outcome.status = "completed"
    except ScanDeadlineExceeded:
        outcome.status = "deadline"
    except (asyncio.CancelledError, KeyboardInterrupt):
        outcome.status = "interrupted"
        raise
    finally:
        if outcome.status == "running":
            outcome.status = "interrupted"
        outcome.responsive = progress.responsive
        inventory.finish_scan(scan_id, outcome.status, done=progress.done)
    return outcome


def scan(
    request: ScanRequest, db_url: str, on_progress: Callable[[Progress], None] | None = None
) -> ScanOutcome:
    inventory = Inventory(db_url)
    try:
        return asyncio.run(scan_async(request, inventory, on_progress=on_progress))
    finally:
        inventory.close()


def list_devices(
    db_url: str, cameras_only: bool = False, query: DeviceQuery | None = None
) -> list[DeviceRecord]:
    """Devices of the inventory; ``query`` filters them (several values per field allowed)."""
    from camsweep.exports import select_devices

    if query is None:
        query = DeviceQuery(cameras_only=cameras_only)
    elif cameras_only:
        query = replace(query, cameras_only=True)
    inventory = Inventory(db_url)
    try:
        return select_devices(inventory, query)
    finally:
        inventory.close()


# -- operations: configuration, exports, scheduled scans (issue 7) ------------


def load_config(path: str | None = None) -> Config | None:
    """``--config``, else ``$CAMSWEEP_CONFIG``, else ``./camsweep.toml`` if it exists, else ``None``."""
    return find_config(path)


def site_request(
    site: SiteConfig, ports: Sequence[int] | None = None, rate_pps: float | None = None, operator: str = ""
) -> ScanRequest:
    """A scan of a configured site: its networks, exclusions, ports and limits.

    ``rate_pps`` can only make the scan gentler than the site allows.
    """
    limits = site.limits()
    if rate_pps is not None and rate_pps < limits.rate_pps:
        limits = replace(limits, rate_pps=rate_pps)
    return ScanRequest(
        targets=site.targets,
        site=site.name,
        ports=tuple(ports) if ports else site.ports,
        scope=site.scope(),
        limits=limits,
        operator=operator,
    )


def export_devices(
    db_url: str, fmt: str, query: DeviceQuery | None = None, actor: str = "", destination: str = ""
) -> tuple[bytes, int]:
    """Render the selected devices as json, csv or xlsx and record the export; returns (bytes, rows)."""
    from camsweep.exports import export_devices as _export

    inventory = Inventory(db_url)
    try:
        return _export(inventory, fmt, query, actor=actor, destination=destination)
    finally:
        inventory.close()
