"""Hostile personalities misbehave as declared, and each misbehaviour is bounded."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import defusedxml.ElementTree as SafeET
import pytest
from defusedxml import EntitiesForbidden

from camsweep.lab import Lab, load_fleet
from camsweep.lab.fleet import DeviceSpec
from camsweep.lab.hostile import BIG_BODY_BYTES
from tests.camsweep.lab.helpers import exchange, http_get, soap_post

READ_TIMEOUT_S = 5.0
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    fleet = load_fleet("hostile", network=f"127.85.{uuid.uuid4().int % 200 + 20}.0/24")
    with Lab(fleet) as running:
        yield running


def dev(lab: Lab, personality: str) -> DeviceSpec:
    return next(d for d in lab.fleet.devices if d.personality.id == personality)


def _connect(ip: str, port: int) -> socket.socket:
    sock = socket.create_connection((ip, port), READ_TIMEOUT_S)
    sock.settimeout(READ_TIMEOUT_S)
    return sock


def test_drip_sends_one_byte_at_a_time(lab: Lab) -> None:
    with _connect(dev(lab, "hostile-drip").ip, 80) as sock:
        sock.sendall(GET)
        first = sock.recv(100)
        second = sock.recv(100)
    # Each read returns the single byte dripped so far, never the whole answer.
    assert first == b"H" and second == b"T"


def test_endless_headers_never_end_the_head(lab: Lab) -> None:
    received = b""
    with _connect(dev(lab, "hostile-endless-headers").ip, 80) as sock:
        sock.sendall(GET)
        while len(received) < 1_000_000:
            received += sock.recv(65536)
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\n\r\n" not in received
    assert received.count(b"X-Pad-") > 1000


def test_big_body_is_fifty_megabytes_streamed(lab: Lab) -> None:
    total = 0
    with _connect(dev(lab, "hostile-big-body").ip, 80) as sock:
        sock.sendall(GET)
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        head, _, body = head.partition(b"\r\n\r\n")
        assert f"Content-Length: {BIG_BODY_BYTES}".encode() in head
        total = len(body)
        while chunk := sock.recv(1 << 20):
            total += len(chunk)
    assert total == BIG_BODY_BYTES == 50_000_000


def test_xml_bomb_and_external_entity_are_served(lab: Lab) -> None:
    d = dev(lab, "hostile-xml-bomb")
    bomb = soap_post(d.ip, 80, "GetDeviceInformation").partition(b"\r\n\r\n")[2]
    assert b'<!ENTITY lol9 "&lol8;' in bomb
    with pytest.raises(EntitiesForbidden):
        SafeET.fromstring(bomb)
    xxe = soap_post(d.ip, 8899, "GetDeviceInformation").partition(b"\r\n\r\n")[2]
    assert b'<!ENTITY xxe SYSTEM "file:///etc/passwd">' in xxe
    with pytest.raises(EntitiesForbidden):
        SafeET.fromstring(xxe)


def test_malformed_and_truncated_rtsp(lab: Lab) -> None:
    d = dev(lab, "hostile-rtsp")
    req = f"OPTIONS rtsp://{d.ip}/ RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode()
    bad = exchange(d.ip, 554, req)
    assert bad.startswith(b"RTSP/1.0 2OO 0K\r\n") and b"\x00" in bad
    cut = exchange(d.ip, 8554, req)
    assert cut.startswith(b"RTSP/1.0 200 OK") and b"\r\n\r\n" not in cut


def test_reset_mid_response(lab: Lab) -> None:
    received = b""
    with _connect(dev(lab, "hostile-reset").ip, 80) as sock, pytest.raises(ConnectionResetError):
        sock.sendall(GET)
        while True:
            chunk = sock.recv(65536)
            received += chunk
            if not chunk:
                break
    assert b"Content-Length: 1000" in received or received == b""


def test_blackhole_accepts_and_never_answers(lab: Lab) -> None:
    with socket.create_connection((dev(lab, "hostile-blackhole").ip, 80), READ_TIMEOUT_S) as sock:
        sock.settimeout(1.0)
        sock.sendall(GET)
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_non_utf8_banner(lab: Lab) -> None:
    raw = http_get(dev(lab, "hostile-non-utf8").ip, 80)
    assert raw.startswith(b"HTTP/1.1 200 OK")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_formula_and_html_in_model_and_title(lab: Lab) -> None:
    d = dev(lab, "hostile-formula-model")
    page = http_get(d.ip, 80)
    assert b"<title>@SUM(1+1)<script>alert(1)</script></title>" in page
    info = soap_post(d.ip, 80, "GetDeviceInformation").partition(b"\r\n\r\n")[2]
    root = SafeET.fromstring(info)  # escaped properly: the document parses
    tds = "{http://www.onvif.org/ver10/device/wsdl}"
    assert root.findtext(f".//{tds}Model") == '=HYPERLINK("http://attacker.invalid/x","click")'
    assert (root.findtext(f".//{tds}Manufacturer") or "").startswith("+cmd|")
    assert b"<script>alert('srv')</script>" in http_get(dev(lab, "hostile-html-title").ip, 80)
