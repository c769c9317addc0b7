"""The ONVIF device service of an emulated device (ONVIF Core Specification 2.x, SOAP 1.2).

Answers GetSystemDateAndTime (always anonymous, as the Core spec requires, so
clients can correct their clock), GetDeviceInformation, GetNetworkInterfaces,
GetServices, GetCapabilities, GetScopes and GetHostname.  Everything but the
anonymous operations needs a WS-UsernameToken (PasswordDigest or Text) or HTTP
Digest credentials; wrong or missing credentials get the spec's
``ter:NotAuthorized`` fault (HTTP 401 with a Digest challenge when nothing was
sent, HTTP 400 for a bad token).  The documents are accepted by the real
client library ``onvif-zeep-async`` (tests/camsweep/lab/test_onvif.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from camsweep.lab.auth import check_username_token
from camsweep.lab.state import DeviceState

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TT = "http://www.onvif.org/ver10/schema"
TER = "http://www.onvif.org/ver10/error"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = "#PasswordDigest"
#: Largest SOAP request the lab parses (a device has little memory; so does the lab).
MAX_SOAP_BYTES = 64 * 1024

#: Capability name (personality data) -> ONVIF service namespace it adds to GetServices.
SERVICE_NAMESPACES = {
    "media": "http://www.onvif.org/ver10/media/wsdl",
    "media2": "http://www.onvif.org/ver20/media/wsdl",
    "events": "http://www.onvif.org/ver10/events/wsdl",
    "imaging": "http://www.onvif.org/ver20/imaging/wsdl",
    "ptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "analytics": "http://www.onvif.org/ver20/analytics/wsdl",
    "deviceio": "http://www.onvif.org/ver10/deviceIO/wsdl",
    "recording": "http://www.onvif.org/ver10/recording/wsdl",
    "search": "http://www.onvif.org/ver10/search/wsdl",
    "replay": "http://www.onvif.org/ver10/replay/wsdl",
}
#: Capability names that are ONVIF profiles: they show as WS-Discovery/GetScopes profile scopes.
PROFILE_SCOPES = {
    "profile-s": "onvif://www.onvif.org/Profile/Streaming",
    "profile-t": "onvif://www.onvif.org/Profile/T",
    "profile-g": "onvif://www.onvif.org/Profile/G",
    "profile-m": "onvif://www.onvif.org/Profile/M",
}
ANONYMOUS_ALWAYS = frozenset({"GetSystemDateAndTime"})

ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<env:Envelope xmlns:env="{SOAP_ENV}" xmlns:tds="{TDS}" xmlns:tt="{TT}" xmlns:ter="{TER}">'
    "<env:Header/><env:Body>{body}</env:Body></env:Envelope>"
)


@dataclass(frozen=True, slots=True)
class SoapAnswer:
    status: int
    body: bytes
    #: True when the answer is a 401 that should carry a Digest challenge.
    challenge: bool = False


def _q(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


def envelope(body: str) -> bytes:
    return ENVELOPE.replace("{body}", body).encode("utf-8")


def fault(subcode: str, reason: str, code: str = "env:Sender") -> bytes:
    return envelope(
        f"<env:Fault><env:Code><env:Value>{code}</env:Value><env:Subcode><env:Value>{subcode}</env:Value>"
        f'</env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">{escape(reason)}</env:Text>'
        "</env:Reason></env:Fault>"
    )


def _t(tag: str, value: object) -> str:
    return f"<{tag}>{escape(str(value))}</{tag}>"


def xaddr(state: DeviceState, port: int, path: str = "/onvif/device_service") -> str:
    host = state.spec.ip if port == 80 else f"{state.spec.ip}:{port}"
    return f"http://{host}{path}"


def scopes(state: DeviceState) -> list[str]:
    """The device's ONVIF scopes: the personality's list plus one per profile capability."""
    wsd = state.spec.personality.services.get("wsd") or {}
    out = [state.render(s) for s in wsd.get("scopes", [])]
    out += [PROFILE_SCOPES[c] for c in state.capabilities if c in PROFILE_SCOPES]
    return out


def device_information(state: DeviceState) -> str:
    v = state.values()
    return (
        "<tds:GetDeviceInformationResponse>"
        + _t("tds:Manufacturer", v["manufacturer"])
        + _t("tds:Model", v.get("onvif_model", v["model"]))
        + _t("tds:FirmwareVersion", v["firmware"])
        + _t("tds:SerialNumber", v["serial"])
        + _t("tds:HardwareId", v["hardware_id"])
        + "</tds:GetDeviceInformationResponse>"
    )


def system_date_and_time() -> str:
    now = time.gmtime()
    return (
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
        "<tt:TimeZone><tt:TZ>GMT0</tt:TZ></tt:TimeZone><tt:UTCDateTime>"
        f"<tt:Time><tt:Hour>{now.tm_hour}</tt:Hour><tt:Minute>{now.tm_min}</tt:Minute>"
        f"<tt:Second>{now.tm_sec}</tt:Second></tt:Time>"
        f"<tt:Date><tt:Year>{now.tm_year}</tt:Year><tt:Month>{now.tm_mon}</tt:Month>"
        f"<tt:Day>{now.tm_mday}</tt:Day></tt:Date>"
        "</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


def network_interfaces(state: DeviceState) -> str:
    return (
        '<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">'
        "<tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name>"
        f"{_t('tt:HwAddress', state.spec.mac)}<tt:MTU>1500</tt:MTU></tt:Info>"
        "<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config><tt:Manual>"
        f"{_t('tt:Address', state.spec.ip)}<tt:PrefixLength>24</tt:PrefixLength></tt:Manual>"
        "<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>"
        "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>"
    )


def services(state: DeviceState, port: int) -> str:
    items = [("device", "http://www.onvif.org/ver10/device/wsdl")]
    items += [(c, SERVICE_NAMESPACES[c]) for c in state.capabilities if c in SERVICE_NAMESPACES]
    out = ["<tds:GetServicesResponse>"]
    for name, ns in items:
        out.append(
            f"<tds:Service>{_t('tds:Namespace', ns)}"
            f"{_t('tds:XAddr', xaddr(state, port, f'/onvif/{name}_service'))}"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
        )
    out.append("</tds:GetServicesResponse>")
    return "".join(out)


def capabilities(state: DeviceState, port: int) -> str:
    caps = set(state.capabilities)

    def addr(name: str) -> str:
        return _t("tt:XAddr", xaddr(state, port, f"/onvif/{name}_service"))

    out = ["<tds:GetCapabilitiesResponse><tds:Capabilities>"]
    if "analytics" in caps:
        out.append(
            f"<tt:Analytics>{addr('analytics')}<tt:RuleSupport>true</tt:RuleSupport>"
            "<tt:AnalyticsModuleSupport>true</tt:AnalyticsModuleSupport></tt:Analytics>"
        )
    out.append(
        f"<tt:Device>{addr('device')}"
        "<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false</tt:ZeroConfiguration>"
        "<tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network>"
        "<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>true</tt:DiscoveryBye>"
        "<tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup>"
        "<tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>true</tt:FirmwareUpgrade>"
        "<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tt:SupportedVersions>"
        "</tt:System>"
        "<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>true</tt:TLS1.2>"
        "<tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false</tt:AccessPolicyConfig>"
        "<tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken>"
        "<tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken></tt:Security>"
        "</tt:Device>"
    )
    if "events" in caps:
        out.append(
            f"<tt:Events>{addr('events')}<tt:WSSubscriptionPolicySupport>true</tt:WSSubscriptionPolicySupport>"
            "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
            "<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport>"
            "</tt:Events>"
        )
    if "imaging" in caps:
        out.append(f"<tt:Imaging>{addr('imaging')}</tt:Imaging>")
    if "media" in caps:
        out.append(
            f"<tt:Media>{addr('media')}<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
            "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities>"
            "</tt:Media>"
        )
    if "ptz" in caps:
        out.append(f"<tt:PTZ>{addr('ptz')}</tt:PTZ>")
    out.append("</tds:Capabilities></tds:GetCapabilitiesResponse>")
    return "".join(out)


def scopes_response(state: DeviceState) -> str:
    items = "".join(
        f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef>{_t('tt:ScopeItem', s)}</tds:Scopes>"
        for s in scopes(state)
    )
    return f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>"


def hostname(state: DeviceState) -> str:
    return (
        "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>"
        f"{_t('tt:Name', state.spec.name)}</tds:HostnameInformation></tds:GetHostnameResponse>"
    )


def _operation(root: Element) -> str | None:
    body = root.find(_q(SOAP_ENV, "Body"))
    if body is None:
        # SOAP 1.1 clients (some scanners) send the 2001 envelope: accept its Body too.
        body = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    if body is None or len(body) == 0:
        return None
    tag = body[0].tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else None


def _token_ok(root: Element, state: DeviceState) -> bool | None:
    """None when no UsernameToken was sent; else whether it proves the device's credentials."""
    token = root.find(f".//{_q(WSSE, 'UsernameToken')}")
    if token is None:
        return None
    pw = token.find(_q(WSSE, "Password"))
    user, secret = state.spec.credentials
    return check_username_token(
        username=(token.findtext(_q(WSSE, "Username")) or "").strip(),
        password=pw.text if pw is not None else None,
        nonce_b64=token.findtext(_q(WSSE, "Nonce")),
        created=token.findtext(_q(WSU, "Created")),
        user=user,
        secret=secret,
        digest=pw is not None and (pw.get("Type") or "").endswith(PASSWORD_DIGEST),
    )


