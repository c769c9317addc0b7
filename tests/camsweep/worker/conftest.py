"""Fixtures for the worker tests: real brokers, real `celery worker` processes, a lab fleet.

Every test run uses its own site name, hence its own queue
(``camsweep.site.<unique>``), so parallel runs on the shared brokers never
take each other's messages.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import REPO_ROOT

BROKERS = {
    "redis": os.environ.get("CAMSWEEP_TEST_REDIS", "redis://127.0.0.1:6379/0"),
    "rabbitmq": os.environ.get("CAMSWEEP_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//"),
}
#: Redis redelivers an unacknowledged chunk only after the visibility timeout;
#: short here so the kill test does not wait the production hour.
TEST_VISIBILITY_TIMEOUT_S = 3.0
#: Bound on how long a worker gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 20.0


def _reachable(url: str) -> str | None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2.0):
            return None
    except OSError as exc:
        return f"broker {url} not reachable: {exc}"


@pytest.fixture(params=sorted(BROKERS))
def broker_url(request: pytest.FixtureRequest) -> str:
    url = BROKERS[request.param]
    reason = _reachable(url)
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def site() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


class WorkerProcess:
    """One `camsweep worker run` process (Celery replaces it in place), in its own process group."""

    def __init__(self, name: str, site: str, db_url: str, broker_url: str, log: Path, pool: str) -> None:
        self.name = f"{name}@localhost"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            "CAMSWEEP_DB": db_url,
            "CAMSWEEP_BROKER_URL": broker_url,
            "CAMSWEEP_BROKER_VISIBILITY_TIMEOUT_S": str(TEST_VISIBILITY_TIMEOUT_S),
        }
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "camsweep",
                "worker",
                "run",
                "--site",
                site,
                "--name",
                self.name,
                "--pool",
                pool,
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool children die with it
        )

    def kill(self) -> None:
        """SIGKILL the worker and its pool children: no shutdown, no acknowledgement."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        self._log_file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[object]:
    """``start_worker(name, site, db_url, broker_url, pool=...)``; every worker is stopped afterwards."""
    started: list[WorkerProcess] = []

    def start(name: str, site: str, db_url: str, broker_url: str, pool: str = "prefork") -> WorkerProcess:
        w = WorkerProcess(name, site, db_url, broker_url, tmp_path / f"{name}.log", pool)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
