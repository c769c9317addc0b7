"""WS-Discovery responder of an emulated ONVIF device (UDP 3702).

Answers a Probe in the dialect it was asked in: the 2005/04 draft that ONVIF
uses (``http://schemas.xmlsoap.org/ws/2005/04/discovery``, SOAP 1.2 envelope)
or OASIS WS-Discovery 1.1 (``http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01``).
The ProbeMatch carries the device's EndpointReference (``urn:uuid:``), Types
(``dn:NetworkVideoTransmitter tds:Device``), Scopes and XAddrs, and relates to
the Probe's MessageID; it goes to the address and port the Probe came from
(replies come from our socket, not necessarily 3702: TESTBED.md).

On loopback the responder answers directed (unicast) probes on the device's
own address; in a namespace it also joins 239.255.255.250 so multicast probes
work for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import uuid
from typing import cast
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from camsweep.lab import onvif
from camsweep.lab.state import DeviceState

WSD_PORT = 3702
WSD_GROUP = "239.255.255.250"
MAX_DATAGRAM = 16 * 1024

DIALECTS = {
    # discovery namespace -> (addressing namespace, anonymous "To" for replies)
    "http://schemas.xmlsoap.org/ws/2005/04/discovery": (
        "http://schemas.xmlsoap.org/ws/2004/08/addressing",
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous",
    ),
    "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01": (
        "http://www.w3.org/2005/08/addressing",
        "http://www.w3.org/2005/08/addressing/anonymous",
    ),
}
DN = "http://www.onvif.org/ver10/network/wsdl"
DEVICE_TYPES = ("NetworkVideoTransmitter", "Device")


def parse_probe(data: bytes) -> tuple[str, str, list[str]] | None:
    """(discovery namespace, MessageID, requested type local names) of a Probe, else None."""
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        return None
    for ns, (wsa, _) in DIALECTS.items():
        probe = root.find(f".//{{{ns}}}Probe")
        if probe is not None:
            msg_id = root.findtext(f".//{{{wsa}}}MessageID") or ""
            types_text = probe.findtext(f"{{{ns}}}Types") or ""
            return ns, msg_id.strip(), [t.rsplit(":", 1)[-1] for t in types_text.split()]
    return None


def probe_match(state: DeviceState, ns: str, relates_to: str, xaddrs: list[str]) -> bytes:
    wsa, anonymous = DIALECTS[ns]
    scopes = " ".join(escape(s) for s in onvif.scopes(state))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="{wsa}" '
        f'xmlns:d="{ns}" xmlns:dn="{DN}" xmlns:tds="{onvif.TDS}">'
        "<env:Header>"
        f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>"
        f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>"
        f"<wsa:To>{anonymous}</wsa:To>"
        f"<wsa:Action>{ns}/ProbeMatches</wsa:Action>"
        f'<d:AppSequence InstanceId="{int(state.boot_time)}" MessageNumber="1"/>'
        "</env:Header><env:Body><d:ProbeMatches><d:ProbeMatch>"
        f"<wsa:EndpointReference><wsa:Address>urn:uuid:{state.spec.uuid}</wsa:Address></wsa:EndpointReference>"
        "<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>"
        f"<d:Scopes>{scopes}</d:Scopes>"
        f"<d:XAddrs>{' '.join(escape(x) for x in xaddrs)}</d:XAddrs>"
        "<d:MetadataVersion>1</d:MetadataVersion>"
        "</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"
    ).encode()


class WsdProtocol(asyncio.DatagramProtocol):
    def __init__(self, state: DeviceState) -> None:
        self.state = state
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) > MAX_DATAGRAM or self.transport is None:
            return
        probe = parse_probe(data)
        if probe is None:
            return
        ns, msg_id, types = probe
        if types and not any(t in DEVICE_TYPES for t in types):
            return  # asked for something this device is not (e.g. a printer)
        ports = (self.state.spec.personality.services.get("onvif") or {}).get("ports", [80])
        xaddrs = [onvif.xaddr(self.state, int(ports[0]))]
        with contextlib.suppress(OSError):
            self.transport.sendto(probe_match(self.state, ns, msg_id, xaddrs), addr)


def wsd_socket(ip: str, multicast: bool) -> socket.socket:
    """The UDP socket a responder listens on (create it inside the device's namespace)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if multicast:
        sock.bind(("0.0.0.0", WSD_PORT))
        mreq = struct.pack("4s4s", socket.inet_aton(WSD_GROUP), socket.inet_aton(ip))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    else:
        sock.bind((ip, WSD_PORT))
    sock.setblocking(False)
    return sock
