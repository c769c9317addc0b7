"""ONVIF probe: parsers on captures, fuzz, a replaying server, and ipycam (real, credentialed).

Captures follow ONVIF Core §8.3 response shapes; the device-information values
are those of a public Dahua fixture (fingerprint-facts C.2: Manufacturer
``Dahua``, Model ``DH-SD42212T-HN``, FirmwareVersion ``2.800.0000000.4.R, Build
Date 2019-11-05``, HardwareId ``1.00``).
"""

from __future__ import annotations

import asyncio
import calendar
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.credentials import OnvifCredentials, Secret
from scanner.engine import Engine, ScanLimits
from scanner.probes.base import Status
from scanner.probes.onvif import (
    OnvifProbe,
    build_request,
    capabilities_from_namespaces,
    parse_device_information,
    parse_fault,
    parse_system_date_and_time,
    parse_xml,
    strip_userinfo,
)
from tests.scanner.scanner_peers import PEERS, start_peer

ENV = '<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:ter="http://www.onvif.org/ver10/error"><SOAP-ENV:Body>{}</SOAP-ENV:Body></SOAP-ENV:Envelope>'
DATE_TIME = ENV.format(
    "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
    "<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>CST-8</tt:TZ></tt:TimeZone>"
    "<tt:UTCDateTime><tt:Time><tt:Hour>3</tt:Hour><tt:Minute>4</tt:Minute><tt:Second>5</tt:Second></tt:Time>"
    "<tt:Date><tt:Year>2019</tt:Year><tt:Month>11</tt:Month><tt:Day>5</tt:Day></tt:Date></tt:UTCDateTime>"
    "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
).encode()
DEVICE_INFO = ENV.format(
    "<tds:GetDeviceInformationResponse><tds:Manufacturer>Dahua</tds:Manufacturer>"
    "<tds:Model>DH-SD42212T-HN</tds:Model><tds:FirmwareVersion>2.800.0000000.4.R, Build Date 2019-11-05</tds:FirmwareVersion>"
    "<tds:SerialNumber>4M0747EPAA1D284</tds:SerialNumber><tds:HardwareId>1.00</tds:HardwareId>"
    "</tds:GetDeviceInformationResponse>"
).encode()
NOT_AUTHORIZED = ENV.format(
    "<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value><SOAP-ENV:Subcode>"
    "<SOAP-ENV:Value>ter:NotAuthorized</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code><SOAP-ENV:Reason>"
    '<SOAP-ENV:Text xml:lang="en">Sender not Authorized</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>'
).encode()


def test_build_request_is_soap12_post() -> None:
    req = build_request("10.0.0.5", "GetSystemDateAndTime")
    head, _, body = req.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /onvif/device_service HTTP/1.1")
    assert b'action="http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime"' in head
    root = parse_xml(body)
    assert root is not None and root.tag == "{http://www.w3.org/2003/05/soap-envelope}Envelope"


def test_parse_date_time() -> None:
    assert parse_system_date_and_time(DATE_TIME) == calendar.timegm((2019, 11, 5, 3, 4, 5, 0, 0, 0))
    assert parse_system_date_and_time(DATE_TIME.replace(b">11<", b">13<")) is None
    assert parse_system_date_and_time(DEVICE_INFO) is None


def test_parse_device_information() -> None:
    info = parse_device_information(DEVICE_INFO)
    assert info is not None
    assert (info.manufacturer, info.model, info.hardware) == ("Dahua", "DH-SD42212T-HN", "1.00")
    assert info.firmware == "2.800.0000000.4.R, Build Date 2019-11-05"
    assert parse_device_information(NOT_AUTHORIZED) is None


def test_parse_fault_not_authorized() -> None:
    root = parse_xml(NOT_AUTHORIZED)
    assert root is not None
    fault = parse_fault(root)
    assert fault is not None and fault.not_authorized and fault.reason == "Sender not Authorized"


def test_hostile_xml_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'
    assert parse_xml(bomb) is None
    assert parse_xml(b"<unclosed") is None


def test_capabilities_and_userinfo() -> None:
    caps = capabilities_from_namespaces(
        [
            "http://www.onvif.org/ver10/device/wsdl",
            "http://www.onvif.org/ver20/ptz/wsdl",
            "http://www.onvif.org/ver10/receiver/wsdl",
            "urn:x-vendor:face",
        ]
    )
    assert caps == ["ptz", "receiver", "urn:x-vendor:face"]
    assert strip_userinfo("rtsp://admin:hunter2@10.0.0.9:554/ch1") == "rtsp://10.0.0.9:554/ch1"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_parsers_never_raise(data: bytes) -> None:
    assert parse_system_date_and_time(data) is None or parse_system_date_and_time(data) >= 0  # type: ignore[operator]
    parse_device_information(data)
    root = parse_xml(data)
    if root is not None:
        parse_fault(root)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xD7FF), max_size=80))
def test_device_information_text_round_trip(model: str) -> None:
    from xml.sax.saxutils import escape

    body = DEVICE_INFO.replace(b"DH-SD42212T-HN", escape(model).encode())
    info = parse_device_information(body)
    assert info is not None
    assert info.model == (" ".join(model.split())[:128] or None)


