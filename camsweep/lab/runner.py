"""Run a fleet: every device's services listening on its address.

Two modes:

- **loopback**: every device on its own 127.x address, all in one event loop
  in a background thread (thousands of devices per process);
- **netns**: a ``Segment`` (bridge + one namespace per device, its own MAC) is
  built first; the lab thread enters each device's namespace just long enough
  to create that device's sockets, so one process serves every namespace.
  WS-Discovery joins the multicast group there and mDNS (python-zeroconf)
  publishes the device's service types.

The lab runs in its own thread with its own event loop, so a scan in the
caller's loop talks to it over real sockets exactly as it would to cameras.
For a separate process (no shared GIL with a benchmark's scanner) see
``camsweep.lab.control.LabProcess``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from camsweep.lab.fleet import Fleet
from camsweep.lab.netns import Endpoint, Segment, entered_namespace
from camsweep.lab.servers import HANDLERS
from camsweep.lab.state import DeviceState
from fingerprints.errors import LabError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
LISTEN_BACKLOG = 128


def _tcp_socket(ip: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((ip, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _quiet_exceptions(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Peers that vanish and handlers cancelled at shutdown are normal for a lab; log the rest."""
    exc = context.get("exception")
    if isinstance(exc, asyncio.CancelledError | ConnectionError | TimeoutError):
        return
    log.debug("lab event loop: %s", context.get("message"), exc_info=exc)


