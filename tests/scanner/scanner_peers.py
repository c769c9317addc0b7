"""Helpers for the scanner's tests: real peer processes and a small namespace lab.

The namespace lab (names ``csscan-<pid>-...``) is the scanner helper's own
minimal fixture for ARP and multicast tests: one scanner namespace holding a
bridge, and one namespace per device on it.  Raw and multicast traffic stays
inside these namespaces; everything is removed on teardown, by name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PEERS = Path(__file__).parent / "peers"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEBIAN_PYTHON = "/usr/bin/python3"
#: How long a peer may take to print its ready line.
PEER_START_TIMEOUT_S = 20.0


def need_root(what: str) -> None:
    """Skip on a non-root laptop (saying why); in CI (root) this never skips."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail(f"{what} needs root, and CI runs as root")
        pytest.skip(f"{what} needs root (network namespaces); CI runs it as root")


def need_gst() -> None:
    probe = subprocess.run(
        [DEBIAN_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
        capture_output=True,
        timeout=30,
    )
    if probe.returncode != 0:
        msg = "GStreamer RTSP server missing: install python3-gi gir1.2-gst-rtsp-server-1.0 (scripts/debian-packages.txt)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@dataclass
class Peer:
    proc: subprocess.Popen[str]
    ready: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_peer(cmd: Sequence[str], netns: str | None = None, env: dict[str, str] | None = None) -> Peer:
    """Start a peer process (in ``netns`` if given) and wait for its first stdout line."""
    full = ["ip", "netns", "exec", netns, *cmd] if netns else list(cmd)
    proc = subprocess.Popen(
        full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + PEER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if sel.select(timeout=0.2):
            line = proc.stdout.readline().strip()
            if line:
                return Peer(proc, line)
        if proc.poll() is not None:
            break
    proc.kill()
    _, errs = proc.communicate(timeout=5)
    raise RuntimeError(f"peer {cmd} did not start: {errs[-2000:]}")


def _ip(*args: str, netns: str | None = None, check: bool = True) -> None:
    cmd = ["ip", *(["-n", netns] if netns else []), *args]
    subprocess.run(cmd, check=check, capture_output=True, timeout=30)


@dataclass
class Device:
    name: str  # namespace
    ip: str
    mac: str


@dataclass
class NetnsLab:
    """A scanner namespace with a bridge, and device namespaces on it (10.99.0.0/24)."""

    macs: Sequence[str]
    tag: str = field(default_factory=lambda: f"{os.getpid() % 100000}")
    devices: list[Device] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)
    scanner_ns: str = ""

    network = "10.99.0.0/24"
    scanner_ip = "10.99.0.1"

    def up(self) -> NetnsLab:
        if not shutil.which("ip"):
            pytest.skip("iproute2 missing")
        self.scanner_ns = f"csscan-{self.tag}-s"
        _ip("netns", "add", self.scanner_ns)
        _ip("link", "set", "lo", "up", netns=self.scanner_ns)
        _ip("link", "add", "br0", "type", "bridge", netns=self.scanner_ns)
        _ip("addr", "add", f"{self.scanner_ip}/24", "dev", "br0", netns=self.scanner_ns)
        _ip("link", "set", "br0", "up", netns=self.scanner_ns)
        # Multicast needs a route (TESTBED.md): without it sendto fails "Network is unreachable".
        _ip("route", "add", "224.0.0.0/4", "dev", "br0", netns=self.scanner_ns)
        for i, mac in enumerate(self.macs):
            ns = f"csscan-{self.tag}-d{i}"
            ip = f"10.99.0.{10 + i}"
            a, b = f"cs{self.tag}a{i}", f"cs{self.tag}b{i}"
            _ip("netns", "add", ns)
            self.devices.append(Device(ns, ip, mac))
            _ip("link", "add", a, "type", "veth", "peer", "name", b)
            _ip("link", "set", a, "netns", ns)
            _ip("link", "set", b, "netns", self.scanner_ns)
            _ip("link", "set", a, "name", "eth0", netns=ns)
            _ip("link", "set", "eth0", "address", mac, netns=ns)
            _ip("addr", "add", f"{ip}/24", "dev", "eth0", netns=ns)
            _ip("link", "set", "eth0", "up", netns=ns)
            _ip("link", "set", "lo", "up", netns=ns)
            _ip("route", "add", "224.0.0.0/4", "dev", "eth0", netns=ns)
            _ip("link", "set", b, "master", "br0", netns=self.scanner_ns)
            _ip("link", "set", b, "up", netns=self.scanner_ns)
            # The WSDiscovery publisher's IPv6 thread crashes on the first probe (TESTBED.md).
            subprocess.run(
                ["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
                check=True,
                capture_output=True,
                timeout=30,
            )
        return self

    def start(self, device: Device, cmd: Sequence[str]) -> Peer:
        peer = start_peer(cmd, netns=device.name)
        self.peers.append(peer)
        return peer

    def run_in_scanner(self, cmd: Sequence[str], timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        return subprocess.run(
            ["ip", "netns", "exec", self.scanner_ns, *cmd],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            cwd=str(REPO_ROOT),
            stdin=subprocess.DEVNULL,
        )

    def down(self) -> None:
        for peer in self.peers:
            peer.stop()
        for d in self.devices:
            _ip("netns", "del", d.name, check=False)
        if self.scanner_ns:
            _ip("netns", "del", self.scanner_ns, check=False)


VENV_PYTHON = sys.executable
