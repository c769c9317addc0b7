"""Observations as the probes produce them, for inventory tests.

The lab on loopback serves HTTP only (no MACs, no ONVIF yet), so MAC-, firmware-
and capability-driven history is fed as the HostReports the ARP and ONVIF probes
would hand the inventory, with the Identification the matcher would conclude.
"""

from __future__ import annotations

from fingerprints.evidence import Evidence, HostReport, Identification, Observation, Status

LAB_MAC = "44:19:b6:6a:00:01"


def camera(
    ip: str,
    firmware: str,
    capabilities: tuple[str, ...],
    mac: str | None = LAB_MAC,
    serial: str = "DS-2CD2143G2-I20210101AAWRF12345",
    via_recorder: str | None = None,
) -> tuple[HostReport, Identification]:
    http = Observation(
        "http", ip, 80, Status.SUCCESS, [Evidence("http.server", "App-webs/", "http:80")], b"HTTP/1.1 200 OK"
    )
    onvif = Observation("onvif", ip, 80, Status.SUCCESS)
    onvif.add("onvif.manufacturer", "HIKVISION")
    onvif.add("onvif.model", "DS-2CD2143G2-I")
    onvif.add("onvif.firmware", f"{firmware} build 220101")
    onvif.add("onvif.serial", serial)
    for cap in capabilities:
        onvif.add("onvif.capability", cap)
    report = HostReport(ip, [http, onvif], mac=mac, via_recorder=via_recorder)
    ident = Identification(
        is_camera=True,
        brand="Hikvision",
        manufacturer="Hikvision",
        model="DS-2CD2143G2-I",
        firmware=firmware,
        serial=serial,
        category="fixed camera",
        confidence=0.95,
        capabilities=capabilities,
    )
    return report, ident


def plain_host(ip: str, server: str = "nginx/1.24.0") -> tuple[HostReport, Identification]:
    http = Observation("http", ip, 80, Status.SUCCESS, [Evidence("http.server", server, "http:80")])
    return HostReport(ip, [http]), Identification()
