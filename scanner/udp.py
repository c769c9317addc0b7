"""UDP request/response helpers the engine lends probes (unicast and multicast).

UDP is lossy, so a request is resent up to ``retries`` times while nothing
has come back.  Replies are collected on the *sending* socket: WS-Discovery
responders answer from a random source port, not 3702 (TESTBED.md).  Every
wait is bounded by ``timeout_s``; reply sizes and counts are bounded too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence

#: Largest datagram kept, and most replies kept per exchange.
MAX_DATAGRAM_BYTES = 64 * 1024
MAX_REPLIES = 4096


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, only_from: str | None) -> None:
        self.only_from = only_from
        self.replies: list[tuple[bytes, str]] = []
        self.arrived = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        src = str(addr[0])
        if self.only_from is not None and src != self.only_from:
            return
        if len(self.replies) < MAX_REPLIES:
            self.replies.append((data[:MAX_DATAGRAM_BYTES], src))
            self.arrived.set()

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable on a connected-less socket: nothing listens; keep waiting out the timeout.
        pass


async def _exchange(
    sock: socket.socket,
    dest: tuple[str, int],
    payloads: Sequence[bytes],
    timeout_s: float,
    retries: int,
    only_from: str | None,
    keep_listening: bool,
) -> list[tuple[bytes, str]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: _Collector(only_from), sock=sock)
    try:
        rounds = max(1, retries + 1)
        per_round_s = timeout_s / rounds
        for _ in range(rounds):
            for payload in payloads:
                transport.sendto(payload, dest)
            try:
                await asyncio.wait_for(proto.arrived.wait(), per_round_s)
            except TimeoutError:
                continue
            break
        if keep_listening:
            # Multicast: many devices answer, each after a random delay (WS-Discovery
            # APP_MAX_DELAY 500 ms): listen out the whole window.
            remaining = timeout_s - per_round_s
            if remaining > 0:
                await asyncio.sleep(remaining)
        return list(proto.replies)
    finally:
        transport.close()


async def udp_exchange(
    host: str, port: int, payload: bytes, timeout_s: float, retries: int
) -> list[tuple[bytes, str]]:
    """Send ``payload`` to ``host:port``; the replies from ``host`` (any source port)."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
    except OSError:
        sock.close()
        return []
    try:
        return await _exchange(sock, (host, port), [payload], timeout_s, retries, host, keep_listening=False)
    except OSError:
        return []


async def multicast_exchange(
    iface_ip: str, group: str, port: int, payloads: Sequence[bytes], timeout_s: float, retries: int
) -> list[tuple[bytes, str]]:
    """Send ``payloads`` to an IPv4 multicast group out of the interface with ``iface_ip``.

    TTL 1: discovery stays on the local segment, as WS-Discovery requires.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.bind((iface_ip, 0))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(iface_ip))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    except OSError:
        sock.close()
        raise
    return await _exchange(sock, (group, port), payloads, timeout_s, retries, None, keep_listening=True)
