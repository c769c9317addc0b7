"""Each service answers as its personality declares, over real sockets, and auth is really enforced."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from xml.etree import ElementTree as ET

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from camsweep.lab import Lab, load_fleet
from camsweep.lab.fleet import DeviceSpec
from tests.camsweep.lab.helpers import (
    PROBE_2005,
    PROBE_2009,
    digest_header,
    exchange,
    header,
    http_get,
    new_message_id,
    rtsp,
    soap_post,
    username_token,
)

HTTP_TIMEOUT_S = 5.0
TDS = "{http://www.onvif.org/ver10/device/wsdl}"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    fleet = load_fleet("demo", network=f"127.80.{uuid.uuid4().int % 200 + 20}.0/24")
    with Lab(fleet) as running:
        yield running


def dev(lab: Lab, personality: str) -> DeviceSpec:
    return next(d for d in lab.fleet.devices if d.personality.id == personality)


def test_hikvision_http_banner_is_byte_exact(lab: Lab) -> None:
    d = dev(lab, "hikvision-ds2cd-fixed")
    raw = http_get(d.ip, 80)
    # nmap-service-probes "Hikvision IP camera httpd": HTTP/1.0, Date before Server: App-webs/
    lines = raw.split(b"\r\n")
    assert lines[0] == b"HTTP/1.0 200 OK"
    assert lines[1].startswith(b"Date: ") and lines[2] == b"Server: App-webs/"


def test_dahua_http_has_no_server_and_upper_case_headers(lab: Lab) -> None:
    raw = http_get(dev(lab, "dahua-ipc").ip, 80)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert header(raw, "Server") is None
    assert b"\r\nCONNECTION: close\r\n" in head and b"\r\nP3P: CP=CAO PSA OUR\r\n" in head
    assert int(header(raw, "CONTENT-LENGTH") or -1) == len(body)
    assert body.startswith(b"\xef\xbb\xbf<!DOCTYPE html PUBLIC") and b"<title>WEB</title>" in body


def test_bosch_challenge_layout(lab: Lab) -> None:
    raw = http_get(dev(lab, "bosch-dinion").ip, 80)
    assert raw.startswith(
        b"HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"Use 'live' as User Name"
    )
    assert raw.endswith(b',opaque="",stale=FALSE,algorithm=MD5,qop="auth"\r\n\r\n')


def _peer_cert(ip: str) -> x509.Certificate:
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((ip, 443), HTTP_TIMEOUT_S) as raw, ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_tls_subjects_are_the_vendors(lab: Lab) -> None:
    hik = _peer_cert(dev(lab, "hikvision-ds2cd-fixed").ip)
    assert (
        hik.subject.rfc4514_string()
        == "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"
    )
    axis = dev(lab, "axis-p32-dome")
    cert = _peer_cert(axis.ip)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "axis-" + axis.mac.replace(
        ":", ""
    )
    dahua = _peer_cert(dev(lab, "dahua-ipc").ip)
    assert dahua.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Dahua Device NVR CA"
    assert dahua.issuer != dahua.subject


def test_rtsp_options_describe_and_digest(lab: Lab) -> None:
    d = dev(lab, "dahua-ipc")
    url = f"rtsp://{d.ip}/cam/realmonitor?channel=1&subtype=0"
    options, describe = rtsp(
        d.ip,
        554,
        [
            f"OPTIONS {url} RTSP/1.0\r\nCSeq: 2\r\n\r\n".encode(),
            f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 3\r\n\r\n".encode(),
        ],
    )
    assert options.startswith(b"RTSP/1.0 200 OK") and header(options, "Server") == "Rtsp Server/3.0"
    assert header(options, "CSeq") == "2" and "DESCRIBE" in (header(options, "Public") or "")
    assert describe.startswith(b"RTSP/1.0 401")
    challenge = header(describe, "WWW-Authenticate") or ""
    assert f'realm="Login to {d.serial}"' in challenge
    user, password = d.credentials
    good = digest_header("DESCRIBE", url, challenge, user, password)
    bad = digest_header("DESCRIBE", url, challenge, user, "wrong")
    ok, refused = rtsp(
        d.ip,
        554,
        [
            f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 4\r\nAuthorization: {good}\r\n\r\n".encode(),
            f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 5\r\nAuthorization: {bad}\r\n\r\n".encode(),
        ],
    )
    assert ok.startswith(b"RTSP/1.0 200 OK") and b"m=video 0 RTP/AVP 96" in ok
    assert refused.startswith(b"RTSP/1.0 401")


def test_hikvision_rtsp_options_has_only_public(lab: Lab) -> None:
    d = dev(lab, "hikvision-ds2cd-fixed")
    [answer] = rtsp(
        d.ip, 554, [f"OPTIONS rtsp://{d.ip}/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode()]
    )
    assert answer.split(b"\r\n")[0] == b"RTSP/1.0 200 OK"
    assert header(answer, "Server") is None and header(answer, "Public")


def test_isapi_needs_digest_and_reports_the_device(lab: Lab) -> None:
    d = dev(lab, "hikvision-ds2cd-fixed")
    url = f"http://{d.ip}/ISAPI/System/deviceInfo"
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        assert client.get(url).status_code == 401
        assert client.get(url, auth=httpx.DigestAuth(d.credentials[0], "nope")).status_code == 401
        r = client.get(url, auth=httpx.DigestAuth(*d.credentials))
    assert r.status_code == 200
    root = ET.fromstring(r.text)
    ns = "{http://www.hikvision.com/ver20/XMLSchema}"
    assert root.findtext(f"{ns}model") == "DS-2CD2143G2-I"
    assert root.findtext(f"{ns}macAddress") == d.mac


def test_recorder_lists_its_cameras_only_with_credentials(lab: Lab) -> None:
    nvr = dev(lab, "hikvision-nvr")
    url = f"http://{nvr.ip}/ISAPI/ContentMgmt/InputProxy/channels"
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        assert client.get(url).status_code == 401
        r = client.get(url, auth=httpx.DigestAuth(*nvr.credentials))
    assert r.status_code == 200
    ns = "{http://www.hikvision.com/ver20/XMLSchema}"
    serials = [e.text for e in ET.fromstring(r.text).iter(f"{ns}serialNumber")]
    assert serials == [cam.serial for cam in nvr.attached] and len(serials) == 4
    # The attached cameras sit on the recorder's PoE network: not fleet targets, nothing listens there.
    listening = {ip for ip, _ in lab.listening}
    assert not {cam.ip for cam in nvr.attached} & (listening | set(lab.fleet.targets))
    dahua = dev(lab, "dahua-nvr")
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        r = client.get(
            f"http://{dahua.ip}/cgi-bin/configManager.cgi?action=getConfig&name=RemoteDevice",
            auth=httpx.DigestAuth(*dahua.credentials),
        )
    assert r.status_code == 200 and all(f".SerialNo={cam.serial}" in r.text for cam in dahua.attached)


def test_hikvision_sdk_port_answers_the_documented_bytes(lab: Lab) -> None:
    d = dev(lab, "hikvision-ds2cd-fixed")
    assert exchange(d.ip, 8000, b"\x00" * 32, limit=16) == bytes.fromhex("000000100000001e0000001e00000000")


def test_onvif_time_is_anonymous_the_rest_needs_credentials(lab: Lab) -> None:
    d = dev(lab, "dahua-ipc")
    r = soap_post(d.ip, 80, "GetSystemDateAndTime")
    assert r.startswith(b"HTTP/1.1 200") and b"<tt:UTCDateTime>" in r
    r = soap_post(d.ip, 80, "GetDeviceInformation")
    assert r.startswith(b"HTTP/1.1 401") and b"ter:NotAuthorized" in r
    assert (header(r, "WWW-Authenticate") or "").startswith("Digest realm=")
    r = soap_post(d.ip, 80, "GetDeviceInformation", security=username_token(d.credentials[0], "wrong"))
    assert r.startswith(b"HTTP/1.1 400") and b"ter:NotAuthorized" in r
    r = soap_post(d.ip, 80, "GetDeviceInformation", security=username_token(*d.credentials))
    assert r.startswith(b"HTTP/1.1 200")
    info = ET.fromstring(r.partition(b"\r\n\r\n")[2]).find(f".//{TDS}GetDeviceInformationResponse")
    assert info is not None
    assert info.findtext(f"{TDS}Manufacturer") == "Dahua" and info.findtext(f"{TDS}SerialNumber") == d.serial


def test_onvif_http_digest_is_checked(lab: Lab) -> None:
    d = dev(lab, "axis-p32-dome")
    body = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body><tds:GetNetworkInterfaces/></s:Body></s:Envelope>'
    )
    url = f"http://{d.ip}/onvif/device_service"
    hdrs = {"Content-Type": "application/soap+xml"}
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        assert (
            client.post(
                url, content=body, headers=hdrs, auth=httpx.DigestAuth(d.credentials[0], "x")
            ).status_code
            == 401
        )
        r = client.post(url, content=body, headers=hdrs, auth=httpx.DigestAuth(*d.credentials))
    assert r.status_code == 200 and f"<tt:HwAddress>{d.mac}</tt:HwAddress>" in r.text


def test_xiongmai_answers_device_information_anonymously_on_8899(lab: Lab) -> None:
    d = dev(lab, "xiongmai-whitelabel")
    r = soap_post(d.ip, 8899, "GetDeviceInformation")
    assert r.startswith(b"HTTP/1.1 200") and b"<tds:Manufacturer>H264</tds:Manufacturer>" in r
    assert header(r, "Server") == "gSOAP/2.8"


@pytest.mark.parametrize("template", [PROBE_2005, PROBE_2009], ids=["2005-04", "oasis-1.1"])
def test_ws_discovery_directed_probe_both_dialects(lab: Lab, template: str) -> None:
    d = dev(lab, "hikvision-ds2cd-fixed")
    mid = new_message_id()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(HTTP_TIMEOUT_S)
        sock.bind((d.ip.rsplit(".", 1)[0] + ".250", 0))  # a loopback address of our own block
        sock.sendto(template.format(mid=mid).encode(), (d.ip, 3702))
        data, _ = sock.recvfrom(65536)
    root = ET.fromstring(data)
    disc = (
        "http://schemas.xmlsoap.org/ws/2005/04/discovery"
        if "2005/04" in template
        else ("http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01")
    )
    match = root.find(f".//{{{disc}}}ProbeMatch")
    assert match is not None
    assert any(e.text == mid for e in root.iter() if e.tag.endswith("RelatesTo"))
    assert any(e.text == f"urn:uuid:{d.uuid}" for e in match.iter() if e.tag.endswith("Address"))
    scopes = (match.findtext(f"{{{disc}}}Scopes") or "").split()
    assert "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I" in scopes
    assert "onvif://www.onvif.org/Profile/T" in scopes  # from the firmware's capability set
    assert match.findtext(f"{{{disc}}}XAddrs") == f"http://{d.ip}/onvif/device_service"


def test_decoys_do_not_speak_onvif(lab: Lab) -> None:
    d = dev(lab, "decoy-nginx")
    r = soap_post(d.ip, 80, "GetDeviceInformation")
    assert b"tds:" not in r and b"Welcome to nginx!" in r


def test_upgrade_changes_firmware_capabilities_and_banners(lab: Lab) -> None:
    d = dev(lab, "avigilon-h5a")
    before = soap_post(d.ip, 80, "GetServices", security=username_token(*d.credentials))
    assert b"ver20/media/wsdl" not in before
    assert header(http_get(d.ip, 80), "Server") == "AvigilonOnvifNvt/2.6.0.130"
    result = lab.upgrade(d.name, "4.32.0.6")
    try:
        assert result["from"] == "4.10.0.36" and "media2" in result["capabilities"]
        info = soap_post(d.ip, 80, "GetDeviceInformation", security=username_token(*d.credentials))
        assert b"<tds:FirmwareVersion>4.32.0.6</tds:FirmwareVersion>" in info
        after = soap_post(d.ip, 80, "GetServices", security=username_token(*d.credentials))
        assert b"ver20/media/wsdl" in after
        assert header(http_get(d.ip, 80), "Server") == "AvigilonOnvifNvt/2.8.0.26"
    finally:
        lab.upgrade(d.name, "4.10.0.36")


def test_upgrade_to_an_unknown_firmware_is_refused(lab: Lab) -> None:
    from fingerprints.errors import LabError

    with pytest.raises(LabError, match="no firmware"):
        lab.upgrade(dev(lab, "avigilon-h5a").name, "9.9.9")
