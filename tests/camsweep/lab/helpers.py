"""Small raw-socket clients the lab tests use to see exactly the bytes a device sends."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import uuid
from datetime import UTC, datetime

SOCKET_TIMEOUT_S = 5.0
MAX_READ = 4 * 1024 * 1024


def exchange(ip: str, port: int, request: bytes, limit: int = MAX_READ, tls: bool = False) -> bytes:
    """Send ``request``, read until the device closes (or ``limit`` bytes)."""
    raw = socket.create_connection((ip, port), SOCKET_TIMEOUT_S)
    sock: socket.socket = raw
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(raw)
    with sock:
        sock.settimeout(SOCKET_TIMEOUT_S)
        sock.sendall(request)
        data = b""
        while len(data) < limit:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def http_get(ip: str, port: int, path: str = "/", headers: str = "", tls: bool = False) -> bytes:
    return exchange(ip, port, f"GET {path} HTTP/1.1\r\nHost: {ip}\r\n{headers}\r\n".encode(), tls=tls)


def rtsp(ip: str, port: int, requests: list[bytes]) -> list[bytes]:
    """Send RTSP requests on one connection; one answer (head + body) each."""
    answers = []
    with socket.create_connection((ip, port), SOCKET_TIMEOUT_S) as sock:
        sock.settimeout(SOCKET_TIMEOUT_S)
        buf = b""
        for req in requests:
            sock.sendall(req)
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            while len(rest) < length:
                rest += sock.recv(65536)
            answers.append(head + b"\r\n\r\n" + rest[:length])
            buf = rest[length:]
    return answers


def digest_header(method: str, uri: str, challenge: str, user: str, password: str) -> str:
    """An RFC 7616 Digest ``Authorization`` value answering ``challenge`` (MD5, qop=auth)."""
    params = dict(part.strip().split("=", 1) for part in challenge.split(" ", 1)[1].split(",") if "=" in part)
    realm = params["realm"].strip('"')
    nonce = params["nonce"].strip('"')
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    cnonce, nc = "0a4f113b", "00000001"
    resp = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'qop=auth, nc={nc}, cnonce="{cnonce}", response="{resp}"'
    )


def header(raw: bytes, name: str) -> str | None:
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower().encode():
            return value.strip().decode("latin-1")
    return None


SOAP = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
    "<s:Header>{security}</s:Header><s:Body><tds:{op}/></s:Body></s:Envelope>"
)


def username_token(user: str, password: str) -> str:
    nonce = os.urandom(16)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    return (
        f'<wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}"><wsse:UsernameToken>'
        f"<wsse:Username>{user}</wsse:Username>"
        '<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/'
        f'oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


def soap_post(ip: str, port: int, op: str, security: str = "", extra_headers: str = "") -> bytes:
    body = SOAP.format(security=security, op=op).encode()
    head = (
        f"POST /onvif/device_service HTTP/1.1\r\nHost: {ip}\r\n"
        "Content-Type: application/soap+xml; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n{extra_headers}\r\n"
    )
    return exchange(ip, port, head.encode() + body)


PROBE_2005 = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
    "<e:Header><w:MessageID>{mid}</w:MessageID>"
    "<w:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>"
    "<w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action></e:Header>"
    "<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body></e:Envelope>"
)
PROBE_2009 = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://www.w3.org/2005/08/addressing" '
    'xmlns:d="http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01">'
    "<s:Header><a:MessageID>{mid}</a:MessageID>"
    "<a:To>urn:docs-oasis-open-org:ws-dd:ns:discovery:2009:01</a:To>"
    "<a:Action>http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/Probe</a:Action></s:Header>"
    "<s:Body><d:Probe/></s:Body></s:Envelope>"
)


def new_message_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"
