"""Protocol responders for emulated devices: HTTP(S) with ONVIF and vendor APIs, RTSP, vendor SDK ports.

Each factory takes the device's live state and one service entry from its
personality and returns an asyncio stream handler.  Answers are written byte
for byte as the personality declares (header order and casing are evidence to
a fingerprint), with ``${...}`` template values filled from the device.
Every read is bounded in size and time: the lab must survive scanners too.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from xml.sax.saxutils import escape

from camsweep.lab import onvif
from camsweep.lab.auth import challenge, check_authorization
from camsweep.lab.state import DeviceState

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Factory = Callable[[DeviceState, dict[str, Any]], Handler]

#: Longest request head the lab reads before answering.
MAX_REQUEST_BYTES = 16 * 1024
#: Longest request body the lab reads (ONVIF SOAP requests are a few KiB).
MAX_BODY_BYTES = 64 * 1024
REQUEST_TIMEOUT_S = 5.0
#: How long an idle RTSP/SDK connection is kept open.
IDLE_TIMEOUT_S = 10.0
#: Most requests one RTSP connection may make (RTSP keeps connections open).
MAX_RTSP_REQUESTS = 32

REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    501: "Not Implemented",
    455: "Method Not Valid in This State",
}


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """One request head (through the blank line), or b"" on EOF, timeout, or an oversized head."""
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
        return b""


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    """(method, target, headers with lower-case names) of a request head; tolerant of junk."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    method = parts[0] if parts else ""
    target = parts[1] if len(parts) > 1 else "/"
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return method, target, headers


async def close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):  # the peer may have gone or reset: nothing left to do
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 1.0)


def render_response(state: DeviceState, answer: dict[str, Any], default_version: str = "HTTP/1.1") -> bytes:
    """Status line, headers in the declared order and casing, then the body."""
    status = int(answer.get("status", 200))
    version = answer.get("version", default_version)
    reason = answer.get("reason", REASONS.get(status, ""))
    if "body_hex" in answer:
        body = bytes.fromhex(answer["body_hex"])
    else:
        body = state.render(answer.get("body", "")).encode(answer.get("body_encoding", "utf-8"))
    lines = [f"{version} {status} {reason}"]
    names: set[str] = set()
    for name, value in answer.get("headers", []):
        text = state.render(value).replace("${length}", str(len(body)))
        lines.append(f"{name}: {text}")
        names.add(name.lower())
    if "content-length" not in names and answer.get("auto_length", True):
        lines.append(f"Content-Length: {len(body)}")
    if "connection" not in names and answer.get("auto_connection", True):
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode(answer.get("head_encoding", "latin-1")) + body


# --- generated vendor API answers (need credentials, like the real devices) -----------------------


def _isapi_device_info(state: DeviceState) -> str:
    v = state.values()
    fw_version, fw_build = v["fw_version"], v["fw_build"]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        f"<deviceName>{escape(state.spec.name)}</deviceName><deviceID>{escape(v['uuid'])}</deviceID>"
        f"<model>{escape(v['model'])}</model><serialNumber>{escape(v['serial'])}</serialNumber>"
        f"<macAddress>{v['mac']}</macAddress><firmwareVersion>{escape(fw_version)}</firmwareVersion>"
        f"<firmwareReleasedDate>build {escape(fw_build)}</firmwareReleasedDate>"
        f"<deviceType>{escape(v.get('device_type', 'IPCamera'))}</deviceType></DeviceInfo>"
    )


