"""The lab process: ``python -m camsweep.lab.serve --fleet F --mode M --dir D``.

Started by ``camsweep lab up`` / ``LabProcess`` (see ``control.py``): brings the
fleet up, writes ``state.json`` once every device listens, answers control
requests on ``control.sock`` until told to stop (or SIGTERM), then removes
everything it made.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import signal
import socketserver
import threading
import time
from pathlib import Path
from typing import Any

from camsweep.lab.fleet import load_fleet
from camsweep.lab.runner import Lab
from fingerprints.errors import CamsweepError

log = logging.getLogger("camsweep.lab.serve")
CONTROL_READ_TIMEOUT_S = 10.0
MAX_REQUEST_BYTES = 64 * 1024


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def serve(fleet_name: str, mode: str, network: str | None, directory: Path) -> int:
    prefix = f"cslab-{os.getpid()}"
    try:
        fleet = load_fleet(fleet_name, network=network, mode=mode)
        lab = Lab(fleet, segment_prefix=prefix).start()
    except CamsweepError as exc:
        _write_atomic(directory / "error.txt", str(exc))
        return 2
    stopping = threading.Event()

    def handle_request(req: dict[str, Any]) -> dict[str, Any]:
        cmd = req.get("cmd")
        if cmd == "status":
            return lab.status()
        if cmd == "upgrade":
            return lab.upgrade(str(req.get("device")), str(req.get("firmware")))
        if cmd == "stop":
            stopping.set()
            return {"stopping": True}
        return {"error": f"unknown command {cmd!r}"}

    class Handler(socketserver.StreamRequestHandler):
        timeout = CONTROL_READ_TIMEOUT_S

        def handle(self) -> None:
            try:
                line = self.rfile.readline(MAX_REQUEST_BYTES)
                answer = handle_request(json.loads(line))
            except CamsweepError as exc:
                answer = {"error": str(exc)}
            except (ValueError, OSError, AttributeError) as exc:
                answer = {"error": f"bad control request: {exc}"}
            try:
                self.wfile.write(json.dumps(answer).encode() + b"\n")
            except OSError:
                pass

    sock_path = directory / "control.sock"
    if sock_path.exists():
        sock_path.unlink()
    server = socketserver.ThreadingUnixStreamServer(str(sock_path), Handler)
    server.daemon_threads = True
    os.chmod(sock_path, 0o600)
    threading.Thread(target=server.serve_forever, name="lab-control", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    state = {
        "pid": os.getpid(),
        "fleet": fleet.name,
        "mode": fleet.mode,
        "network": fleet.network,
        "prefix": prefix,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "targets": fleet.targets,
        "devices": [s.summary() for s in lab.states.values()],
        "scanner_ns": lab.segment.scanner.ns if lab.segment and lab.segment.scanner else None,
        "listening": len(lab.listening),
    }
    _write_atomic(directory / "state.json", json.dumps(state, indent=1))
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        lab.stop()
        for name in ("control.sock", "state.json"):
            try:
                (directory / name).unlink()
            except FileNotFoundError:
                pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m camsweep.lab.serve")
    parser.add_argument("--fleet", default="demo")
    parser.add_argument("--mode", default="loopback", choices=["loopback", "netns"])
    parser.add_argument("--network")
    parser.add_argument("--dir", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.dir.mkdir(parents=True, exist_ok=True)
    # Big fleets hold thousands of sockets: use all the descriptors the system allows us.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return serve(args.fleet, args.mode, args.network, args.dir)


if __name__ == "__main__":
    raise SystemExit(main())
