"""WS-Discovery: both dialects built and parsed, fuzz, and a directed probe over real UDP.

Captures: the 2005/04 reply has the shape of ONVIF devices' ProbeMatches with
Hikvision-style scopes (fingerprint-facts C.1: ``name/HIKVISION%20DS-2CD2143G0-I``,
``hardware/DS-2CD2143G0-I``); the 2009/01 reply follows the OASIS WS-Discovery
1.1 spec's ProbeMatches example (§5.3).  The multicast path and the PyPI
WSDiscovery publisher are exercised in ``test_netns_discovery.py``.
"""

from __future__ import annotations

import asyncio
import socket

from hypothesis import given, settings
from hypothesis import strategies as st

from fingerprints.evidence import Observation
from scanner.engine import Engine, ScanLimits
from scanner.probes.base import Status, Target
from scanner.probes.onvif import parse_xml
from scanner.probes.wsd import (
    DIALECT_2005,
    DIALECT_2009,
    WsdProbe,
    add_evidence,
    build_probe,
    build_probes,
    parse_probe_matches,
)

REPLY_2005 = b"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<env:Header><wsadis:MessageID>urn:uuid:4f2b8f3c-1a2b-11b2-8000-c056e3000001</wsadis:MessageID>
<wsadis:RelatesTo>urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a</wsadis:RelatesTo>
<wsadis:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsadis:To>
<wsadis:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsadis:Action></env:Header>
<env:Body><d:ProbeMatches><d:ProbeMatch>
<wsadis:EndpointReference><wsadis:Address>urn:uuid:4f2b8f3c-1a2b-11b2-8000-c056e3000001</wsadis:Address></wsadis:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G0-I onvif://www.onvif.org/hardware/DS-2CD2143G0-I onvif://www.onvif.org/location/city/hangzhou onvif://www.onvif.org/MAC/c0:56:e3:00:00:01</d:Scopes>
<d:XAddrs>http://10.99.0.10/onvif/device_service http://[fe80::1]/onvif/device_service</d:XAddrs>
<d:MetadataVersion>10</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"""

REPLY_2009 = b"""<s:Envelope xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:d="http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01" xmlns:i="http://printer.example.org/2003/imaging" xmlns:s="http://www.w3.org/2003/05/soap-envelope">
<s:Header><a:Action>http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/ProbeMatches</a:Action>
<a:MessageID>urn:uuid:e32e6863-ea5e-4ee4-997e-69539d1ff2cc</a:MessageID><a:RelatesTo>urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a</a:RelatesTo>
<a:To>http://www.w3.org/2005/08/addressing/anonymous</a:To>
<d:AppSequence InstanceId="1077004800" MessageNumber="2"/></s:Header>
<s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:98190dc2-0890-4ef8-ac9a-5940995e6119</a:Address></a:EndpointReference>
<d:Types>i:PrintBasic i:PrintAdvanced</d:Types><d:Scopes>ldap:///ou=engineering,o=examplecom,c=us http://itdept/imaging/building1/floor2</d:Scopes>
<d:XAddrs>http://prn-example/PRN42/b42-1668-a</d:XAddrs><d:MetadataVersion>75965</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"""


def test_build_probes_both_dialects() -> None:
    for dialect in (DIALECT_2005, DIALECT_2009):
        root = parse_xml(build_probe(dialect))
        assert root is not None
        texts = {el.text for el in root.iter()}
        assert dialect.probe_action in texts and dialect.to in texts
    nvt = build_probe(DIALECT_2005, nvt_only=True)
    assert b"dn:NetworkVideoTransmitter" in nvt
    assert len(build_probes()) == 3


def test_parse_onvif_2005_reply() -> None:
    (m,) = parse_probe_matches(REPLY_2005)
    assert m.dialect == "2005/04"
    assert m.endpoint == "urn:uuid:4f2b8f3c-1a2b-11b2-8000-c056e3000001"
    assert m.types == ["dn:NetworkVideoTransmitter", "tds:Device"]
    assert m.scope_values("name") == ["HIKVISION DS-2CD2143G0-I"]
    assert m.scope_values("hardware") == ["DS-2CD2143G0-I"]
    assert m.scope_values("location") == ["city/hangzhou"]
    assert m.scope_values("MAC") == ["c0:56:e3:00:00:01"]
    assert m.xaddrs[0] == "http://10.99.0.10/onvif/device_service"
    obs = Observation("wsd", "10.99.0.10", 3702, Status.SUCCESS)
    assert add_evidence(obs, [m]) == "c0:56:e3:00:00:01"
    keys = {(e.key, e.value) for e in obs.evidence}
    assert ("wsd.scope", "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G0-I") in keys  # raw, as sent


def test_parse_oasis_2009_reply() -> None:
    (m,) = parse_probe_matches(REPLY_2009)
    assert m.dialect == "2009/01"
    assert m.endpoint == "urn:uuid:98190dc2-0890-4ef8-ac9a-5940995e6119"
    assert m.types == ["i:PrintBasic", "i:PrintAdvanced"]
    assert m.scope_values("name") == []  # not ONVIF scopes


def test_non_reply_and_garbage() -> None:
    assert parse_probe_matches(build_probe()) == []
    assert parse_probe_matches(b"\x00\x01") == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_parse_never_raises(data: bytes) -> None:
    for m in parse_probe_matches(data):
        m.scope_values("name")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_%", min_size=1, max_size=20),
        min_size=1,
        max_size=5,
    )
)
def test_scopes_round_trip(names: list[str]) -> None:
    scopes = " ".join(f"onvif://www.onvif.org/name/{n}" for n in names)
    data = REPLY_2005.replace(
        b"onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming", scopes.encode()
    )
    (m,) = parse_probe_matches(data)
    assert len(m.scopes) == len(names) + 4


class _Responder(asyncio.DatagramProtocol):
    """Answers a 2005 Probe from a *different* socket, as real devices do (TESTBED.md)."""

    def __init__(self, reply: bytes, drop_first: int) -> None:
        self.reply = reply
        self.drop_first = drop_first
        self.seen = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if DIALECT_2005.probe_action.encode() not in data:
            return
        self.seen += 1
        if self.seen <= self.drop_first:
            return  # a lost datagram: the prober must resend
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out.bind(("127.90.3.1", 0))
        out.sendto(self.reply, addr)
        out.close()


async def test_directed_probe_resends_and_listens_on_sending_socket() -> None:
    loop = asyncio.get_running_loop()
    transport, responder = await loop.create_datagram_endpoint(
        lambda: _Responder(REPLY_2005, drop_first=2), local_addr=("127.90.3.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    try:
        engine = Engine(ports=[], limits=ScanLimits(rate_pps=0, udp_timeout_s=1.5, udp_retries=3))
        obs = await WsdProbe().run(Target("127.90.3.1", port), engine.ctx)
    finally:
        transport.close()
    assert obs.status is Status.SUCCESS
    assert responder.seen >= 3  # the first two (of the same probe kind) were dropped and resent
    assert ("wsd.endpoint", "urn:uuid:4f2b8f3c-1a2b-11b2-8000-c056e3000001") in [
        (e.key, e.value) for e in obs.evidence
    ]


async def test_directed_probe_silence_is_timeout() -> None:
    engine = Engine(ports=[], limits=ScanLimits(rate_pps=0, udp_timeout_s=0.3, udp_retries=1))
    obs = await WsdProbe().run(Target("127.90.3.2", 9), engine.ctx)
    assert obs.status is Status.TIMEOUT and obs.evidence == []
