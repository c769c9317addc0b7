"""RTSP probe: OPTIONS then DESCRIBE (RFC 2326 §10.1, §10.2).

OPTIONS gives the ``Server`` header and the ``Public`` method list; DESCRIBE
gives either the SDP (session name ``s=`` and ``a=tool:`` lines name the
streaming stack) or a 401 whose ``WWW-Authenticate`` realm is itself a
fingerprint (Hikvision ``IP Camera(C2358)``, Dahua ``Login to <serial>``).
Parsing is pure; ``run`` only moves bytes over the engine's streams.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from scanner.probes.base import ProbeContext, ProbeResult, Status, Target, bounded

NAME = "rtsp"
PORTS: tuple[int, ...] = (554, 8554)

USER_AGENT = "camsweep/0.1 (+asset inventory)"
#: Longest head we accept; a longer one is a misbehaving device.
MAX_HEAD_BYTES = 8 * 1024
_STATUS_RE = re.compile(rb"^RTSP/(\d)\.(\d) +(\d{3})(?: +([^\r\n]*))?\r?\n")
_REALM_RE = re.compile(r'realm\s*=\s*"([^"]*)"|realm\s*=\s*([^\s,]+)', re.IGNORECASE)


@dataclass(slots=True)
class RtspResponse:
    """One parsed RTSP response."""

    status_code: int
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None

    def all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]


@dataclass(slots=True)
class SdpSummary:
    """The identifying lines of an SDP body (RFC 4566): session name, tool, origin."""

    session_name: str | None = None
    tool: str | None = None
    origin_user: str | None = None
    media: list[str] = field(default_factory=list)


def build_request(method: str, url: str, cseq: int, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """Bytes of one RTSP request; ``url`` is the absolute RTSP URL."""
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", f"User-Agent: {USER_AGENT}"]
    lines += [f"{k}: {v}" for k, v in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii", "replace")


def build_options(url: str, cseq: int = 1) -> bytes:
    return build_request("OPTIONS", url, cseq)


def build_describe(url: str, cseq: int = 2) -> bytes:
    return build_request("DESCRIBE", url, cseq, (("Accept", "application/sdp"),))


def head_length(data: bytes) -> int | None:
    """Length of the head including the blank line, or None if not complete yet."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = data.find(sep)
        if i >= 0:
            return i + len(sep)
    return None


def parse_response(data: bytes) -> RtspResponse | None:
    """Parse an RTSP response head and body; ``None`` if the bytes are not RTSP.

    Never raises on device input: header lines without a colon are skipped,
    values are decoded as latin-1 (RFC 2326 headers are ISO-8859-1) and trimmed.
    """
    m = _STATUS_RE.match(data)
    if not m:
        return None
    end = head_length(data)
    head = data[: end if end is not None else len(data)]
    resp = RtspResponse(int(m.group(3)), (m.group(4) or b"").decode("latin-1").strip())
    for raw in head.splitlines()[1:]:
        if not raw.strip():
            break
        if b":" not in raw:
            continue
        name, _, value = raw.partition(b":")
        resp.headers.append((name.decode("latin-1").strip(), value.decode("latin-1").strip()))
    if end is not None:
        body = data[end:]
        length = resp.header("Content-Length")
        if length is not None and length.strip().isdigit():
            body = body[: int(length.strip())]
        resp.body = body
    return resp


def parse_realm(www_authenticate: str | None) -> tuple[str | None, str | None]:
    """``(scheme, realm)`` of a WWW-Authenticate value."""
    if not www_authenticate:
        return None, None
    scheme = www_authenticate.split(None, 1)[0] if www_authenticate.strip() else None
    m = _REALM_RE.search(www_authenticate)
    realm = (m.group(1) if m.group(1) is not None else m.group(2)) if m else None
    return scheme, realm


def parse_public(value: str | None) -> list[str]:
    """The ``Public`` header's method list, upper-cased, order kept."""
    if not value:
        return []
    return [m.strip().upper() for m in value.split(",") if m.strip()]


