"""End to end in network namespaces: ``camsweep scan`` over a small fleet of real peers.

Devices (each its own namespace on a bridge, with a real vendor OUI):
  d0 ipycam's ONVIF device service on 8899 and its WS-Discovery responder (Hikvision OUI);
  d1 the PyPI WSDiscovery publisher only: no TCP port at all (discovery-only host);
  d2 python-zeroconf announcing _axis-video._tcp, and GStreamer's RTSP server on 554 (Axis OUI);
  d3 nothing but an interface: only ARP sees it.
The scanner runs in its own namespace, so ARP and multicast never leave the test's network.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.repository import Inventory
from tests.scanner.scanner_peers import DEBIAN_PYTHON, PEERS, NetnsLab, need_gst, need_root

pytestmark = pytest.mark.netns

MACS = ("c0:56:e3:00:00:01", "c0:56:e3:00:00:02", "ac:cc:8e:00:00:01", "44:19:b6:00:00:09")


@pytest.fixture(scope="module")
def fleet() -> Iterator[NetnsLab]:
    need_root("the namespace lab")
    need_gst()
    lab = NetnsLab(MACS)
    try:
        lab.up()
        d0, d1, d2, _d3 = lab.devices
        lab.start(d0, [sys.executable, str(PEERS / "ipycam_peer.py"), d0.ip, "8899", "", "", "wsd"])
        lab.start(d1, [sys.executable, str(PEERS / "wsd_publisher_peer.py"), d1.ip])
        lab.start(d2, [sys.executable, str(PEERS / "zeroconf_peer.py"), d2.ip])
        lab.start(d2, [DEBIAN_PYTHON, str(PEERS / "gst_rtsp_peer.py"), d2.ip, "554"])
        yield lab
    finally:
        lab.down()


def _scan(
    lab: NetnsLab, db: Path, *extra: str, prefix: tuple[str, ...] = ()
) -> tuple[list[dict[str, object]], Inventory, str]:
    args = [
        "scan",
        "10.99.0.0/28",
        "--db",
        f"sqlite:///{db}",
        "--json",
        "--ports",
        "80,554,8899",
        "--rate",
        "0",
    ]
    proc = lab.run_in_scanner([*prefix, sys.executable, "-m", "camsweep", *args, *extra])
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return rows, Inventory(f"sqlite:///{db}"), proc.stderr


def test_scan_finds_every_device_with_evidence_from_every_protocol(fleet: NetnsLab, tmp_path: Path) -> None:
    rows, inv, stderr = _scan(fleet, tmp_path / "inv.db")
    try:
        summary = rows[-1]
        assert summary["status"] == "completed" and summary["addresses"] == 16
        hosts = {r["ip"]: r for r in rows[:-1]}
        d0, d1, d2, d3 = fleet.devices
        assert {d0.ip, d1.ip, d2.ip, d3.ip} <= set(hosts), hosts.keys()
        assert hosts[d0.ip]["open_ports"] == [8899] and hosts[d1.ip]["open_ports"] == []
        assert hosts[d2.ip]["open_ports"] == [554]
        by_ip = {d.ip: d for d in inv.devices()}
        ev = {
            ip: {(e.key, e.value) for o in inv.device_observations(rec.id) for e in o.evidence}
            for ip, rec in by_ip.items()
        }
        probes = {ip: {o.probe for o in inv.device_observations(rec.id)} for ip, rec in by_ip.items()}
        # ARP: every device's MAC (the silent one included).
        for d in fleet.devices:
            assert by_ip[d.ip].mac == d.mac, d
        # d0: ipycam's ONVIF answers GetDeviceInformation anonymously; its WS-Discovery reply is non-standard.
        assert ("onvif.manufacturer", "IPyCamTest") in ev[d0.ip]
        assert {"tcp", "http", "onvif", "wsd"} <= probes[d0.ip]
        # d1: WS-Discovery publisher (multicast), with scopes and XAddr, and no TCP port.
        assert ("wsd.scope", "onvif://www.onvif.org/hardware/DS-2CD2143G0-I") in ev[d1.ip]
        assert ("wsd.xaddr", f"http://{d1.ip}:8899/onvif/device_service") in ev[d1.ip]
        assert ("wsd.type", "dn:NetworkVideoTransmitter") in ev[d1.ip]
        # d2: mDNS service + TXT, and RTSP from GStreamer.
        assert (
            "mdns.service",
            "_axis-video._tcp.local. AXIS M3045-V - ACCC8E000001._axis-video._tcp.local.",
        ) in ev[d2.ip]
        assert ("mdns.txt", "macaddress=ACCC8E000001") in ev[d2.ip]
        assert ("rtsp.server", "GStreamer RTSP server") in ev[d2.ip]
        # d3: only ARP.
        assert probes[d3.ip] <= {"tcp"}
        assert "warning" not in stderr
    finally:
        inv.close()


def test_discovery_can_be_switched_off(fleet: NetnsLab, tmp_path: Path) -> None:
    rows, inv, _ = _scan(fleet, tmp_path / "off.db", "--no-arp", "--no-wsd", "--no-mdns")
    try:
        hosts = {r["ip"] for r in rows[:-1]}
        d0, _d1, d2, _d3 = fleet.devices
        assert hosts == {d0.ip, d2.ip}  # only TCP-reachable devices
        assert all(d.mac is None for d in inv.devices())
    finally:
        inv.close()


def test_exclusion_is_never_probed(fleet: NetnsLab, tmp_path: Path) -> None:
    d0 = fleet.devices[0]
    rows, inv, _ = _scan(fleet, tmp_path / "ex.db", "--exclude", d0.ip)
    inv.close()
    assert d0.ip not in {r["ip"] for r in rows[:-1]}
    assert rows[-1]["addresses"] == 15


def test_without_raw_socket_privilege_arp_warns_once_and_the_scan_goes_on(
    fleet: NetnsLab, tmp_path: Path
) -> None:
    # Root minus CAP_NET_RAW: exactly what an unprivileged operator has for raw frames.
    drop = ("setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw")
    rows, inv, stderr = _scan(fleet, tmp_path / "noraw.db", prefix=drop)
    try:
        assert stderr.count("ARP sweep skipped") == 1, stderr
        hosts = {r["ip"] for r in rows[:-1]}
        d0, d1, d2, d3 = fleet.devices
        assert {d0.ip, d1.ip, d2.ip} <= hosts  # TCP, WS-Discovery and mDNS still found them
        assert d3.ip not in hosts  # only ARP could see the silent one
        assert rows[-1]["status"] == "completed"
    finally:
        inv.close()