async def _soap_server(answers: dict[bytes, tuple[int, bytes]]) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            body = await asyncio.wait_for(reader.readexactly(length), 5)
            status, answer = next((v for k, v in answers.items() if k in body), (400, b""))
            writer.write(
                b"HTTP/1.1 %d X\r\nContent-Type: application/soap+xml\r\nContent-Length: %d\r\n\r\n"
                % (status, len(answer))
                + answer
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError, IndexError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.90.2.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _onvif(report):  # type: ignore[no-untyped-def]
    return next(o for o in report.observations if o.probe == "onvif")


async def test_probe_records_clock_skew_and_anonymous_device_info() -> None:
    server, port = await _soap_server(
        {b"GetSystemDateAndTime": (200, DATE_TIME), b"GetDeviceInformation": (200, DEVICE_INFO)}
    )
    device_ts = calendar.timegm((2019, 11, 5, 3, 4, 5, 0, 0, 0))
    probe = OnvifProbe(clock=lambda: device_ts + 3600.0)  # our clock one hour ahead of the device
    async with server:
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0),
            service_probes=[probe],
            probe_ports={"onvif": [port]},
            directed_wsd=False,
        )
        obs = _onvif(await engine.scan_host("127.90.2.1"))
    assert obs.status is Status.SUCCESS
    ev = {(e.key, e.value) for e in obs.evidence}
    assert ("onvif.clock_skew_s", "-3600") in ev
    assert ("onvif.manufacturer", "Dahua") in ev and ("onvif.serial", "4M0747EPAA1D284") in ev


async def test_probe_auth_required_and_plain_http() -> None:
    server, port = await _soap_server(
        {b"GetSystemDateAndTime": (401, NOT_AUTHORIZED), b"GetDeviceInformation": (401, NOT_AUTHORIZED)}
    )
    async with server:
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0),
            probe_ports={"onvif": [port], "http": [], "rtsp": []},
            directed_wsd=False,
        )
        obs = _onvif(await engine.scan_host("127.90.2.1"))
    assert obs.status is Status.AUTH_REQUIRED and obs.evidence == []
    server, port = await _soap_server({b"Get": (200, b"<html><title>router</title></html>")})
    async with server:
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0),
            probe_ports={"onvif": [port], "http": [], "rtsp": []},
            directed_wsd=False,
        )
        obs = _onvif(await engine.scan_host("127.90.2.1"))
    assert obs.status is Status.PROTOCOL_MISMATCH


async def test_ipycam_real_onvif_with_operator_credentials(zeep_posts: list[str]) -> None:
    """Real third-party ONVIF device service (PyPI ipycam), WS-Security UsernameToken checked.

    Without credentials it refuses everything (even GetSystemDateAndTime, which the
    spec wants open: a robustness case); with the operator's one credential the
    probe gets device information and capabilities; the password never appears.
    ipycam accepts the probe's own UsernameToken: the zeep fallback is never needed.
    """
    peer = await asyncio.to_thread(
        start_peer,
        [sys.executable, str(PEERS / "ipycam_peer.py"), "127.90.2.2", "0", "operator", "pa55-w0rd"],
    )
    try:
        port = int(peer.ready.split()[1]) if " " in peer.ready else None
        assert port, peer.ready
        limits = ScanLimits(rate_pps=0)
        only = {"onvif": [port], "http": [], "rtsp": []}
        anon = _onvif(
            await Engine(ports=[port], limits=limits, probe_ports=only, directed_wsd=False).scan_host(
                "127.90.2.2"
            )
        )
        creds = OnvifCredentials("operator", Secret("pa55-w0rd"))
        authed = _onvif(
            await Engine(
                ports=[port], limits=limits, probe_ports=only, credentials=creds, directed_wsd=False
            ).scan_host("127.90.2.2")
        )
        wrong = OnvifCredentials("operator", Secret("not-it"))
        denied = _onvif(
            await Engine(
                ports=[port], limits=limits, probe_ports=only, credentials=wrong, directed_wsd=False
            ).scan_host("127.90.2.2")
        )
    finally:
        peer.stop()
    assert anon.status is Status.AUTH_REQUIRED and anon.evidence == []
    assert zeep_posts == []
    ev = {(e.key, e.value) for e in authed.evidence}
    assert authed.status is Status.SUCCESS, authed.detail
    assert {
        ("onvif.manufacturer", "IPyCamTest"),
        ("onvif.model", "VirtualCam-9"),
        ("onvif.serial", "IPY-0042"),
    } <= ev
    assert ("onvif.capability", "ptz") in ev
    assert denied.status is Status.AUTH_REQUIRED and not any(e.key == "onvif.model" for e in denied.evidence)
    for obs in (anon, authed, denied):
        assert b"pa55-w0rd" not in obs.raw and "pa55-w0rd" not in obs.detail
        assert all("pa55-w0rd" not in e.value for e in obs.evidence)
