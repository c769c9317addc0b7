"""Hostile devices: every probe stays bounded and reports a status, never an exception.

The lab branch has a fuller hostile fleet; these are the scanner's own small
cases over real sockets: a flood, endless headers, an immediate reset, an XML
entity bomb, and a device that drips one byte at a time.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable

import pytest

from fingerprints.evidence import MAX_RAW_BYTES
from scanner.engine import Engine, ScanLimits
from scanner.probes.base import Status

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    chunk = b"HTTP/1.1 200 OK\r\n" + b"A" * 65536
    for _ in range(160):  # 10 MiB, unless the prober hangs up first
        writer.write(chunk)
        await writer.drain()


async def endless_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"RTSP/1.0 200 OK\r\n")
    for i in range(20000):
        writer.write(b"X-H%d: %s\r\n" % (i, b"v" * 40))
        await writer.drain()


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
    writer.close()


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]><Envelope><UTCDateTime>&lol3;</UTCDateTime></Envelope>'
)


async def xml_bomb(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(4096)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BOMB) + BOMB)
    await writer.drain()


async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nServer: drip\r\n" * 100:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    "behaviour", [flood, endless_headers, reset, xml_bomb, drip], ids=lambda b: b.__name__
)
async def test_every_probe_survives(behaviour: Behaviour) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await behaviour(reader, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.90.8.1", 0)
    port = server.sockets[0].getsockname()[1]
    limits = ScanLimits(
        rate_pps=0, read_timeout_s=0.5, connect_timeout_s=0.5, udp_timeout_s=0.2, udp_retries=0
    )
    async with server:
        engine = Engine(
            ports=[port], limits=limits, probe_ports={"http": [port], "rtsp": [port], "onvif": [port]}
        )
        report = await engine.scan_host("127.90.8.1")
    by_probe = {o.probe: o for o in report.observations}
    assert {"tcp", "http", "rtsp", "onvif"} <= set(by_probe)
    for obs in report.observations:
        assert obs.status in set(Status)
        assert len(obs.raw) <= MAX_RAW_BYTES
        assert all(len(e.value) <= 512 for e in obs.evidence)
    if behaviour is xml_bomb:
        assert by_probe["onvif"].status is Status.PROTOCOL_MISMATCH  # refused to expand, not parsed
