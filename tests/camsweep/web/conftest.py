"""Fixtures of the dashboard tests: a seeded inventory, accounts, a real uvicorn server.

The server listens on a random address of the web block (127.130-139.x.x) and
port 0, in a thread of the test process: real HTTP over real sockets.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from camsweep.web import create_app
from camsweep.web.accounts import Accounts
from db.repository import Inventory
from fingerprints.evidence import HostReport, Identification, Observation, Status
from fingerprints.matcher import identify

SERVER_START_TIMEOUT_S = 20.0
SERVER_STOP_TIMEOUT_S = 20.0

PASSWORDS = {"ada": "admin-pass-123", "olivia": "officer-pass-123", "audrey": "auditor-pass-123"}
ROLES = {"ada": "admin", "olivia": "officer", "audrey": "auditor"}


def _http(ip: str, port: int, server: str, realm: str | None, title: str) -> Observation:
    obs = Observation("http", ip, port, Status.AUTH_REQUIRED if realm else Status.SUCCESS)
    obs.add("http.server", server)
    obs.add("http.realm", realm)
    obs.add("http.title", title)
    head = f"HTTP/1.1 401 Unauthorized\r\nServer: {server}\r\n"
    if realm:
        head += f'WWW-Authenticate: Digest realm="{realm}", qop="auth"\r\n'
    obs.raw = (head + "\r\n").encode()
    return obs


def seed(url: str) -> dict[str, int]:
    """A small inventory: two Hikvision cameras, one Dahua-made Amcrest, one plain web server.

    The Hikvision ones go through the real matcher (App-webs/ banner); the Amcrest
    identification is written out by hand (as an operator import would carry it).
    """
    inv = Inventory(url)
    ids: dict[str, int] = {}
    try:
        scan = inv.begin_scan(["10.20.0.0/24"], site="hq", operator="seed", total=256)
        for ip, mac in (("10.20.0.11", "44:19:b6:00:00:11"), ("10.20.0.12", "44:19:b6:00:00:12")):
            report = HostReport(ip, [_http(ip, 80, "App-webs/", None, "")], mac=mac)
            ids[ip] = inv.record_host(scan, report, identify(report.evidence))
        amcrest = HostReport(
            "10.20.0.21",
            [
                Observation("tcp", "10.20.0.21", 37777, Status.SUCCESS),
                _http("10.20.0.21", 80, "Webs", "Login to 9C0A2B3D4E5F", "WEB SERVICE"),
            ],
            mac="9c:8e:cd:00:00:21",
        )
        ids["amcrest"] = inv.record_host(
            scan,
            amcrest,
            Identification(
                is_camera=True,
                brand="Amcrest",
                manufacturer="Dahua",
                model="IP4M-1041B",
                firmware="V2.620.00AC000.3.R",
                serial="9C0A2B3D4E5F",
                category="ptz",
                confidence=0.9,
                policy_flags=("NDAA-889",),
                explanation=("Amcrest is a Dahua OEM brand",),
            ),
        )
        web = HostReport("10.20.0.30", [_http("10.20.0.30", 80, "nginx/1.22.1", None, "Welcome")])
        ids["nginx"] = inv.record_host(scan, web, identify(web.evidence))
        inv.finish_scan(scan, "completed", done=256)
        accounts = Accounts(inv)
        for name, role in ROLES.items():
            accounts.add_user(name, role, PASSWORDS[name])
    finally:
        inv.close()
    return ids


def web_address() -> str:
    return f"127.{random.randint(130, 139)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@dataclass
class LiveServer:
    url: str
    db_url: str
    ids: dict[str, int]


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/web.db"


def _serve(db_url: str) -> Iterator[LiveServer]:
    ids = seed(db_url)
    app = create_app(db_url, secret="test-secret-not-for-production")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((web_address(), 0))
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(int(SERVER_START_TIMEOUT_S / 0.05)):
        if server.started:
            started.set()
            break
        if not thread.is_alive():
            break
        started.wait(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield LiveServer(f"http://{host}:{port}", db_url, ids)
    finally:
        server.should_exit = True
        thread.join(SERVER_STOP_TIMEOUT_S)
        sock.close()


@pytest.fixture
def live_server(db_url: str) -> Iterator[LiveServer]:
    """The dashboard over a seeded inventory, on SQLite and on PostgreSQL."""
    yield from _serve(db_url)


@pytest.fixture
def sqlite_server(sqlite_url: str) -> Iterator[LiveServer]:
    """The dashboard over a seeded SQLite inventory (browser tests: one backend is enough)."""
    yield from _serve(sqlite_url)
