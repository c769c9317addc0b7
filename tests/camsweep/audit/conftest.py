"""Audit fixtures: a lab fleet in the audit's loopback block (127.150-159.x.x), scanned for real."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from camsweep import api
from camsweep.lab import Lab, load_fleet
from db.repository import Inventory


def audit_network() -> str:
    return f"127.{150 + uuid.uuid4().int % 10}.{uuid.uuid4().int % 250 + 1}.0/24"


@pytest.fixture
def lab() -> Iterator[Lab]:
    """The demo fleet (two Hikvision cameras and an nginx decoy) on a fresh audit address block."""
    with Lab(load_fleet("demo", network=audit_network())) as running:
        yield running


def scan_into(inventory: Inventory, lab: Lab, site: str = "hq") -> api.ScanOutcome:
    request = api.ScanRequest(targets=lab.fleet.targets, site=site, ports=(80,))
    return asyncio.run(api.scan_async(request, inventory))


@pytest.fixture
def scanned(db_url: str, lab: Lab) -> Iterator[Inventory]:
    """An inventory holding one real scan of the lab fleet (site ``hq``)."""
    inventory = Inventory(db_url)
    try:
        outcome = scan_into(inventory, lab)
        assert outcome.status == "completed"
        yield inventory
    finally:
        inventory.close()
