"""RTSP probe: parsers on captures, fuzz, a replaying socket, and GStreamer's real server.

Captures are composed from the documented public fingerprints, with sources:
- Hikvision DVR rtspd: 401 with ``WWW-Authenticate: Digest realm="Hikvision"`` plus Basic
  (nmap ``nmap-service-probes`` line 12367);
- Dahua: ``Server: Dahua Rtsp Server``, 401 ``Basic realm="device"`` (nmap line 12373,
  Recog ``rtsp_servers.xml``);
- GStreamer: the live server below, whose answer is also kept verbatim as a capture.
"""

from __future__ import annotations

import asyncio
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.engine import Engine, ScanLimits
from scanner.probes.base import Status
from scanner.probes.rtsp import (
    build_describe,
    build_options,
    parse_public,
    parse_realm,
    parse_response,
    parse_sdp,
)
from tests.scanner.scanner_peers import DEBIAN_PYTHON, PEERS, need_gst, start_peer

HIK_OPTIONS = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, TEARDOWN, SET_PARAMETER, GET_PARAMETER\r\nDate:  Thu, Jan 01 1970 00:00:00 GMT\r\n\r\n"
HIK_401 = (
    b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n"
    b'WWW-Authenticate: Digest realm="Hikvision", nonce="b2d1a7c3e0f5d8c1e9f0a2b3c4d5e6f7", stale="FALSE"\r\n'
    b'WWW-Authenticate: Basic realm="Hikvision"\r\n'
    b"Date:  Thu, Jan 01 1970 00:00:00 GMT\r\n\r\n"
)
DAHUA_OPTIONS = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: Dahua Rtsp Server\r\nPublic: OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER\r\n\r\n"
DAHUA_401 = b'RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nServer: Dahua Rtsp Server\r\nWWW-Authenticate: Basic realm="device"\r\n\r\n'
GST_SDP = (
    b"v=0\r\no=- 1545820102384574635 1 IN IP4 127.0.0.1\r\ns=Session streamed with GStreamer\r\n"
    b"i=rtsp-server\r\nt=0 0\r\na=tool:GStreamer\r\nm=video 0 RTP/AVP 96\r\n"
)
GST_DESCRIBE = (
    b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Base: rtsp://127.0.0.1:8554/\r\n"
    b"Server: GStreamer RTSP server\r\nContent-Length: %d\r\n\r\n" % len(GST_SDP)
) + GST_SDP


def test_build_requests() -> None:
    opt = build_options("rtsp://10.0.0.5:554/")
    assert opt.startswith(b"OPTIONS rtsp://10.0.0.5:554/ RTSP/1.0\r\nCSeq: 1\r\n") and opt.endswith(
        b"\r\n\r\n"
    )
    assert b"Accept: application/sdp" in build_describe("rtsp://10.0.0.5:554/")


def test_parse_hikvision_401_two_realms() -> None:
    resp = parse_response(HIK_401)
    assert resp is not None and resp.status_code == 401
    assert [parse_realm(v) for v in resp.all("WWW-Authenticate")] == [
        ("Digest", "Hikvision"),
        ("Basic", "Hikvision"),
    ]
    assert resp.header("Server") is None


def test_parse_dahua_server_and_public() -> None:
    resp = parse_response(DAHUA_OPTIONS)
    assert resp is not None and resp.header("server") == "Dahua Rtsp Server"
    assert parse_public(resp.header("Public"))[:3] == ["OPTIONS", "DESCRIBE", "ANNOUNCE"]


def test_parse_sdp_session_and_tool() -> None:
    resp = parse_response(GST_DESCRIBE)
    assert resp is not None
    sdp = parse_sdp(resp.body)
    assert sdp.session_name == "Session streamed with GStreamer"
    assert sdp.tool == "GStreamer"
    assert sdp.media == ["video"]
    # A body cut short by Content-Length keeps only what the header allows.
    short = parse_response(GST_DESCRIBE.replace(b"Content-Length: %d" % len(GST_SDP), b"Content-Length: 4"))
    assert short is not None and short.body == b"v=0\r"


def test_not_rtsp() -> None:
    assert parse_response(b"HTTP/1.1 200 OK\r\n\r\n") is None
    assert parse_response(b"") is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_parsers_never_raise(data: bytes) -> None:
    resp = parse_response(b"RTSP/1.0 200 OK\r\n" + data)
    assert resp is not None and resp.status_code == 200
    parse_sdp(data)
    parse_response(data)
    for _, v in resp.headers:
        parse_realm(v)
        parse_public(v)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"'),
        min_size=1,
        max_size=60,
    )
)
def test_realm_round_trip(realm: str) -> None:
    assert parse_realm(f'Digest realm="{realm}", nonce="x"') == ("Digest", realm)


async def _replay(answers: list[bytes]) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for answer in answers:
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.90.1.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _evidence(report, probe: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(e.key, e.value) for o in report.observations if o.probe == probe for e in o.evidence]


async def test_probe_over_replayed_dahua_capture() -> None:
    server, port = await _replay([DAHUA_OPTIONS, DAHUA_401])
    async with server:
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0),
            probe_ports={"rtsp": [port], "http": [], "onvif": []},
            directed_wsd=False,
        )
        report = await engine.scan_host("127.90.1.1")
    rtsp = next(o for o in report.observations if o.probe == "rtsp")
    assert rtsp.status is Status.AUTH_REQUIRED
    ev = _evidence(report, "rtsp")
    assert ("rtsp.server", "Dahua Rtsp Server") in ev and ("rtsp.realm", "device") in ev
    assert ev.count(("rtsp.server", "Dahua Rtsp Server")) == 1  # deduplicated across OPTIONS/DESCRIBE
    assert rtsp.raw.startswith(b"RTSP/1.0 200 OK") and b"401 Unauthorized" in rtsp.raw


async def test_probe_on_non_rtsp_service_is_protocol_mismatch() -> None:
    server, port = await _replay([b"SSH-2.0-OpenSSH_9.2\r\n\r\n"])
    async with server:
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0),
            probe_ports={"rtsp": [port], "http": [], "onvif": []},
            directed_wsd=False,
        )
        report = await engine.scan_host("127.90.1.1")
    assert [o.status for o in report.observations if o.probe == "rtsp"] == [Status.PROTOCOL_MISMATCH]


async def test_probe_against_real_gstreamer_rtsp_server() -> None:
    """Real third-party server: GStreamer's gst-rtsp-server, a separate process."""
    need_gst()
    peer = await asyncio.to_thread(start_peer, [DEBIAN_PYTHON, str(PEERS / "gst_rtsp_peer.py"), "127.90.1.2"])
    try:
        port = int(peer.ready)
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0),
            probe_ports={"rtsp": [port], "http": [], "onvif": []},
            directed_wsd=False,
        )
        report = await engine.scan_host("127.90.1.2")
    finally:
        peer.stop()
    rtsp = next(o for o in report.observations if o.probe == "rtsp")
    assert rtsp.status is Status.SUCCESS, rtsp.detail
    ev = _evidence(report, "rtsp")
    assert ("rtsp.server", "GStreamer RTSP server") in ev
    assert ("rtsp.sdp", "s=Session streamed with GStreamer") in ev
    assert ("rtsp.sdp", "a=tool:GStreamer") in ev
    public = dict(ev)["rtsp.public"].split(",")
    assert {"OPTIONS", "DESCRIBE", "SETUP", "TEARDOWN"} <= set(public)


assert sys.version_info >= (3, 11)
