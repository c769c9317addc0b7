"""Hostile personalities: devices that misbehave the ways real (or malicious) ones do.

Each behaviour is bounded so the lab itself stays healthy: the drip stops,
endless headers end at a byte cap, the 50 MB body is streamed (never held),
a silent device lets go after a while.

Behaviours (``hostile: [{port, behaviour, ...}]`` in a personality):

``drip``            a valid HTTP answer, one byte per ``interval_s`` (1 s), for at most ``max_s``
``endless-headers`` ``X-Pad-N`` header lines without end, up to ``max_bytes`` (8 MiB) / ``max_s``
``big-body``        200 with a ``size`` (50 MB) body, streamed in 64 KiB chunks
``xml-bomb``        ONVIF SOAP answer whose DTD expands exponentially ("billion laughs")
``xxe``             ONVIF SOAP answer with an external entity (``file:///etc/passwd``)
``rtsp-malformed``  RTSP answer with a broken status line, header without colon, NUL bytes
``rtsp-truncated``  half an RTSP answer, then the connection closes
``reset``           half an HTTP answer, then a TCP RST (SO_LINGER 0)
``blackhole``       accepts, reads, never answers, for at most ``max_s``
``non-utf8``        HTTP/RTSP banner bytes that are not UTF-8 (``head_hex``)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

from camsweep.lab.servers import Handler, close, read_head
from camsweep.lab.state import DeviceState

DEFAULT_MAX_S = 30.0
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
BIG_BODY_BYTES = 50 * 1000 * 1000
CHUNK = 64 * 1024

XML_BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    + ']>\n<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><env:Body><tds:GetDeviceInformationResponse>'
    "<tds:Manufacturer>&lol9;</tds:Manufacturer></tds:GetDeviceInformationResponse></env:Body></env:Envelope>"
)
XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><env:Body><tds:GetDeviceInformationResponse>'
    "<tds:Manufacturer>&xxe;</tds:Manufacturer><tds:Model>XXE</tds:Model>"
    "</tds:GetDeviceInformationResponse></env:Body></env:Envelope>"
)


def _http(status: str, headers: list[str], body: bytes) -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode() + body


def hostile_handler(state: DeviceState, spec: dict[str, Any]) -> Handler:
    behaviour = spec["behaviour"]
    max_s = float(spec.get("max_s", DEFAULT_MAX_S))

    async def drip(writer: asyncio.StreamWriter) -> None:
        body = b"<html><head><title>drip</title></head></html>"
        data = _http("200 OK", [f"Content-Length: {len(body)}", "Content-Type: text/html"], body)
        interval = float(spec.get("interval_s", 1.0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        for i in range(len(data)):
            if loop.time() >= deadline:
                return
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(interval)

    async def endless_headers(writer: asyncio.StreamWriter) -> None:
        cap = int(spec.get("max_bytes", DEFAULT_MAX_BYTES))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        writer.write(b"HTTP/1.1 200 OK\r\nServer: endless\r\n")
        sent, n = 0, 0
        while sent < cap and loop.time() < deadline:
            line = f"X-Pad-{n}: {'a' * 200}\r\n".encode()
            writer.write(line)
            await writer.drain()
            sent += len(line)
            n += 1

    async def big_body(writer: asyncio.StreamWriter) -> None:
        size = int(spec.get("size", BIG_BODY_BYTES))
        writer.write(
            _http("200 OK", [f"Content-Length: {size}", "Content-Type: text/html", "Server: bigbody"], b"")
        )
        chunk = b"<html><title>big</title>" + b"x" * (CHUNK - 24)
        left = size
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        while left > 0 and loop.time() < deadline:
            piece = chunk[: min(CHUNK, left)]
            writer.write(piece)
            await writer.drain()
            left -= len(piece)

    async def soap(payload: str, writer: asyncio.StreamWriter) -> None:
        body = payload.encode()
        writer.write(
            _http("200 OK", [f"Content-Length: {len(body)}", "Content-Type: application/soap+xml"], body)
        )
        await writer.drain()

    async def rtsp_malformed(writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"RTSP/1.0 2OO 0K\r\nCSeq 1\r\nServer: \x00\xff\xfebroken\r\nContent-Length: -5\r\n\r\n\x00\x01"
        )
        await writer.drain()

    async def rtsp_truncated(writer: asyncio.StreamWriter) -> None:
        writer.write(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: Trunc")
        await writer.drain()

    async def reset(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nServer: reset\r\nContent-Length: 1000\r\n\r\n<html><ti")
        await writer.drain()
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER with a zero timeout turns close() into an RST (RFC 793 abort).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def blackhole(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max_s):
                while await reader.read(4096):
                    pass

    async def non_utf8(writer: asyncio.StreamWriter) -> None:
        head = bytes.fromhex(spec.get("head_hex", "")) or (
            b"HTTP/1.1 200 OK\r\nServer: Cam\xff\xfe\xc3\x28-httpd\r\nContent-Type: text/html"
        )
        body = b"<html><head><title>\xe6\x9c\xba\xff\xfe\x80 camera</title></head></html>"
        writer.write(head + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if behaviour == "blackhole":
                await blackhole(reader)
                return
            if behaviour not in ("rtsp-malformed", "rtsp-truncated"):
                head = await read_head(reader)
                if not head and behaviour != "non-utf8":
                    return
                if behaviour in ("xml-bomb", "xxe"):
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(reader.read(64 * 1024), 0.2)  # the SOAP body, if any
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            actions = {
                "drip": lambda: drip(writer),
                "endless-headers": lambda: endless_headers(writer),
                "big-body": lambda: big_body(writer),
                "xml-bomb": lambda: soap(XML_BOMB, writer),
                "xxe": lambda: soap(XXE, writer),
                "rtsp-malformed": lambda: rtsp_malformed(writer),
                "rtsp-truncated": lambda: rtsp_truncated(writer),
                "reset": lambda: reset(writer),
                "non-utf8": lambda: non_utf8(writer),
            }
            await actions[behaviour]()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            await close(writer)

    return handle


HOSTILE_BEHAVIOURS = (
    "drip",
    "endless-headers",
    "big-body",
    "xml-bomb",
    "xxe",
    "rtsp-malformed",
    "rtsp-truncated",
    "reset",
    "blackhole",
    "non-utf8",
)