def parse_sdp(body: bytes) -> SdpSummary:
    """The identifying lines of an SDP body; unknown lines are ignored."""
    sdp = SdpSummary()
    for raw in body.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line.startswith("s=") and sdp.session_name is None:
            sdp.session_name = bounded(line[2:], 256)
        elif line.startswith("a=tool:") and sdp.tool is None:
            sdp.tool = bounded(line[7:], 256)
        elif line.startswith("o=") and sdp.origin_user is None:
            sdp.origin_user = bounded(line[2:].split(" ", 1)[0], 128)
        elif line.startswith("m=") and len(sdp.media) < 8:
            media = bounded(line[2:].split(" ", 1)[0], 32)
            if media:
                sdp.media.append(media)
    return sdp


async def read_response(reader: asyncio.StreamReader, limit: int, timeout_s: float) -> bytes:
    """Read one response: the head, then ``Content-Length`` bytes of body, all bounded."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    buf = bytearray()
    want: int | None = None
    while len(buf) < limit:
        if want is None:
            end = head_length(bytes(buf))
            if end is not None:
                resp = parse_response(bytes(buf[:end]))
                length = resp.header("Content-Length") if resp else None
                body_len = int(length) if length and length.strip().isdigit() else 0
                want = min(limit, end + body_len)
            elif len(buf) > MAX_HEAD_BYTES:
                break
        if want is not None and len(buf) >= want:
            break
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            chunk = await asyncio.wait_for(reader.read(limit - len(buf)), remaining)
        except (TimeoutError, OSError):
            break
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


class RtspProbe:
    """OPTIONS and DESCRIBE on one connection."""

    name = NAME
    ports = PORTS

    async def run(self, target: Target, ctx: ProbeContext) -> ProbeResult:
        result = ProbeResult(NAME, target.ip, target.port, Status.ERROR)
        host = target.hostname or target.ip
        url = f"rtsp://{host if ':' not in host else f'[{host}]'}:{target.port}/"
        try:
            reader, writer = await ctx.open_connection(target.ip, target.port, ctx.connect_timeout_s)
        except ConnectionRefusedError:
            result.status = Status.REFUSED
            return result
        except TimeoutError:
            result.status = Status.TIMEOUT
            return result
        except OSError as exc:
            result.detail = exc.strerror or str(exc)
            return result
        raw = bytearray()
        try:
            writer.write(build_options(url))
            await asyncio.wait_for(writer.drain(), ctx.read_timeout_s)
            data = await read_response(reader, ctx.max_raw_bytes, ctx.read_timeout_s)
            raw += data
            options = parse_response(data)
            if options is None:
                result.status = Status.PROTOCOL_MISMATCH if data else Status.TIMEOUT
                return result
            self._record(result, options)
            writer.write(build_describe(url))
            await asyncio.wait_for(writer.drain(), ctx.read_timeout_s)
            data = await read_response(reader, ctx.max_raw_bytes - len(raw), ctx.read_timeout_s)
            raw += data
            describe = parse_response(data)
            if describe is not None:
                self._record(result, describe)
                if describe.status_code == 200 and describe.body:
                    sdp = parse_sdp(describe.body)
                    result.add("rtsp.sdp", sdp.session_name and f"s={sdp.session_name}")
                    result.add("rtsp.sdp", sdp.tool and f"a=tool:{sdp.tool}")
            auth = any(r is not None and r.status_code == 401 for r in (options, describe))
            result.status = Status.AUTH_REQUIRED if auth else Status.SUCCESS
        except (OSError, TimeoutError) as exc:
            # Whatever evidence the first exchange gave is kept.
            result.status = Status.CLOSED if result.evidence else Status.TIMEOUT
            result.detail = type(exc).__name__
        finally:
            writer.close()
            result.raw = bytes(raw[: ctx.max_raw_bytes])
        return result

    @staticmethod
    def _record(result: ProbeResult, resp: RtspResponse) -> None:
        seen = {(e.key, e.value) for e in result.evidence}

        def add(key: str, value: str | None) -> None:
            value = bounded(value, 256)
            if value and (key, value) not in seen:
                seen.add((key, value))
                result.add(key, value)

        add("rtsp.server", resp.header("Server"))
        for www in resp.all("WWW-Authenticate"):
            add("rtsp.realm", parse_realm(www)[1])
        methods = parse_public(resp.header("Public"))
        if methods:
            add("rtsp.public", ",".join(methods))
