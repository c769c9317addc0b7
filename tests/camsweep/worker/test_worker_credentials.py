"""Per-site ONVIF credentials held by the worker host, never carried by the broker.

A real ``camsweep worker run --config FILE`` whose configured site names a
credentials file (the format of ``camsweep scan --credentials``) scans the lab's
mini fleet; the lab's cameras tell their firmware only to ONVIF callers with
the lab account, so a recorded firmware proves the worker used it.  The chunk
message is read raw off the broker queue before any worker takes it: it names
the site and holds no password.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from camsweep import api
from camsweep.lab import Lab, load_fleet
from camsweep.worker import site_queue
from camsweep.worker.app import transport_options_from_env
from db.repository import Inventory
from scanner.targets import Scope

LAB_PASSWORD = "Lab-Pass-2024"
#: Bounds on the waits (when the test gives up, not speed claims).
MESSAGE_TIMEOUT_S = 30.0
SCAN_DONE_TIMEOUT_S = 180.0


def _peek(broker_url: str, queue: str) -> tuple[bytes, dict[str, Any]]:
    """The raw body and headers of the first message on ``queue``, put back afterwards."""
    with Connection(broker_url, transport_options=transport_options_from_env(), connect_timeout=5) as conn:
        channel = conn.channel()
        deadline = time.monotonic() + MESSAGE_TIMEOUT_S
        while (got := channel.basic_get(queue, no_ack=False)) is None:
            assert time.monotonic() < deadline, f"no message on {queue}"
            time.sleep(0.1)
        # py-amqp hands its own message type; Redis (kombu's virtual transport) a kombu Message.
        message = got if hasattr(got, "requeue") else channel.message_to_python(got)
        body = message.body  # py-amqp decodes a utf-8 body to str; Redis hands bytes
        raw = body.encode() if isinstance(body, str) else bytes(body)
        headers = dict(message.headers)
        message.requeue()
        channel.close()
    return raw, headers


def test_a_worker_scans_with_the_site_credentials_it_holds(
    tmp_path: Path,
    pg_url: str,
    broker_url: str,
    site: str,
    broker_env: dict[str, str],
    start_worker: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rnd = uuid.uuid4().int
    net = f"127.{140 + rnd % 10}.{(rnd >> 8) % 256}.0/29"
    fleet = load_fleet("mini", network=net)
    assert fleet.devices[0].credentials == ("admin", LAB_PASSWORD)
    creds = tmp_path / "onvif.yaml"
    creds.write_text(f"sites:\n  {site}: {{username: admin, password: {LAB_PASSWORD}}}\n", encoding="utf-8")
    config = tmp_path / "camsweep.toml"
    config.write_text(
        f'[sites.{site}]\nnetworks = ["{net}"]\ncredentials = {{ file = "{creds.name}" }}\n', encoding="utf-8"
    )
    for key, value in broker_env.items():
        monkeypatch.setenv(key, value)
    inventory = Inventory(pg_url)
    with Lab(fleet):
        request = api.ScanRequest(targets=[net], site=site, ports=(80,), scope=Scope(), operator="test")
        submitted = api.submit_site_scan(request, pg_url, broker_url)
        body, headers = _peek(broker_url, site_queue(site))
        _args, kwargs, _embed = json.loads(body)
        assert kwargs["site"] == site and kwargs["scan_id"] == submitted.scan_id
        sent = body + json.dumps(headers, default=str).encode()
        assert LAB_PASSWORD.encode() not in sent and b"password" not in sent.lower()

        worker = start_worker("creds", site, pg_url, broker_url, pool="solo", args=("--config", str(config)))
        deadline = time.monotonic() + SCAN_DONE_TIMEOUT_S
        while inventory.get_scan(submitted.scan_id).status == "running":
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.2)
    assert inventory.get_scan(submitted.scan_id).status == "completed", worker.output()
    firmware = {d.ip: d.firmware for d in inventory.devices() if d.site == site}
    for device in fleet.devices:
        assert firmware[device.ip] == device.truth["firmware"], (device.ip, firmware)
    assert any(firmware.values()), "firmware needs the lab account: the worker used it"
    log = worker.output()
    assert f"ONVIF credentials: site {site!r} of {config}" in log
    assert LAB_PASSWORD not in log
    inventory.close()


def test_credentials_are_found_where_scan_finds_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from camsweep.worker.credentials import credentials_for_site

    for var in ("CAMSWEEP_CREDENTIALS", "CAMSWEEP_CONFIG", "CAMSWEEP_ONVIF_USER", "CAMSWEEP_ONVIF_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./camsweep.toml
    assert credentials_for_site("hq") is None
    monkeypatch.setenv("CAMSWEEP_ONVIF_USER", "from-env")
    monkeypatch.setenv("CAMSWEEP_ONVIF_PASSWORD", "pw-env")
    assert getattr(credentials_for_site("hq"), "username", None) == "from-env"
    config = tmp_path / "camsweep.toml"
    config.write_text(
        '[sites.hq]\nnetworks = ["10.20.0.0/24"]\n'
        'credentials = { username_env = "HQ_USER", password_env = "HQ_PASSWORD" }\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CAMSWEEP_CONFIG", str(config))
    monkeypatch.setenv("HQ_USER", "from-config")
    monkeypatch.setenv("HQ_PASSWORD", "pw-config")
    assert getattr(credentials_for_site("hq"), "username", None) == "from-config"
    assert getattr(credentials_for_site("elsewhere"), "username", None) == "from-env"
    file = tmp_path / "creds.yaml"
    file.write_text("sites:\n  hq: {username: from-file, password: pw-file}\n", encoding="utf-8")
    monkeypatch.setenv("CAMSWEEP_CREDENTIALS", str(file))
    found = credentials_for_site("hq")
    assert found is not None and (found.username, found.password.reveal()) == ("from-file", "pw-file")
    assert credentials_for_site("elsewhere") is None  # the file has no entry for it


def test_a_chunk_naming_another_site_is_refused_before_any_packet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from camsweep.worker.chunks import plan_chunks
    from camsweep.worker.store import ChunkStore
    from camsweep.worker.tasks import scan_chunk
    from fingerprints.errors import ConfigError
    from scanner.targets import parse_targets

    db_url = f"sqlite:///{tmp_path}/inv.db"
    monkeypatch.setenv("CAMSWEEP_DB", db_url)
    inventory = Inventory(db_url)
    store = ChunkStore(inventory)
    chunks = list(plan_chunks(parse_targets(["127.141.250.0/30"]), Scope(), chunk_size=256))
    scan_id = inventory.begin_scan(["127.141.250.0/30"], site="hq", total=4)
    store.create(scan_id, chunks)
    message = {"first": "127.141.250.0", "last": "127.141.250.3", "addresses": 4, "ports": [80], "limits": {}}
    with pytest.raises(ConfigError, match="names site 'branch', but scan .* is of site 'hq'"):
        scan_chunk(scan_id=scan_id, idx=0, exclude=[], site="branch", **message)
    (chunk,) = store.chunks(scan_id)
    assert chunk.status == "failed" and chunk.hosts == 0
    inventory.close()


def test_worker_run_refuses_a_broken_credentials_file_before_starting(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    bad = tmp_path / "creds.yaml"
    bad.write_text("username: admin\npassword: [Zq-secret-9\n", encoding="utf-8")
    r = run_cli(
        "worker", "run", "--site", "hq", "--credentials", str(bad), "--broker", "redis://127.0.0.1:1/0"
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"credentials file {bad}" in r.stderr and "Zq-secret-9" not in r.stdout + r.stderr
