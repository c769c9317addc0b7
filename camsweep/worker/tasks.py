"""The worker's tasks: scan one chunk; start a scheduled scan.

The same library code as a single-machine scan: ``scanner.engine.Engine``
scans, ``fingerprints.matcher.identify`` identifies, and the chunk is recorded
with ``ChunkStore.record`` in one transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

from celery import Task

from camsweep.api import ScanRequest, resolve_db_url
from camsweep.worker.app import SCAN_CHUNK_TASK, SCHEDULED_SCAN_TASK, app
from camsweep.worker.chunks import DEFAULT_CHUNK_SIZE, chunk_from_message
from camsweep.worker.credentials import credentials_for_site
from camsweep.worker.store import ChunkStore
from camsweep.worker.submit import submit_scan
from db.repository import Inventory
from fingerprints.errors import ConfigError, StorageError
from fingerprints.evidence import HostReport, Identification
from fingerprints.matcher import KnowledgeBase, default_kb, identify
from scanner.credentials import OnvifCredentials
from scanner.engine import Engine, ScanLimits
from scanner.probes.tcp import CAMERA_PORTS
from scanner.targets import Scope, iter_addresses

log = logging.getLogger(__name__)

#: Storage failures (database restarting, a lock conflict) are retried this
#: many times, this far apart, before the chunk is marked failed.
STORAGE_RETRIES = 5
STORAGE_RETRY_DELAY_S = 10.0

_inventories: dict[str, Inventory] = {}
_kb: KnowledgeBase | None = None


def _inventory() -> Inventory:
    """One inventory (connection pool) per worker process, opened after the fork."""
    url = resolve_db_url(None)
    if url not in _inventories:
        _inventories[url] = Inventory(url)
    return _inventories[url]


def _knowledge() -> KnowledgeBase:
    global _kb
    if _kb is None:
        _kb = default_kb()
    return _kb


def limits_from_message(raw: dict[str, Any]) -> ScanLimits:
    """Scan limits from a task message; unknown keys are an error, not ignored."""
    known = {f.name for f in dataclasses.fields(ScanLimits)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown scan limits in task: {', '.join(sorted(unknown))}")
    return ScanLimits(**raw)


async def scan_range(
    first: str,
    last: str,
    ports: Sequence[int],
    limits: ScanLimits,
    exclude: Sequence[str],
    credentials: OnvifCredentials | None = None,
) -> list[tuple[HostReport, Identification]]:
    """Scan one chunk with the engine (with the site's ONVIF account, if any); identify every host."""
    spec = chunk_from_message(first, last)
    scope = Scope(exclude=tuple(ipaddress.ip_network(n, strict=False) for n in exclude))
    engine = Engine(ports=ports, limits=limits, credentials=credentials)
    kb = _knowledge()
    results: list[tuple[HostReport, Identification]] = []
    async for report in engine.scan(iter_addresses([spec], scope)):
        results.append((report, identify(report.evidence, kb)))
    return results


@app.task(name=SCAN_CHUNK_TASK, bind=True, max_retries=STORAGE_RETRIES)
def scan_chunk(
    self: Task,
    scan_id: int,
    idx: int,
    first: str,
    last: str,
    addresses: int,
    ports: list[int],
    limits: dict[str, Any],
    exclude: list[str],
    site: str = "",
) -> dict[str, Any]:
    """Scan addresses ``first``..``last`` of scan ``scan_id`` and record them once.

    ``site`` names the site whose credentials this worker host holds; the
    message carries nothing secret (messages sent before it existed omit it:
    the scan's own site is used).
    """
    store = ChunkStore(_inventory())
    try:
        if not store.start(scan_id, idx, worker=str(self.request.hostname or "")):
            log.info("scan %s chunk %s already recorded or given up; delivery ignored", scan_id, idx)
            store.finish_if_complete(scan_id)
            return {"scan_id": scan_id, "chunk": idx, "recorded": False}
        scan_site = _inventory().get_scan(scan_id).site
        if site and site != scan_site:
            # Never hand one site's account to another site's devices.
            raise ConfigError(
                f"chunk message names site {site!r}, but scan {scan_id} is of site {scan_site!r}"
            )
        credentials = credentials_for_site(scan_site)
        results = asyncio.run(
            scan_range(first, last, ports, limits_from_message(limits), exclude, credentials)
        )
        recorded = store.record(scan_id, idx, results, addresses)
        store.finish_if_complete(scan_id)
    except StorageError as exc:
        if self.request.retries < STORAGE_RETRIES:
            raise self.retry(exc=exc, countdown=STORAGE_RETRY_DELAY_S) from exc
        store.fail(scan_id, idx, str(exc))
        store.finish_if_complete(scan_id)
        raise
    except ConfigError as exc:
        # A malformed message will not get better on retry.
        store.fail(scan_id, idx, str(exc))
        store.finish_if_complete(scan_id)
        raise
    except Exception as exc:
        # Our bug, not the network's: still never leave the chunk "running" for ever.
        store.fail(scan_id, idx, f"{type(exc).__name__}: {exc}")
        store.finish_if_complete(scan_id)
        raise
    return {"scan_id": scan_id, "chunk": idx, "recorded": recorded, "hosts": len(results)}


@app.task(name=SCHEDULED_SCAN_TASK)
def scheduled_scan(
    job: str,
    site: str,
    targets: list[str],
    site_networks: list[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    exclude: list[str] | None = None,
    ports: list[int] | None = None,
    rate_pps: float | None = None,
) -> dict[str, Any]:
    """What beat sends: create the job's scan and enqueue its chunks on the site's queue."""
    scope = Scope(
        site_networks=tuple(ipaddress.ip_network(n, strict=False) for n in site_networks or ()),
        site_name=site,
        exclude=tuple(ipaddress.ip_network(n, strict=False) for n in exclude or ()),
    )
    request = ScanRequest(
        targets=targets,
        site=site,
        ports=tuple(ports) if ports else CAMERA_PORTS,
        scope=scope,
        limits=ScanLimits(rate_pps=rate_pps) if rate_pps else ScanLimits(),
        operator=f"schedule:{job}",
    )
    submitted = submit_scan(request, _inventory(), app, chunk_size=chunk_size)
    return {"job": job, "scan_id": submitted.scan_id, "chunks": submitted.chunks}
