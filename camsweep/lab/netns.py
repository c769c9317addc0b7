"""A real little Ethernet segment made of Linux network namespaces (needs root).

The lab's *netns* mode, and any test that needs ARP, multicast WS-Discovery or
mDNS to work for real, builds one of these: a **switch** namespace holding a
bridge, one namespace per **device** (its own MAC, address and a ``224.0.0.0/4``
multicast route), and a **scanner** namespace on the same bridge from which a
scan runs.  Nothing is created in the host's namespace: every veth end lives in
one of our namespaces, so the host's interfaces, routes and ARP table never see
the lab, and deleting our namespaces removes every link with them.

API::

    from camsweep.lab.netns import Segment, netns_available

    seg = Segment(prefix="csscan-1234", network="10.80.0.0/24")   # nothing made yet
    dev = seg.add_device("hik1", mac="44:19:b6:00:00:01")          # -> Endpoint (ns, ip, mac, ifname)
    scanner = seg.add_scanner()                                     # -> Endpoint for the scanner
    seg.create()            # the switch, every namespace and link; idempotent per segment
    seg.run(scanner, ["python", "-m", "camsweep", "scan", dev.ip])  # ip netns exec <ns> ...
    with seg.entered(dev):  # this thread in dev's namespace: sockets made here live there
        sock = socket.socket(...)
    seg.destroy()           # deletes exactly the namespaces this segment made

    with Segment(prefix=...) as seg: ...   # create() / destroy()

Names: namespaces are ``<prefix>-sw``, ``<prefix>-scan`` and ``<prefix>-d<N>``;
give a prefix with your area and pid (``cslab-<pid>``) so parallel runs never
collide.  Inside a device or scanner namespace the interface is ``eth0``; the
switch-side ends are ``d<N>``/``scan``, attached to bridge ``br0``.
``teardown_prefix(prefix)`` removes namespaces left by a crashed run with that
prefix (and only those).

Addresses: ``network`` is an IPv4 network private to the segment (it exists only
inside our namespaces).  Devices take hosts from the start, the scanner takes
the last host.  IPv6 is disabled in every namespace by default (python
WSDiscovery's publisher thread crashes on IPv6 probes, TESTBED.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from fingerprints.errors import LabError

#: Longest any single ``ip`` command may take.
IP_COMMAND_TIMEOUT_S = 10.0
#: Default private network of a segment (only ever exists inside our namespaces).
DEFAULT_SEGMENT_NETWORK = "10.80.0.0/24"
#: Multicast route every namespace gets: without it a WS-Discovery or mDNS sender
#: fails with "Network is unreachable" (TESTBED.md).
MULTICAST_ROUTE = "224.0.0.0/4"
_CLONE_NEWNET = 0x40000000
_NETNS_DIR = "/run/netns"


def netns_available() -> str | None:
    """None when namespaces can be made here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    return None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One host on the segment: its namespace, interface, address and MAC."""

    name: str
    ns: str
    ip: str
    mac: str
    ifname: str = "eth0"
    peer: str = ""  # the switch-side veth end's name (inside the switch namespace)


def _ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=IP_COMMAND_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{' '.join(cmd)}: {exc}") from exc
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
    return proc


def _batch(lines: Sequence[str]) -> None:
    """Run many ``ip`` commands in one process (``ip -batch``); much faster than one each."""
    if not lines:
        return
    try:
        proc = subprocess.run(
            ["ip", "-batch", "-"],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=IP_COMMAND_TIMEOUT_S * 3,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"ip -batch: {exc}") from exc
    if proc.returncode != 0:
        raise LabError(f"ip -batch failed: {proc.stderr.strip()}")


def list_namespaces(prefix: str) -> list[str]:
    """Our namespaces with this prefix (``ip netns list`` names)."""
    try:
        names = os.listdir(_NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix + "-"))


def teardown_prefix(prefix: str) -> list[str]:
    """Delete every namespace named ``<prefix>-*`` (a crashed run's leftovers); return them."""
    if not prefix or "-" not in prefix:
        # A bare prefix such as "cs" could match another helper's namespaces.
        raise LabError(f"refusing to tear down namespaces by the broad prefix {prefix!r}")
    gone = list_namespaces(prefix)
    _batch([f"netns delete {n}" for n in gone])
    return gone


_libc: ctypes.CDLL | None = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise LabError(f"setns failed: {os.strerror(err)}")


@contextlib.contextmanager
def entered_namespace(ns: str) -> Iterator[None]:
    """Run the body with the calling *thread* inside network namespace ``ns``.

    Sockets created in the body stay in that namespace after it ends (that is
    how one lab process serves every device of a segment).  Only this thread
    moves: setns(2) with CLONE_NEWNET is per-thread.
    """
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(os.path.join(_NETNS_DIR, ns), os.O_RDONLY)
    except OSError as exc:
        os.close(home)
        raise LabError(f"no network namespace {ns!r}: {exc}") from exc
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


@dataclass
class Segment:
    """A bridge and namespaces; see the module docstring for the API."""

    prefix: str = field(default_factory=lambda: f"cslab-{os.getpid()}")
    network: str = DEFAULT_SEGMENT_NETWORK
    disable_ipv6: bool = True
    devices: list[Endpoint] = field(default_factory=list)
    scanner: Endpoint | None = None
    created: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        net = ipaddress.ip_network(self.network)
        if not isinstance(net, ipaddress.IPv4Network) or not net.is_private:
            raise LabError(f"segment network {net} must be a private IPv4 network")
        self._net = net
        self._hosts = list(net.hosts())
        self._used: set[str] = set()

    @property
    def switch_ns(self) -> str:
        return f"{self.prefix}-sw"

    def _next_ip(self) -> str:
        for host in self._hosts[:-1]:  # the last host is the scanner's
            if str(host) not in self._used:
                return str(host)
        raise LabError(f"segment network {self._net} is full")

    def add_device(self, name: str, mac: str, ip: str | None = None) -> Endpoint:
        """Declare a device (made by ``create()``); ``ip`` defaults to the next free host."""
        address = ip or self._next_ip()
        if ipaddress.ip_address(address) not in self._net:
            raise LabError(f"{name}: {address} is outside the segment network {self._net}")
        if address in self._used:
            raise LabError(f"{name}: {address} is already taken")
        self._used.add(address)
        n = len(self.devices)
        ep = Endpoint(name=name, ns=f"{self.prefix}-d{n}", ip=address, mac=mac.lower(), peer=f"d{n}")
        self.devices.append(ep)
        return ep

    def add_scanner(self, mac: str = "02:00:5e:00:00:fe") -> Endpoint:
        """Declare the scanner host (the segment's last address)."""
        if self.scanner is None:
            address = str(self._hosts[-1])
            self._used.add(address)
            self.scanner = Endpoint(
                name="scanner", ns=f"{self.prefix}-scan", ip=address, mac=mac, peer="scan"
            )
        return self.scanner

    @property
    def endpoints(self) -> list[Endpoint]:
        return [*self.devices, *([self.scanner] if self.scanner else [])]

    def create(self) -> Segment:
        """Make the switch, the namespaces and their links.  On failure, undo what was made."""
        reason = netns_available()
        if reason:
            raise LabError(reason)
        made = set(self.created)
        todo = [ep for ep in self.endpoints if ep.ns not in made]
        plen = self._net.prefixlen
        first: list[str] = []
        if self.switch_ns not in made:
            first.append(f"netns add {self.switch_ns}")
        first += [f"netns add {ep.ns}" for ep in todo]
        try:
            _batch(first)
            self.created += [line.split()[-1] for line in first]
            links: list[str] = []
            if self.switch_ns not in made:
                links.append(f"link add br0 netns {self.switch_ns} type bridge")
            for ep in todo:
                # Both veth ends are born inside our namespaces: the host's namespace never holds them.
                links.append(
                    f"link add {ep.ifname} netns {ep.ns} address {ep.mac} type veth peer name {ep.peer} netns {self.switch_ns}"
                )
            _batch(links)
            sw = [f"link set dev {ep.peer} master br0" for ep in todo]
            sw += [f"link set dev {ep.peer} up" for ep in todo]
            sw += ["link set dev br0 up", "link set dev lo up"]
            self._in_ns(self.switch_ns, sw)
            for ep in todo:
                self._in_ns(
                    ep.ns,
                    [
                        "link set dev lo up",
                        f"addr add {ep.ip}/{plen} dev {ep.ifname}",
                        f"link set dev {ep.ifname} up",
                        f"route add {MULTICAST_ROUTE} dev {ep.ifname}",
                    ],
                )
            if self.disable_ipv6:
                for ns in [self.switch_ns, *(ep.ns for ep in todo)]:
                    self._sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1")
        except LabError:
            self.destroy()
            raise
        return self

    @staticmethod
    def _in_ns(ns: str, lines: Sequence[str]) -> None:
        try:
            proc = subprocess.run(
                ["ip", "-n", ns, "-batch", "-"],
                input="\n".join(lines) + "\n",
                capture_output=True,
                text=True,
                timeout=IP_COMMAND_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LabError(f"ip -n {ns}: {exc}") from exc
        if proc.returncode != 0:
            raise LabError(f"ip -n {ns} -batch failed: {proc.stderr.strip()}")

    @staticmethod
    def _sysctl(ns: str, key: str, value: str) -> None:
        # /proc/sys/net is per network namespace of the *opening* task: enter, then write.
        path = "/proc/sys/" + key.replace(".", "/")
        with entered_namespace(ns), open(path, "w", encoding="ascii") as fh:
            fh.write(value)

    def destroy(self) -> list[str]:
        """Delete exactly the namespaces this segment made (their links go with them)."""
        mine = [ns for ns in self.created if os.path.exists(os.path.join(_NETNS_DIR, ns))]
        _batch([f"netns delete {ns}" for ns in mine])
        self.created.clear()
        return mine

    def run(
        self, ep: Endpoint | str, argv: Sequence[str], timeout_s: float = 120.0, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside an endpoint's namespace (``ip netns exec``), capture text output."""
        ns = ep if isinstance(ep, str) else ep.ns
        return subprocess.run(  # type: ignore[call-overload]
            ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout_s, **kwargs
        )

    def popen(self, ep: Endpoint | str, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside an endpoint's namespace; the caller stops it."""
        ns = ep if isinstance(ep, str) else ep.ns
        return subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kwargs)  # type: ignore[call-overload]

    def entered(self, ep: Endpoint | str) -> contextlib.AbstractContextManager[None]:
        """This thread inside the endpoint's namespace for the body (see ``entered_namespace``)."""
        return entered_namespace(ep if isinstance(ep, str) else ep.ns)

    def link_mac(self, ep: Endpoint) -> str:
        """The MAC the kernel reports for the endpoint's interface (``ip link`` in its namespace)."""
        out = _ip("-o", "link", "show", "dev", ep.ifname, ns=ep.ns).stdout
        parts = out.split()
        return parts[parts.index("link/ether") + 1].lower()

    def __enter__(self) -> Segment:
        return self.create()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.destroy()
