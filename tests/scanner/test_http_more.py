"""HTTP probe beyond the banner: header casing, redirects, favicon, vendor API paths, TLS.

The Dahua-shaped answer (upper-case header names, no Server, ``P3P``) is the one
nmap matches as "Dahua webcam httpd" (nmap-service-probes:10444-10445); the
certificate subject is Hikvision's self-signed one as Recog records it
(``x509_subjects.xml``: CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,...).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ssl
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.engine import Engine, ScanLimits
from scanner.probes.base import Status
from scanner.probes.http import HttpProbe, favicon_hash, parse_certificate, parse_response, same_host_path

FAVICON = bytes(range(256)) * 4
DAHUA_ROOT = (
    b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=0\r\nCONNECTION: close\r\nCONTENT-LENGTH: %d\r\n"
    b'CONTENT-TYPE: text/html\r\nETAG: "1234:5f3e"\r\nP3P: CP=CAO PSA OUR\r\n\r\n'
)
DAHUA_BODY = b"<!DOCTYPE html PUBLIC><html><head><title>WEB</title></head></html>"


def _answer(path: bytes) -> bytes:
    if path == b"/":
        return b"HTTP/1.1 302 Found\r\nLocation: /doc/page/login.asp\r\nContent-Length: 0\r\n\r\n"
    if path == b"/doc/page/login.asp":
        return (DAHUA_ROOT % len(DAHUA_BODY)) + DAHUA_BODY
    if path == b"/favicon.ico":
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(FAVICON) + FAVICON
    if path.startswith(b"/ISAPI/"):
        return b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="DVRNVRDVS"\r\nContent-Length: 0\r\n\r\n'
    return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


async def _serve(host: str, tls: ssl.SSLContext | None = None) -> tuple[asyncio.Server, int, list[bytes]]:
    paths: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = head.split(b" ")[1]
            paths.append(path)
            writer.write(_answer(path))
            await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError, ssl.SSLError, IndexError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, host, 0, ssl=tls)
    return server, server.sockets[0].getsockname()[1], paths


def _evidence(report) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(e.key, e.value) for o in report.observations if o.probe == "http" for e in o.evidence]


async def test_redirect_header_shape_favicon_and_vendor_api() -> None:
    server, port, paths = await _serve("127.90.4.1")
    async with server:
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0),
            probe_ports={"http": [port], "rtsp": [], "onvif": []},
            directed_wsd=False,
        )
        report = await engine.scan_host("127.90.4.1")
    ev = _evidence(report)
    assert ("http.location", "/doc/page/login.asp") in ev
    assert ("http.title", "WEB") in ev
    assert ("http.headers", "CACHE-CONTROL,CONNECTION,CONTENT-LENGTH,CONTENT-TYPE,ETAG,P3P") in ev
    assert not any(k == "http.server" for k, _ in ev)  # the absence shows in http.headers
    assert ("http.favicon", hashlib.md5(FAVICON).hexdigest()) in ev
    assert ("http.api", "/ISAPI/System/deviceInfo 401 realm=DVRNVRDVS") in ev
    assert not any(
        v.startswith("/cgi-bin/magicBox.cgi") for k, v in ev if k == "http.api"
    )  # 404 is not evidence
    assert b"/doc/page/login.asp" in paths


async def test_catch_all_server_gives_no_vendor_api_evidence() -> None:
    """A server that answers 200 to every path (an nginx SPA, a router) is not Hikvision."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.90.4.2", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0),
            probe_ports={"http": [port], "rtsp": [], "onvif": []},
            directed_wsd=False,
        )
        report = await engine.scan_host("127.90.4.2")
    ev = _evidence(report)
    assert ("http.server", "nginx") in ev
    assert not [v for k, v in ev if k == "http.api"]


def test_redirects_leave_only_to_the_same_host() -> None:
    assert same_host_path("/a?b=1", "10.0.0.1", 80) == "/a?b=1"
    assert same_host_path("http://10.0.0.1/x", "10.0.0.1", 80) == "/x"
    assert same_host_path("http://10.0.0.1:8080/x", "10.0.0.1", 80) is None
    assert same_host_path("http://evil.example/x", "10.0.0.1", 80) is None
    assert same_host_path("javascript:alert(1)", "10.0.0.1", 80) is None
    assert same_host_path("http://[::1", "10.0.0.1", 80) is None


def _self_signed(tmp: Path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "ZheJiang"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "HangZhou"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HIKVISION"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "DVRNVR"),
            x509.NameAttribute(NameOID.COMMON_NAME, "www.hikvision.com"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    return ctx


async def test_tls_certificate_subject_and_issuer(tmp_path: Path) -> None:
    server, port, _ = await _serve("127.90.4.2", _self_signed(tmp_path))
    async with server:
        probe = HttpProbe(tls_ports=frozenset({port}))
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0),
            service_probes=[probe],
            probe_ports={"http": [port]},
            directed_wsd=False,
        )
        report = await engine.scan_host("127.90.4.2")
    ev = dict(_evidence(report))
    subject = "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"
    assert ev["tls.subject"] == subject and ev["tls.issuer"] == subject
    assert ev["http.title"] == "WEB"


def test_certificate_parser_on_garbage() -> None:
    assert parse_certificate(b"\x30\x03\x02\x01\x00") == (None, None)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1024))
def test_certificate_and_favicon_never_raise(data: bytes) -> None:
    parse_certificate(data)
    assert len(favicon_hash(data)) == 32


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["Server", "SERVER", "Content-Type", "ETAG", "P3P", "X-Frame-Options"]),
        max_size=6,
        unique=True,
    )
)
def test_header_names_keep_wire_order_and_case(names: list[str]) -> None:
    data = (
        b"HTTP/1.1 200 OK\r\n"
        + b"".join(f"{n}: v\r\n".encode() for n in names)
        + b"Content-Length: 0\r\n\r\n"
    )
    banner = parse_response(data)
    assert banner is not None
    assert banner.header_names == ",".join([*names, "Content-Length"])


assert Status.SUCCESS


def test_response_complete_stops_reading_keep_alive_devices() -> None:
    from scanner.probes.http import response_complete

    assert response_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
    assert not response_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab")
    assert not response_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n")
    assert response_complete(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert response_complete(b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n")
    assert not response_complete(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert not response_complete(b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until EOF")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1024), st.binary(max_size=512))
def test_response_complete_never_raises_and_knows_content_length(noise: bytes, body: bytes) -> None:
    from scanner.probes.http import response_complete

    response_complete(noise)
    full = b"HTTP/1.1 200 OK\r\nCONTENT-LENGTH: %d\r\n\r\n" % len(body) + body
    assert response_complete(full)
