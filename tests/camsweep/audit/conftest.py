"""Audit fixtures: a lab fleet in the audit's loopback block (127.150-159.x.x), scanned for real."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from camsweep import api
from camsweep.lab import Lab, load_fleet
from db.models import Device, Site
from db.repository import Inventory, utcnow
from fingerprints.manufacturers import ManufacturerList, default_manufacturers


def audit_network() -> str:
    """A /28 in the audit's loopback block (the audit fleet needs three addresses)."""
    return f"127.{150 + uuid.uuid4().int % 10}.{uuid.uuid4().int % 250 + 1}.{16 * (uuid.uuid4().int % 16)}/28"


def lab_network(lab: Lab) -> str:
    return str(ipaddress.ip_network(f"{lab.fleet.devices[0].ip}/28", strict=False))


@pytest.fixture
def lab() -> Iterator[Lab]:
    """The audit fleet (two Hikvision cameras and an nginx decoy) on a fresh audit address block."""
    with Lab(load_fleet("mini", network=audit_network())) as running:
        yield running


def scan_into(inventory: Inventory, lab: Lab, site: str = "hq") -> api.ScanOutcome:
    """A real scan of the lab's whole /28 (so the network counts as covered)."""
    request = api.ScanRequest(targets=[lab_network(lab)], site=site, ports=(80,))
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


def add_device(inventory: Inventory, site: str = "hq", **fields: Any) -> int:
    """Create an inventory state directly (e.g. a declared standalone unit), as an operator's record would.

    Standalone units are never observed, so there is no scan to record them
    through; the inventory's registration API for them is not on this branch yet.
    """
    with Session(inventory.engine) as s:
        site_row = s.scalar(select(Site).where(Site.name == site))
        if site_row is None:
            site_row = Site(name=site, networks=[], created_at=utcnow())
            s.add(site_row)
            s.flush()
        fields.setdefault("identity_key", f"test:{uuid.uuid4().hex}")
        fields.setdefault("is_camera", True)
        fields.setdefault("first_seen", utcnow())
        fields.setdefault("last_seen", utcnow())
        device = Device(site_id=site_row.id, **fields)
        s.add(device)
        s.commit()
        return device.id


def set_connectivity(inventory: Inventory, device_id: int, connectivity: str) -> None:
    with Session(inventory.engine) as s:
        device = s.get(Device, device_id)
        assert device is not None
        device.connectivity = connectivity
        s.commit()


def flagged_manufacturers(tmp_path: Path) -> ManufacturerList:
    """The packaged manufacturer list, whose policy flags name the survey's vendors."""
    del tmp_path  # kept so callers need not change
    return default_manufacturers()