def answer(state: DeviceState, request: bytes, port: int, http_auth_ok: bool) -> SoapAnswer:
    """Answer one SOAP request to the device service."""
    if len(request) > MAX_SOAP_BYTES:
        return SoapAnswer(400, fault("ter:InvalidArgVal", "request too large"))
    try:
        root = SafeET.fromstring(request)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        return SoapAnswer(400, fault("ter:WellFormed", "XML not well-formed"))
    op = _operation(root)
    if op is None:
        return SoapAnswer(400, fault("ter:WellFormed", "no SOAP Body operation"))
    onvif_spec = state.spec.personality.services.get("onvif") or {}
    anonymous = ANONYMOUS_ALWAYS | set(onvif_spec.get("anonymous", []))
    if op not in anonymous:
        token = _token_ok(root, state)
        if token is False:
            return SoapAnswer(400, fault("ter:NotAuthorized", "Sender not Authorized"))
        if token is None and not http_auth_ok:
            return SoapAnswer(401, fault("ter:NotAuthorized", "Sender not Authorized"), challenge=True)
    handlers = {
        "GetSystemDateAndTime": system_date_and_time,
        "GetDeviceInformation": lambda: device_information(state),
        "GetNetworkInterfaces": lambda: network_interfaces(state),
        "GetServices": lambda: services(state, port),
        "GetCapabilities": lambda: capabilities(state, port),
        "GetScopes": lambda: scopes_response(state),
        "GetHostname": lambda: hostname(state),
    }
    handler = handlers.get(op)
    if handler is None:
        return SoapAnswer(400, fault("ter:ActionNotSupported", f"{op} is not supported", code="env:Receiver"))
    return SoapAnswer(200, envelope(handler()))
