"""The library API that every front end (CLI, web, worker) calls.

Each function is one use case: parse -> scope check -> scan -> identify ->
record.  Front ends only render what these return.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from camsweep import __version__
from db.repository import DEFAULT_SITE, DeviceRecord, Inventory
from fingerprints.evidence import HostReport, Identification
from fingerprints.matcher import KnowledgeBase, default_kb, identify
from scanner.engine import Engine, Progress, ScanDeadlineExceeded, ScanLimits
from scanner.probes.tcp import CAMERA_PORTS
from scanner.targets import Scope, count_addresses, iter_addresses, parse_targets

DEFAULT_DB_FILE = "camsweep.db"


def resolve_db_url(db: str | None) -> str:
    """``--db``, else ``$CAMSWEEP_DB``, else ``./camsweep.db``."""
    url = db or os.environ.get("CAMSWEEP_DB") or DEFAULT_DB_FILE
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


def list_devices(db_url: str, cameras_only: bool = False) -> list[DeviceRecord]:
    inventory = Inventory(db_url)
    try:
        return inventory.devices(cameras_only=cameras_only)
    finally:
        inventory.close()


def check_scan_request(request: ScanRequest) -> None:
    """Raise ``ConfigError``/``ScopeError`` if ``request`` would be refused; nothing is recorded.

    Front ends that start a scan in the background (the web dashboard) call this
    first, so the operator sees a refusal instead of a scan that fails unseen.
    """
    request.scope.check(parse_targets(request.targets))
