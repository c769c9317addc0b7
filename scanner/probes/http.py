"""HTTP(S) banner probe.

Records the ``Server`` header (its absence shows in ``http.headers``), the
header names in their raw order and casing (Dahua firmware sends upper-case
names and no Server, nmap-service-probes:10444), the WWW-Authenticate realm,
the title, the same-host redirect chain, the favicon hash (MD5, the form
nmap's favicon-db, Recog and Ingram publish), the TLS certificate subject and
issuer, and the answer of a few vendor API paths (even a 401 from
``/ISAPI/System/deviceInfo`` says "Hikvision family").

Parsing is pure and sans-IO (h11) over the engine's own streams: httpx managed
~500 requests/s on this machine against ~3,800 connect+banner/s for plain
streams, so a full client would be the bottleneck of a sweep.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

from scanner.probes.base import ProbeContext, ProbeResult, Status, Target, bounded, read_bounded

NAME = "http"
PORTS: tuple[int, ...] = (80, 443, 8000, 8080, 8443, 8899)
#: Ports where the probe speaks TLS first.
TLS_PORTS: frozenset[int] = frozenset({443, 8443})

#: Vendor API paths whose answer, even a 401, identifies the family
#: (fingerprint-facts C.1/C.2: ISAPI is Hikvision's, magicBox.cgi and RPC2 Dahua's).
#: A path no device serves: the baseline the vendor paths are compared with.
CONTROL_PATH = "/camsweep-control-0f3a9c"

VENDOR_API_PATHS: tuple[str, ...] = (
    "/ISAPI/System/deviceInfo",
    "/cgi-bin/magicBox.cgi?action=getDeviceType",
)
MAX_REDIRECTS = 3
MAX_TITLE_CHARS = 256
#: Favicons are small; a bigger one is hashed over what we read, and marked.
MAX_FAVICON_BYTES = 64 * 1024

_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_REALM_RE = re.compile(r'realm\s*=\s*"([^"]*)"|realm\s*=\s*([^\s,]+)', re.IGNORECASE)


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
    body: bytes = b""

    @property
    def header_names(self) -> str:
        """Header names in wire order and casing, comma-joined (a shape fingerprint)."""
        return ",".join(name for name, _ in self.headers)


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
        conn.receive_data(b"")  # EOF: a body without Content-Length ends here
        event = conn.next_event()
        while isinstance(event, h11.InformationalResponse):
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
    banner.body = bytes(body)
    tm = _TITLE_RE.search(banner.body)
    if tm:
        title = html.unescape(_text(tm.group(1)))
        banner.title = " ".join(title.split())[:MAX_TITLE_CHARS] or None
    return banner


_CONTENT_LENGTH_RE = re.compile(
    rb"^content-length[ \t]*:[ \t]*(\d{1,12})[ \t]*\r?$", re.IGNORECASE | re.MULTILINE
)
_CHUNKED_RE = re.compile(rb"^transfer-encoding[ \t]*:.*chunked", re.IGNORECASE | re.MULTILINE)


def response_complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole response, so a device that ignores
    ``Connection: close`` does not keep us waiting out the read timeout."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    head, body = data[:end], data[end + 4 :]
    status = head[9:12]
    if status.startswith(b"1") or status in (b"204", b"304"):
        return not status.startswith(b"1")
    m = _CONTENT_LENGTH_RE.search(head)
    if m:
        return len(body) >= int(m.group(1))
    if _CHUNKED_RE.search(head):
        return body.endswith(b"0\r\n\r\n")
    return False  # delimited by EOF


def favicon_hash(body: bytes) -> str:
    """MD5 hex of the favicon bytes, the form public favicon databases use."""
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def same_host_path(location: str, host: str, port: int) -> str | None:
    """The path to follow for a redirect, or ``None`` if it leaves this host:port.

    A redirect to another host is recorded but never followed: the scan
    probes only what the scope allows.
    """
    try:
        parts = urlsplit(location.strip())
        loc_port = parts.port
    except ValueError:
        return None
    if parts.scheme and parts.scheme not in ("http", "https"):
        return None
    if parts.hostname and (parts.hostname != host or (loc_port or port) != port):
        return None
    path = parts.path or "/"
    if not path.startswith("/"):
        path = "/" + path
    return path + (f"?{parts.query}" if parts.query else "")


def parse_certificate(der: bytes) -> tuple[str | None, str | None]:
    """``(subject, issuer)`` of a DER certificate, RFC 4514 strings; ``(None, None)`` if unreadable."""
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        return cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
    except (ValueError, TypeError):
        return None, None


@dataclass(slots=True)
class _Fetch:
    status: Status
    raw: bytes = b""
    banner: HttpBanner | None = None
    cert_der: bytes | None = None


async def fetch(ctx: ProbeContext, ip: str, port: int, host: str, path: str, tls: bool, limit: int) -> _Fetch:
    """One GET over a fresh engine connection; every wait bounded."""
    try:
        reader, writer = await ctx.open_connection(
            ip, port, ctx.connect_timeout_s, ctx.tls_context if tls else None
        )
    except ConnectionRefusedError:
        return _Fetch(Status.REFUSED)
    except TimeoutError:
        return _Fetch(Status.TIMEOUT)
    except ssl.SSLError:
        return _Fetch(Status.TLS_ERROR)
    except OSError:
        return _Fetch(Status.ERROR)
    cert = None
    try:
        if tls:
            sslobj = writer.get_extra_info("ssl_object")
            cert = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        writer.write(build_request(host, path))
        await asyncio.wait_for(writer.drain(), ctx.read_timeout_s)
        data = await read_bounded(reader, limit, ctx.read_timeout_s, complete=response_complete)
    except TimeoutError:
        return _Fetch(Status.TIMEOUT, cert_der=cert)
    except ssl.SSLError:
        return _Fetch(Status.TLS_ERROR, cert_der=cert)
    except OSError:
        return _Fetch(Status.CLOSED, cert_der=cert)
    finally:
        writer.close()
    if not data:
        return _Fetch(Status.TIMEOUT, cert_der=cert)
    banner = parse_response(data)
    if banner is None:
        return _Fetch(Status.PROTOCOL_MISMATCH, data, cert_der=cert)
    status = Status.AUTH_REQUIRED if banner.status_code == 401 else Status.SUCCESS
    return _Fetch(status, data, banner, cert)


class HttpProbe:
    """GET / (following same-host redirects), the favicon, and the vendor API paths."""

    name = NAME
    ports = PORTS

    def __init__(
        self,
        api_paths: tuple[str, ...] = VENDOR_API_PATHS,
        favicon: bool = True,
        tls_ports: frozenset[int] = TLS_PORTS,
    ) -> None:
        self.api_paths = api_paths
        self.favicon = favicon
        self.tls_ports = tls_ports

    async def run(self, target: Target, ctx: ProbeContext) -> ProbeResult:
        result = ProbeResult(NAME, target.ip, target.port, Status.ERROR)
        tls = target.port in self.tls_ports
        host = target.hostname or target.ip
        path = "/"
        first: _Fetch | None = None
        for _hop in range(MAX_REDIRECTS + 1):
            got = await fetch(ctx, target.ip, target.port, host, path, tls, ctx.max_raw_bytes)
            if first is None:
                first = got
                result.raw = got.raw[: ctx.max_raw_bytes]
                if got.cert_der:
                    subject, issuer = parse_certificate(got.cert_der)
                    result.add("tls.subject", bounded(subject))
                    result.add("tls.issuer", bounded(issuer))
            if got.banner is None:
                break
            b = got.banner
            result.add("http.server", bounded(b.server, 256))
            result.add("http.headers", bounded(b.header_names, 512))
            result.add("http.realm", bounded(b.realm, 256))
            result.add("http.title", b.title)
            if not (300 <= b.status_code < 400 and b.location):
                break
            result.add("http.location", bounded(b.location, 512))
            nxt = same_host_path(b.location, target.ip if not target.hostname else host, target.port)
            if nxt is None or nxt == path:
                break
            path = nxt
        assert first is not None
        result.status = first.status
        if first.banner is None:
            return result
        if self.favicon:
            fav = await fetch(ctx, target.ip, target.port, host, "/favicon.ico", tls, MAX_FAVICON_BYTES)
            if fav.banner is not None and fav.banner.status_code == 200 and fav.banner.body:
                result.add("http.favicon", favicon_hash(fav.banner.body))
        # A catch-all server (single-page apps, many routers, ipycam) answers every
        # path alike; a vendor path only says something when its answer differs
        # from the answer to a path no device has.
        control = await fetch(ctx, target.ip, target.port, host, CONTROL_PATH, tls, 4096)
        if control.banner is None:
            # No answer to the control path (a reset, a timeout): nothing to compare with,
            # so no vendor path can be shown to differ.  Counting them anyway made a device
            # that resets mid-answer a Hikvision camera whenever the control's RST won the race.
            return result
        control_status = control.banner.status_code
        for api in self.api_paths:
            got = await fetch(ctx, target.ip, target.port, host, api, tls, 4096)
            if got.banner is not None and got.banner.status_code not in (404, control_status):
                # Raw answer: path, status and realm; the rules decide what it means.
                realm = f" realm={got.banner.realm}" if got.banner.realm else ""
                result.add("http.api", bounded(f"{api} {got.banner.status_code}{realm}", 512))
        return result
