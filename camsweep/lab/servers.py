"""Protocol responders for emulated devices.  Each is an asyncio stream handler."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

#: Longest request head the lab reads before answering.
MAX_REQUEST_BYTES = 16 * 1024
REQUEST_TIMEOUT_S = 5.0


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
        return b""


def http_handler(spec: dict[str, Any]) -> Handler:
    """Answer every request with the personality's status, headers and body.

    Headers are written exactly as given (order and casing matter to
    fingerprints); a path-specific answer may be given under ``paths``.
    """

    def render(answer: dict[str, Any]) -> bytes:
        status = int(answer.get("status", 200))
        reason = answer.get("reason", "OK" if status == 200 else "Unauthorized" if status == 401 else "")
        body = str(answer.get("body", "")).encode("utf-8")
        lines = [f"HTTP/1.1 {status} {reason}"]
        for name, value in answer.get("headers", []):
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    default = render(spec)
    by_path = {path: render({**spec, **answer}) for path, answer in spec.get("paths", {}).items()}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await _read_head(reader)
            if not head:
                return
            parts = head.split(b" ", 2)
            path = parts[1].decode("latin-1") if len(parts) > 1 else "/"
            writer.write(by_path.get(path, default))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    return handle


#: Service kind -> handler factory.  The lab issue adds RTSP, ONVIF, WS-Discovery, ...
HANDLERS: dict[str, Callable[[dict[str, Any]], Handler]] = {"http": http_handler}
