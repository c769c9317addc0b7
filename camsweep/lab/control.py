"""A lab in its own process, and the control channel that reaches it.

``camsweep lab up`` starts ``python -m camsweep.lab.serve`` in the background
(its own session, so it outlives the command), waits until the fleet is up and
prints the targets.  The running lab keeps its state in a runtime directory:

    <runtime dir>/<instance>/state.json    pid, fleet, mode, network, targets, namespace prefix
    <runtime dir>/<instance>/control.sock  Unix socket: one JSON request line -> one JSON answer line
    <runtime dir>/<instance>/lab.log       the lab process's output

The runtime directory is ``$CAMSWEEP_LAB_DIR``, else ``$XDG_RUNTIME_DIR/camsweep-lab``,
else ``/run/camsweep-lab`` for root, else ``/tmp/camsweep-lab-<uid>``.

Control requests: ``{"cmd": "status"}``, ``{"cmd": "upgrade", "device": D,
"firmware": F}``, ``{"cmd": "stop"}``.

``LabProcess`` is the same thing as a context manager for benchmarks and tests:
the lab gets its own process (and GIL), the caller scans it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from camsweep.lab.netns import teardown_prefix
from fingerprints.errors import LabError

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0
CONTROL_TIMEOUT_S = 10.0
POLL_S = 0.05
MAX_CONTROL_BYTES = 4 * 1024 * 1024


def runtime_dir() -> Path:
    explicit = os.environ.get("CAMSWEEP_LAB_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "camsweep-lab"
    if os.geteuid() == 0:
        return Path("/run/camsweep-lab")
    return Path(f"/tmp/camsweep-lab-{os.getuid()}")


def instance_dir(instance: str = "default", base: Path | None = None) -> Path:
    if not instance.replace("-", "").replace("_", "").isalnum():
        raise LabError(f"lab instance name {instance!r}: use letters, digits, - and _")
    return (base or runtime_dir()) / instance


def _pid_is_lab(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"camsweep.lab.serve" in cmdline


def read_state(directory: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((directory / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state


def request(directory: Path, payload: dict[str, Any], timeout_s: float = CONTROL_TIMEOUT_S) -> dict[str, Any]:
    """Send one control request to the lab running in ``directory``."""
    path = directory / "control.sock"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(path))
            sock.sendall(json.dumps(payload).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n") and len(data) < MAX_CONTROL_BYTES:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise LabError(f"no lab answering at {path}: {exc}") from exc
    try:
        answer: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise LabError(f"the lab at {path} gave a malformed answer") from exc
    if "error" in answer:
        raise LabError(str(answer["error"]))
    return answer


def up(
    fleet: str = "demo",
    mode: str = "loopback",
    network: str | None = None,
    instance: str = "default",
    base: Path | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> dict[str, Any]:
    """Start a lab in the background and return its state once every device listens."""
    directory = instance_dir(instance, base)
    state = read_state(directory)
    if state and _pid_is_lab(int(state.get("pid", 0))):
        raise LabError(
            f"a lab is already running in {directory} (fleet {state.get('fleet')!r}, pid {state.get('pid')}); "
            "run `camsweep lab down` first"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("state.json", "control.sock", "error.txt"):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
    argv = [
        sys.executable,
        "-m",
        "camsweep.lab.serve",
        "--fleet",
        fleet,
        "--mode",
        mode,
        "--dir",
        str(directory),
    ]
    if network:
        argv += ["--network", network]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    with open(directory / "lab.log", "wb") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = read_state(directory)
        if state:
            return state
        if proc.poll() is not None:
            reason = (
                (directory / "error.txt").read_text(encoding="utf-8")
                if (directory / "error.txt").exists()
                else ""
            )
            tail = (directory / "lab.log").read_text(encoding="utf-8", errors="replace")[-2000:]
            raise LabError(f"the lab exited during start-up: {reason or tail}")
        time.sleep(POLL_S)
    proc.terminate()
    raise LabError(f"the lab did not come up within {timeout_s:.0f} s (see {directory / 'lab.log'})")


def status(instance: str = "default", base: Path | None = None) -> dict[str, Any] | None:
    """The running lab's live status, or None when no lab runs there."""
    directory = instance_dir(instance, base)
    state = read_state(directory)
    if not state or not _pid_is_lab(int(state.get("pid", 0))):
        return None
    return {**state, **request(directory, {"cmd": "status"})}


def upgrade(
    device: str, firmware: str, instance: str = "default", base: Path | None = None
) -> dict[str, Any]:
    directory = instance_dir(instance, base)
    if not read_state(directory):
        raise LabError(f"no lab is running in {directory} (start one with `camsweep lab up`)")
    return request(directory, {"cmd": "upgrade", "device": device, "firmware": firmware})


def down(instance: str = "default", base: Path | None = None) -> dict[str, Any]:
    """Stop the lab and remove everything it made (its process, namespaces, control files)."""
    directory = instance_dir(instance, base)
    state = read_state(directory)
    if not state:
        return {"stopped": False, "namespaces_removed": []}
    pid = int(state.get("pid", 0))
    if _pid_is_lab(pid):
        with contextlib.suppress(LabError):
            request(directory, {"cmd": "stop"}, timeout_s=STOP_TIMEOUT_S)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _pid_is_lab(pid) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        if _pid_is_lab(pid):
            os.kill(pid, signal.SIGKILL)  # only the pid we recorded, and only if it is still our lab
    removed: list[str] = []
    prefix = state.get("prefix")
    if prefix:
        removed = teardown_prefix(prefix)  # leftovers of a lab that could not clean up after itself
    for name in ("state.json", "control.sock", "error.txt"):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
    return {"stopped": True, "pid": pid, "namespaces_removed": removed, "fleet": state.get("fleet")}


class LabProcess:
    """A lab in a separate process: ``with LabProcess("bench-1000") as lab: scan(lab.targets)``."""

    def __init__(
        self,
        fleet: str = "demo",
        mode: str = "loopback",
        network: str | None = None,
        base: Path | None = None,
        instance: str | None = None,
    ) -> None:
        self.fleet, self.mode, self.network = fleet, mode, network
        self.base = base
        self.instance = instance or f"p{os.getpid()}-{id(self) & 0xFFFF:x}"
        self.state: dict[str, Any] = {}

    @property
    def targets(self) -> list[str]:
        return list(self.state.get("targets", []))

    @property
    def devices(self) -> list[dict[str, Any]]:
        return list(self.state.get("devices", []))

    def start(self) -> LabProcess:
        self.state = up(self.fleet, self.mode, self.network, self.instance, self.base)
        return self

    def status(self) -> dict[str, Any]:
        return request(instance_dir(self.instance, self.base), {"cmd": "status"})

    def upgrade(self, device: str, firmware: str) -> dict[str, Any]:
        return upgrade(device, firmware, self.instance, self.base)

    def stop(self) -> dict[str, Any]:
        return down(self.instance, self.base)

    def __enter__(self) -> LabProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
