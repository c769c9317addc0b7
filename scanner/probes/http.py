"""HTTP banner probe: Server header (and its absence), realm, title, redirects.

Parsing is pure and sans-IO (h11), so a device's bytes are parsed the same way
in tests as on the wire; ``run`` only moves bytes.
"""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass, field

import h11

from scanner.probes.base import ProbeContext, ProbeResult, Status, Target

NAME = "http"
PORTS: tuple[int, ...] = (80, 8080, 8000)

_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_REALM_RE = re.compile(r'realm\s*=\s*"([^"]*)"|realm\s*=\s*([^\s,]+)', re.IGNORECASE)
MAX_TITLE_CHARS = 256


@dataclass(slots=True)
class HttpBanner:
    """What an HTTP response says about the server behind it."""

    status_code: int
    server: str | None = None
    server_header_raw_name: str | None = None
    realm: str | None = None
    auth_scheme: str | None = None
    title: str | None = None
    location: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


def build_request(host: str, path: str = "/") -> bytes:
    """Bytes of a plain GET, as a browser would first send to a camera."""
    conn = h11.Connection(h11.CLIENT)
    req = h11.Request(
        method="GET",
        target=path,
        headers=[
            ("Host", host),
            ("User-Agent", "camsweep/0.1 (+asset inventory)"),
            ("Accept", "*/*"),
            ("Connection", "close"),
        ],
    )
    return (conn.send(req) or b"") + (conn.send(h11.EndOfMessage()) or b"")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").strip()


def parse_response(data: bytes) -> HttpBanner | None:
    """Parse the head (and as much body as given) of an HTTP response.

    Returns ``None`` when the bytes are not HTTP.  Never raises on device input.
    """
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=16 * 1024)
    # h11 needs to have "sent" a request before it accepts a response.
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    try:
        conn.receive_data(data)
        event = conn.next_event()
    except h11.RemoteProtocolError:
        return None
    if not isinstance(event, h11.Response):
        return None
    banner = HttpBanner(status_code=event.status_code)
    for raw_name, value in event.headers.raw_items():
        name = raw_name.decode("latin-1")
        text = _text(value)
        banner.headers.append((name, text))
        lname = name.lower()
        if lname == "server" and banner.server is None:
            banner.server = text
            banner.server_header_raw_name = name
        elif lname == "www-authenticate" and banner.realm is None:
            banner.auth_scheme = text.split(" ", 1)[0] if text else None
            m = _REALM_RE.search(text)
            if m:
                banner.realm = m.group(1) if m.group(1) is not None else m.group(2)
        elif lname == "location":
            banner.location = text
    body = bytearray()
    try:
        while True:
            ev = conn.next_event()
            if isinstance(ev, h11.Data):
                body += ev.data
            else:
                break
    except h11.RemoteProtocolError:
        pass
    tm = _TITLE_RE.search(bytes(body))
    if tm:
        title = html.unescape(_text(tm.group(1)))
        banner.title = " ".join(title.split())[:MAX_TITLE_CHARS] or None
    return banner


async def _read_bounded(reader: asyncio.StreamReader, limit: int, timeout_s: float) -> bytes:
    """Read until EOF, ``limit`` bytes, or ``timeout_s`` for the whole read."""
    buf = bytearray()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while len(buf) < limit:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            chunk = await asyncio.wait_for(reader.read(limit - len(buf)), remaining)
        except TimeoutError:
            break
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


class HttpProbe:
    """GET / and record the banner."""

    name = NAME
    ports = PORTS

    async def run(self, target: Target, ctx: ProbeContext) -> ProbeResult:
        result = ProbeResult(NAME, target.ip, target.port, Status.ERROR)
        try:
            reader, writer = await ctx.open_connection(target.ip, target.port, ctx.connect_timeout_s)
        except ConnectionRefusedError:
            result.status = Status.REFUSED
            return result
        except TimeoutError:
            result.status = Status.TIMEOUT
            return result
        except OSError as exc:
            result.status = Status.ERROR
            result.detail = str(exc)
            return result
        try:
            writer.write(build_request(target.hostname or target.ip))
            await asyncio.wait_for(writer.drain(), ctx.read_timeout_s)
            data = await _read_bounded(reader, ctx.max_raw_bytes, ctx.read_timeout_s)
        except (OSError, TimeoutError) as exc:
            result.status = Status.TIMEOUT if isinstance(exc, TimeoutError) else Status.CLOSED
            return result
        finally:
            writer.close()
        result.raw = data[: ctx.max_raw_bytes]
        if not data:
            result.status = Status.TIMEOUT
            return result
        banner = parse_response(data)
        if banner is None:
            result.status = Status.PROTOCOL_MISMATCH
            return result
        result.status = Status.AUTH_REQUIRED if banner.status_code == 401 else Status.SUCCESS
        result.add("http.server", banner.server)
        result.add("http.realm", banner.realm)
        result.add("http.title", banner.title)
        result.add("http.location", banner.location)
        return result
