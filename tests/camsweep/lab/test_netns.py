"""The namespace segment: real namespaces, real veths, real ARP (needs root)."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from camsweep.lab.netns import Segment, list_namespaces, netns_available, teardown_prefix
from fingerprints.errors import LabError

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(netns_available() is not None, reason=str(netns_available())),
]

CONNECT = (
    "import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 3); "
    "print(s.recv(16).decode())"
)


def test_each_device_has_its_mac_and_is_reachable_from_the_scanner() -> None:
    prefix = f"cslab-{os.getpid()}-t"
    with Segment(prefix=prefix, network="10.80.1.0/24") as seg:
        a = seg.add_device("a", mac="44:19:B6:00:00:01")
        b = seg.add_device("b", mac="3c:ef:8c:00:00:02")
        scanner = seg.add_scanner()
        seg.create()  # adds the late-declared endpoints, keeps the rest
        assert set(list_namespaces(prefix)) == {f"{prefix}-sw", a.ns, b.ns, scanner.ns}
        assert seg.link_mac(a) == "44:19:b6:00:00:01"
        link = seg.run(b, ["ip", "-o", "link", "show", "eth0"]).stdout
        assert "3c:ef:8c:00:00:02" in link
        assert "224.0.0.0/4" in seg.run(a, ["ip", "route"]).stdout
        with seg.entered(b):
            server = socket.create_server((b.ip, 80))
        try:
            threading.Thread(target=lambda: server.accept()[0].sendall(b"hello"), daemon=True).start()
            r = seg.run(scanner, ["python3", "-c", CONNECT, b.ip, "80"], timeout_s=30)
            assert r.returncode == 0 and r.stdout.strip() == "hello", r.stderr
            neigh = seg.run(scanner, ["ip", "neigh", "show", b.ip]).stdout
            assert "3c:ef:8c:00:00:02" in neigh  # ARP resolved to the device's own MAC
        finally:
            server.close()
    assert list_namespaces(prefix) == []


def test_the_host_namespace_is_untouched_and_teardown_is_exact() -> None:
    before = {name for _, name in socket.if_nameindex()}
    prefix = f"cslab-{os.getpid()}-u"
    seg = Segment(prefix=prefix, network="10.80.2.0/24")
    seg.add_device("x", mac="00:40:8c:00:00:01")
    seg.create()
    assert {name for _, name in socket.if_nameindex()} == before
    other = Segment(prefix=f"cslab-{os.getpid()}-v", network="10.80.3.0/24")
    other.add_device("y", mac="00:40:8c:00:00:02")
    other.create()
    try:
        assert sorted(seg.destroy()) == [f"{prefix}-d0", f"{prefix}-sw"]
        assert list_namespaces(f"cslab-{os.getpid()}-v")  # the other segment is left alone
    finally:
        assert teardown_prefix(f"cslab-{os.getpid()}-v")
    assert list_namespaces(prefix) == [] and list_namespaces(f"cslab-{os.getpid()}-v") == []


def test_bad_segments_are_refused() -> None:
    with pytest.raises(LabError, match="private"):
        Segment(prefix="cslab-x", network="8.8.8.0/24")
    seg = Segment(prefix="cslab-x", network="10.80.4.0/30")
    seg.add_device("a", mac="02:00:00:00:00:01")
    with pytest.raises(LabError, match="full"):
        seg.add_device("b", mac="02:00:00:00:00:02")
    with pytest.raises(LabError, match="broad prefix"):
        teardown_prefix("cs")
