"""A real third-party fingerprint database agrees with the lab: nmap -sV names our personalities.

The banners are written from nmap-service-probes (and other public sources); this proves the bytes
the lab sends match those captures when a real scanner with its own probes asks.  nmap runs as a
TCP connect scan (-sT) against loopback only: no raw packets leave the host's namespace.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator

import defusedxml.ElementTree as SafeET
import pytest

from camsweep.lab import Lab, load_fleet

NMAP_TIMEOUT_S = 240.0

EXPECTED = {
    ("hikvision-ds2cd-fixed", 80): "Hikvision IP camera httpd",
    ("hikvision-ds2cd-fixed", 554): "Hikvision DVR rtspd",
    ("hikvision-ds2cd-fixed", 8000): "Hikvision IPCam control port",
    ("hikvision-ptz", 80): "Hikvision camera httpd",
    ("hikvision-nvr", 80): "Hikvision Network Video Recorder http admin",
    ("hikvision-nvr", 554): "Hikvision DVR rtspd",
    ("interlogix-truvision", 80): "Interlogix TruVision DVR web interface",
    ("dahua-ipc", 80): "Dahua webcam httpd",
    ("dahua-nvr", 554): "Dahua IP camera rtspd",
    ("amcrest-dahua-oem", 80): "Amcrest IP camera http interface",
    ("bosch-dinion", 80): "Bosch DINION IP Bullet 5000 webcam http admin",
    ("avigilon-h5a", 80): "Avigilon webcam ONVIF NVT",
    ("avigilon-h5a", 554): "Avigilon ONVIF camera rtspd",
    ("vivotek-fd", 80): "Vivotek Network Camera http config",
    ("vivotek-fd", 554): "Vivotek FD8134V webcam rtspd",
    ("xiongmai-whitelabel", 80): "uc-httpd",
    ("xiongmai-whitelabel", 554): "H264DVR rtspd",
    ("decoy-nginx", 80): "nginx",
    ("decoy-router-mikrotik", 80): "MikroTik router config httpd",
}

pytestmark = pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap is not installed")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    fleet = load_fleet("demo", network=f"127.88.{uuid.uuid4().int % 200 + 20}.0/24")
    with Lab(fleet) as running:
        yield running


def test_nmap_service_detection_names_the_personalities(lab: Lab) -> None:
    by_personality = {d.personality.id: d for d in lab.fleet.devices}
    hosts = sorted({by_personality[p].ip for p, _ in EXPECTED})
    ports = ",".join(str(p) for p in sorted({port for _, port in EXPECTED}))
    r = subprocess.run(
        [
            "nmap",
            "-sT",
            "-Pn",
            "-n",
            "-sV",
            "--version-intensity",
            "5",
            "--max-retries",
            "1",
            "-p",
            ports,
            "-oX",
            "-",
            *hosts,
        ],
        capture_output=True,
        text=True,
        timeout=NMAP_TIMEOUT_S,
    )
    assert r.returncode == 0, r.stderr
    products: dict[tuple[str, int], str] = {}
    for host in SafeET.fromstring(r.stdout).iter("host"):
        addr = host.find("address")
        assert addr is not None
        for port in host.iter("port"):
            service = port.find("service")
            if service is not None:
                products[(addr.get("addr", ""), int(port.get("portid", "0")))] = service.get("product", "")
    wrong = {
        (pid, port): (products.get((by_personality[pid].ip, port)), want)
        for (pid, port), want in EXPECTED.items()
        if products.get((by_personality[pid].ip, port)) != want
    }
    assert not wrong, wrong
