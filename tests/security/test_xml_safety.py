"""No entity expansion and no external entities anywhere camsweep parses XML.

Every XML parse site of the product is listed in ``PARSE_SITES``; a static
check fails when a module starts importing an XML parser that is not listed, so
a new site cannot skip this test.  Each site is then fed, through its real code
path, a billion-laughs document, a quadratic blow-up, an external entity naming
a local secret file, and an external DTD and a parameter entity pointing at a
local listener that counts connections: nothing may expand, nothing may be
read, nothing may be fetched.

The sites: the unauthenticated ONVIF and WS-Discovery parsers (defusedxml),
nmap XML import (lxml, ``resolve_entities=False``, ``no_network``,
``load_dtd=False``, ``huge_tree=False``), and zeep under onvif-zeep-async on the
credentialed ONVIF path (``harden_zeep_settings``: no DTD, no entities, no
external fetch, no huge trees).  The lab (``camsweep/lab``) parses requests from
our own scanner with defusedxml too; it is a test tool, not listed.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from camsweep import api
from db.repository import Inventory
from fingerprints.errors import ImportFileError
from scanner.credentials import OnvifCredentials, Secret
from scanner.engine import Engine, ScanLimits
from scanner.probes import onvif, wsd
from scanner.probes.base import MAX_RAW_BYTES
from scanner.probes.onvif import harden_zeep_settings

REPO = Path(__file__).resolve().parents[2]
#: module -> the XML parser it uses (the only places the product parses XML).
PARSE_SITES = {
    "scanner/probes/onvif.py": "defusedxml",
    "scanner/probes/wsd.py": "defusedxml (scanner.probes.onvif.parse_xml)",
    "db/imports.py": "lxml, hardened parser",
}
#: Modules that import XML tooling only to *write* XML or escape text.
WRITE_ONLY = {"camsweep/exports.py"}  # openpyxl writes XLSX
XML_IMPORT = re.compile(
    r"^\s*(from|import)\s+(xml\.(etree|dom|sax|parsers)|lxml|defusedxml|xmltodict|openpyxl|onvif|zeep)\b",
    re.M,
)
SECRET_TEXT = "CAMSWEEP-XXE-CANARY"


def test_every_xml_parse_site_is_listed() -> None:
    found = set()
    for package in ("scanner", "db", "fingerprints", "camsweep"):
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            if rel.startswith("camsweep/lab/"):
                continue
            if XML_IMPORT.search(path.read_text(encoding="utf-8")):
                found.add(rel)
    assert found == set(PARSE_SITES) | WRITE_ONLY


class CountingListener:
    """A TCP listener on our loopback block that counts every connection (an XXE fetch)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.178.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    lst = CountingListener()
    try:
        yield lst
    finally:
        lst.close()


def hostile_documents(secret: Path, port: int, root: str, inner: str) -> dict[str, bytes]:
    """Each attack as a complete document whose root is ``root``, the payload inside ``inner``."""
    lol = '<!ENTITY lol0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    big = "A" * 50_000
    url = f"http://127.178.0.1:{port}"

    def doc(dtd: str, payload: str) -> bytes:
        return f'<?xml version="1.0"?>\n<!DOCTYPE {root.split()[0]} {dtd}>\n<{root}>{inner.format(payload)}</{root.split()[0]}>'.encode()

    return {
        "billion-laughs": doc(f"[{lol}]", "&lol9;"),
        "quadratic-blowup": doc(f'[<!ENTITY big "{big}">]', "&big;" * 5000),
        "xxe-file": doc(f'[<!ENTITY x SYSTEM "file://{secret}">]', "&x;"),
        "external-dtd": doc(f'SYSTEM "{url}/evil.dtd"', "x"),
        "parameter-entity": doc(f'[<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]', "x"),
    }


ATTACKS = ["billion-laughs", "quadratic-blowup", "xxe-file", "external-dtd", "parameter-entity"]
SOAP = (
    's:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"'
    ' xmlns:tt="http://www.onvif.org/ver10/schema"'
)
DEVINFO = (
    "<s:Body><tds:GetDeviceInformationResponse><tds:Manufacturer>{}</tds:Manufacturer><tds:Model>M</tds:Model>"
    "<tds:FirmwareVersion>1</tds:FirmwareVersion><tds:SerialNumber>S</tds:SerialNumber><tds:HardwareId>H</tds:HardwareId>"
    "</tds:GetDeviceInformationResponse></s:Body>"
)
TIME = (
    "<s:Body><tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Time><tt:Hour>1{}"
    "</tt:Hour><tt:Minute>2</tt:Minute><tt:Second>3</tt:Second></tt:Time><tt:Date><tt:Year>2026</tt:Year>"
    "<tt:Month>1</tt:Month><tt:Day>2</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime>"
    "</tds:GetSystemDateAndTimeResponse></s:Body>"
)
PROBE_MATCHES = (
    "<s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>{}</a:Address></a:EndpointReference>"
    "<d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>onvif://www.onvif.org/name/x</d:Scopes>"
    "<d:XAddrs>http://10.0.0.1/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches></s:Body>"
)
WSD_ROOT = (
    's:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"'
    ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET_TEXT, encoding="utf-8")
    return path


