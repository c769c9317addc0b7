"""Scheduled scans: cron -> systemd translation, due jobs, locks, diffs, notices, end to end.

Peers are real and on loopback in the ops block (127.120-129): the demo lab as two sites, an
HTTP webhook receiver, an SMTP server (aiosmtpd), and systemd-analyze for the translation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiosmtpd.controller import Controller
from croniter import croniter

from camsweep import schedule
from camsweep.config import load_config, parse_config
from camsweep.lab import Lab, load_fleet
from db.repository import Inventory
from fingerprints.evidence import Evidence, HostReport, Identification, Observation, Status
from tests.helpers import run_cli


def _octet() -> int:
    return uuid.uuid4().int % 250 + 2


# -- real peers on loopback ----------------------------------------------------


class WebhookReceiver:
    """A real HTTP server that keeps every JSON body POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((f"127.120.{_octet()}.{_octet()}", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/camsweep"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def smtp() -> Iterator[tuple[str, int, Mailbox]]:
    mailbox = Mailbox()
    host = f"127.121.{_octet()}.{_octet()}"
    controller = Controller(mailbox, hostname=host, port=8025)
    controller.start()
    try:
        yield host, 8025, mailbox
    finally:
        controller.stop()


@pytest.fixture
def two_sites() -> Iterator[tuple[Lab, Lab]]:
    """The mini fleet (two Hikvision cameras, an nginx decoy) twice: site "hq" on 127.122.N.0/29, site "depot" on 127.123.M.0/29."""
    hq = Lab(load_fleet("mini", network=f"127.122.{_octet()}.0/29")).start()
    depot = Lab(load_fleet("mini", network=f"127.123.{_octet()}.0/29")).start()
    try:
        yield hq, depot
    finally:
        hq.stop()
        depot.stop()


def _network(lab: Lab) -> str:
    return lab.fleet.devices[0].ip.rsplit(".", 1)[0] + ".0/29"


def _write_config(path: Path, db_url: str, hq: str, depot: str, notify: str = "", extra: str = "") -> Path:
    path.write_text(
        f"""
[database]
url = "{db_url}"

[scan]
ports = [80]
rate_pps = 1000

[sites.hq]
networks = ["{hq}"]

[sites.depot]
networks = ["{depot}"]

[schedule]
timezone = "UTC"
{extra}
[[jobs]]
name = "nightly"
sites = ["hq", "depot"]
cron = "30 1 * * *"
{notify}
""",
        encoding="utf-8",
    )
    return path


def _runs(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


# -- cron -> systemd -------------------------------------------------------------

TRANSLATIONS = [
    ("30 1 * * *", ["*-*-* 01:30:00"]),
    ("*/15 * * * *", ["*-*-* *:00,15,30,45:00"]),
    ("0 9-17 * * 1-5", ["Mon..Fri *-*-* 09..17:00:00"]),
    ("0 3 * * 0", ["Sun *-*-* 03:00:00"]),
    ("0 3 * * 6,0", ["Sat,Sun *-*-* 03:00:00"]),
    ("5 4 1,15 * *", ["*-*-01,15 04:05:00"]),
    ("0 0 1 */3 *", ["*-01,04,07,10-01 00:00:00"]),
    ("0 2 13 * 5", ["Fri *-*-* 02:00:00", "*-*-13 02:00:00"]),  # cron: the 13th OR a Friday
]


@pytest.mark.parametrize(("cron", "expected"), TRANSLATIONS)
def test_cron_translates_to_oncalendar(cron: str, expected: list[str]) -> None:
    assert schedule.cron_to_oncalendar(cron) == expected
    assert schedule.cron_to_oncalendar(cron, "Europe/London")[0].endswith(" Europe/London")


def _systemd_elapses(calendars: list[str], count: int) -> list[datetime]:
    """The next ``count`` times systemd itself computes for these OnCalendar values (UTC)."""
    times: set[datetime] = set()
    for cal in calendars:
        out = subprocess.run(
            ["systemd-analyze", "calendar", f"--iterations={count}", cal],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "TZ": "UTC"},
            check=True,
        ).stdout
        for line in out.splitlines():
            key, _, value = line.strip().partition(": ")
            if key in ("Next elapse",) or key.startswith("Iter. #"):
                times.add(datetime.strptime(value.strip()[4:23], "%Y-%m-%d %H:%M:%S"))
    return sorted(times)[:count]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and not os.environ.get("CI"),
    reason="systemd-analyze not installed (Debian package systemd, scripts/debian-packages.txt)",
)
@pytest.mark.parametrize("cron", [c for c, _ in TRANSLATIONS])
def test_systemd_agrees_with_cron(cron: str) -> None:
    """systemd-analyze's own schedule for our OnCalendar lines equals croniter's for the cron line."""
    count = 12
    systemd_times = _systemd_elapses(schedule.cron_to_oncalendar(cron, "UTC"), count)
    assert len(systemd_times) == count
    # start croniter just before systemd's first elapse, so both look at the same window
    it = croniter(cron, systemd_times[0] - timedelta(seconds=1))
    assert [it.get_next(datetime) for _ in range(count)] == systemd_times


def test_special_cron_forms_are_refused_for_systemd() -> None:
    with pytest.raises(Exception, match="no systemd equivalent"):
        schedule.cron_to_oncalendar("0 0 L * *")


# -- due jobs --------------------------------------------------------------------


def test_last_cron_time_counts_the_exact_minute() -> None:
    at = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    assert schedule.last_cron_time("30 1 * * *", at) == at
    assert schedule.last_cron_time("30 1 * * *", at - timedelta(seconds=1)) == at - timedelta(days=1)


def test_show_cron_and_systemd_name_each_job(tmp_path: Path) -> None:
    cfg = _write_config(tmp_path / "c.toml", "sqlite:///x.db", "10.1.0.0/24", "10.2.0.0/24")
    r = run_cli(
        "schedule", "show", "--config", str(cfg), "--format", "cron", "--command", "/usr/bin/camsweep"
    )
    assert r.returncode == 0, r.stderr
    assert f"30 1 * * * /usr/bin/camsweep schedule run --config {cfg} --job nightly" in r.stdout
    r = run_cli(
        "schedule", "show", "--config", str(cfg), "--format", "systemd", "--command", "/usr/bin/camsweep"
    )
    assert "# /etc/systemd/system/camsweep-nightly.timer" in r.stdout
    assert "OnCalendar=*-*-* 01:30:00 UTC" in r.stdout and "Persistent=true" in r.stdout
    assert f"ExecStart=/usr/bin/camsweep schedule run --config {cfg} --job nightly" in r.stdout
    r = run_cli("schedule", "show", "--config", str(cfg), "--format", "yaml")
    assert r.returncode == 2 and "--format" in r.stderr


# -- end to end: the "done when" of the operations issue ---------------------------


def test_nightly_scans_of_two_sites_then_the_hikvision_dahua_spreadsheet(
    db_url: str,
    tmp_path: Path,
    two_sites: tuple[Lab, Lab],
    webhook: WebhookReceiver,
    smtp: tuple[str, int, Mailbox],
) -> None:
    hq, depot = two_sites
    smtp_host, smtp_port, mailbox = smtp
    notify = f'[jobs.notify]\nwebhook = "{webhook.url}"\nemail = ["officer@force.test"]\nwhen = "always"\n'
    extra = f'[smtp]\nhost = "{smtp_host}"\nport = {smtp_port}\nsender = "camsweep@force.test"\n'
    cfg = _write_config(tmp_path / "camsweep.toml", db_url, _network(hq), _network(depot), notify, extra)

    # the first night: both sites scanned, everything new
    r = run_cli("schedule", "run", "--config", str(cfg), "--once", "--now", "2026-12-01T01:35", "--json")
    assert r.returncode == 0, r.stderr
    [run] = _runs(r.stdout)
    assert run["job"] == "nightly" and run["status"] == "ok", run
    assert [s["site"] for s in run["sites"]] == ["hq", "depot"]
    for s in run["sites"]:
        assert s["status"] == "completed" and s["devices"] == 3
        assert s["previous_scan_id"] is None and s["diff"] == {"new": 3, "gone": 0, "changed": 0}
    assert [b["job"] for b in webhook.bodies] == ["nightly"]
    assert {s["site"] for s in webhook.bodies[0]["sites"]} == {"hq", "depot"}
    [(rcpt, raw)] = mailbox.messages
    mail = message_from_bytes(raw)
    assert rcpt == ["officer@force.test"] and mail["Subject"].startswith("camsweep nightly")

    # later the same night: nothing is due
    r = run_cli("schedule", "run", "--config", str(cfg), "--once", "--now", "2026-12-01T01:50", "--json")
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout
    r = run_cli("schedule", "run", "--config", str(cfg), "--once", "--now", "2026-12-01T01:50")
    assert "no job is due" in r.stdout

    # the next night the depot's devices are off: its diff says they are gone
    depot.stop()
    r = run_cli("schedule", "run", "--config", str(cfg), "--once", "--now", "2026-12-02T01:31")
    assert r.returncode == 0, r.stderr
    # for people: the diff's devices, one line each
    for device in depot.fleet.devices:
        assert f"gone    {device.ip} " in r.stdout, r.stdout
    assert "site depot: scan" in r.stdout and "3 gone" in r.stdout
    inv = Inventory(db_url)
    try:
        run2 = inv.actions("schedule.run")[-1].detail  # the run record holds what --json prints
    finally:
        inv.close()
    hq2, depot2 = run2["sites"]
    assert hq2["previous_scan_id"] == run["sites"][0]["scan_id"]
    assert hq2["diff"] == {"new": 0, "gone": 0, "changed": 0}
    assert depot2["devices"] == 0 and depot2["diff"]["gone"] == 3
    assert {g["ip"] for g in depot2["gone"]} == {d.ip for d in depot.fleet.devices}
    assert len(webhook.bodies) == 2

    r = run_cli("schedule", "show", "--config", str(cfg), "--now", "2026-12-02T01:40", "--format", "json")
    [status] = _runs(r.stdout)
    assert status["last_run"].startswith("2026-12-02T01:31") and status["due"] is False
    assert status["next_run"].startswith("2026-12-03T01:30")

    # the security officer's spreadsheet: every Hikvision- or Dahua-made device
    out = tmp_path / "hik-dahua.xlsx"
    r = run_cli(
        "export",
        "--config",
        str(cfg),
        "--manufacturer",
        "Hikvision,Dahua",
        "--format",
        "xlsx",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    sheet = openpyxl.load_workbook(out)["Devices"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    hik = {d.ip for lab in two_sites for d in lab.fleet.devices if d.personality.manufacturer == "Hikvision"}
    assert {r["ip"] for r in rows} == hik and len(rows) == 4
    assert {"firmware", "connectivity", "site", "brand", "manufacturer"} <= set(header)
    assert {r["site"] for r in rows} == {"hq", "depot"} and {r["connectivity"] for r in rows} == {"networked"}

    inv = Inventory(db_url)
    try:
        runs = inv.actions("schedule.run")
        assert [e.detail["status"] for e in runs] == ["ok", "ok"]
        assert all(e.detail["started_at"] and e.detail["finished_at"] for e in runs)
        assert [len(inv.actions(a)) for a in ("schedule.start", "export")] == [2, 1]
        assert len(inv.scans()) == 4
    finally:
        inv.close()


def test_a_running_job_is_not_started_twice(db_url: str, tmp_path: Path) -> None:
    cfg_path = _write_config(tmp_path / "c.toml", db_url, "127.124.1.0/29", "127.124.2.0/29")
    cfg = load_config(cfg_path)
    with schedule.job_lock(schedule.lock_path(cfg, db_url, "nightly")):
        r = run_cli("schedule", "run", "--config", str(cfg_path), "--now", "2026-12-01T01:35", "--json")
    assert r.returncode == 0, r.stderr
    [run] = _runs(r.stdout)
    assert run["status"] == "skipped" and "already running" in run["errors"][0]
    inv = Inventory(db_url)
    try:
        assert inv.scans() == [] and len(inv.actions("schedule.skipped")) == 1
    finally:
        inv.close()
    with pytest.raises(schedule.JobLocked):  # and in-process, the same lock refuses a second holder
        with schedule.job_lock(schedule.lock_path(cfg, db_url, "nightly")):
            with schedule.job_lock(schedule.lock_path(cfg, db_url, "nightly")):
                pass


def test_failed_notification_exits_3_and_is_recorded(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/inv.db"
    with WebhookReceiver(status=500) as hook:
        notify = f'[jobs.notify]\nwebhook = "{hook.url}"\nwhen = "always"\n'
        cfg = _write_config(tmp_path / "c.toml", db, "127.124.3.8/32", "127.124.3.9/32", notify)
        r = run_cli("schedule", "run", "--config", str(cfg), "--job", "nightly")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "notify-failed" in r.stdout and "answered 500" in r.stdout
    inv = Inventory(db)
    [entry] = inv.actions("schedule.run")
    inv.close()
    assert entry.detail["status"] == "notify-failed"
    # the webhook's path (where chat services put their token) is never printed or stored
    assert "/hooks/camsweep" not in json.dumps(entry.detail) and "/hooks/camsweep" not in r.stdout


def _flagged_host(inv: Inventory, site: str, ip: str, flags: tuple[str, ...]) -> int:
    scan = inv.begin_scan([ip], site=site)
    obs = Observation("http", ip, 80, Status.SUCCESS, [Evidence("http.server", "App-webs/", "http:80")], b"")
    ident = Identification(
        is_camera=True, brand="LTS", manufacturer="Hikvision", firmware="V5.5.0", policy_flags=flags
    )
    inv.record_host(scan, HostReport(ip, [obs], mac=f"44:19:b6:00:00:{ip.rsplit('.', 1)[1]}"), ident)
    inv.finish_scan(scan)
    return scan


def test_new_flagged_devices_are_mailed_and_posted(
    db_url: str,
    tmp_path: Path,
    webhook: WebhookReceiver,
    smtp: tuple[str, int, Mailbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, port, mailbox = smtp
    monkeypatch.setenv("CS_TEST_WEBHOOK_URL", webhook.url)  # a URL with a token stays out of the file
    cfg = parse_config(
        f"""
[sites.hq]
networks = ["10.9.0.0/24"]
[smtp]
host = "{host}"
port = {port}
[[jobs]]
name = "nightly"
site = "hq"
cron = "0 1 * * *"
[jobs.notify]
webhook_env = "CS_TEST_WEBHOOK_URL"
email = ["soc@force.test"]
""",
        tmp_path / "c.toml",
    )
    job = cfg.jobs["nightly"]
    inv = Inventory(db_url)
    try:
        runs = []
        for ip, flags in (("10.9.0.5", ()), ("10.9.0.5", ("NDAA-889",))):
            scan = _flagged_host(inv, "hq", ip, flags)
            site_run = schedule.SiteRun("hq", scan_id=scan, status="completed")
            site_run.diff = schedule._diff_previous(inv, "hq", scan)
            seen = schedule._devices_seen(inv, "hq", scan)
            site_run.flagged = [schedule._brief(r) for r in seen if r["policy_flags"]]
            changed = {c["id"] for c in site_run.diff.changed if "policy_flags" in c["changes"]}
            site_run.new_flagged = [f for f in site_run.flagged if f["id"] in changed]
            runs.append(schedule.JobRun("nightly", datetime.now(UTC), sites=[site_run]))
        first, second = runs
        assert not schedule._should_notify(job, first)  # nothing flagged yet
        assert second.sites[0].diff is not None and second.sites[0].diff.changed[0]["changes"][
            "policy_flags"
        ] == [
            [],
            ["NDAA-889"],
        ]
        assert schedule._should_notify(job, second)
        schedule._notify(cfg, job, second)
    finally:
        inv.close()
    assert second.errors == [] and len(second.notified) == 2
    assert second.notified[0].startswith("webhook http://127.120.") and "/hooks" not in second.notified[0]
    [body] = webhook.bodies
    assert body["sites"][0]["new_flagged"][0]["policy_flags"] == ["NDAA-889"]
    [(rcpt, raw)] = mailbox.messages
    text = message_from_bytes(raw).get_payload()[0].get_payload()
    assert rcpt == ["soc@force.test"] and "NEW 10.9.0.5 LTS made by Hikvision" in text and "V5.5.0" in text


# -- `camsweep scan` with the configuration ----------------------------------------


def test_scan_uses_the_configured_sites_and_refuses_targets_outside(
    tmp_path: Path, two_sites: tuple[Lab, Lab]
) -> None:
    hq, depot = two_sites
    db = f"sqlite:///{tmp_path}/inv.db"
    cfg = _write_config(tmp_path / "c.toml", db, _network(hq), _network(depot))
    r = run_cli("scan", "--config", str(cfg), "--site", "hq", "--json")
    assert r.returncode == 0, r.stderr
    ips = {row["ip"] for row in _runs(r.stdout) if "ip" in row}
    assert ips == {d.ip for d in hq.fleet.devices}
    r = run_cli("scan", depot.fleet.devices[0].ip, "--config", str(cfg), "--site", "hq")
    assert r.returncode == 2 and "outside the networks of site 'hq'" in r.stderr
    r = run_cli("scan", "--config", str(cfg), "--site", "nowhere")
    assert r.returncode == 2 and "no site 'nowhere'" in r.stderr
    r = run_cli("scan", "--fail-on", "camera", "--json", env={"CAMSWEEP_CONFIG": str(cfg)})
    assert r.returncode == 1 and "--fail-on camera: 4 device(s)" in r.stderr
    assert {row["ip"] for row in _runs(r.stdout) if "ip" in row} == {
        d.ip for lab in two_sites for d in lab.fleet.devices
    }
    r = run_cli("scan", "--fail-on", "nonsense", "--config", str(cfg))
    assert r.returncode == 2 and "--fail-on" in r.stderr
