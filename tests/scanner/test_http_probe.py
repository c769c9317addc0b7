"""HTTP banner parsing: real-looking captures, a fuzz test, and a real socket."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.engine import Engine, ScanLimits
from scanner.probes.base import Status
from scanner.probes.http import build_request, parse_response

HIK_401 = (
    b"HTTP/1.1 401 Unauthorized\r\n"
    b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
    b"Server: App-webs/\r\n"
    b'WWW-Authenticate: Digest qop="auth", realm="IP Camera(C2358)", nonce="4e6a", stale="FALSE"\r\n'
    b"Content-Length: 0\r\n\r\n"
)


def test_build_request_is_a_get_with_host() -> None:
    req = build_request("10.0.0.5")
    assert req.startswith(b"GET / HTTP/1.1\r\n")
    assert b"host: 10.0.0.5\r\n" in req.lower()


def test_parse_hikvision_401_capture() -> None:
    banner = parse_response(HIK_401)
    assert banner is not None
    assert banner.status_code == 401
    assert banner.server == "App-webs/"
    assert banner.realm == "IP Camera(C2358)"
    assert banner.auth_scheme == "Digest"


def test_parse_title_unescaped_and_bounded() -> None:
    body = b"<html><title>  Router &amp; Admin\n Page </title></html>"
    data = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    banner = parse_response(data)
    assert banner is not None and banner.title == "Router & Admin Page"
    assert banner.server is None  # absence of Server is itself evidence


def test_parse_non_http_returns_none() -> None:
    assert parse_response(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n") is None
    assert parse_response(b"\x00\xff garbage") is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_parse_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    banner = parse_response(data)
    assert banner is None or 100 <= banner.status_code <= 999


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_parse_header_values_round_trip(server: str, title: str) -> None:
    server = "".join(ch for ch in server if 0x20 < ord(ch) < 0x7F)
    body = f"<title>{title}</title>".encode()
    data = (
        f"HTTP/1.1 200 OK\r\nServer: {server}\r\n".encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    banner = parse_response(data)
    assert banner is not None
    assert banner.server == (server or None) or (not server and banner.server in (None, ""))


async def test_probe_against_real_socket() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")  # the TCP connect probe sends nothing
            writer.write(HIK_401)
            await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        engine = Engine(ports=[port, 1], limits=ScanLimits(rate_pps=0), probe_ports={"http": [port]})
        report = await engine.scan_host("127.0.0.1")
    http = [o for o in report.observations if o.probe == "http"]
    assert report.open_ports == [port]
    assert len(http) == 1 and http[0].status is Status.AUTH_REQUIRED
    assert ("http.server", "App-webs/") in [(e.key, e.value) for e in http[0].evidence]
    assert http[0].raw.startswith(b"HTTP/1.1 401")
    refused = [o for o in report.observations if o.port == 1]
    assert refused[0].status is Status.REFUSED
