"""`camsweep lab up|status|upgrade|down` through the real CLI, and LabProcess at benchmark scale."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from camsweep.lab.control import LabProcess
from camsweep.lab.netns import list_namespaces, netns_available
from tests.camsweep.lab.helpers import http_get, soap_post, username_token
from tests.helpers import run_cli


def lab_cli(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    r = run_cli("lab", *args, env={"CAMSWEEP_LAB_DIR": str(tmp_path / "labs")})
    return r.returncode, r.stdout, r.stderr


def test_up_status_upgrade_down(tmp_path: Path) -> None:
    net = f"127.86.{uuid.uuid4().int % 200 + 20}.0/24"
    code, out, err = lab_cli(tmp_path, "up", "--fleet", "demo", "--network", net)
    try:
        assert code == 0, err
        targets = out.split()
        assert len(targets) >= 20 and all(t.startswith(net.rsplit(".", 2)[0]) for t in targets)
        assert "fleet 'demo'" in err
        code, out, err = lab_cli(tmp_path, "status", "--json")
        assert code == 0, err
        state = json.loads(out)
        assert state["running"] and state["fleet"] == "demo" and state["targets"] == targets
        hik = next(d for d in state["devices"] if d["personality"] == "hikvision-ds2cd-fixed")
        assert hik["firmware"] == "V5.7.3 build 220112"
        code, out, err = lab_cli(
            tmp_path, "upgrade", hik["name"], "--firmware", "V5.5.0 build 170725", "--json"
        )
        assert code == 0, err
        assert json.loads(out)["to"] == "V5.5.0 build 170725"
        info = soap_post(
            hik["ip"], 80, "GetDeviceInformation", security=username_token("admin", "Lab-Pass-2024")
        )
        assert b"<tds:FirmwareVersion>V5.5.0 build 170725</tds:FirmwareVersion>" in info
        code, _, err = lab_cli(tmp_path, "upgrade", hik["name"], "--firmware", "V0.0.0")
        assert code == 2 and "no firmware" in err
        code, _, err = lab_cli(tmp_path, "up", "--fleet", "demo", "--network", net)
        assert code == 2 and "already running" in err
    finally:
        code, _, err = lab_cli(tmp_path, "down")
    assert code == 0 and "stopped" in err, err
    pid = state["pid"]
    assert (
        not Path(f"/proc/{pid}").exists()
        or b"camsweep.lab.serve" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
    code, _, _ = lab_cli(tmp_path, "status")
    assert code == 1
    with pytest.raises(OSError):
        http_get(targets[0], 80)


def test_unknown_fleet_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = lab_cli(tmp_path, "up", "--fleet", "no-such-fleet")
    assert code == 2 and "known fleets" in err and "demo" in err


@pytest.mark.netns
@pytest.mark.skipif(netns_available() is not None, reason=str(netns_available()))
def test_netns_mode_down_leaves_nothing_behind(tmp_path: Path) -> None:
    code, out, err = lab_cli(
        tmp_path, "up", "--fleet", "mixed", "--mode", "netns", "--network", "10.80.9.0/24", "--json"
    )
    assert code == 0, err
    state = json.loads(out)
    prefix = state["prefix"]
    try:
        made = list_namespaces(prefix)
        assert len(made) == len(state["targets"]) + 2  # devices + switch + scanner
        assert state["scanner_ns"] in made
    finally:
        code, out, err = lab_cli(tmp_path, "down", "--json")
    assert code == 0, err
    assert list_namespaces(prefix) == []
    assert not any(name.startswith(prefix) for name in os.listdir("/run/netns"))


def test_bench_fleet_runs_in_its_own_process(tmp_path: Path) -> None:
    network = f"127.89.{16 * (uuid.uuid4().int % 16)}.0/20"  # a random /20 of our block: parallel runs never collide
    with LabProcess("bench-1000", network=network, base=tmp_path / "labs") as lab:
        assert len(lab.targets) == 1000 and len(set(lab.targets)) == 1000
        assert lab.state["listening"] >= 3000  # the camera port sets of 1,000 devices
        assert lab.state["pid"] != os.getpid()
        sample = {d["personality"]: d for d in lab.devices}
        for personality in ("hikvision-ds2cd-fixed", "dahua-ipc", "decoy-nginx"):
            assert http_get(sample[personality]["ip"], 80).startswith(b"HTTP/1.")
    assert not (tmp_path / "labs" / lab.instance / "state.json").exists()


@pytest.mark.netns
@pytest.mark.skipif(netns_available() is not None, reason=str(netns_available()))
def test_down_cleans_up_after_a_crashed_lab(tmp_path: Path) -> None:
    import signal

    code, out, err = lab_cli(
        tmp_path, "up", "--fleet", "mixed", "--mode", "netns", "--network", "10.80.10.0/24", "--json"
    )
    assert code == 0, err
    state = json.loads(out)
    os.kill(state["pid"], signal.SIGKILL)  # the lab we started, by its pid: it cannot clean up now
    try:
        os.waitpid(state["pid"], 0)
    except ChildProcessError:
        pass  # not our child (the CLI started it): it is reaped by init
    assert list_namespaces(state["prefix"])  # left behind by the crash
    code, out, err = lab_cli(tmp_path, "down", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert len(result["namespaces_removed"]) == len(state["targets"]) + 2
    assert list_namespaces(state["prefix"]) == []
