"""Device identity and scan coverage: pure functions, no database.

Identity, strongest first: MAC, else manufacturer + serial, else ONVIF
endpoint UUID, else the IP address (always within a site, so two sites that
reuse one private range stay apart).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import netaddr

from fingerprints.errors import ConfigError
from fingerprints.evidence import HostReport, Identification

#: Evidence keys that carry a device's ONVIF / WS-Discovery endpoint reference
#: (ONVIF Core 7.3: ``urn:uuid:...``, stable across address changes).
ENDPOINT_KEYS = ("onvif.endpoint", "wsd.endpoint")


def normalise_mac(text: str) -> str:
    """``44-19-B6-00-00-01`` / ``4419.b600.0001`` -> ``44:19:b6:00:00:01``; ConfigError if not a MAC."""
    try:
        eui = netaddr.EUI(text.strip(), dialect=netaddr.mac_unix_expanded)
    except (netaddr.AddrFormatError, TypeError, ValueError) as exc:
        raise ConfigError(f"{text!r} is not a MAC address") from exc
    if eui.version != 48:
        raise ConfigError(f"{text!r} is not a 48-bit MAC address")
    return str(eui)


@dataclass(frozen=True, slots=True)
class Identity:
    """The identity fields of one device, as observed or declared."""

    mac: str | None = None
    manufacturer: str | None = None
    serial: str | None = None
    endpoint: str | None = None
    ip: str | None = None

    def keys(self) -> list[str]:
        """Every identity key this device can be found by, strongest first."""
        out = []
        if self.mac:
            out.append(f"mac:{self.mac.lower()}")
        if self.manufacturer and self.serial:
            out.append(f"serial:{self.manufacturer.casefold()}:{self.serial}")
        if self.endpoint:
            out.append(f"endpoint:{self.endpoint.lower()}")
        if self.ip:
            out.append(f"ip:{self.ip}")
        return out

    @property
    def key(self) -> str:
        keys = self.keys()
        if not keys:
            raise ConfigError("a device needs a MAC, manufacturer + serial, ONVIF endpoint or IP address")
        return keys[0]

    @property
    def strong(self) -> bool:
        """Identified by more than its address."""
        return bool(self.mac or (self.manufacturer and self.serial) or self.endpoint)


def identity_of(report: HostReport, ident: Identification) -> Identity:
    endpoint = next((e.value for e in report.evidence if e.key in ENDPOINT_KEYS and e.value), None)
    mac = None
    if report.mac:
        try:
            mac = normalise_mac(report.mac)
        except ConfigError:
            mac = None  # a malformed MAC from the wire is not an identity
    return Identity(mac, ident.manufacturer, ident.serial, endpoint, report.ip)


def identity_key(report: HostReport, ident: Identification) -> str:
    """MAC, else manufacturer + serial, else ONVIF endpoint UUID, else IP (per site)."""
    return identity_of(report, ident).key


def capabilities_of(report: HostReport, ident: Identification) -> list[str]:
    """The matcher's capabilities plus any ``onvif.capability`` evidence, sorted, unique."""
    caps = set(ident.capabilities)
    caps.update(e.value for e in report.evidence if e.key == "onvif.capability" and e.value)
    return sorted(caps)


def target_ranges(targets: Iterable[str]) -> list[list[str]]:
    """Address ranges of target texts (address, CIDR, ``a-b``); hostnames are skipped."""
    out: list[list[str]] = []
    for text in targets:
        text = text.strip()
        try:
            if "/" in text:
                net = ipaddress.ip_network(text, strict=False)
                out.append([str(net[0]), str(net[-1])])
            elif "-" in text:
                lo_txt, hi_txt = (p.strip() for p in text.split("-", 1))
                lo = ipaddress.ip_address(lo_txt)
                if hi_txt.isdigit() and lo.version == 4:
                    hi_txt = ".".join([*lo_txt.split(".")[:3], hi_txt])
                out.append([str(lo), str(ipaddress.ip_address(hi_txt))])
            else:
                addr = ipaddress.ip_address(text)
                out.append([str(addr), str(addr)])
        except ValueError:
            continue
    return out


def covers(ranges: Sequence[Sequence[str]], ip: str | None) -> bool:
    """Whether ``ip`` falls in one of ``ranges`` (``[[first, last], ...]``)."""
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for first, last in ranges:
        lo, hi = ipaddress.ip_address(first), ipaddress.ip_address(last)
        if lo.version == addr.version and int(lo) <= int(addr) <= int(hi):
            return True
    return False
