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
from typing import TYPE_CHECKING

from camsweep import __version__
from db.repository import DEFAULT_SITE, DeviceRecord, Inventory
from fingerprints.evidence import HostReport, Identification
from fingerprints.matcher import KnowledgeBase, default_kb, identify
from scanner.engine import Engine, Progress, ScanDeadlineExceeded, ScanLimits
from scanner.probes.tcp import CAMERA_PORTS
from scanner.targets import Scope, count_addresses, iter_addresses, parse_targets

if TYPE_CHECKING:  # the worker extra (celery) is optional; imported lazily below
    from camsweep.worker.store import ChunkRecord
    from camsweep.worker.submit import SubmittedScan

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


# -- scale-out: per-site workers (camsweep.worker; needs the ``worker`` extra) --


def submit_site_scan(
    request: ScanRequest, db_url: str, broker_url: str | None = None, chunk_size: int | None = None
) -> SubmittedScan:
    """Create the scan in the central inventory and queue its chunks for the site's workers."""
    from camsweep.worker.app import make_app
    from camsweep.worker.chunks import DEFAULT_CHUNK_SIZE
    from camsweep.worker.submit import submit_scan

    inventory = Inventory(db_url)
    celery_app = make_app(broker_url)
    try:
        return submit_scan(request, inventory, celery_app, chunk_size or DEFAULT_CHUNK_SIZE)
    finally:
        celery_app.close()
        inventory.close()


def scan_chunks(scan_id: int, db_url: str) -> list[ChunkRecord]:
    """The chunks of a distributed scan and where each one is."""
    from camsweep.worker.store import ChunkStore

    inventory = Inventory(db_url)
    try:
        return ChunkStore(inventory).chunks(scan_id)
    finally:
        inventory.close()
