"""Fixtures for the worker tests: real brokers, real `celery worker` processes, a lab fleet.

Every test run uses its own site name, hence its own queue
(``camsweep.site.<unique>``), so parallel runs on the shared brokers never
take each other's messages.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from kombu import Connection

from camsweep.worker import site_queue
from tests.helpers import REPO_ROOT

BROKERS = {
    "redis": os.environ.get("CAMSWEEP_TEST_REDIS", "redis://127.0.0.1:6379/0"),
    "rabbitmq": os.environ.get("CAMSWEEP_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//"),
}
#: Redis redelivers an unacknowledged chunk only after the visibility timeout,
#: at its next restore sweep: both short here so the kill test does not wait
#: the production hour.
TEST_VISIBILITY_TIMEOUT_S = 8.0
TEST_RESTORE_INTERVAL_S = 1
#: Bound on waiting for a worker's "ready" line.
READY_TIMEOUT_S = 120.0
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


@pytest.fixture
def broker_env(site: str, broker_url: str) -> Iterator[dict[str, str]]:
    """Environment for every process of one test: its own Redis key prefix, short redelivery.

    Afterwards the test's queue (RabbitMQ) or keys (Redis) are removed from the shared broker.
    """
    options = {
        "visibility_timeout": TEST_VISIBILITY_TIMEOUT_S,
        "unacked_restore_interval": TEST_RESTORE_INTERVAL_S,
        "unacked_restore_throttle": 1,
        # Redis: every key (queues, the unacked index) under this test's own prefix,
        # so restoring "old" unacked messages never touches anyone else's.
        "global_keyprefix": f"camsweep-test-{site}:",
    }
    yield {"CAMSWEEP_BROKER_TRANSPORT_OPTIONS": json.dumps(options)}
    if broker_url.startswith("redis"):
        client = redis.Redis.from_url(broker_url, socket_timeout=5)
        for key in client.scan_iter(match=f"{options['global_keyprefix']}*"):
            client.delete(key)
        client.close()
    else:
        with Connection(broker_url, connect_timeout=5) as conn:
            conn.default_channel.queue_delete(site_queue(site))


class WorkerProcess:
    """One `camsweep worker run` process (Celery replaces it in place), in its own process group."""

    def __init__(
        self,
        name: str,
        site: str,
        db_url: str,
        broker_url: str,
        log: Path,
        pool: str,
        extra_env: dict[str, str],
        args: tuple[str, ...] = (),
    ) -> None:
        self.name = f"{name}@localhost"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            "CAMSWEEP_DB": db_url,
            "CAMSWEEP_BROKER_URL": broker_url,
            **extra_env,
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
                *args,
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
        """Cold shutdown (SIGQUIT): the test is over, nothing in flight matters any more."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGQUIT)
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        self._log_file.close()

    def wait_ready(self) -> None:
        """Until Celery logs "<name> ready." (bounded); fails with the log if the worker exits."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if f"{self.name} ready." in self.log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.output()}")
            time.sleep(0.1)
        raise AssertionError(f"worker {self.name} not ready after {READY_TIMEOUT_S}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def start_worker(tmp_path: Path, broker_env: dict[str, str]) -> Iterator[object]:
    """``start_worker(name, site, db_url, broker_url, pool=..., args=(...))``; all stopped afterwards.

    ``args`` are more ``camsweep worker run`` options (e.g. ``--config FILE``).
    """
    started: list[WorkerProcess] = []

    def start(
        name: str, site: str, db_url: str, broker_url: str, pool: str = "prefork", args: tuple[str, ...] = ()
    ) -> WorkerProcess:
        w = WorkerProcess(name, site, db_url, broker_url, tmp_path / f"{name}.log", pool, broker_env, args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