@pytest.mark.parametrize("attack", ATTACKS)
def test_onvif_and_wsd_parsers_refuse(attack: str, secret: Path, listener: CountingListener) -> None:
    info = hostile_documents(secret, listener.port, SOAP, DEVINFO)[attack]
    assert onvif.parse_xml(info) is None
    assert onvif.parse_device_information(info) is None
    assert (
        onvif.parse_system_date_and_time(hostile_documents(secret, listener.port, SOAP, TIME)[attack]) is None
    )
    assert (
        wsd.parse_probe_matches(hostile_documents(secret, listener.port, WSD_ROOT, PROBE_MATCHES)[attack])
        == []
    )
    assert listener.connections == 0


@pytest.mark.parametrize("attack", ATTACKS)
def test_nmap_import_refuses_and_imports_nothing(
    attack: str, secret: Path, listener: CountingListener, tmp_path: Path
) -> None:
    # The payload sits in element text (a script's elem), where entity references are well-formed.
    inner = (
        "<host><status state='up'/><address addr='10.0.0.1' addrtype='ipv4'/><ports>"
        "<port protocol='tcp' portid='80'><state state='open'/><service name='http'/>"
        "<script id='http-title' output='x'><elem key='title'>{}</elem></script></port></ports></host>"
    )
    path = tmp_path / f"{attack}.xml"
    path.write_bytes(
        hostile_documents(secret, listener.port, 'nmaprun scanner="nmap" version="7.93"', inner)[attack]
    )
    url = f"sqlite:///{tmp_path}/inv.db"
    if attack == "external-dtd":
        # A DOCTYPE naming an outside DTD (old nmap versions wrote one) is fine as long as
        # it is never loaded: load_dtd=False and no_network, proven by the listener below.
        api.import_file(url, path, "nmap-xml")
        assert listener.connections == 0
        return
    with pytest.raises(ImportFileError) as info:
        api.import_file(url, path, "nmap-xml")
    assert str(path) in str(info.value) and SECRET_TEXT not in str(info.value)
    inv = Inventory(url)
    try:
        assert inv.devices() == [] and inv.scans() == []
    finally:
        inv.close()
    assert listener.connections == 0


def test_zeep_settings_are_hardened() -> None:
    settings = harden_zeep_settings()
    assert (settings.forbid_dtd, settings.forbid_entities, settings.forbid_external) == (True, True, True)
    assert settings.xml_huge_tree is False


@pytest.mark.parametrize("attack", ATTACKS)
async def test_credentialed_onvif_path_refuses(attack: str, secret: Path, listener: CountingListener) -> None:
    """The probe's own credentialed call gets the hostile document as its reply and, since it
    cannot read it, so does the fallback zeep client of onvif-zeep-async, unless the document is
    bigger than ``MAX_RAW_BYTES`` (the quadratic blow-up): a cut reply is handed to no one."""
    normal_time = f'<?xml version="1.0"?><{SOAP}>{TIME.format("")}</s:Envelope>'.encode()
    hostile = hostile_documents(secret, listener.port, SOAP, DEVINFO)[attack]
    served: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            m = re.search(rb"(?i)content-length:\s*(\d+)", head)
            body = await asyncio.wait_for(reader.readexactly(int(m.group(1))), 5) if m else b""
            # The time call answers normally (so the credentialed calls run); every
            # credentialed call gets the attack.
            payload = hostile if b"UsernameToken" in body else normal_time
            served.append(payload)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(payload) + payload
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.178.0.2", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0),
            probe_ports={"onvif": [port], "http": [], "rtsp": []},
            credentials=OnvifCredentials("inventory", Secret("pw")),
            directed_wsd=False,
        )
        report = await engine.scan_host("127.178.0.2")
    # The lean path and (for documents under the read bound) the zeep client received the attack.
    assert served.count(hostile) >= (1 if len(hostile) > MAX_RAW_BYTES else 2)
    obs = next(o for o in report.observations if o.probe == "onvif")
    assert "authenticated:" in obs.detail  # refused, recorded as data
    assert not any(e.key == "onvif.manufacturer" for e in obs.evidence)
    text = repr(obs.evidence) + obs.detail + obs.raw.decode("latin-1")
    assert SECRET_TEXT not in text and "lollollol" not in text
    assert listener.connections == 0
