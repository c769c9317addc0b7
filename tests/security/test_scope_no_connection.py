"""Scope refusals happen before anything is sent, proven with strace.

Each refused scan runs the real CLI under ``strace -f`` tracing every system
call that can put a packet on a network (``connect``, ``sendto``, ``sendmsg``,
``sendmmsg``); the trace must hold no IPv4 or IPv6 address at all.  A control
scan of an allowed loopback target under the same trace *does* show its
``connect`` calls, so an empty trace means "nothing attempted", not "strace saw
nothing".  No scan row is begun either.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from db.repository import Inventory
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.skipif(
    shutil.which("strace") is None and not os.environ.get("CI"), reason="strace not installed"
)

NET_CALLS = "trace=connect,sendto,sendmsg,sendmmsg"
INET = re.compile(r"sa_family=AF_INET6?\b")


def _traced_scan(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    trace = tmp_path / f"strace-{len(list(tmp_path.glob('strace-*')))}.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    res = subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            NET_CALLS,
            "-o",
            str(trace),
            sys.executable,
            "-m",
            "camsweep",
            "scan",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    calls = [line for line in trace.read_text().splitlines() if INET.search(line)]
    return res, calls


@pytest.mark.parametrize(
    ("targets", "extra", "message"),
    [
        (["8.8.8.0/30"], [], "--allow-public"),
        (["10.255.255.250-11.0.0.2"], [], "public"),
        (
            ["127.176.0.1"],
            ["--site", "hq", "--site-network", "10.20.0.0/16"],
            "outside the networks of site 'hq'",
        ),
        (["10.0.0.0/8"], [], "--max-addresses"),
        (["10.0.0.0/15"], ["--max-addresses", "1000"], "--max-addresses"),
        (["::/0"], [], "public"),
    ],
    ids=["public", "straddling-public", "outside-site", "absurd-size", "over-max", "ipv6-everything"],
)
def test_refused_scan_attempts_no_connection(
    tmp_path: Path, targets: list[str], extra: list[str], message: str
) -> None:
    db = tmp_path / "scope.db"
    res, calls = _traced_scan(tmp_path, *targets, *extra, "--db", f"sqlite:///{db}", "--ports", "80")
    assert res.returncode == 2, res.stderr
    assert message in res.stderr  # says what to do
    if message != "--max-addresses":  # a size refusal names the total instead
        assert targets[0] in res.stderr
    assert "Traceback" not in res.stderr
    assert calls == []  # not one connect or datagram to any address
    if db.exists():
        inv = Inventory(f"sqlite:///{db}")
        try:
            assert inv.scans() == []
        finally:
            inv.close()


def test_configured_site_refuses_targets_outside_its_networks(tmp_path: Path) -> None:
    cfg = tmp_path / "camsweep.toml"
    cfg.write_text('[sites.hq]\nnetworks = ["127.176.1.0/24"]\n', encoding="utf-8")
    res, calls = _traced_scan(
        tmp_path, "127.176.2.1", "--config", str(cfg), "--site", "hq", "--db", f"sqlite:///{tmp_path}/c.db"
    )
    assert res.returncode == 2 and "127.176.2.1" in res.stderr and "hq" in res.stderr, res.stderr
    assert calls == []


def test_the_trace_does_see_an_allowed_scan(tmp_path: Path) -> None:
    # The control: the same trace on an allowed target records its connects.
    res, calls = _traced_scan(
        tmp_path, "127.176.3.1", "--db", f"sqlite:///{tmp_path}/ok.db", "--ports", "9",
        "--no-arp", "--no-wsd", "--no-mdns", "--progress", "none",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert any("127.176.3.1" in c and "connect(" in c for c in calls), calls
