"""ONVIF device-service probe (ONVIF Core Specification §8).

Unauthenticated, over the engine's own streams (sans-IO: httptools + defusedxml):

* ``GetSystemDateAndTime`` — the Core spec requires devices to answer it
  without authentication (§5.9.1) so clients can sync WS-Security clocks; a
  device clock far off is itself a finding (``onvif.clock_skew_s``).
* ``GetDeviceInformation`` — normally needs authentication, but some cheap
  devices answer anonymously (fingerprint-facts C.0).

With the one operator-supplied credential (never guessed, never stored), on
the same bounded engine connection: ``GetDeviceInformation``,
``GetNetworkInterfaces`` (MAC), ``GetServices`` (the capability set;
``GetCapabilities`` when a device faults on it) and, on recorders, the
Receiver service's ``GetReceivers`` (attached cameras), each carrying a
WS-Security UsernameToken (OASIS WSS UsernameToken Profile 1.0,
PasswordDigest only) whose ``Created`` is in the device's clock (the skew the
anonymous call measured).  Replies are bounded by ``ctx.max_raw_bytes`` and
the read timeouts and parsed by the same defusedxml parser as the anonymous
ones.  A zeep client per device (its own aiohttp session) cost more CPU than
every other probe together and read whole replies into memory; these calls
cost ~1.8 ms of scanner CPU per device against ~8.9 ms (demo fleet, WSDL
cache warm).

When a device's answer to that GetDeviceInformation is neither a device
information response nor a refusal (a ``NotAuthorized`` fault, or a SOAP fault
with HTTP 401) — MTOM replies, a bare HTTP 401, SOAP 1.1-only firmware, any
other shape — the maintained client onvif-zeep-async tries instead
(:meth:`OnvifProbe.run_zeep`, unchanged); a timeout or a reply cut at the read
bound is not handed over.  That client has no usable default timeout, so every
call of it is wrapped in ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import hashlib
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from scanner.credentials import OnvifCredentials
from scanner.probes.base import ProbeContext, ProbeResult, Status, Target, bounded
from scanner.probes.http import HttpConnection, build_http_request, response_complete

NAME = "onvif"
#: Ports the ONVIF device service commonly listens on (80; 8899 is Xiongmai's gSOAP; 8000/8080 others).
PORTS: tuple[int, ...] = (80, 8000, 8080, 8899)
DEVICE_SERVICE_PATH = "/onvif/device_service"
DEVICE_NS = "http://www.onvif.org/ver10/device/wsdl"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
RECEIVER_NS = "http://www.onvif.org/ver10/receiver/wsdl"
# OASIS WSS 1.0 namespaces and URIs (SOAP Message Security 1.0, UsernameToken Profile 1.0 §3.1).
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
#: Random bytes in each UsernameToken nonce.
NONCE_BYTES = 16
#: Timeout for each call of the credentialed client (it has no usable default).
AUTH_CALL_TIMEOUT_S = 5.0
#: Attached cameras reported for one recorder, at most.
MAX_CHANNELS = 256
#: Network interfaces and services read from one device, at most.
MAX_INTERFACES = 16
MAX_SERVICES = 64

log = logging.getLogger(__name__)

#: ONVIF service namespaces -> the capability name we report (ONVIF Core §5.1.3 namespaces).
SERVICE_CAPABILITIES: dict[str, str] = {
    "http://www.onvif.org/ver20/analytics/wsdl": "analytics",
    "http://www.onvif.org/ver20/ptz/wsdl": "ptz",
    "http://www.onvif.org/ver10/deviceIO/wsdl": "deviceio",
    "http://www.onvif.org/ver20/imaging/wsdl": "imaging",
    "http://www.onvif.org/ver10/recording/wsdl": "recording",
    "http://www.onvif.org/ver10/search/wsdl": "search",
    "http://www.onvif.org/ver10/replay/wsdl": "replay",
    "http://www.onvif.org/ver10/receiver/wsdl": "receiver",
    "http://www.onvif.org/ver10/events/wsdl": "events",
    "http://www.onvif.org/ver20/media/wsdl": "media2",
    "http://www.onvif.org/ver10/media/wsdl": "media",
    "http://www.onvif.org/ver10/accesscontrol/wsdl": "accesscontrol",
    "http://www.onvif.org/ver10/thermal/wsdl": "thermal",
}
#: GetCapabilities (ONVIF Core §8.1.2.6): elements of ``Capabilities`` -> service namespace.
CAPABILITY_NAMESPACES: tuple[tuple[str, str], ...] = (
    ("Analytics", "http://www.onvif.org/ver20/analytics/wsdl"),
    ("PTZ", "http://www.onvif.org/ver20/ptz/wsdl"),
    ("Imaging", "http://www.onvif.org/ver20/imaging/wsdl"),
    ("Events", "http://www.onvif.org/ver10/events/wsdl"),
    ("Media", "http://www.onvif.org/ver10/media/wsdl"),
)
#: ... and elements of ``Capabilities/Extension`` -> service namespace.
CAPABILITY_EXTENSION_NAMESPACES: tuple[tuple[str, str], ...] = (
    ("DeviceIO", "http://www.onvif.org/ver10/deviceIO/wsdl"),
    ("Recording", "http://www.onvif.org/ver10/recording/wsdl"),
    ("Receiver", RECEIVER_NS),
)


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """``Base64(SHA-1(nonce + created + password))`` (WSS UsernameToken Profile 1.0 §3.1)."""
    raw = nonce + created.encode("utf-8") + password.encode("utf-8")
    return base64.b64encode(hashlib.sha1(raw, usedforsecurity=False).digest()).decode("ascii")


def format_created(ts: float) -> str:
    """A ``wsu:Created`` value: UTC with a ``Z``, whole seconds (as onvif-zeep-async sends it;
    some firmware, Hikvision's among them, refuses a ``+00:00`` offset)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def build_username_token(username: str, password: str, nonce: bytes, created: str) -> str:
    """A ``wsse:Security`` header block with a PasswordDigest UsernameToken.

    The password itself never goes on the wire, only its digest with a fresh
    ``nonce`` and ``created`` (the caller passes them, so this stays pure).
    """
    return (
        f'<wsse:Security xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}"><wsse:UsernameToken>'
        f"<wsse:Username>{escape(username)}</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_DIGEST}">{password_digest(nonce, created, password)}</wsse:Password>'
        f'<wsse:Nonce EncodingType="{BASE64_BINARY}">{base64.b64encode(nonce).decode("ascii")}</wsse:Nonce>'
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


def build_envelope(
    operation: str, header: str = "", arguments: str = "", namespace: str = DEVICE_NS
) -> bytes:
    """A SOAP 1.2 envelope: ``header`` (XML, e.g. :func:`build_username_token`) in ``s:Header``,
    and the body element ``operation`` of the service ``namespace`` holding ``arguments`` (XML;
    device-service arguments use the ``tds`` prefix)."""
    if namespace == DEVICE_NS:
        element = f"<tds:{operation}>{arguments}</tds:{operation}>" if arguments else f"<tds:{operation}/>"
    else:
        element = f'<{operation} xmlns="{namespace}">{arguments}</{operation}>'
    head = f"<s:Header>{header}</s:Header>" if header else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP12_NS}" xmlns:tds="{DEVICE_NS}">'
        f"{head}<s:Body>{element}</s:Body></s:Envelope>"
    ).encode()


