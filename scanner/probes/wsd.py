"""WS-Discovery probe: multicast on local segments, and a directed unicast probe.

Two dialects are spoken because they do not interoperate (fingerprint-facts
C.0): the 2005/04 draft that ONVIF devices implement (ONVIF Core §7.3) and the
OASIS WS-Discovery 1.1 of 2009/01 (Windows WSD, newer stacks).  A reply
(``ProbeMatches``) carries the EndpointReference (``urn:uuid:...``), Types,
Scopes (ONVIF ``onvif://www.onvif.org/<kind>/<value>``: name, hardware,
location, sometimes MAC) and XAddrs (the device-service URLs).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element

from scanner.probes.base import ProbeContext, ProbeResult, Status, Target, bounded
from scanner.probes.onvif import parse_xml

NAME = "wsd"
PORT = 3702
PORTS: tuple[int, ...] = (PORT,)
MULTICAST_GROUP = "239.255.255.250"

SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    addressing_ns: str
    discovery_ns: str
    to: str

    @property
    def probe_action(self) -> str:
        return f"{self.discovery_ns}/Probe"


#: ONVIF's dialect (WS-Discovery April 2005 draft, WS-Addressing 2004/08).
DIALECT_2005 = Dialect(
    "2005/04",
    "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "http://schemas.xmlsoap.org/ws/2005/04/discovery",
    "urn:schemas-xmlsoap-org:ws:2005:04:discovery",
)
#: OASIS WS-Discovery 1.1 (2009/01, WS-Addressing 1.0).
DIALECT_2009 = Dialect(
    "2009/01",
    "http://www.w3.org/2005/08/addressing",
    "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01",
    "urn:docs-oasis-open-org:ws-dd:ns:discovery:2009:01",
)
DIALECTS = (DIALECT_2005, DIALECT_2009)
ONVIF_NVT_TYPE = ("dn", "http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter")

MAX_SCOPES = 64
MAX_MATCHES = 16


def build_probe(
    dialect: Dialect = DIALECT_2005, nvt_only: bool = False, message_id: str | None = None
) -> bytes:
    """A WS-Discovery Probe.  Without Types it matches every target service; with
    ``nvt_only`` it asks for ONVIF NetworkVideoTransmitters (some cameras answer only that)."""
    mid = message_id or f"urn:uuid:{uuid.uuid4()}"
    prefix, ns, local = ONVIF_NVT_TYPE
    types = f'<d:Types xmlns:{prefix}="{ns}">{prefix}:{local}</d:Types>' if nvt_only else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP12_NS}" xmlns:a="{dialect.addressing_ns}" xmlns:d="{dialect.discovery_ns}">'
        "<s:Header>"
        f"<a:Action>{dialect.probe_action}</a:Action>"
        f"<a:MessageID>{mid}</a:MessageID>"
        f"<a:To>{dialect.to}</a:To>"
        "</s:Header>"
        f"<s:Body><d:Probe>{types}</d:Probe></s:Body>"
        "</s:Envelope>"
    ).encode()


def build_probes() -> list[bytes]:
    """The probes sent each round: both dialects, plus ONVIF's NVT-typed one."""
    return [build_probe(DIALECT_2005), build_probe(DIALECT_2005, nvt_only=True), build_probe(DIALECT_2009)]


@dataclass(slots=True)
class ProbeMatch:
    """One ``ProbeMatch`` of a reply."""

    endpoint: str | None = None
    types: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    xaddrs: list[str] = field(default_factory=list)
    dialect: str | None = None

    def scope_values(self, kind: str) -> list[str]:
        """Decoded values of ONVIF scopes of one kind (``name``, ``hardware``, ``location``, ``MAC``)."""
        out = []
        for scope in self.scopes:
            try:
                parts = urlsplit(scope)
            except ValueError:
                continue
            if parts.scheme.lower() != "onvif":
                continue
            segs = [unquote(p) for p in parts.path.strip("/").split("/")]
            if segs and segs[0].lower() == kind.lower() and len(segs) > 1:
                value = bounded("/".join(segs[1:]), 256)
                if value:
                    out.append(value)
        return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _text_of(el: Element, name: str) -> str | None:
    for child in el.iter():
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def parse_probe_matches(data: bytes) -> list[ProbeMatch]:
    """Every ``ProbeMatch`` in a reply, either dialect; ``[]`` for anything else.

    Lenient on purpose: ipycam and other cheap responders send non-standard
    replies (TESTBED.md), so elements are found by local name.
    """
    root = parse_xml(data)
    if root is None:
        return []
    out: list[ProbeMatch] = []
    for el in root.iter():
        if _local(el.tag) != "ProbeMatch" or len(out) >= MAX_MATCHES:
            continue
        ns = _ns(el.tag)
        dialect = next((d.name for d in (DIALECT_2005, DIALECT_2009) if d.discovery_ns == ns), None)
        m = ProbeMatch(dialect=dialect)
        addr = None
        for child in el.iter():
            if _local(child.tag) == "EndpointReference":
                addr = _text_of(child, "Address")
                break
        m.endpoint = bounded(addr, 256)
        m.types = [bounded(t, 128) or "" for t in (_text_of(el, "Types") or "").split()][:MAX_SCOPES]
        m.scopes = [bounded(s, 512) or "" for s in (_text_of(el, "Scopes") or "").split()][:MAX_SCOPES]
        m.xaddrs = [bounded(x, 512) or "" for x in (_text_of(el, "XAddrs") or "").split()][:MAX_SCOPES]
        out.append(m)
    return out


def add_evidence(result: ProbeResult, matches: list[ProbeMatch]) -> str | None:
    """Evidence from matches onto ``result``; returns a MAC found in the scopes, if any."""
    seen = {(e.key, e.value) for e in result.evidence}
    mac = None

    def add(key: str, value: str | None) -> None:
        if value and (key, value) not in seen:
            seen.add((key, value))
            result.add(key, value)

    for m in matches:
        add("wsd.endpoint", m.endpoint)
        for t in m.types:
            add("wsd.type", t)
        for s in m.scopes:
            add("wsd.scope", s)  # raw, as sent (URL-encoded): rules see what the device said
        for x in m.xaddrs:
            add("wsd.xaddr", x)
        macs = m.scope_values("MAC") or m.scope_values("mac")
        if macs and mac is None:
            mac = macs[0]
    return mac


class WsdProbe:
    """A directed unicast Probe to one address (both dialects)."""

    name = NAME
    ports = PORTS

    async def run(self, target: Target, ctx: ProbeContext) -> ProbeResult:
        result = ProbeResult(NAME, target.ip, target.port, Status.TIMEOUT)
        # All probes at once: a 2009-only responder ignores the 2005 probes and vice versa.
        rounds = await asyncio.gather(
            *(
                ctx.udp_exchange(target.ip, target.port, payload, ctx.udp_timeout_s, ctx.udp_retries)
                for payload in build_probes()
            )
        )
        replies = [r for got in rounds for r in got]
        if not replies:
            return result
        matches = [m for data, _src in replies for m in parse_probe_matches(data)]
        result.raw = b"".join(d for d, _ in replies)[: ctx.max_raw_bytes]
        if not matches:
            result.status = Status.PROTOCOL_MISMATCH
            return result
        add_evidence(result, matches)
        result.status = Status.SUCCESS
        return result
