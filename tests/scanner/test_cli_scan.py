"""``camsweep scan`` options, through the real CLI of this checkout."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.repository import Inventory
from tests.helpers import REPO_ROOT, run_cli

HOSTS = ["127.90.5.1", "127.90.5.2", "127.90.5.3"]


class Listeners:
    """Plain TCP listeners that count the connections they get."""

    def __init__(self, hosts: list[str]) -> None:
        first = socket.socket()
        first.bind((hosts[0], 0))
        self.port = first.getsockname()[1]
        self.socks = [first] + [socket.socket() for _ in hosts[1:]]
        for s, h in zip(self.socks[1:], hosts[1:], strict=True):
            s.bind((h, self.port))
        self.accepted: list[str] = []
        self.stop = threading.Event()
        for s in self.socks:
            s.listen(64)
            s.settimeout(0.2)
            threading.Thread(target=self._loop, args=(s,), daemon=True).start()

    def _loop(self, s: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = s.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted.append(s.getsockname()[0])
            conn.close()

    def close(self) -> None:
        self.stop.set()
        for s in self.socks:
            s.close()


@pytest.fixture
def listeners() -> Iterator[Listeners]:
    ls = Listeners(HOSTS)
    try:
        yield ls
    finally:
        ls.close()


def _rows(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_refusals_name_the_target_before_any_packet(listeners: Listeners, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/x.db"
    res = run_cli(
        "scan",
        HOSTS[0],
        "--db",
        db,
        "--ports",
        str(listeners.port),
        "--site",
        "hq",
        "--site-network",
        "10.20.0.0/16",
    )
    assert res.returncode == 2
    assert "'127.90.5.1' is outside the networks of site 'hq'" in res.stderr
    res = run_cli("scan", "8.8.8.0/30", "--db", db)
    assert res.returncode == 2 and "8.8.8.0/30" in res.stderr and "--allow-public" in res.stderr
    res = run_cli("scan", HOSTS[0], "--db", db, "--exclude", "not-a-net")
    assert res.returncode == 2 and "not-a-net" in res.stderr
    assert listeners.accepted == []  # no packet reached the device
    inv = Inventory(db)
    try:
        assert inv.scans() == []  # and no scan was even begun
    finally:
        inv.close()


def test_json_lines_exclusions_and_gentle_options(listeners: Listeners, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/x.db"
    res = run_cli(
        "scan",
        "127.90.5.0/29",
        "--db",
        db,
        "--json",
        "--ports",
        str(listeners.port),
        "--exclude",
        HOSTS[1],
        "--rate",
        "200",
        "--per-host",
        "1",
        "--concurrency",
        "4",
        "--deadline",
        "120",
        "--connect-timeout",
        "1",
        "--read-timeout",
        "1",
        "--no-arp",
        "--no-wsd",
        "--no-mdns",
    )
    assert res.returncode == 0, res.stderr
    rows = _rows(res.stdout)
    summary = rows[-1]
    assert summary["status"] == "completed" and summary["addresses"] == 7 and summary["responsive"] == 2
    assert sorted(r["ip"] for r in rows[:-1]) == [HOSTS[0], HOSTS[2]]
    assert all(r["open_ports"] == [listeners.port] for r in rows[:-1])
    assert {
        "ip",
        "open_ports",
        "is_camera",
        "brand",
        "manufacturer",
        "model",
        "firmware",
        "category",
        "policy_flags",
        "confidence",
    } <= set(rows[0])
    assert HOSTS[1] not in listeners.accepted


def test_site_networks_are_the_targets_when_none_given(listeners: Listeners, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/x.db"
    res = run_cli(
        "scan", "--site", "lab", "--site-network", "127.90.5.0/30", "--db", db, "--json",
        "--ports", str(listeners.port), "--no-arp", "--no-wsd", "--no-mdns",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    rows = _rows(res.stdout)
    assert rows[-1]["addresses"] == 4
    assert sorted(r["ip"] for r in rows[:-1]) == HOSTS


def test_credentials_from_environment_never_echoed(listeners: Listeners, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/x.db"
    env = {"CAMSWEEP_ONVIF_USER": "inventory", "CAMSWEEP_ONVIF_PASSWORD": "Zq-secret-9"}
    res = run_cli("scan", HOSTS[0], "--db", db, "--json", "--ports", str(listeners.port), env=env)
    assert res.returncode == 0, res.stderr
    assert "Zq-secret-9" not in res.stdout + res.stderr
    assert b"Zq-secret-9" not in Path(f"{tmp_path}/x.db").read_bytes()
    bad = tmp_path / "creds.yaml"
    bad.write_text("password: Zq-secret-9\n")
    res = run_cli("scan", HOSTS[0], "--db", db, "--credentials", str(bad))
    assert res.returncode == 2 and "username" in res.stderr and "Zq-secret-9" not in res.stderr


def test_ctrl_c_marks_the_scan_interrupted(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/x.db"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # A gentle rate over many addresses: still running when the signal comes.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "camsweep",
            "scan",
            "127.90.6.0/22",
            "--db",
            db,
            "--ports",
            "9",
            "--rate",
            "20",
            "--progress",
            "plain",
            "--no-arp",
            "--no-wsd",
            "--no-mdns",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the plain reporter's first line: the sweep has begun
        assert "addresses" in line, line
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    inv = Inventory(db)
    try:
        (scan,) = inv.scans()
        assert scan.status == "interrupted"
        assert 0 < scan.addresses_done < 1024
    finally:
        inv.close()


assert time


def test_a_large_scan_prints_a_bounded_table_cameras_first(capsys: pytest.CaptureFixture[str]) -> None:
    """Thousands of responsive hosts must not flood the terminal (or cost seconds of
    rendering); the table keeps cameras first and says where the rest are."""
    from camsweep import api, cli
    from fingerprints.evidence import HostReport, Identification

    hosts = [
        (HostReport(f"10.0.{i // 256}.{i % 256}"), Identification(is_camera=(i % 10 == 0), brand=f"b{i}"))
        for i in range(cli.SCAN_TABLE_ROWS + 50)
    ]
    outcome = api.ScanOutcome(
        scan_id=7, status="completed", addresses=4096, responsive=len(hosts), devices=hosts
    )
    rows = cli._render_outcome(outcome, as_json=False)
    printed = capsys.readouterr().out
    assert len(rows) == len(hosts)  # the caller (--fail-on) still sees every host
    assert f"showing {cli.SCAN_TABLE_ROWS} of {len(hosts)} responsive hosts" in printed
    shown = cli._scan_table_rows(rows)
    assert len(shown) == cli.SCAN_TABLE_ROWS
    assert {r["ip"] for r in rows if r["is_camera"]} <= {r["ip"] for r in shown}  # every camera made the cut
