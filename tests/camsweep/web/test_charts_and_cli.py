"""Charts are well-formed SVG with escaped labels; `camsweep users` and `camsweep serve` end to end."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from datetime import date, datetime

import httpx
from defusedxml import ElementTree

from camsweep.web import charts
from db.repository import DeviceRecord
from tests.camsweep.web.conftest import LiveServer, web_address
from tests.camsweep.web.test_api import csrf_of, login
from tests.helpers import REPO_ROOT, run_cli

SERVE_START_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 10.0


def device(n: int, manufacturer: str | None, flags: list[str], first_seen: datetime) -> DeviceRecord:
    return DeviceRecord(
        id=n,
        ip=f"10.0.0.{n}",
        mac=None,
        brand=manufacturer,
        manufacturer=manufacturer,
        model=None,
        firmware="V5.5.0" if n % 2 else None,
        category="camera",
        connectivity="networked",
        policy_flags=flags,
        confidence=0.5,
        site="hq",
        first_seen=first_seen,
        last_seen=first_seen,
    )


def test_charts_escape_hostile_labels_and_count_right() -> None:
    hostile = '</text><script>alert(1)</script>"&'
    devices = [
        device(1, "Hikvision", ["NDAA-889"], datetime(2026, 1, 1)),
        device(2, "Hikvision", [], datetime(2026, 1, 2)),
        device(3, hostile, ["NDAA-889"], datetime(2026, 1, 3)),
        device(4, None, [], datetime(2026, 1, 3)),
    ]
    svg = charts.bar_chart("by maker", charts.count_by(devices, "manufacturer"))
    tree = ElementTree.fromstring(str(svg))  # well-formed XML, or this raises
    labels = [t.text for t in tree.iter("{http://www.w3.org/2000/svg}text")]
    assert labels[:2] == ["Hikvision", "2"]
    assert "<script>" not in str(svg)
    assert any(label and label.startswith("</text><script>") for label in labels)
    assert sorted(charts.count_by(devices, "manufacturer"))[-1] == ("unknown", 1)
    assert charts.flagged_over_time(devices) == [("2026-01-01", 1), ("2026-01-03", 2)]
    ElementTree.fromstring(str(charts.line_chart("flagged", charts.flagged_over_time(devices))))
    ages = dict(charts.firmware_age(devices, date(2026, 3, 1)))
    assert ages == {"30-365 days": 2, "unknown": 2}


def test_the_charts_page_shows_every_chart(live_server: LiveServer) -> None:
    with login(live_server, "audrey") as c:
        page = c.get("/charts").text
    assert page.count("<svg") == 6
    for caption in ("Who really made them", "Networked vs standalone", "Policy-flagged devices over time"):
        assert caption in page
    assert "<title>Dahua: 1</title>" in page


def test_users_add_and_serve_from_the_real_cli(tmp_path: object) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "CAMSWEEP_WEB_SECRET": "cli-test-secret"}

    def users_add(name: str, role: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "camsweep",
                "users",
                "add",
                name,
                "--role",
                role,
                "--password-stdin",
                "--db",
                db,
            ],
            input=password + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    added = users_add("olga", "officer", "officer-pass-456")
    assert added.returncode == 0, added.stderr
    assert "added olga (officer)" in added.stderr
    dup = users_add("olga", "admin", "another-pass-789")
    assert dup.returncode == 2 and "user 'olga' already exists" in dup.stderr
    bad_role = users_add("x", "root", "long-enough-pass")
    assert bad_role.returncode == 2 and "not one of: auditor, officer, admin" in bad_role.stderr
    token = run_cli("users", "token", "olga", "--db", db)
    assert token.returncode == 0 and re.fullmatch(r"cst_[A-Za-z0-9_-]{40,}\n", token.stdout)

    host = web_address()
    with socket_port(host) as port:
        proc = subprocess.Popen(
            [sys.executable, "-m", "camsweep", "serve", "--db", db, "--host", host, "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        base = f"http://{host}:{port}"
        with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT_S, follow_redirects=True) as c:
            wait_until_up(c, proc)
            r = c.get("/api/whoami", headers={"Authorization": f"Bearer {token.stdout.strip()}"})
            assert r.json() == {
                "name": "olga",
                "role": "officer",
                "permissions": ["annotate", "export", "read"],
            }
            form = c.get("/login")
            r = c.post(
                "/login",
                data={"username": "olga", "password": "officer-pass-456", "csrf_token": csrf_of(form.text)},
            )
            assert r.status_code == 200 and "Inventory" in r.text  # followed the redirect
    finally:
        proc.terminate()
        proc.communicate(timeout=SERVE_START_TIMEOUT_S)
    listed = run_cli("users", "list", "--db", db)
    assert "olga" in listed.stdout and "officer" in listed.stdout


class socket_port:
    """Find a free port on ``host`` (bind port 0, read it, release it for the server)."""

    def __init__(self, host: str) -> None:
        self._sock = socket.socket()
        self._sock.bind((host, 0))

    def __enter__(self) -> int:
        return int(self._sock.getsockname()[1])

    def __exit__(self, *_exc: object) -> None:
        self._sock.close()


def wait_until_up(c: httpx.Client, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + SERVE_START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            c.get("/login")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("camsweep serve did not answer")
