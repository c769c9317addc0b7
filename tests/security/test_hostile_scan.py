"""``camsweep scan`` over hostile devices among ordinary ones.

The ``mixed`` fleet (Hikvision, Dahua, Axis, a decoy, a formula-injecting and a
dripping device) and the whole ``hostile`` fleet (drip, endless headers, 50 MB
body, XML bomb and XXE, broken RTSP, resets, a blackhole, non-UTF-8, HTML and
formula strings) run at once; one real CLI scan covers both with a
``--deadline``.  The scan must end ``completed`` (every hostile device is
bounded by the per-read timeouts, well inside the deadline), record every probe
with a status from the fixed vocabulary, keep every stored value bounded, and
still identify every ordinary device.  A second scan whose deadline is shorter
than the hostile devices' stalling must end ``deadline`` and keep what it
recorded.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from camsweep.lab import Lab, load_fleet
from fingerprints.evidence import MAX_RAW_BYTES, Status
from tests.helpers import run_cli

DEADLINE_S = 60


@pytest.fixture
def two_labs() -> Iterator[tuple[Lab, Lab]]:
    n = uuid.uuid4().int % 200 + 20
    mixed = load_fleet("mixed", network=f"127.174.{n}.0/24")
    hostile = load_fleet("hostile", network=f"127.175.{n}.0/24")
    with Lab(mixed) as a, Lab(hostile) as b:
        yield a, b


def _scan(db: str, targets: list[str], *extra: str) -> list[dict[str, object]]:
    res = run_cli(
        "scan", *targets, "--db", db, "--json", "--no-arp", "--no-wsd", "--no-mdns",
        "--connect-timeout", "1", "--read-timeout", "1", *extra,
        timeout_s=DEADLINE_S * 3,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


def test_scan_of_hostile_and_normal_devices_completes_and_identifies(
    two_labs: tuple[Lab, Lab], tmp_path: Path
) -> None:
    mixed, hostile = two_labs
    db_path = tmp_path / "hostile.db"
    targets = mixed.fleet.targets + hostile.fleet.targets
    rows = _scan(f"sqlite:///{db_path}", targets, "--deadline", str(DEADLINE_S))
    summary, hosts = rows[-1], {r["ip"]: r for r in rows[:-1]}
    assert summary["status"] == "completed"
    assert summary["addresses"] == len(targets)
    # Every ordinary device is identified as what it is, hostile neighbours or not.
    for spec in mixed.fleet.devices:
        p = spec.personality
        if not p.hostile:
            assert hosts[spec.ip]["is_camera"] == p.is_camera, spec.name
            assert hosts[spec.ip]["manufacturer"] == p.manufacturer, spec.name
            assert hosts[spec.ip]["brand"] == p.brand, spec.name
    # No hostile device passes for a camera.
    con = sqlite3.connect(db_path)
    for spec in mixed.fleet.devices + hostile.fleet.devices:
        if spec.personality.hostile and spec.ip in hosts:
            ev = con.execute(
                "SELECT probe, port, status, evidence FROM observations WHERE ip = ?", (spec.ip,)
            ).fetchall()
            assert hosts[spec.ip]["is_camera"] is False, (spec.name, hosts[spec.ip], ev)
    try:
        (status, done, total) = con.execute(
            "SELECT status, addresses_done, addresses_total FROM scans"
        ).fetchone()
        obs = con.execute(
            "SELECT ip, port, probe, status, length(raw), evidence FROM observations"
        ).fetchall()
    finally:
        con.close()
    assert (status, done, total) == ("completed", len(targets), len(targets))
    vocabulary = {s.value for s in Status}
    by_ip: dict[str, dict[tuple[str, int], str]] = {}
    for ip, port, probe, st, raw_len, evidence in obs:
        assert st in vocabulary, (ip, probe, st)
        assert raw_len <= MAX_RAW_BYTES
        assert all(len(value) <= 512 for _key, value, _src in json.loads(evidence))
        by_ip.setdefault(ip, {})[(probe, port)] = st
    for spec in hostile.fleet.devices:
        assert spec.ip in by_ip, f"{spec.name} left no observation"
    h = {spec.personality.id: by_ip[spec.ip] for spec in hostile.fleet.devices}
    # Each misbehaviour is recorded as what it is, not as a success.
    assert h["hostile-blackhole"][("http", 80)] == "timeout"
    assert h["hostile-drip"][("http", 80)] in ("timeout", "protocol-mismatch")
    assert h["hostile-endless-headers"][("http", 80)] in ("timeout", "protocol-mismatch")
    assert h["hostile-xml-bomb"][("onvif", 80)] == "protocol-mismatch"  # refused to expand
    assert h["hostile-xml-bomb"][("onvif", 8899)] == "protocol-mismatch"  # external entity refused
    assert h["hostile-rtsp"][("rtsp", 554)] != "success"  # "RTSP/1.0 2OO 0K" is not an answer


def test_deadline_cuts_a_stalled_scan_and_keeps_what_it_recorded(
    two_labs: tuple[Lab, Lab], tmp_path: Path
) -> None:
    mixed, hostile = two_labs
    db_path = tmp_path / "deadline.db"
    # Long read timeouts: the drip and blackhole devices would hold the scan far past 3 s.
    targets = mixed.fleet.targets + hostile.fleet.targets
    rows = _scan(
        f"sqlite:///{db_path}", targets, "--deadline", "3", "--read-timeout", "30", "--concurrency", "4"
    )
    summary = rows[-1]
    assert summary["status"] == "deadline"
    con = sqlite3.connect(db_path)
    try:
        (status, done, total, finished) = con.execute(
            "SELECT status, addresses_done, addresses_total, finished_at FROM scans"
        ).fetchone()
        recorded = con.execute("SELECT count(DISTINCT ip) FROM observations").fetchone()[0]
    finally:
        con.close()
    assert status == "deadline" and finished is not None
    assert done < total == len(targets)
    assert recorded == len(rows) - 1  # every host reported before the deadline is stored


async def test_a_probe_that_raises_is_recorded_not_fatal() -> None:
    """Defence in depth: a probe bug becomes an ``error`` observation; the other probes still run."""
    import asyncio

    from fingerprints.evidence import Observation
    from scanner.engine import Engine, ScanLimits
    from scanner.probes.base import ProbeContext, Target

    class Broken:
        name = "broken"
        ports = (0,)

        async def run(self, target: Target, ctx: ProbeContext) -> Observation:
            raise LookupError("device said: secret-ish bytes")

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nServer: ok\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.174.0.9", 0)
    port = server.sockets[0].getsockname()[1]
    from scanner.probes.http import HttpProbe

    async with server:
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0, read_timeout_s=1, connect_timeout_s=1),
            service_probes=[Broken(), HttpProbe()],  # type: ignore[list-item]
            probe_ports={"broken": [port], "http": [port]},
            directed_wsd=False,
        )
        report = await engine.scan_host("127.174.0.9")
    by_probe = {o.probe: o for o in report.observations}
    assert by_probe["broken"].status is Status.ERROR
    assert by_probe["broken"].detail == "probe failed: LookupError"  # the type, never the message
    assert by_probe["http"].status is not Status.ERROR  # the other probe ran to its own end


async def test_vendor_paths_do_not_count_when_the_control_path_gets_no_answer() -> None:
    """Regression: ``hostile-reset`` was intermittently a Hikvision camera.

    It answers every path with half a 200 and a reset; when the reset beat the control
    request's head, the vendor API paths (200) looked unlike the control and counted as
    ISAPI and magicBox evidence.  Here the control path is always reset deterministically.
    """
    import asyncio
    import socket
    import struct

    from scanner.engine import Engine, ScanLimits
    from scanner.probes.http import CONTROL_PATH

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        if CONTROL_PATH.encode() in request:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nServer: reset\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.174.0.10", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        engine = Engine(
            ports=[port],
            limits=ScanLimits(rate_pps=0, read_timeout_s=1, connect_timeout_s=1),
            probe_ports={"http": [port], "rtsp": [], "onvif": []},
            directed_wsd=False,
        )
        report = await engine.scan_host("127.174.0.10")
    http = next(o for o in report.observations if o.probe == "http")
    assert http.status is Status.SUCCESS and ("http.server", "reset") in [
        (e.key, e.value) for e in http.evidence
    ]
    assert not [e for e in http.evidence if e.key == "http.api"]
