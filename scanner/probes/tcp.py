"""TCP connect probe: is the port open?  The cheapest, most portable check."""

from __future__ import annotations

from scanner.probes.base import ProbeContext, ProbeResult, Status, Target

NAME = "tcp"

#: The camera port set (DESIGN.md, fingerprint-facts C.0): HTTP(S), RTSP,
#: Hikvision SDK 8000, ONVIF on 8899 (Xiongmai gSOAP), Dahua 37777, Xiongmai 34567.
CAMERA_PORTS: tuple[int, ...] = (80, 443, 554, 8000, 8080, 8443, 8554, 8899, 37777, 34567)


class TcpConnectProbe:
    """Open and close a TCP connection."""

    name = NAME
    ports = CAMERA_PORTS

    async def run(self, target: Target, ctx: ProbeContext) -> ProbeResult:
        result = ProbeResult(NAME, target.ip, target.port, Status.ERROR)
        try:
            _, writer = await ctx.open_connection(target.ip, target.port, ctx.connect_timeout_s)
        except ConnectionRefusedError:
            result.status = Status.REFUSED
            return result
        except TimeoutError:
            result.status = Status.TIMEOUT
            return result
        except OSError as exc:
            result.detail = exc.strerror or str(exc)
            return result
        writer.close()
        result.status = Status.SUCCESS
        result.add("port.open", str(target.port))
        return result
