"""The shared fixtures other areas' tests use: they start what they say."""

from __future__ import annotations

import pytest

from camsweep.lab import Lab
from fingerprints.errors import LabError
from tests.camsweep.lab.helpers import http_get


def test_run_in_scanner_needs_netns(demo_lab: Lab) -> None:
    with pytest.raises(LabError, match="no scanner namespace"):
        demo_lab.run_in_scanner(["true"])


def test_hostile_lab_fixture_serves_the_hostile_fleet(hostile_lab: Lab) -> None:
    assert hostile_lab.fleet.name == "hostile"
    assert all(d.personality.hostile for d in hostile_lab.fleet.devices)
    title = next(d for d in hostile_lab.fleet.devices if d.personality.id == "hostile-html-title")
    assert b"<script>" in http_get(title.ip, 80)


def test_netns_lab_fixture_gives_a_scanner_namespace(netns_lab: Lab) -> None:
    assert netns_lab.segment is not None and netns_lab.segment.scanner is not None
    d = netns_lab.fleet.devices[0]
    r = netns_lab.run_in_scanner(["ip", "-o", "addr", "show", "eth0"])
    assert f"inet {netns_lab.segment.scanner.ip}/24 " in r.stdout and f"inet {d.ip}/" not in r.stdout
