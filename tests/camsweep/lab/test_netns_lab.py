"""The lab in namespaces: own MACs, reachability, multicast WS-Discovery and mDNS from the scanner namespace."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator

import pytest

from camsweep.lab import Lab, load_fleet
from camsweep.lab.netns import list_namespaces, netns_available
from tests.camsweep.lab.helpers import PROBE_2005, new_message_id

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(netns_available() is not None, reason=str(netns_available())),
]
RUN_TIMEOUT_S = 60.0

MULTICAST_PROBE = r"""
import json, socket, sys, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(0.5)
sock.sendto(sys.argv[1].encode(), ("239.255.255.250", 3702))
found, deadline = {}, time.monotonic() + 3
while time.monotonic() < deadline:
    try:
        data, (ip, _) = sock.recvfrom(65536)
    except socket.timeout:
        continue
    found[ip] = data.decode()
print(json.dumps(found))
"""

MDNS_BROWSE = r"""
import json, sys, time
from zeroconf import Zeroconf, ServiceBrowser, IPVersion
zc = Zeroconf(interfaces=[sys.argv[1]], ip_version=IPVersion.V4Only)
names = []
class L:
    def add_service(self, zc, t, n): names.append(n)
    def update_service(self, zc, t, n): pass
    def remove_service(self, zc, t, n): pass
ServiceBrowser(zc, "_axis-video._tcp.local.", L())
deadline = time.monotonic() + 8
while not names and time.monotonic() < deadline:
    time.sleep(0.1)
out = {}
for n in names:
    info = zc.get_service_info("_axis-video._tcp.local.", n, timeout=3000)
    if info:
        out[n] = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
zc.close()
print(json.dumps(out))
"""

HTTP_GET = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], 80), 5)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
print(s.recv(200).decode("latin-1"))
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    fleet = load_fleet("mixed", mode="netns", network="10.80.7.0/24")
    with Lab(fleet, segment_prefix=f"cslab-{os.getpid()}-n") as running:
        yield running
    assert list_namespaces(f"cslab-{os.getpid()}-n") == []  # teardown removed exactly what it made


def _in_scanner(lab: Lab, *argv: str) -> str:
    assert lab.segment is not None and lab.segment.scanner is not None
    r = lab.segment.run(lab.segment.scanner, list(argv), timeout_s=RUN_TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_each_device_has_its_own_mac_and_answers_the_scanner(lab: Lab) -> None:
    assert lab.segment is not None
    for d in lab.fleet.devices:
        ep = lab.endpoints[d.name]
        link = lab.segment.run(ep, ["ip", "-o", "link", "show", "eth0"]).stdout
        assert f"link/ether {d.mac}" in link, d.name
    hik = next(d for d in lab.fleet.devices if d.personality.id == "hikvision-ds2cd-fixed")
    assert "Server: App-webs/" in _in_scanner(lab, sys.executable, "-c", HTTP_GET, hik.ip)
    neigh = _in_scanner(lab, "ip", "neigh", "show", hik.ip)
    assert hik.mac in neigh  # resolved by real ARP across the bridge


def test_multicast_ws_discovery_reaches_every_onvif_device(lab: Lab) -> None:
    out = _in_scanner(lab, sys.executable, "-c", MULTICAST_PROBE, PROBE_2005.format(mid=new_message_id()))
    found = json.loads(out)
    onvif_devices = {d.ip for d in lab.fleet.devices if "wsd" in d.personality.services}
    assert set(found) == onvif_devices
    axis = next(d for d in lab.fleet.devices if d.personality.id == "axis-p32-dome")
    assert f"urn:uuid:{axis.uuid}" in found[axis.ip]


def test_mdns_publishes_axis_video_with_its_mac(lab: Lab) -> None:
    assert lab.segment is not None and lab.segment.scanner is not None
    out = _in_scanner(lab, sys.executable, "-c", MDNS_BROWSE, lab.segment.scanner.ip)
    found = json.loads(out)
    axis = next(d for d in lab.fleet.devices if d.personality.id == "axis-p32-dome")
    [txt] = found.values()
    assert txt["macaddress"] == axis.mac.replace(":", "").upper()


WSD_CLIENT = r"""
import json
from wsdiscovery import QName
from wsdiscovery.discovery import ThreadedWSDiscovery
wsd = ThreadedWSDiscovery()
wsd.start()
try:
    nvt = QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter", "dn")
    found = wsd.searchServices(types=[nvt], timeout=3)
    out = {s.getEPR(): {"xaddrs": list(s.getXAddrs()), "scopes": [str(x) for x in s.getScopes()]} for s in found}
finally:
    wsd.stop()
print(json.dumps(out))
"""


def test_a_third_party_ws_discovery_client_finds_the_cameras(lab: Lab) -> None:
    """python WSDiscovery (a real client, not ours) discovers every ONVIF personality by multicast."""
    found = json.loads(_in_scanner(lab, sys.executable, "-c", WSD_CLIENT))
    expected = {f"urn:uuid:{d.uuid}": d for d in lab.fleet.devices if "wsd" in d.personality.services}
    assert set(found) == set(expected)
    for epr, d in expected.items():
        assert found[epr]["xaddrs"] == [f"http://{d.ip}/onvif/device_service"]
        assert any(s.endswith(f"/hardware/{d.personality.model}") for s in found[epr]["scopes"])
