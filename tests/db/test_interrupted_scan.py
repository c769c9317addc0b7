"""A real scan of the lab cancelled mid-way: what was handed to the writer is kept, the scan says so."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from camsweep import api
from camsweep.lab import Lab, load_fleet
from db.repository import Inventory
from scanner.engine import Progress, ScanLimits

CANCEL_TIMEOUT_S = 60


async def test_cancelled_scan_is_interrupted_and_keeps_what_it_recorded(tmp_path: Path) -> None:
    fleet = load_fleet("demo", network=f"127.113.{uuid.uuid4().int % 200 + 1}.0/24")
    inv = Inventory(f"sqlite:///{tmp_path}/inv.db")
    request = api.ScanRequest(targets=fleet.targets, ports=(80,), limits=ScanLimits(concurrency=1))
    task: asyncio.Task[api.ScanOutcome] | None = None

    def on_progress(p: Progress) -> None:
        if p.done >= 2 and task is not None:
            task.cancel()  # what Ctrl-C or a worker's revoke does to a running scan

    with Lab(fleet):
        task = asyncio.ensure_future(api.scan_async(request, inv, on_progress=on_progress))
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, CANCEL_TIMEOUT_S)
    [scan] = inv.scans()
    assert scan.status == "interrupted" and scan.finished_at is not None
    devices = inv.devices()
    assert len(devices) < len(fleet.devices)  # it really stopped early
    for d in devices:  # and every host it recorded kept its observations
        assert {o.probe for o in inv.device_observations(d.id)} >= {"tcp", "http"}
    inv.close()