def _content_type(operation: str, namespace: str = DEVICE_NS) -> str:
    """SOAP 1.2 media type with its ``action`` parameter (RFC 3902)."""
    return f'application/soap+xml; charset=utf-8; action="{namespace}/{operation}"'


def build_request(
    host: str, operation: str, path: str = DEVICE_SERVICE_PATH, keep_alive: bool = False
) -> bytes:
    """An HTTP POST carrying the operation, with the SOAP 1.2 action parameter."""
    return build_http_request(
        "POST",
        path,
        host,
        (("Content-Type", _content_type(operation)),),
        build_envelope(operation),
        keep_alive,
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(root: Element, name: str) -> Element | None:
    for el in root.iter():
        if _local(el.tag) == name:
            return el
    return None


def _child_text(el: Element | None, name: str) -> str | None:
    if el is None:
        return None
    for child in el:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def parse_xml(body: bytes) -> Element | None:
    """Parse untrusted XML safely; ``None`` if malformed or if it carries a DTD.

    No entities and no DTD at all: a SOAP message (ONVIF, WS-Discovery) must not
    contain a document type declaration (SOAP 1.2 Part 1 §5), so one is refused
    rather than parsed around.
    """
    try:
        return SafeET.fromstring(body, forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError, LookupError):
        # LookupError: an XML declaration naming an encoding Python does not know
        # (found by bench/fuzz_parsers.py: encoding="UTF-4").
        # (ValueError covers bad character references.)
        return None


@dataclass(slots=True)
class SoapFault:
    code: str | None
    subcode: str | None
    reason: str | None

    @property
    def not_authorized(self) -> bool:
        return any("NotAuthorized" in (c or "") for c in (self.code, self.subcode, self.reason))


def parse_fault(root: Element) -> SoapFault | None:
    fault = _find(root, "Fault")
    if fault is None:
        return None
    values = [(_local(el.tag), (el.text or "").strip()) for el in fault.iter() if _local(el.tag) == "Value"]
    reason = _find(fault, "Text")
    return SoapFault(
        values[0][1] if values else None,
        values[-1][1] if len(values) > 1 else None,
        bounded(reason.text if reason is not None else None, 256),
    )


def parse_system_date_and_time(body: bytes) -> float | None:
    """The device's UTC clock as a POSIX timestamp, from a GetSystemDateAndTimeResponse.

    ``None`` when the answer has no usable UTC date and time (some devices
    send only LocalDateTime, or nonsense like month 13).
    """
    root = parse_xml(body)
    if root is None:
        return None
    utc = _find(root, "UTCDateTime")
    if utc is None:
        return None
    date, tod = _find(utc, "Date"), _find(utc, "Time")
    try:
        y, mo, d = (int(_child_text(date, k) or "x") for k in ("Year", "Month", "Day"))
        h, mi, s = (int(_child_text(tod, k) or "x") for k in ("Hour", "Minute", "Second"))
        if not (
            1970 <= y <= 9999
            and 1 <= mo <= 12
            and 1 <= d <= 31
            and 0 <= h < 24
            and 0 <= mi < 60
            and 0 <= s <= 60
        ):
            return None
        return float(calendar.timegm((y, mo, d, h, mi, min(s, 59), 0, 0, 0)))
    except (ValueError, OverflowError):
        return None


@dataclass(slots=True)
class DeviceInformation:
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    hardware: str | None = None


def parse_device_information(body: bytes) -> DeviceInformation | None:
    """Fields of a GetDeviceInformationResponse; ``None`` if it is not one."""
    root = parse_xml(body)
    if root is None:
        return None
    resp = _find(root, "GetDeviceInformationResponse")
    if resp is None:
        return None
    return DeviceInformation(
        bounded(_child_text(resp, "Manufacturer"), 128),
        bounded(_child_text(resp, "Model"), 128),
        bounded(_child_text(resp, "FirmwareVersion"), 128),
        bounded(_child_text(resp, "SerialNumber"), 128),
        bounded(_child_text(resp, "HardwareId"), 128),
    )


def strip_userinfo(uri: str) -> str:
    """A URI without ``user:password@``: a recorder may embed its cameras' credentials."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable URI>"
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def capabilities_from_namespaces(namespaces: Iterable[str]) -> list[str]:
    """Capability names for the advertised service namespaces, sorted, unknown ones kept raw."""
    out = set()
    for ns in namespaces:
        ns = (ns or "").strip()
        if ns and ns != DEVICE_NS:
            out.add(SERVICE_CAPABILITIES.get(ns, bounded(ns, 128) or ""))
    return sorted(x for x in out if x)


def _response(body: bytes, name: str) -> Element | None:
    root = parse_xml(body)
    return None if root is None else _find(root, name)


def _children(el: Element, name: str) -> list[Element]:
    return [child for child in el if _local(child.tag) == name]


def _child(el: Element | None, name: str) -> Element | None:
    return None if el is None else next((c for c in el if _local(c.tag) == name), None)


def parse_network_interfaces(body: bytes) -> list[str] | None:
    """The ``Info/HwAddress`` of each interface of a GetNetworkInterfacesResponse (first
    :data:`MAX_INTERFACES`); ``None`` if it is not one."""
    resp = _response(body, "GetNetworkInterfacesResponse")
    if resp is None:
        return None
    macs = (
        bounded(_child_text(_child(iface, "Info"), "HwAddress"), 64)
        for iface in _children(resp, "NetworkInterfaces")[:MAX_INTERFACES]
    )
    return [mac for mac in macs if mac]


@dataclass(frozen=True, slots=True)
class Service:
    """One advertised service: its namespace and address (the XAddr is device data, untrusted)."""

    namespace: str
    xaddr: str | None


def parse_services(body: bytes) -> list[Service] | None:
    """Services of a GetServicesResponse (first :data:`MAX_SERVICES`); ``None`` if it is not one."""
    resp = _response(body, "GetServicesResponse")
    if resp is None:
        return None
    return [
        Service(_child_text(el, "Namespace") or "", bounded(_child_text(el, "XAddr"), 512))
        for el in _children(resp, "Service")[:MAX_SERVICES]
    ]


def parse_capabilities(body: bytes) -> list[Service] | None:
    """The services a GetCapabilitiesResponse names (:data:`CAPABILITY_NAMESPACES` and its
    ``Extension``'s), as :func:`parse_services` gives them; ``None`` if it is not one."""
    resp = _response(body, "GetCapabilitiesResponse")
    if resp is None:
        return None
    caps = _child(resp, "Capabilities")
    if caps is None:
        return None
    out = []
    for parent, table in (
        (caps, CAPABILITY_NAMESPACES),
        (_child(caps, "Extension"), CAPABILITY_EXTENSION_NAMESPACES),
    ):
        if parent is None:
            continue
        present = {_local(child.tag): child for child in parent}
        for name, ns in table:
            if name in present:
                out.append(Service(ns, bounded(_child_text(present[name], "XAddr"), 512)))
    return out


def parse_receivers(body: bytes) -> list[tuple[str | None, str | None]] | None:
    """``(token, media URI)`` of each receiver of a GetReceiversResponse (ONVIF Receiver
    Service §5.2.1; first :data:`MAX_CHANNELS`); ``None`` if it is not one.  The URI may
    carry the camera's credentials: see :func:`channel_evidence`."""
    resp = _response(body, "GetReceiversResponse")
    if resp is None:
        return None
    return [
        (_child_text(rec, "Token"), _child_text(_child(rec, "Configuration"), "MediaUri"))
        for rec in _children(resp, "Receivers")[:MAX_CHANNELS]
    ]


def channel_evidence(token: object, uri: object) -> str | None:
    """The ``onvif.channel`` value for one receiver: token and media URI without its userinfo."""
    text = strip_userinfo(str(uri)) if uri else None
    return bounded(f"{token} {text}" if text else str(token), 512)


def xaddr_path(xaddr: str | None) -> str | None:
    """The path (and query) of a service address.  It is asked on the device's own address and
    port: an XAddr naming another host (NAT, or a hostile device) is never followed (scope)."""
    if not xaddr:
        return None
    try:
        parts = urlsplit(xaddr.strip())
    except ValueError:
        return None
    if not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def harden_zeep_settings() -> Any:
    """Make onvif-zeep-async parse device replies as strictly as our own parser does.

    onvif-zeep-async shares one zeep ``Settings`` object with ``xml_huge_tree=True``
    (which lifts libxml2's depth and text-size limits) and DTDs allowed.  zeep
    already parses with ``resolve_entities=False`` and refuses entity declarations
    (``forbid_entities``); a SOAP message may not carry a DTD at all (SOAP 1.2
    Part 1 §5), so a reply with one is refused outright, and libxml2's size limits
    stay on.  Returns the settings object (tests check them).
    """
    from onvif.settings import DEFAULT_SETTINGS

    DEFAULT_SETTINGS.xml_huge_tree = False
    DEFAULT_SETTINGS.forbid_dtd = True
    DEFAULT_SETTINGS.forbid_entities = True
    DEFAULT_SETTINGS.forbid_external = True
    return DEFAULT_SETTINGS


@dataclass(slots=True)
class SoapAnswer:
    http_status: int
    body: bytes
    raw: bytes
    #: The reply reached the read limit before its end: cut, never parsed whole.
    truncated: bool = False


async def soap_call(
    conn: HttpConnection,
    operation: str,
    path: str = DEVICE_SERVICE_PATH,
    header: str = "",
    arguments: str = "",
    namespace: str = DEVICE_NS,
) -> SoapAnswer | Status:
    """POST one operation over an engine connection (read at most ``ctx.max_raw_bytes``);
    a :class:`Status` when there is no HTTP answer."""
    limit = conn.ctx.max_raw_bytes
    got = await conn.request(
        path,
        limit,
        "POST",
        (("Content-Type", _content_type(operation, namespace)),),
        build_envelope(operation, header, arguments, namespace),
    )
    if got.banner is None:
        return got.status
    truncated = len(got.raw) >= limit and not response_complete(got.raw)
    return SoapAnswer(got.banner.status_code, got.banner.body, got.raw, truncated)


def failure_kind(answer: SoapAnswer | Status) -> str:
    """Why a call gave nothing usable, by kind only: a device's fault text can echo the request."""
    if isinstance(answer, Status):
        return answer.value
    if answer.truncated:
        return f"reply cut at {len(answer.raw)} bytes"
    root = parse_xml(answer.body)
    fault = parse_fault(root) if root is not None else None
    if fault is None:
        return f"unexpected-response (HTTP {answer.http_status})"
    # A SOAP fault with HTTP 401 is a refusal too (ipycam says "Sender not authorized" without
    # the ter:NotAuthorized subcode); a bare 401 (HTTP authentication only) is not read here.
    return "NotAuthorized" if fault.not_authorized or answer.http_status == 401 else "Fault"


def _note(result: ProbeResult, note: str) -> None:
    result.detail = f"{result.detail}; {note}" if result.detail else note


class OnvifProbe:
    """GetSystemDateAndTime and GetDeviceInformation, then the credentialed calls if given."""

    name = NAME
    ports = PORTS

    def __init__(
        self,
        credentials: OnvifCredentials | None = None,
        clock: Any = time.time,
        call_timeout_s: float = AUTH_CALL_TIMEOUT_S,
    ) -> None:
        self.credentials = credentials
        self.clock = clock
        self.call_timeout_s = call_timeout_s
        # onvif-zeep-async caches each parsed WSDL, but clients started together all miss the
        # cache and each parse it again in a thread (a stampede: ~15% of the CPU of a credentialed
        # 1,000-device scan, bench/run.py).  The first client builds its service alone.
        self._wsdl_lock: asyncio.Lock | None = None
        self._wsdl_ready = False

    async def _devmgmt_service(self, cam: Any, timeout_s: float) -> Any:
        if self._wsdl_ready:
            return await asyncio.wait_for(cam.create_devicemgmt_service(), timeout_s)
        if self._wsdl_lock is None:
            self._wsdl_lock = asyncio.Lock()
        async with self._wsdl_lock:
            service = await asyncio.wait_for(cam.create_devicemgmt_service(), timeout_s)
            self._wsdl_ready = True
            return service

    async def run(self, target: Target, ctx: ProbeContext) -> ProbeResult:
        result = ProbeResult(NAME, target.ip, target.port, Status.ERROR)
        understood = True
        # The anonymous and the credentialed calls share one keep-alive connection.
        async with HttpConnection(ctx, target.ip, target.port, target.hostname or target.ip, False) as conn:
            skew_s = await self._anonymous(conn, result)
            if skew_s is not None and self.credentials is not None:
                understood = await self.run_authenticated(conn, result, skew_s)
        if not understood:
            await self.run_zeep(target, result)
        return result

    async def _anonymous(self, conn: HttpConnection, result: ProbeResult) -> float | None:
        """The two anonymous calls; ``None`` if the port does not speak SOAP, else the device
        clock's offset from ours in seconds (0 when the device does not tell)."""
        ctx = conn.ctx
        answer = await soap_call(conn, "GetSystemDateAndTime")
        if isinstance(answer, Status):
            result.status = answer
            return None
        result.raw = answer.raw[: ctx.max_raw_bytes]
        root = parse_xml(answer.body)
        if root is None or _local(root.tag) != "Envelope":
            # An HTTP server, but not an ONVIF device service.
            result.status = Status.PROTOCOL_MISMATCH
            return None
        device_ts = parse_system_date_and_time(answer.body)
        fault = parse_fault(root)
        skew_s = 0.0
        if device_ts is not None:
            skew_s = device_ts - self.clock()
            result.add("onvif.clock_skew_s", str(round(skew_s)))
            result.status = Status.SUCCESS
        elif fault is not None and (fault.not_authorized or answer.http_status == 401):
            result.status = Status.AUTH_REQUIRED
        else:
            result.status = Status.UNEXPECTED_RESPONSE
        info_answer = await soap_call(conn, "GetDeviceInformation")
        if isinstance(info_answer, SoapAnswer):
            info = parse_device_information(info_answer.body)
            if info is not None:
                self._add_info(result, info)
            room = ctx.max_raw_bytes - len(result.raw)
            if room > 0:
                result.raw += info_answer.raw[:room]
        return skew_s

    @staticmethod
    def _add_info(result: ProbeResult, info: DeviceInformation) -> None:
        have = {(e.key, e.value) for e in result.evidence}
        for key, value in (
            ("onvif.manufacturer", info.manufacturer),
            ("onvif.model", info.model),
            ("onvif.firmware", info.firmware),
            ("onvif.serial", info.serial),
            ("onvif.hardware", info.hardware),
        ):
            if value and (key, value) not in have:
                result.add(key, value)

    def _token(self, skew_s: float) -> str:
        """A fresh UsernameToken (new nonce) dated in the device's clock (WSS 1.0: a device may
        refuse a ``Created`` far from its own time, and may refuse a nonce it has seen)."""
        assert self.credentials is not None
        creds = self.credentials
        return build_username_token(
            creds.username,
            creds.password.reveal(),
            secrets.token_bytes(NONCE_BYTES),
            format_created(self.clock() + skew_s),
        )

    async def run_authenticated(self, conn: HttpConnection, result: ProbeResult, skew_s: float) -> bool:
        """The credentialed calls over the engine connection ``conn``; whether the device's
        answer to GetDeviceInformation was understood (if not, :meth:`run_zeep` should try).

        Failures become ``detail`` notes by kind, never exceptions, never the secret.
        """
        answer = await soap_call(conn, "GetDeviceInformation", header=self._token(skew_s))
        info = None
        if isinstance(answer, SoapAnswer) and not answer.truncated:
            info = parse_device_information(answer.body)
        if info is None:
            kind = failure_kind(answer)
            cut = isinstance(answer, SoapAnswer) and answer.truncated
            # Not understood: the zeep client tries.  A refusal is an answer; a timeout or a cut
            # reply is not handed to a client that would wait longer or read more.
            if kind != "NotAuthorized" and answer is not Status.TIMEOUT and not cut:
                return False
            if kind == "NotAuthorized":
                result.status = Status.AUTH_REQUIRED
            _note(result, f"authenticated: {kind}")
            return True
        self._add_info(result, info)
        result.status = Status.SUCCESS
        answer = await soap_call(conn, "GetNetworkInterfaces", header=self._token(skew_s))
        macs = parse_network_interfaces(answer.body) if isinstance(answer, SoapAnswer) else None
        if macs is None:
            _note(result, f"interfaces: {failure_kind(answer)}")
        for mac in macs or []:
            result.add("onvif.mac", mac)
        services = await self._services(conn, result, skew_s)
        for cap in capabilities_from_namespaces(s.namespace for s in services):
            result.add("onvif.capability", cap)
        receiver = next((s for s in services if s.namespace.strip() == RECEIVER_NS), None)
        if receiver is not None:
            await self._receivers(conn, result, skew_s, receiver)
        return True

    async def _services(self, conn: HttpConnection, result: ProbeResult, skew_s: float) -> list[Service]:
        """GetServices, or GetCapabilities when a device lacks it (older firmware faults)."""
        answer = await soap_call(
            conn,
            "GetServices",
            header=self._token(skew_s),
            arguments="<tds:IncludeCapability>false</tds:IncludeCapability>",
        )
        services = parse_services(answer.body) if isinstance(answer, SoapAnswer) else None
        if services is not None:
            return services
        if answer is Status.TIMEOUT:
            _note(result, "capabilities: timeout")
            return []
        answer = await soap_call(
            conn, "GetCapabilities", header=self._token(skew_s), arguments="<tds:Category>All</tds:Category>"
        )
        services = parse_capabilities(answer.body) if isinstance(answer, SoapAnswer) else None
        if services is None:
            _note(result, f"capabilities: {failure_kind(answer)}")
        return services or []

    async def _receivers(
        self, conn: HttpConnection, result: ProbeResult, skew_s: float, receiver: Service
    ) -> None:
        """On a recorder, the Receiver service lists the cameras it pulls streams from."""
        path = xaddr_path(receiver.xaddr)
        if path is None:
            _note(result, "channels: no receiver address")
            return
        answer = await soap_call(
            conn, "GetReceivers", path, header=self._token(skew_s), namespace=RECEIVER_NS
        )
        receivers = parse_receivers(answer.body) if isinstance(answer, SoapAnswer) else None
        if receivers is None:
            _note(result, f"channels: {failure_kind(answer)}")
        for token, uri in receivers or []:
            result.add("onvif.channel", channel_evidence(token, uri))

    async def run_zeep(self, target: Target, result: ProbeResult) -> None:
        """The credentialed calls through onvif-zeep-async, for devices :meth:`run_authenticated`
        cannot read; failures become ``detail``, never exceptions, never the secret."""
        assert self.credentials is not None
        try:
            from onvif import ONVIFCamera  # imported late: it configures logging at import
        except ImportError:
            result.detail = "credentials given but onvif-zeep-async is not installed"
            return
        harden_zeep_settings()
        creds = self.credentials
        cam = ONVIFCamera(target.ip, target.port, creds.username, creds.password.reveal(), adjust_time=True)
        t = self.call_timeout_s
        notes: list[str] = []
        try:
            devmgmt = await self._devmgmt_service(cam, t)
            info = await asyncio.wait_for(devmgmt.GetDeviceInformation(), t)
            self._add_info(
                result,
                DeviceInformation(
                    *(
                        bounded(str(getattr(info, k, "") or ""), 128)
                        for k in ("Manufacturer", "Model", "FirmwareVersion", "SerialNumber", "HardwareId")
                    )
                ),
            )
            result.status = Status.SUCCESS
            for step in (self._interfaces, self._capabilities, self._channels):
                try:
                    await step(cam, devmgmt, result, t)
                except Exception as exc:  # noqa: BLE001 - one device's failure is data, not a crash
                    notes.append(f"{step.__name__.strip('_')}: {type(exc).__name__}")
        except TimeoutError:
            notes.append("authenticated: timeout")
        except Exception as exc:  # noqa: BLE001 - zeep/aiohttp raise many types; translated here
            # The message of a zeep fault can echo the request; keep only the type.
            notes.append(f"authenticated: {type(exc).__name__}")
            if "NotAuthorized" in str(exc) or "401" in str(exc):
                result.status = Status.AUTH_REQUIRED
        finally:
            try:
                await asyncio.wait_for(cam.close(), t)
            except Exception:  # noqa: BLE001 - closing a half-open client must not fail the probe
                pass
        if notes:
            result.detail = "; ".join([result.detail, *notes] if result.detail else notes)

    @staticmethod
    async def _interfaces(cam: Any, devmgmt: Any, result: ProbeResult, t: float) -> None:
        for iface in (await asyncio.wait_for(devmgmt.GetNetworkInterfaces(), t) or [])[:MAX_INTERFACES]:
            mac = getattr(getattr(iface, "Info", None), "HwAddress", None)
            result.add("onvif.mac", bounded(str(mac), 64) if mac else None)

    @staticmethod
    async def _capabilities(cam: Any, devmgmt: Any, result: ProbeResult, t: float) -> None:
        namespaces: list[str] = []
        try:
            services = await asyncio.wait_for(devmgmt.GetServices({"IncludeCapability": False}), t)
            namespaces = [str(getattr(s, "Namespace", "") or "") for s in (services or [])[:MAX_SERVICES]]
        except Exception:  # noqa: BLE001 - older devices lack GetServices: fall back below
            caps = await asyncio.wait_for(devmgmt.GetCapabilities({"Category": "All"}), t)
            for attr, ns in CAPABILITY_NAMESPACES:
                if getattr(caps, attr, None) is not None:
                    namespaces.append(ns)
            ext = getattr(caps, "Extension", None)
            for attr, ns in CAPABILITY_EXTENSION_NAMESPACES:
                if ext is not None and getattr(ext, attr, None) is not None:
                    namespaces.append(ns)
        for cap in capabilities_from_namespaces(namespaces):
            result.add("onvif.capability", cap)

    @staticmethod
    async def _channels(cam: Any, devmgmt: Any, result: ProbeResult, t: float) -> None:
        """On a recorder, the Receiver service lists the cameras it pulls streams from."""
        caps = {e.value for e in result.evidence if e.key == "onvif.capability"}
        if "receiver" not in caps:
            return
        await asyncio.wait_for(cam.update_xaddrs(), t)
        receiver = await asyncio.wait_for(cam.create_onvif_service("receiver"), t)
        for rec in (await asyncio.wait_for(receiver.GetReceivers(), t) or [])[:MAX_CHANNELS]:
            uri = getattr(getattr(rec, "Configuration", None), "MediaUri", None)
            result.add("onvif.channel", channel_evidence(getattr(rec, "Token", None), uri))
