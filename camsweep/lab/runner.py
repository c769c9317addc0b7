"""Run a fleet: every device's services listening on its loopback address.

The lab runs in its own thread with its own event loop, so a scan in the
caller's loop talks to it over real sockets exactly as it would to cameras.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from camsweep.lab.fleet import Fleet
from camsweep.lab.servers import HANDLERS
from fingerprints.errors import LabError

START_TIMEOUT_S = 30.0


class Lab:
    """Start and stop a fleet on loopback."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self.listening: list[tuple[str, int]] = []

    async def _start_servers(self) -> None:
        for device in self.fleet.devices:
            for kind, entries in device.personality.services.items():
                factory = HANDLERS.get(kind)
                if factory is None:
                    continue
                for spec in entries if isinstance(entries, list) else [entries]:
                    port = int(spec["port"])
                    try:
                        server = await asyncio.start_server(factory(spec), device.ip, port)
                    except OSError as exc:
                        raise LabError(
                            f"cannot listen on {device.ip}:{port} for {device.name}: {exc}"
                        ) from exc
                    self._servers.append(server)
                    self.listening.append((device.ip, port))

    def start(self) -> Lab:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
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
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="camsweep-lab", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S):
            raise LabError("lab did not start in time")
        if errors:
            self._thread.join()
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT_S)
        self._servers.clear()
        self.listening.clear()

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
