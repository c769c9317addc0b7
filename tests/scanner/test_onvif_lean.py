"""The lean credentialed ONVIF path: WS-Security UsernameToken over the engine's own connections.

Pure builders against the OASIS formula and the lab's own checker; then real
sockets: the lab's demo fleet (every ONVIF personality gives the same evidence
as the onvif-zeep-async path, and that client is never called), a wrong
password, an MTOM (multipart/related) device only the zeep client can read (the
fallback), a device that faults on GetServices (GetCapabilities), and a hostile
device answering a credentialed call with 50 MB (cut at ``max_raw_bytes``).
Which path ran is read by the ``zeep_posts`` spy (tests/conftest.py), which
wraps the library's real transport.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from xml.etree.ElementTree import Element

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsweep.lab import Lab, load_fleet
from camsweep.lab import onvif as lab_onvif
from camsweep.lab.auth import check_username_token
from camsweep.lab.state import DeviceState
from scanner.credentials import OnvifCredentials, Secret
from scanner.engine import Engine, ScanLimits
from scanner.probes.base import ProbeContext, ProbeResult, Status, Target
from scanner.probes.onvif import (
    RECEIVER_NS,
    OnvifProbe,
    build_envelope,
    build_username_token,
    capabilities_from_namespaces,
    format_created,
    parse_capabilities,
    parse_network_interfaces,
    parse_receivers,
    parse_services,
    parse_xml,
    password_digest,
    xaddr_path,
)
from tests.scanner.test_onvif_recorder import _answers as recorder_answers

USER, PASSWORD = "admin", "Lab-Pass-2024"
CREDS = OnvifCredentials(USER, Secret(PASSWORD))
WSSE = lab_onvif.WSSE
WSU = lab_onvif.WSU


# -- pure builders and parsers --------------------------------------------------------------------


def _token_fields(envelope: bytes) -> dict[str, str | None]:
    root = parse_xml(envelope)
    assert root is not None
    token = root.find(f".//{{{WSSE}}}UsernameToken")
    assert token is not None
    pw = token.find(f"{{{WSSE}}}Password")
    assert pw is not None
    return {
        "username": token.findtext(f"{{{WSSE}}}Username"),
        "password": pw.text,
        "type": pw.get("Type"),
        "nonce": token.findtext(f"{{{WSSE}}}Nonce"),
        "created": token.findtext(f"{{{WSU}}}Created"),
    }


def test_username_token_digest_is_the_oasis_formula_and_the_lab_accepts_it() -> None:
    nonce = bytes(range(16))
    created = "2026-11-30T12:00:00Z"
    # OASIS WSS UsernameToken Profile 1.0 §3.1, computed here independently.
    expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + PASSWORD.encode()).digest()).decode()
    assert password_digest(nonce, created, PASSWORD) == expected
    envelope = build_envelope(
        "GetDeviceInformation", header=build_username_token(USER, PASSWORD, nonce, created)
    )
    fields = _token_fields(envelope)
    assert fields["password"] == expected and fields["created"] == created
    assert fields["type"] is not None and fields["type"].endswith(lab_onvif.PASSWORD_DIGEST)
    assert fields["nonce"] == base64.b64encode(nonce).decode()
    assert PASSWORD.encode() not in envelope  # only the digest goes on the wire

    def lab_accepts(password: str) -> bool:
        return check_username_token(
            fields["username"], fields["password"], fields["nonce"], fields["created"], USER, password, True
        )

    assert lab_accepts(PASSWORD) and not lab_accepts("Lab-Pass-2025")


def test_username_is_escaped_and_created_is_zulu_seconds() -> None:
    header = build_username_token('a<b&"c', "pw", b"\x00" * 16, format_created(0.0))
    fields = _token_fields(build_envelope("GetServices", header=header))
    assert fields["username"] == 'a<b&"c'
    assert fields["created"] == "1970-01-01T00:00:00Z"
    assert format_created(1764504000.9) == "2025-11-30T12:00:00Z"


def test_envelope_body_element_and_arguments() -> None:
    root = parse_xml(
        build_envelope("GetServices", arguments="<tds:IncludeCapability>false</tds:IncludeCapability>")
    )
    assert root is not None
    dev = "{http://www.onvif.org/ver10/device/wsdl}"
    assert root.findtext(f".//{dev}GetServices/{dev}IncludeCapability") == "false"
    assert root.find("{http://www.w3.org/2003/05/soap-envelope}Header") is None
    receivers = parse_xml(build_envelope("GetReceivers", namespace=RECEIVER_NS))
    assert receivers is not None and receivers.find(f".//{{{RECEIVER_NS}}}GetReceivers") is not None


def _lab_state() -> DeviceState:
    fleet = load_fleet("demo", network="127.95.250.0/24")
    nvr = next(d for d in fleet.devices if d.personality.id == "hikvision-nvr")
    return DeviceState(nvr)


def test_parsers_on_lab_documents() -> None:
    state = _lab_state()
    macs = parse_network_interfaces(lab_onvif.envelope(lab_onvif.network_interfaces(state)))
    assert macs == [state.spec.mac]
    services = parse_services(lab_onvif.envelope(lab_onvif.services(state, 80)))
    assert services is not None
    assert capabilities_from_namespaces(s.namespace for s in services) == sorted(
        c for c in state.capabilities if c in lab_onvif.SERVICE_NAMESPACES
    )
    assert all(s.xaddr and s.xaddr.startswith(f"http://{state.spec.ip}/onvif/") for s in services)
    caps = parse_capabilities(lab_onvif.envelope(lab_onvif.capabilities(state, 80)))
    assert caps is not None and {"events", "media"} <= set(
        capabilities_from_namespaces(s.namespace for s in caps)
    )
    assert parse_services(lab_onvif.envelope(lab_onvif.device_information(state))) is None
    assert parse_network_interfaces(b"<x/>") is None and parse_capabilities(b"") is None


def test_receivers_and_xaddr_paths() -> None:
    answers = recorder_answers("http://10.0.0.9:8080")
    assert parse_receivers(answers["GetReceivers"]) == [
        ("rx1", "rtsp://admin:cam-pass-1@10.0.0.21:554/Streaming/Channels/101"),
        ("rx2", "rtsp://admin:cam-pass-2@10.0.0.22:554/Streaming/Channels/101"),
    ]
    assert xaddr_path("http://192.168.1.64:8080/onvif/Receiver?x=1") == "/onvif/Receiver?x=1"
    assert (
        xaddr_path("http://[::1/onvif") is None and xaddr_path("") is None and xaddr_path("no-path") is None
    )


CREDENTIALED_PARSERS: tuple[Callable[[bytes], object], ...] = (
    parse_network_interfaces,
    parse_services,
    parse_capabilities,
    parse_receivers,
)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_credentialed_parsers_never_raise(data: bytes) -> None:
    for parser in CREDENTIALED_PARSERS:
        parser(data)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xD7FF), max_size=300))
def test_mac_text_is_bounded(text: str) -> None:
    from xml.sax.saxutils import escape

    doc = lab_onvif.envelope(
        "<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces><tt:Info>"
        f"<tt:HwAddress>{escape(text)}</tt:HwAddress></tt:Info></tds:NetworkInterfaces>"
        "</tds:GetNetworkInterfacesResponse>"
    )
    macs = parse_network_interfaces(doc)
    assert macs is not None and all(len(m) <= 64 for m in macs)
    assert macs == ([" ".join(text.split())[:64]] if text.split() else [])


# -- the demo fleet, real sockets ------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Iterator[Lab]:
    with Lab(load_fleet("demo", network=f"127.95.{uuid.uuid4().int % 200 + 1}.0/24")) as lab:
        yield lab


def _ctx() -> ProbeContext:
    return Engine(limits=ScanLimits(rate_pps=0)).ctx


def _onvif_targets(lab: Lab) -> list[tuple[str, Target]]:
    out = []
    for d in lab.fleet.devices:
        spec = d.personality.services.get("onvif")
        if spec:
            out.append((d.personality.id, Target(d.ip, int(spec["ports"][0]))))
    return out


def _evidence(result: ProbeResult) -> set[tuple[str, str]]:
    return {(e.key, e.value) for e in result.evidence if e.key != "onvif.clock_skew_s"}


def test_lean_path_gives_the_zeep_paths_evidence_for_every_onvif_personality(
    demo: Lab, zeep_posts: list[str]
) -> None:
    targets = _onvif_targets(demo)
    assert len({pid for pid, _ in targets}) >= 15
    probe = OnvifProbe(CREDS)

    async def both() -> list[tuple[str, ProbeResult, ProbeResult, int]]:
        ctx, out = _ctx(), []
        for pid, target in targets:
            lean = await probe.run(target, ctx)
            lean_zeep_posts = len(zeep_posts)
            zeep = ProbeResult("onvif", target.ip, target.port, Status.ERROR)
            await probe.run_zeep(target, zeep)
            out.append((pid, lean, zeep, lean_zeep_posts))
            zeep_posts.clear()
        return out

    for pid, lean, zeep, lean_zeep_posts in asyncio.run(both()):
        assert lean_zeep_posts == 0, f"{pid}: the fallback ran"
        assert lean.status is zeep.status is Status.SUCCESS, (pid, lean.detail, zeep.detail)
        assert lean.detail == zeep.detail == "", pid
        assert _evidence(lean) == _evidence(zeep), pid
        keys = {k for k, _ in _evidence(lean)}
        assert {"onvif.manufacturer", "onvif.model", "onvif.firmware", "onvif.mac"} <= keys, pid
        assert PASSWORD not in repr(lean.evidence) + lean.detail + lean.raw.decode("latin-1")


def test_wrong_password_is_auth_required_without_device_information(demo: Lab, zeep_posts: list[str]) -> None:
    probe = OnvifProbe(OnvifCredentials(USER, Secret("not-the-password")))
    target = next(t for pid, t in _onvif_targets(demo) if pid == "hikvision-ds2cd-fixed")
    result = asyncio.run(probe.run(target, _ctx()))
    assert result.status is Status.AUTH_REQUIRED
    assert result.detail == "authenticated: NotAuthorized"
    assert not any(e.key in ("onvif.model", "onvif.serial", "onvif.mac") for e in result.evidence)
    assert zeep_posts == []  # a refusal is an answer: no second client is tried


# -- hand-built devices: fallback, GetCapabilities, hostile ----------------------------------------


def _http_answer(payload: bytes, status: str = "200 OK", content_type: str = "application/soap+xml") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + payload


def _operation(body: bytes) -> str:
    root = parse_xml(body)
    body_el: Element | None = None
    if root is not None:
        body_el = root.find("{http://www.w3.org/2003/05/soap-envelope}Body")
    if body_el is None or len(body_el) == 0:
        return "?"
    return str(body_el[0].tag).rsplit("}", 1)[-1]


async def _server(
    ip: str, respond: Callable[[str, bytes, asyncio.StreamWriter], Awaitable[None]]
) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            m = re.search(rb"(?i)content-length:\s*(\d+)", head)
            body = await asyncio.wait_for(reader.readexactly(int(m.group(1))), 5) if m else b""
            await respond(_operation(body), body, writer)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        writer.close()

    return await asyncio.start_server(handle, ip, 0)


async def _run_probe(ip: str, port: int, ctx: ProbeContext | None = None) -> ProbeResult:
    return await OnvifProbe(CREDS).run(Target(ip, port), ctx or _ctx())


def _mtom(xml: bytes) -> tuple[bytes, str]:
    """A SOAP reply as MTOM/XOP (multipart/related), as some firmware sends it (W3C XOP 1.0)."""
    boundary = "uuid:7f3c1b2e-camsweep"
    body = (
        (
            f'--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\n'
            "Content-Transfer-Encoding: binary\r\nContent-ID: <root.message@cxf.apache.org>\r\n\r\n"
        ).encode()
        + xml
        + f"\r\n--{boundary}--\r\n".encode()
    )
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        'start="<root.message@cxf.apache.org>"; start-info="application/soap+xml"'
    )
    return body, content_type


def test_a_device_only_the_zeep_client_reads_takes_the_fallback(zeep_posts: list[str]) -> None:
    state = _lab_state()
    docs = {
        "GetSystemDateAndTime": lab_onvif.envelope(lab_onvif.system_date_and_time()),
        "GetDeviceInformation": lab_onvif.envelope(lab_onvif.device_information(state)),
        "GetNetworkInterfaces": lab_onvif.envelope(lab_onvif.network_interfaces(state)),
        "GetServices": lab_onvif.envelope(lab_onvif.services(state, 80)),
    }
    seen: list[str] = []

    async def respond(op: str, body: bytes, writer: asyncio.StreamWriter) -> None:
        seen.append(op)
        if op == "GetSystemDateAndTime":
            writer.write(_http_answer(docs[op]))
        elif b"UsernameToken" in body and op in docs:
            payload, content_type = _mtom(docs[op])
            writer.write(_http_answer(payload, content_type=content_type))
        else:
            writer.write(
                _http_answer(
                    lab_onvif.fault("ter:NotAuthorized", "Sender not Authorized"), "401 Unauthorized"
                )
            )
        await writer.drain()

    async def main() -> ProbeResult:
        server = await _server("127.94.1.1", respond)
        async with server:
            return await _run_probe("127.94.1.1", server.sockets[0].getsockname()[1])

    result = asyncio.run(main())
    assert zeep_posts, "the fallback did not run"
    assert result.status is Status.SUCCESS, result.detail
    ev = _evidence(result)
    assert ("onvif.model", state.values()["model"]) in ev and ("onvif.mac", state.spec.mac) in ev
    assert ("onvif.capability", "recording") in ev
    # The lean path asked GetDeviceInformation once, then handed over.
    assert seen[:3] == ["GetSystemDateAndTime", "GetDeviceInformation", "GetDeviceInformation"]


def test_a_bare_http_401_takes_the_fallback_and_a_refusal_does_not(zeep_posts: list[str]) -> None:
    """HTTP authentication only (401 without a SOAP fault) is not the lean path's to read."""
    mode = {"bare": True}

    async def respond(op: str, body: bytes, writer: asyncio.StreamWriter) -> None:
        if op == "GetSystemDateAndTime":
            writer.write(_http_answer(lab_onvif.envelope(lab_onvif.system_date_and_time())))
        elif mode["bare"]:
            writer.write(
                b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="cam", nonce="abc", qop="auth"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
        else:  # ipycam's refusal: HTTP 401 with a fault that lacks the ter:NotAuthorized subcode
            writer.write(
                _http_answer(lab_onvif.fault("env:Sender", "Sender not authorized"), "401 Unauthorized")
            )
        await writer.drain()

    async def main() -> tuple[ProbeResult, int, ProbeResult]:
        server = await _server("127.94.1.4", respond)
        port = server.sockets[0].getsockname()[1]
        async with server:
            bare = await _run_probe("127.94.1.4", port)
            posts = len(zeep_posts)
            mode["bare"] = False
            refused = await _run_probe("127.94.1.4", port)
        return bare, posts, refused

    bare, bare_posts, refused = asyncio.run(main())
    assert bare_posts > 0  # the zeep client was tried
    assert not any(e.key == "onvif.model" for e in bare.evidence)
    assert len(zeep_posts) == bare_posts  # ... and not for the refusal
    assert refused.status is Status.AUTH_REQUIRED and refused.detail == "authenticated: NotAuthorized"


def test_getcapabilities_when_getservices_faults(zeep_posts: list[str]) -> None:
    base: dict[str, str] = {}
    answers: dict[str, bytes] = {}
    caps = (
        "<tds:GetCapabilitiesResponse><tds:Capabilities>"
        "<tt:Analytics><tt:XAddr>{b}/onvif/analytics</tt:XAddr><tt:RuleSupport>true</tt:RuleSupport>"
        "<tt:AnalyticsModuleSupport>true</tt:AnalyticsModuleSupport></tt:Analytics>"
        "<tt:Device><tt:XAddr>{b}/onvif/device_service</tt:XAddr></tt:Device>"
        "<tt:Media><tt:XAddr>{b}/onvif/media</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false"
        "</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
        "</tt:StreamingCapabilities></tt:Media>"
        "<tt:Extension><tt:DeviceIO><tt:XAddr>{b}/onvif/deviceio</tt:XAddr><tt:VideoSources>0</tt:VideoSources>"
        "<tt:VideoOutputs>1</tt:VideoOutputs><tt:AudioSources>0</tt:AudioSources><tt:AudioOutputs>0</tt:AudioOutputs>"
        "<tt:RelayOutputs>0</tt:RelayOutputs></tt:DeviceIO>"
        "<tt:Recording><tt:XAddr>{b}/onvif/recording</tt:XAddr><tt:ReceiverSource>true</tt:ReceiverSource>"
        "<tt:MediaProfileSource>true</tt:MediaProfileSource><tt:DynamicRecordings>false</tt:DynamicRecordings>"
        "<tt:DynamicTracks>false</tt:DynamicTracks><tt:MaxStringLength>64</tt:MaxStringLength></tt:Recording>"
        "<tt:Receiver><tt:XAddr>{b}/onvif/receiver</tt:XAddr><tt:RTP_Multicast>false</tt:RTP_Multicast>"
        "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP><tt:SupportedReceivers>2"
        "</tt:SupportedReceivers><tt:MaximumRTSPURILength>256</tt:MaximumRTSPURILength></tt:Receiver>"
        "</tt:Extension></tds:Capabilities></tds:GetCapabilitiesResponse>"
    )

    async def respond(op: str, body: bytes, writer: asyncio.StreamWriter) -> None:
        if op == "GetCapabilities":
            payload = lab_onvif.envelope(caps.replace("{b}", base["url"]))
        elif op == "GetServices":
            payload = lab_onvif.fault(
                "ter:ActionNotSupported", "GetServices is not supported", "env:Receiver"
            )
            writer.write(_http_answer(payload, "400 Bad Request"))
            await writer.drain()
            return
        else:
            payload = answers.get(op, b"")
        writer.write(_http_answer(payload) if payload else _http_answer(b"", "400 Bad Request"))
        await writer.drain()

    async def main() -> tuple[ProbeResult, ProbeResult, int]:
        server = await _server("127.94.1.2", respond)
        port = server.sockets[0].getsockname()[1]
        base["url"] = f"http://127.94.1.2:{port}"
        answers.update(recorder_answers(base["url"]))
        async with server:
            lean = await _run_probe("127.94.1.2", port)
            posts = len(zeep_posts)
            zeep = ProbeResult("onvif", "127.94.1.2", port, Status.ERROR)
            await OnvifProbe(CREDS).run_zeep(Target("127.94.1.2", port), zeep)
        return lean, zeep, posts

    lean, zeep, lean_posts = asyncio.run(main())
    assert lean_posts == 0 and zeep_posts
    assert lean.status is zeep.status is Status.SUCCESS

    def caps_of(r: ProbeResult) -> set[str]:
        return {v for k, v in _evidence(r) if k == "onvif.capability"}

    # zeep parses Capabilities/Extension's leading xs:any greedily (onvif.xsd CapabilitiesExtension),
    # so DeviceIO, Recording and Receiver never reach the zeep path; the lean parser reads them,
    # and so also finds a GetCapabilities-only recorder's Receiver service and its cameras.
    assert caps_of(zeep) == {"analytics", "media"}
    assert caps_of(lean) == caps_of(zeep) | {"deviceio", "recording", "receiver"}
    channels = {v for k, v in _evidence(lean) if k == "onvif.channel"}
    assert channels == {
        "rx1 rtsp://10.0.0.21:554/Streaming/Channels/101",
        "rx2 rtsp://10.0.0.22:554/Streaming/Channels/101",
    }
    extension = {
        (k, v)
        for k, v in _evidence(lean)
        if k == "onvif.channel" or v in ("deviceio", "recording", "receiver")
    }
    assert _evidence(lean) - extension == _evidence(zeep)


def test_a_huge_reply_to_a_credentialed_call_is_cut_at_max_raw_bytes(zeep_posts: list[str]) -> None:
    """A device answers the authenticated GetDeviceInformation with a 50 MB body."""
    state = _lab_state()
    sent = {"bytes": 0}
    limit = 4096

    async def respond(op: str, body: bytes, writer: asyncio.StreamWriter) -> None:
        if b"UsernameToken" not in body:
            payload = (
                lab_onvif.envelope(lab_onvif.system_date_and_time())
                if op == "GetSystemDateAndTime"
                else lab_onvif.fault("ter:NotAuthorized", "Sender not Authorized")
            )
            writer.write(
                _http_answer(payload, "200 OK" if op == "GetSystemDateAndTime" else "401 Unauthorized")
            )
            await writer.drain()
            return
        size = 50 * 1000 * 1000
        head = lab_onvif.envelope(lab_onvif.device_information(state))[:-40]
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: {size}\r\n\r\n".encode()
        )
        writer.write(head)
        sent["bytes"] += len(head)
        chunk = b"<tds:Pad>" + b"A" * 65000 + b"</tds:Pad>"
        deadline = time.monotonic() + 10
        while sent["bytes"] < size and time.monotonic() < deadline:
            writer.write(chunk)
            await writer.drain()
            sent["bytes"] += len(chunk)

    read: list[int] = []

    async def counting_open(
        host: str, port: int, timeout_s: float, tls: object = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        real_read = reader.read

        async def spy(n: int = -1) -> bytes:
            data = await real_read(n)
            read.append(len(data))
            return data

        reader.read = spy  # type: ignore[method-assign]
        return reader, writer

    ctx = ProbeContext(open_connection=counting_open, max_raw_bytes=limit)  # type: ignore[arg-type]

    async def main() -> tuple[ProbeResult, float]:
        server = await _server("127.94.1.3", respond)
        async with server:
            t0 = time.monotonic()
            result = await _run_probe("127.94.1.3", server.sockets[0].getsockname()[1], ctx)
            return result, time.monotonic() - t0

    result, elapsed = asyncio.run(main())
    assert result.detail == f"authenticated: reply cut at {limit} bytes"
    assert result.status is Status.SUCCESS  # from the anonymous clock call; nothing credentialed kept
    assert not any(e.key == "onvif.manufacturer" for e in result.evidence)
    assert zeep_posts == []  # a cut reply is never handed to a client that would read it all
    assert sum(read) <= 3 * limit  # clock, anonymous device information, the cut reply
    assert elapsed < 3.0 and sent["bytes"] < 50 * 1000 * 1000
