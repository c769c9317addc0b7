"""ONVIF device-service probe (ONVIF Core Specification §8).

Unauthenticated, over the engine's own streams (sans-IO: httptools + defusedxml):

* ``GetSystemDateAndTime`` — the Core spec requires devices to answer it
  without authentication (§5.9.1) so clients can sync WS-Security clocks; a
  device clock far off is itself a finding (``onvif.clock_skew_s``).
* ``GetDeviceInformation`` — normally needs authentication, but some cheap
  devices answer anonymously (fingerprint-facts C.0).

With the one operator-supplied credential (never guessed, never stored), the
maintained async client onvif-zeep-async (it shares one parsed WSDL across
devices) asks ``GetDeviceInformation``, ``GetNetworkInterfaces`` (MAC),
``GetServices``/``GetCapabilities`` (the capability set) and, on recorders,
the Receiver service's list of attached cameras.  That client has no usable
default timeout, so every call is wrapped in ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from scanner.credentials import OnvifCredentials
from scanner.probes.base import ProbeContext, ProbeResult, Status, Target, bounded
from scanner.probes.http import HttpConnection, build_http_request

NAME = "onvif"
#: Ports the ONVIF device service commonly listens on (80; 8899 is Xiongmai's gSOAP; 8000/8080 others).
PORTS: tuple[int, ...] = (80, 8000, 8080, 8899)
DEVICE_SERVICE_PATH = "/onvif/device_service"
DEVICE_NS = "http://www.onvif.org/ver10/device/wsdl"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
#: Timeout for each call of the credentialed client (it has no usable default).
AUTH_CALL_TIMEOUT_S = 5.0
#: Attached cameras reported for one recorder, at most.
MAX_CHANNELS = 256

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


def build_envelope(operation: str) -> bytes:
    """A SOAP 1.2 envelope for an argument-less device-service operation."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP12_NS}" xmlns:tds="{DEVICE_NS}">'
        f"<s:Body><tds:{operation}/></s:Body></s:Envelope>"
    ).encode()


def build_request(
    host: str, operation: str, path: str = DEVICE_SERVICE_PATH, keep_alive: bool = False
) -> bytes:
    """An HTTP POST carrying the operation, with the SOAP 1.2 action parameter."""
    content_type = f'application/soap+xml; charset=utf-8; action="{DEVICE_NS}/{operation}"'
    return build_http_request(
        "POST", path, host, (("Content-Type", content_type),), build_envelope(operation), keep_alive
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


async def soap_call(
    conn: HttpConnection, operation: str, path: str = DEVICE_SERVICE_PATH
) -> SoapAnswer | Status:
    """POST one operation over an engine connection; a :class:`Status` when there is no HTTP answer."""
    content_type = f'application/soap+xml; charset=utf-8; action="{DEVICE_NS}/{operation}"'
    got = await conn.request(
        path, conn.ctx.max_raw_bytes, "POST", (("Content-Type", content_type),), build_envelope(operation)
    )
    if got.banner is None:
        return got.status
    return SoapAnswer(got.banner.status_code, got.banner.body, got.raw)


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
        # Both anonymous calls share one keep-alive connection.
        async with HttpConnection(ctx, target.ip, target.port, target.hostname or target.ip, False) as conn:
            speaks_soap = await self._anonymous(conn, result)
        if speaks_soap and self.credentials is not None:
            await self.run_authenticated(target, result)
        return result

    async def _anonymous(self, conn: HttpConnection, result: ProbeResult) -> bool:
        """The two anonymous calls; whether the port speaks SOAP at all."""
        ctx = conn.ctx
        answer = await soap_call(conn, "GetSystemDateAndTime")
        if isinstance(answer, Status):
            result.status = answer
            return False
        result.raw = answer.raw[: ctx.max_raw_bytes]
        root = parse_xml(answer.body)
        if root is None or _local(root.tag) != "Envelope":
            # An HTTP server, but not an ONVIF device service.
            result.status = Status.PROTOCOL_MISMATCH
            return False
        device_ts = parse_system_date_and_time(answer.body)
        fault = parse_fault(root)
        if device_ts is not None:
            result.add("onvif.clock_skew_s", str(round(device_ts - self.clock())))
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
        return True

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

    async def run_authenticated(self, target: Target, result: ProbeResult) -> None:
        """The credentialed calls; failures become ``detail``, never exceptions, never the secret."""
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
        for iface in (await asyncio.wait_for(devmgmt.GetNetworkInterfaces(), t) or [])[:16]:
            mac = getattr(getattr(iface, "Info", None), "HwAddress", None)
            result.add("onvif.mac", bounded(str(mac), 64) if mac else None)

    @staticmethod
    async def _capabilities(cam: Any, devmgmt: Any, result: ProbeResult, t: float) -> None:
        namespaces: list[str] = []
        try:
            services = await asyncio.wait_for(devmgmt.GetServices({"IncludeCapability": False}), t)
            namespaces = [str(getattr(s, "Namespace", "") or "") for s in (services or [])[:64]]
        except Exception:  # noqa: BLE001 - older devices lack GetServices: fall back below
            caps = await asyncio.wait_for(devmgmt.GetCapabilities({"Category": "All"}), t)
            for attr, ns in (
                ("Analytics", "http://www.onvif.org/ver20/analytics/wsdl"),
                ("PTZ", "http://www.onvif.org/ver20/ptz/wsdl"),
                ("Imaging", "http://www.onvif.org/ver20/imaging/wsdl"),
                ("Events", "http://www.onvif.org/ver10/events/wsdl"),
                ("Media", "http://www.onvif.org/ver10/media/wsdl"),
            ):
                if getattr(caps, attr, None) is not None:
                    namespaces.append(ns)
            ext = getattr(caps, "Extension", None)
            for attr, ns in (
                ("DeviceIO", "http://www.onvif.org/ver10/deviceIO/wsdl"),
                ("Recording", "http://www.onvif.org/ver10/recording/wsdl"),
                ("Receiver", "http://www.onvif.org/ver10/receiver/wsdl"),
            ):
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
            token = getattr(rec, "Token", None)
            uri = strip_userinfo(str(uri)) if uri else None
            result.add("onvif.channel", bounded(f"{token} {uri}" if uri else str(token), 512))
