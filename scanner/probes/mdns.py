"""mDNS/DNS-SD browse for camera service types (RFC 6762/6763), with python-zeroconf.

zeroconf does the wire protocol (its parser is fuzzed upstream); this module
turns what it resolved into evidence: ``mdns.service`` (``<type> <instance>``),
``mdns.txt`` (``key=value``, raw and bounded) and a MAC from Axis's
``macaddress`` TXT key (fingerprint-facts C.0).  Runs once per local segment,
never in the host namespace in tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from fingerprints.evidence import Observation, Status
from scanner.probes.base import bounded

NAME = "mdns"
PORT = 5353

#: Service types cameras and recorders announce (Axis, Arecont, generic RTSP/ONVIF, web UIs).
CAMERA_SERVICE_TYPES: tuple[str, ...] = (
    "_axis-video._tcp.local.",
    "_axis-nvr._tcp.local.",
    "_arec._tcp.local.",
    "_rtsp._tcp.local.",
    "_onvif._tcp.local.",
    "_http._tcp.local.",
)
MAX_SERVICES = 1024
MAX_TXT_ENTRIES = 32
#: TXT keys whose value is a MAC address (Axis: ``macaddress=ACCC8E...``).
MAC_TXT_KEYS = frozenset({"macaddress", "mac", "hwaddr"})

log = logging.getLogger(__name__)


@dataclass(slots=True)
class MdnsService:
    """One resolved service instance."""

    service_type: str
    name: str
    addresses: list[str] = field(default_factory=list)
    port: int | None = None
    txt: list[str] = field(default_factory=list)
    server: str | None = None

    @property
    def mac(self) -> str | None:
        for entry in self.txt:
            key, _, value = entry.partition("=")
            if key.lower() in MAC_TXT_KEYS and value:
                return normalise_mac(value)
        return None


def normalise_mac(text: str) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` from the common spellings; ``None`` if it is not a MAC."""
    hexdigits = "".join(ch for ch in text.strip() if ch not in ":-. ").lower()
    if len(hexdigits) != 12 or any(ch not in "0123456789abcdef" for ch in hexdigits):
        return None
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))


def parse_txt(properties: Mapping[bytes, bytes | None]) -> list[str]:
    """TXT entries as ``key=value`` strings (RFC 6763 §6.4: a key alone is a boolean), bounded."""
    out = []
    for key, value in list(properties.items())[:MAX_TXT_ENTRIES]:
        k = key.decode("utf-8", "replace")
        v = None if value is None else value.decode("utf-8", "replace")
        entry = bounded(k if v is None else f"{k}={v}", 256)
        if entry:
            out.append(entry)
    return out


def to_observations(services: list[MdnsService], in_scope: object = None) -> dict[str, Observation]:
    """One observation per address, with every service it announced."""
    out: dict[str, Observation] = {}
    for svc in services:
        for ip in svc.addresses:
            if callable(in_scope) and not in_scope(ip):
                continue
            obs = out.setdefault(ip, Observation(NAME, ip, PORT, Status.SUCCESS))
            obs.add("mdns.service", bounded(f"{svc.service_type} {svc.name}", 512))
            for entry in svc.txt:
                obs.add("mdns.txt", entry)
    return out


async def browse(
    iface_ip: str,
    service_types: tuple[str, ...] = CAMERA_SERVICE_TYPES,
    browse_s: float = 2.0,
    resolve_timeout_s: float = 1.5,
) -> list[MdnsService]:
    """Browse ``service_types`` on the interface with ``iface_ip`` and resolve each instance."""
    from zeroconf import IPVersion, ServiceStateChange
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    found: dict[tuple[str, str], None] = {}

    def on_change(zeroconf: object, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Removed and len(found) < MAX_SERVICES:
            found[(service_type, name)] = None

    aiozc = AsyncZeroconf(interfaces=[iface_ip], ip_version=IPVersion.V4Only)
    services: list[MdnsService] = []
    try:
        browser = AsyncServiceBrowser(aiozc.zeroconf, list(service_types), handlers=[on_change])
        try:
            await asyncio.sleep(browse_s)  # DNS-SD answers trickle in: browse for a fixed window
        finally:
            await browser.async_cancel()

        async def resolve(service_type: str, name: str) -> MdnsService | None:
            info = AsyncServiceInfo(service_type, name)
            if not await info.async_request(aiozc.zeroconf, int(resolve_timeout_s * 1000)):
                return None
            addrs = [a for a in info.parsed_addresses(IPVersion.V4Only) if _is_ip(a)]
            return MdnsService(
                service_type,
                bounded(name, 256) or name[:256],
                addrs,
                info.port,
                parse_txt(info.properties),
                bounded(info.server, 256),
            )

        got = await asyncio.gather(*(resolve(t, n) for t, n in found), return_exceptions=True)
        services = [s for s in got if isinstance(s, MdnsService)]
    finally:
        await aiozc.async_close()
    return services


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
