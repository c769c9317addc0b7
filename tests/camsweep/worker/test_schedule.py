"""Beat's schedule from configured jobs: the right task, the site's queue, the same cron times."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter

from camsweep.worker.schedule import ScheduledJob, beat_schedule, jobs_from_config, parse_cron
from fingerprints.errors import ConfigError

START = datetime(2026, 11, 30, 9, 47, tzinfo=UTC)


def _next_fire(expression: str, after: datetime) -> datetime:
    """The next minute Celery's crontab says is due, found by walking minutes."""
    schedule = parse_cron(expression)
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(60 * 24 * 366):
        if (
            t.minute in schedule.minute
            and t.hour in schedule.hour
            and t.day in schedule.day_of_month
            and t.month in schedule.month_of_year
            and t.isoweekday() % 7 in schedule.day_of_week
        ):
            return t
        t += timedelta(minutes=1)
    raise AssertionError(f"{expression} never fires")


@pytest.mark.parametrize(
    "expression",
    ["30 2 * * 1-5", "*/15 * * * *", "0 0 1 * *", "5 4 * * 0", "0 22 * 1,7 6", "0 */6 * * *"],
)
def test_celery_crontab_fires_when_cron_does(expression: str) -> None:
    # croniter is the reference implementation of crontab(5) semantics here.
    expected = croniter(expression, START)
    t = START
    for _ in range(3):
        want = expected.get_next(datetime)
        got = _next_fire(expression, t)
        assert got == want, expression
        t = got


def test_jobs_become_entries_routed_to_their_site_queue() -> None:
    jobs = [
        ScheduledJob("hq-nightly", "hq", "30 2 * * *", ["10.1.0.0/24"], site_networks=["10.1.0.0/16"]),
        ScheduledJob("depot-weekly", "depot", "0 3 * * 0", ["10.2.0.0/24", "10.2.1.5"], chunk_size=64),
    ]
    schedule = beat_schedule(jobs)
    assert sorted(schedule) == ["depot-weekly", "hq-nightly"]
    hq = schedule["hq-nightly"]
    assert hq["task"] == "camsweep.worker.scheduled_scan"
    assert hq["options"] == {"queue": "camsweep.site.hq"}
    assert hq["kwargs"] == {
        "job": "hq-nightly",
        "site": "hq",
        "targets": ["10.1.0.0/24"],
        "site_networks": ["10.1.0.0/16"],
        "chunk_size": 256,
        "exclude": [],
        "ports": None,
        "rate_pps": None,
    }
    depot = schedule["depot-weekly"]
    assert depot["options"] == {"queue": "camsweep.site.depot"}
    assert depot["kwargs"]["chunk_size"] == 64
    assert depot["schedule"].day_of_week == {0}
    assert depot["schedule"].hour == {3}


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ([ScheduledJob("a", "hq", "30 2 * *", ["10.0.0.1"])], "five fields"),
        ([ScheduledJob("a", "hq", "61 2 * * *", ["10.0.0.1"])], "job 'a'.*invalid"),
        ([ScheduledJob("a", "hq", "* * * * *", [])], "no targets"),
        (
            [
                ScheduledJob("a", "hq", "* * * * *", ["10.0.0.1"]),
                ScheduledJob("a", "x", "* * * * *", ["10.0.0.2"]),
            ],
            "defined twice",
        ),
    ],
)
def test_bad_jobs_are_clear_errors(jobs: list[ScheduledJob], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        beat_schedule(jobs)


@dataclass(frozen=True)
class _Site:
    """Shaped like ``camsweep.config.SiteConfig`` (the ops loader is not on this branch)."""

    networks: tuple[ipaddress.IPv4Network, ...]
    exclude: tuple[ipaddress.IPv4Network, ...] = ()
    ports: tuple[int, ...] = (80, 554)
    rate_pps: float = 50.0


@dataclass(frozen=True)
class _Job:
    name: str
    sites: tuple[str, ...]
    cron: str


@dataclass(frozen=True)
class _Config:
    sites: dict[str, _Site]
    jobs: dict[str, _Job]


def test_configured_jobs_become_one_entry_per_site() -> None:
    config = _Config(
        sites={
            "hq": _Site((ipaddress.IPv4Network("10.20.0.0/24"),), (ipaddress.IPv4Network("10.20.0.8/29"),)),
            "depot": _Site((ipaddress.IPv4Network("10.40.16.0/24"),)),
        },
        jobs={"nightly": _Job("nightly", ("hq", "depot"), "30 1 * * *")},
    )
    schedule = beat_schedule(jobs_from_config(config))
    assert sorted(schedule) == ["nightly@depot", "nightly@hq"]
    hq = schedule["nightly@hq"]
    assert hq["options"] == {"queue": "camsweep.site.hq"}
    assert hq["kwargs"]["targets"] == ["10.20.0.0/24"]
    assert hq["kwargs"]["site_networks"] == ["10.20.0.0/24"]
    assert hq["kwargs"]["exclude"] == ["10.20.0.8/29"]
    assert hq["kwargs"]["ports"] == [80, 554]
    assert hq["kwargs"]["rate_pps"] == 50.0
    assert (hq["schedule"].minute, hq["schedule"].hour) == ({30}, {1})
