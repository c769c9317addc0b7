"""Credentialed ONVIF against a recorder-shaped responder: the probe's own calls, and the same
device through the real onvif-zeep-async client (the fallback path) for comparison.

The responder answers by operation with ONVIF Core/Receiver-spec shaped
documents: an NVR whose Receiver service lists attached cameras (their media
URIs carry credentials, as recorders' configurations do; those must never
reach evidence).  ipycam (test_onvif_probe) covers a real third-party device;
no real recorder peer exists here, so this responder is ours.
"""

from __future__ import annotations

import asyncio
import re

from scanner.credentials import OnvifCredentials, Secret
from scanner.engine import Engine, ScanLimits
from scanner.probes.base import ProbeResult, Status, Target
from scanner.probes.onvif import OnvifProbe

NS = (
    'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:trv="http://www.onvif.org/ver10/receiver/wsdl"'
)


def _env(body: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {NS}><s:Body>{body}</s:Body></s:Envelope>'.encode()


def _answers(base: str) -> dict[str, bytes]:
    def service(ns: str, path: str) -> str:
        return (
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{base}{path}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
        )

    return {
        "GetSystemDateAndTime": _env(
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
            "<tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime><tt:Time><tt:Hour>1</tt:Hour>"
            "<tt:Minute>2</tt:Minute><tt:Second>3</tt:Second></tt:Time><tt:Date><tt:Year>2026</tt:Year>"
            "<tt:Month>1</tt:Month><tt:Day>2</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime>"
            "</tds:GetSystemDateAndTimeResponse>"
        ),
        "GetDeviceInformation": _env(
            "<tds:GetDeviceInformationResponse><tds:Manufacturer>HIKVISION</tds:Manufacturer>"
            "<tds:Model>DS-7616NI-I2/16P</tds:Model><tds:FirmwareVersion>V4.61.000 build 220128</tds:FirmwareVersion>"
            "<tds:SerialNumber>DS-7616NI-I21620200101CCRR000000000WCVU</tds:SerialNumber><tds:HardwareId>88</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        ),
        "GetNetworkInterfaces": _env(
            '<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0"><tt:Enabled>true</tt:Enabled>'
            "<tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>c0:56:e3:12:34:56</tt:HwAddress><tt:MTU>1500</tt:MTU>"
            "</tt:Info></tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>"
        ),
        "GetServices": _env(
            "<tds:GetServicesResponse>"
            + service("http://www.onvif.org/ver10/device/wsdl", "/onvif/device_service")
            + service("http://www.onvif.org/ver10/receiver/wsdl", "/onvif/receiver")
            + service("http://www.onvif.org/ver10/recording/wsdl", "/onvif/recording")
            + "</tds:GetServicesResponse>"
        ),
        "GetReceivers": _env(
            "<trv:GetReceiversResponse>"
            + "".join(
                f"<trv:Receivers><tt:Token>rx{i}</tt:Token><tt:Configuration><tt:Mode>AlwaysConnect</tt:Mode>"
                f"<tt:MediaUri>rtsp://admin:cam-pass-{i}@10.0.0.{20 + i}:554/Streaming/Channels/101</tt:MediaUri>"
                "<tt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol>"
                "</tt:Transport></tt:StreamSetup></tt:Configuration></trv:Receivers>"
                for i in (1, 2)
            )
            + "</trv:GetReceiversResponse>"
        ),
    }


async def test_recorder_mac_capabilities_and_attached_cameras_without_their_passwords(
    zeep_posts: list[str],
) -> None:
    seen_ops: list[str] = []
    answers: dict[str, bytes] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            m = re.search(rb"(?i)content-length:\s*(\d+)", head)
            body = await asyncio.wait_for(reader.readexactly(int(m.group(1))), 5) if m else b""
            op = next((k for k in answers if re.search(rf"<(\w+:)?{k}[\s/>]".encode(), body)), None)
            seen_ops.append(op or "?")
            # WS-Security is the client's job; a real device would check it (ipycam does).
            if op and (op == "GetSystemDateAndTime" or b"UsernameToken" in body):
                payload, status = answers[op], b"200 OK"
            else:
                payload, status = b"", b"400 Bad Request"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/soap+xml; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(payload) + payload
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.90.9.1", 0)
    port = server.sockets[0].getsockname()[1]
    answers.update(_answers(f"http://127.90.9.1:{port}"))
    creds = OnvifCredentials("inventory", Secret("nvr-pass"))
    async with server:
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0),
            probe_ports={"onvif": [port], "http": [], "rtsp": []},
            credentials=creds,
            directed_wsd=False,
        )
        report = await engine.scan_host("127.90.9.1")
        lean_posts = list(zeep_posts)
        lean_ops = list(seen_ops)
        zeep = ProbeResult("onvif", "127.90.9.1", port, Status.ERROR)
        await OnvifProbe(creds).run_zeep(Target("127.90.9.1", port), zeep)
    obs = next(o for o in report.observations if o.probe == "onvif")
    ev = [(e.key, e.value) for e in obs.evidence]
    assert obs.status is Status.SUCCESS, obs.detail
    assert ("onvif.model", "DS-7616NI-I2/16P") in ev
    assert ("onvif.mac", "c0:56:e3:12:34:56") in ev
    assert {("onvif.capability", "receiver"), ("onvif.capability", "recording")} <= set(ev)
    channels = [v for k, v in ev if k == "onvif.channel"]
    assert channels == [
        "rx1 rtsp://10.0.0.21:554/Streaming/Channels/101",
        "rx2 rtsp://10.0.0.22:554/Streaming/Channels/101",
    ]
    assert "GetReceivers" in lean_ops and lean_posts == []  # the probe's own calls, no zeep client
    assert zeep_posts and zeep.status is Status.SUCCESS, zeep.detail
    assert {(e.key, e.value) for e in zeep.evidence} == set(ev) - {
        (k, v) for k, v in ev if k == "onvif.clock_skew_s"
    }
    for result in (obs, zeep):
        text = repr(result.evidence) + result.detail + result.raw.decode("latin-1")
        assert "cam-pass" not in text and "nvr-pass" not in text
