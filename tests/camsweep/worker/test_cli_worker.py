"""`camsweep worker` refuses bad input clearly, before anything is stored or sent."""

from __future__ import annotations

import socket

from db.repository import Inventory
from tests.helpers import run_cli


def _closed_port() -> int:
    # A port in the worker block that nothing listens on: bind, note it, close.
    with socket.socket() as s:
        s.bind(("127.140.0.1", 0))
        return int(s.getsockname()[1])


def test_public_targets_are_refused_before_a_scan_is_created(pg_url: str) -> None:
    result = run_cli(
        "worker",
        "submit",
        "8.8.8.0/24",
        "--site",
        "hq",
        "--db",
        pg_url,
        "--broker",
        "redis://127.140.0.1:1/0",
    )
    assert result.returncode == 2
    assert "public address space" in result.stderr
    inventory = Inventory(pg_url)
    assert inventory.scans() == []
    inventory.close()


def test_an_unreachable_broker_is_a_clear_error_and_the_scan_is_marked_failed(pg_url: str) -> None:
    broker = f"redis://127.140.0.1:{_closed_port()}/0"
    result = run_cli("worker", "submit", "127.140.9.0/30", "--site", "hq", "--db", pg_url, "--broker", broker)
    assert result.returncode == 2, result.stdout
    assert "cannot publish scan 1 to broker queue camsweep.site.hq" in " ".join(result.stderr.split())
    inventory = Inventory(pg_url)
    assert [(s.id, s.status) for s in inventory.scans()] == [(1, "failed")]
    inventory.close()


def test_status_of_a_scan_without_chunks_says_so(pg_url: str) -> None:
    result = run_cli("worker", "status", "42", "--db", pg_url)
    assert result.returncode == 1
    assert "has no chunks" in result.stderr


def test_bad_exclusions_and_pool_are_usage_errors() -> None:
    result = run_cli("worker", "submit", "127.140.9.0/30", "--site", "hq", "--exclude", "nonsense")
    assert result.returncode == 2
    assert "--exclude" in result.stderr
    result = run_cli("worker", "run", "--site", "hq", "--pool", "threads")
    assert result.returncode == 2
    assert "prefork or solo" in " ".join(result.stderr.split())