class Lab:
    """Start and stop a fleet (``with Lab(fleet) as lab: ...``)."""

    def __init__(self, fleet: Fleet, segment_prefix: str | None = None) -> None:
        self.fleet = fleet
        self.mode = fleet.mode
        self.states: dict[str, DeviceState] = {d.name: DeviceState(d) for d in fleet.devices}
        self.segment: Segment | None = None
        self.endpoints: dict[str, Endpoint] = {}
        self._segment_prefix = segment_prefix or f"cslab-{os.getpid()}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._zeroconfs: list[Any] = []
        self.listening: list[tuple[str, int]] = []

    # --- building ---------------------------------------------------------------------------------

    def _build_segment(self) -> None:
        seg = Segment(prefix=self._segment_prefix, network=self.fleet.network)
        for d in self.fleet.devices:
            self.endpoints[d.name] = seg.add_device(d.name, mac=d.mac, ip=d.ip)
        seg.add_scanner()
        self.segment = seg
        seg.create()

    @contextlib.contextmanager
    def _in_device_ns(self, name: str) -> Iterator[None]:
        if self.segment is None:
            yield
        else:
            with entered_namespace(self.endpoints[name].ns):
                yield

    def _ssl_for(self, state: DeviceState, spec: dict[str, Any]) -> Any:
        from camsweep.lab.tls import server_context

        tls = spec.get("tls") or {}
        subject = state.render(tls.get("subject", "CN=${ip}"))
        issuer = state.render(tls["issuer"]) if tls.get("issuer") else None
        return server_context(subject, issuer)

    async def _start_servers(self) -> None:
        loop = asyncio.get_running_loop()
        from camsweep.lab.wsd import WsdProtocol, wsd_socket

        for name, state in self.states.items():
            device = state.spec
            services = device.personality.services
            sockets: list[tuple[socket.socket, Any, Any]] = []
            udp: socket.socket | None = None
            try:
                with self._in_device_ns(name):
                    for kind, entries in services.items():
                        factory = HANDLERS.get(kind)
                        if factory is None:
                            continue
                        for spec in entries if isinstance(entries, list) else [entries]:
                            port = int(spec["port"])
                            ssl_ctx = self._ssl_for(state, spec) if kind == "https" else None
                            sockets.append((_tcp_socket(device.ip, port), factory(state, spec), ssl_ctx))
                    if "wsd" in services:
                        udp = wsd_socket(device.ip, multicast=self.segment is not None)
            except OSError as exc:
                for s, _, _ in sockets:
                    s.close()
                hint = ""
                if isinstance(exc, PermissionError):
                    # Emulated cameras listen on their real ports (80, 443, 554 ...).
                    hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE: run as root)"
                raise LabError(f"cannot listen on {device.ip} for {device.name}: {exc}{hint}") from exc
            for sock, handler, ssl_ctx in sockets:
                server = await asyncio.start_server(
                    handler, sock=sock, ssl=ssl_ctx, ssl_handshake_timeout=5.0 if ssl_ctx else None
                )
                self._servers.append(server)
                self.listening.append((device.ip, sock.getsockname()[1]))
            if udp is not None:
                transport, _ = await loop.create_datagram_endpoint(
                    functools.partial(WsdProtocol, state), sock=udp
                )
                self._transports.append(transport)

    def _start_mdns(self) -> None:
        """Publish each device's mDNS services from inside its namespace (netns mode only)."""
        from zeroconf import IPVersion, ServiceInfo, Zeroconf

        for name, state in self.states.items():
            entries = state.spec.personality.services.get("mdns") or []
            if not entries:
                continue
            with self._in_device_ns(name):
                zc = Zeroconf(interfaces=[state.spec.ip], ip_version=IPVersion.V4Only)
            self._zeroconfs.append(zc)
            for entry in entries:
                stype = entry["type"] + ".local."
                info = ServiceInfo(
                    stype,
                    f"{state.render(entry.get('name', '${model} - ${MAC}'))}.{stype}",
                    addresses=[socket.inet_aton(state.spec.ip)],
                    port=int(entry.get("port", 80)),
                    properties={k: state.render(v) for k, v in (entry.get("txt") or {}).items()},
                    server=f"{state.spec.name}.local.",
                )
                # cooperating_responders: each name is ours alone, so skip the probe round (RFC 6762 §8.1).
                zc.register_service(info, cooperating_responders=True)

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Lab:
        if self.mode == "netns":
            self._build_segment()
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            loop.set_exception_handler(_quiet_exceptions)
            self._loop = loop
            try:
                loop.run_until_complete(self._start_servers())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                errors.append(exc)
            ready.set()
            if not errors:
                loop.run_forever()
            for server in self._servers:
                server.close()
            for transport in self._transports:
                transport.close()
            with contextlib.suppress(Exception):  # best-effort drain of closing handlers
                loop.run_until_complete(asyncio.sleep(0))
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="camsweep-lab", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S):
            self.stop()
            raise LabError("lab did not start in time")
        if errors:
            self._thread.join(STOP_TIMEOUT_S)
            self._teardown_segment()
            raise errors[0]
        if self.segment is not None:
            try:
                self._start_mdns()
            except Exception as exc:
                self.stop()
                raise LabError(f"mDNS publishing failed: {exc}") from exc
        return self

    def _teardown_segment(self) -> None:
        if self.segment is not None:
            self.segment.destroy()

    def stop(self) -> None:
        for zc in self._zeroconfs:
            with contextlib.suppress(Exception):  # the namespace may already be gone
                zc.close()
        self._zeroconfs.clear()
        if self._loop and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_TIMEOUT_S)
        self._servers.clear()
        self._transports.clear()
        self.listening.clear()
        self._teardown_segment()

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- operations ----------------------------------------------------------------------------------

    def upgrade(self, device: str, firmware: str) -> dict[str, Any]:
        """Change a running device's firmware (and so its capability set), as a real update does."""
        state = self.states.get(device)
        if state is None:
            raise LabError(f"no device {device!r} in fleet {self.fleet.name!r}")
        before = state.firmware
        state.set_firmware(firmware)
        return {
            "device": device,
            "from": before,
            "to": state.firmware,
            "capabilities": list(state.capabilities),
        }

    def run_in_scanner(self, argv: list[str], timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run a command in the scanner namespace (netns mode), e.g. ``python -m camsweep scan ...``."""
        if self.segment is None or self.segment.scanner is None:
            raise LabError("this lab runs on loopback: there is no scanner namespace (use mode='netns')")
        return self.segment.run(self.segment.scanner, argv, timeout_s=timeout_s)

    def status(self) -> dict[str, Any]:
        return {
            "fleet": self.fleet.name,
            "mode": self.mode,
            "network": self.fleet.network,
            "devices": [s.summary() for s in self.states.values()],
            "listening": len(self.listening),
            "scanner_ns": self.segment.scanner.ns if self.segment and self.segment.scanner else None,
            "namespaces": list(self.segment.created) if self.segment else [],
            "targets": self.fleet.targets,
        }