def _isapi_channels(state: DeviceState) -> str:
    """Hikvision ISAPI InputProxy channel list: the cameras on the NVR's PoE ports (fingerprint-facts C.1)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<InputProxyChannelList version="2.0" '
        'xmlns="http://www.hikvision.com/ver20/XMLSchema">'
    ]
    for i, cam in enumerate(state.spec.attached, start=1):
        p = cam.personality
        out.append(
            f"<InputProxyChannel><id>{i}</id><name>Camera {i:02d}</name><sourceInputPortDescriptor>"
            f"<proxyProtocol>HIKVISION</proxyProtocol><addressingFormatType>ipaddress</addressingFormatType>"
            f"<ipAddress>{cam.ip}</ipAddress><managePortNo>8000</managePortNo>"
            f"<model>{escape(p.model or '')}</model><serialNumber>{escape(cam.serial)}</serialNumber>"
            f"<firmwareVersion>{escape(cam.firmware or p.firmware or '')}</firmwareVersion>"
            f"<macAddress>{cam.mac}</macAddress>"
            "</sourceInputPortDescriptor></InputProxyChannel>"
        )
    out.append("</InputProxyChannelList>")
    return "".join(out)


def _dahua_remote_devices(state: DeviceState) -> str:
    """Dahua configManager ``RemoteDevice`` table (``table.<name>.<key>=<value>`` lines)."""
    lines = []
    for i, cam in enumerate(state.spec.attached):
        p = cam.personality
        key = f"table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_{i}"
        lines += [
            f"{key}.Address={cam.ip}",
            f"{key}.DeviceType={p.model or ''}",
            f"{key}.Mac={cam.mac}",
            f"{key}.SerialNo={cam.serial}",
            f"{key}.Vendor={p.identity.get('onvif_manufacturer', p.manufacturer or '')}",
            f"{key}.Version={cam.firmware or p.firmware or ''}",
        ]
    return "\r\n".join(lines) + "\r\n"


def _dahua_software_version(state: DeviceState) -> str:
    return f"version={state.firmware or ''}\r\n"


def _axis_basic_device_info(state: DeviceState) -> str:
    import json

    v = state.values()
    return json.dumps(
        {
            "apiVersion": "1.3",
            "data": {
                "propertyList": {
                    "Brand": "AXIS",
                    "ProdNbr": v["model"],
                    "ProdShortName": f"AXIS {v['model']}",
                    "SerialNumber": v["MAC"],
                    "Version": v["firmware"],
                }
            },
        }
    )


GENERATORS: dict[str, Callable[[DeviceState], str]] = {
    "isapi-device-info": _isapi_device_info,
    "isapi-channels": _isapi_channels,
    "dahua-remote-devices": _dahua_remote_devices,
    "dahua-software-version": _dahua_software_version,
    "axis-basicdeviceinfo": _axis_basic_device_info,
}


def _authorised(state: DeviceState, auth: dict[str, Any], method: str, headers: dict[str, str]) -> bool:
    user, password = state.spec.credentials
    return check_authorization(
        headers.get("authorization"), method, user, password, state.render(auth["realm"])
    )


def _unauthorised(state: DeviceState, answer: dict[str, Any], auth: dict[str, Any]) -> dict[str, Any]:
    realm = state.render(auth["realm"])
    if auth.get("challenge"):
        # A vendor's exact challenge layout (e.g. Bosch's opaque/stale/algorithm order, nmap:10297).
        value = auth["challenge"].replace("{realm}", realm).replace("{nonce}", secrets.token_hex(16))
    else:
        value = challenge(auth.get("scheme", "digest"), realm)
    auto = bool(answer.get("unauth_auto_headers", True))
    return {
        **answer,
        "status": 401,
        "reason": "Unauthorized",
        "headers": [*answer.get("unauth_headers", answer.get("headers", [])), ("WWW-Authenticate", value)],
        "body": answer.get("unauth_body", ""),
        "auto_length": auto,
        "auto_connection": auto,
    }


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes | None:
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        return None
    if length < 0 or length > MAX_BODY_BYTES:
        return None
    try:
        return await asyncio.wait_for(reader.readexactly(length), REQUEST_TIMEOUT_S)
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return None


def http_handler(state: DeviceState, spec: dict[str, Any]) -> Handler:
    """Answer each request with the personality's answer for that path (default: the port's answer).

    ``paths`` give per-path answers (exact path, or path with query); an
    answer with ``auth`` needs the device's credentials (Basic or Digest,
    really checked); ``generate`` fills the body from the device's live state
    (ISAPI deviceInfo, a recorder's channel list, ...).  When the personality
    runs ONVIF on this port, ``/onvif/device_service`` answers SOAP.
    """
    port = int(spec["port"])
    onvif_spec = state.spec.personality.services.get("onvif") or {}
    onvif_ports = {int(p) for p in onvif_spec.get("ports", [])}
    onvif_path = onvif_spec.get("path", "/onvif/device_service")
    paths: dict[str, dict[str, Any]] = spec.get("paths", {}) or {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await read_head(reader)
            if not head:
                return
            method, target, headers = parse_head(head)
            path = target.split("?", 1)[0]
            if port in onvif_ports and path == onvif_path and method == "POST":
                body = await _read_body(reader, headers)
                auth_ok = check_authorization(
                    headers.get("authorization"),
                    method,
                    *state.spec.credentials,
                    realm=state.render(onvif_spec.get("realm", "${model}")),
                )
                ans = (
                    onvif.answer(state, body, port, auth_ok)
                    if body is not None
                    else onvif.SoapAnswer(400, onvif.fault("ter:InvalidArgVal", "bad Content-Length"))
                )
                hdrs: list[list[str]] = [["Content-Type", "application/soap+xml; charset=utf-8"]]
                if onvif_spec.get("server"):
                    hdrs.insert(0, ["Server", onvif_spec["server"]])
                if ans.challenge:
                    hdrs.append(
                        [
                            "WWW-Authenticate",
                            challenge("digest", state.render(onvif_spec.get("realm", "${model}"))),
                        ]
                    )
                writer.write(
                    render_response(
                        state, {"status": ans.status, "headers": hdrs, "body_hex": ans.body.hex()}
                    )
                )
                await writer.drain()
                return
            answer = dict(spec)
            chosen = paths.get(target, paths.get(path))
            if chosen is not None:
                answer = {**{k: v for k, v in spec.items() if k not in ("paths", "auth")}, **chosen}
            elif target not in ("/", "") and "not_found" in spec:
                answer = {
                    **{k: v for k, v in spec.items() if k not in ("paths", "auth")},
                    **spec["not_found"],
                }
            auth = answer.get("auth")
            if auth and not _authorised(state, auth, method, headers):
                answer = _unauthorised(state, answer, auth)
            elif "generate" in answer:
                answer = {**answer, "body": GENERATORS[answer["generate"]](state)}
            if method == "HEAD":
                writer.write(render_response(state, answer).split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
            else:
                writer.write(render_response(state, answer))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            await close(writer)

    return handle


# --- RTSP (RFC 2326) ------------------------------------------------------------------------------


def _sdp(state: DeviceState, url: str) -> str:
    return (
        "v=0\r\n"
        f"o=- {int(state.boot_time)} 1 IN IP4 {state.spec.ip}\r\n"
        f"s={state.render(state.spec.personality.services.get('rtsp_session', 'Media Presentation'))}\r\n"
        "t=0 0\r\n"
        "a=control:*\r\n"
        "m=video 0 RTP/AVP 96\r\n"
        "a=rtpmap:96 H264/90000\r\n"
        "a=control:trackID=1\r\n"
    )


def rtsp_handler(state: DeviceState, spec: dict[str, Any]) -> Handler:
    """RTSP OPTIONS/DESCRIBE with the personality's Server header, Public list and 401 challenge.

    The layout of each answer follows the captures it is sourced from:
    ``order`` lists header names (lower case) in the order the device writes
    them; ``missing_cseq`` is what a device says when the request had no CSeq
    (omit it by default, Vivotek says ``-1``); ``no_date``; ``zero_length``
    (``Content-Length: 0`` on empty answers, Dahua); ``bad_url_status`` for
    requests whose URL is not ``rtsp://...`` (Avigilon answers 404);
    ``options_auth: true`` makes OPTIONS need credentials too; ``auth.challenge``
    is the exact Digest layout and ``auth.basic_realm`` adds a Basic challenge.
    """
    public = spec.get(
        "public", "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
    )
    server = spec.get("server")
    auth: dict[str, Any] = spec.get("auth") or {}
    order: list[str] = [str(h).lower() for h in spec.get("order", ["cseq", "server", "date"])]

    def respond(status: int, cseq: str | None, extra: list[tuple[str, str]], body: str = "") -> bytes:
        fields: list[tuple[str, str]] = []
        if cseq is not None:
            fields.append(("CSeq", cseq))
        if server:
            fields.append(("Server", state.render(server)))
        if not spec.get("no_date"):
            fields.append(("Date", time.strftime("%a, %b %d %Y %H:%M:%S GMT", time.gmtime())))
        fields += extra
        if body or spec.get("zero_length"):
            fields.append(("Content-Length", str(len(body.encode()))))
        rank = {name: i for i, name in enumerate(order)}
        fields.sort(key=lambda f: rank.get(f[0].lower(), len(rank)))  # stable: unlisted keep their order
        lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'OK')}", *(f"{k}: {v}" for k, v in fields)]
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("latin-1", "replace")

    def challenges() -> list[tuple[str, str]]:
        realm = state.render(auth["realm"])
        if auth.get("challenge"):
            value = auth["challenge"].replace("{realm}", realm).replace("{nonce}", secrets.token_hex(16))
        else:
            value = challenge(auth.get("scheme", "digest"), realm)
        out = [("WWW-Authenticate", value)]
        if auth.get("basic_realm"):
            out.append(("WWW-Authenticate", f'Basic realm="{auth["basic_realm"]}"'))
        return out

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(MAX_RTSP_REQUESTS):
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_S)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                    return
                method, url, headers = parse_head(head)
                cseq = headers.get("cseq", spec.get("missing_cseq"))
                if not head.split(b"\r\n", 1)[0].endswith(b"RTSP/1.0"):
                    writer.write(respond(400, cseq, []))
                    await writer.drain()
                    return
                needs_auth = bool(auth) and (method != "OPTIONS" or spec.get("options_auth"))
                if spec.get("bad_url_status") and not url.lower().startswith("rtsp://"):
                    writer.write(respond(int(spec["bad_url_status"]), cseq, []))
                elif needs_auth and not check_authorization(
                    headers.get("authorization"),
                    method,
                    *state.spec.credentials,
                    realm=state.render(auth["realm"]),
                ):
                    writer.write(respond(401, cseq, challenges()))
                elif method == "OPTIONS":
                    writer.write(respond(200, cseq, [("Public", public)]))
                elif method == "DESCRIBE":
                    sdp = _sdp(state, url)
                    extra = [("Content-Base", url + "/"), ("Content-Type", "application/sdp")]
                    writer.write(respond(200, cseq, extra, sdp))
                elif method in ("SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER"):
                    # The lab streams no media: the scanner identifies, it does not watch.
                    writer.write(respond(455 if method != "TEARDOWN" else 200, cseq, []))
                else:
                    writer.write(respond(405, cseq, [("Allow", public)]))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            await close(writer)

    return handle


# --- vendor SDK ports -----------------------------------------------------------------------------


def sdk_handler(state: DeviceState, spec: dict[str, Any]) -> Handler:
    """A vendor SDK port: accepts, reads, and answers with the documented bytes (or stays silent).

    ``reply_hex`` is sent after the client's first bytes (``on: data``) or at
    once (``on: connect``); without it the port stays silent until the client
    gives up, as Dahua's 37777 and Xiongmai's 34567 do before a binary login.
    """
    reply = bytes.fromhex(spec["reply_hex"]) if spec.get("reply_hex") else b""
    on = spec.get("on", "data")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if reply and on == "connect":
                writer.write(reply)
                await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(4096), IDLE_TIMEOUT_S)
            except TimeoutError:
                return
            if data and reply and on == "data":
                writer.write(reply)
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader.read(4096), REQUEST_TIMEOUT_S)
        except ConnectionError:
            pass
        finally:
            await close(writer)

    return handle


def _hostile(state: DeviceState, spec: dict[str, Any]) -> Handler:
    from camsweep.lab.hostile import hostile_handler

    return hostile_handler(state, spec)


#: Service kind -> handler factory (TCP).  ``https`` is ``http`` behind TLS (see runner).
HANDLERS: dict[str, Factory] = {
    "http": http_handler,
    "https": http_handler,
    "rtsp": rtsp_handler,
    "sdk": sdk_handler,
    "hostile": _hostile,
}
