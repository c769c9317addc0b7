"""Scan progress and the reporters that show it (silent, plain, rich).

The engine only updates a :class:`Progress`; a reporter decides how (and how
often) to show it.  Nothing here prints unless the front end asked for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Protocol


@dataclass(slots=True)
class Progress:
    """Counts a reporter shows: addresses done/total, devices found, rate, ETA."""

    total: int
    done: int = 0
    responsive: int = 0
    started: float = 0.0

    @property
    def devices(self) -> int:
        return self.responsive

    def elapsed_s(self, now: float | None = None) -> float:
        if not self.started:
            return 0.0
        return max(0.0, (time.monotonic() if now is None else now) - self.started)

    def rate(self, now: float | None = None) -> float:
        """Addresses finished per second so far."""
        elapsed = self.elapsed_s(now)
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta_s(self, now: float | None = None) -> float | None:
        """Seconds left at the rate so far; ``None`` before there is a rate."""
        rate = self.rate(now)
        if rate <= 0 or self.total <= 0:
            return None
        return max(0.0, (self.total - self.done) / rate)


ProgressCallback = Callable[[Progress], None]


class Reporter(Protocol):
    def update(self, progress: Progress) -> None: ...

    def close(self) -> None: ...


class SilentReporter:
    """Shows nothing (library use, JSON output, the worker)."""

    def update(self, progress: Progress) -> None:
        pass

    def close(self) -> None:
        pass


def _fmt_eta(eta: float | None) -> str:
    if eta is None:
        return "--:--"
    m, s = divmod(int(eta), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def describe(progress: Progress) -> str:
    """One line: ``done/total addresses, N devices, R/s, ETA``."""
    return (
        f"{progress.done}/{progress.total} addresses, {progress.devices} devices, "
        f"{progress.rate():.0f}/s, ETA {_fmt_eta(progress.eta_s())}"
    )


class PlainReporter:
    """A line every ``interval_s`` to a text stream (logs, non-terminals)."""

    def __init__(self, stream: IO[str], interval_s: float = 5.0) -> None:
        self.stream = stream
        self.interval_s = interval_s
        self._last: float | None = None
        self._progress: Progress | None = None

    def update(self, progress: Progress) -> None:
        self._progress = progress
        now = time.monotonic()
        if self._last is None or now - self._last >= self.interval_s:
            self._last = now
            self.stream.write(describe(progress) + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self._progress is not None:
            self.stream.write(describe(self._progress) + "\n")
            self.stream.flush()


class RichReporter:
    """A rich progress bar: done/total, devices found, rate, ETA."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(
            TextColumn("scanning"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[devices]} devices"),
            TextColumn("{task.fields[rate]:.0f}/s"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task = self.bar.add_task("scan", total=None, devices=0, rate=0.0)
        self.bar.start()

    def update(self, progress: Progress) -> None:
        self.bar.update(
            self.task,
            total=progress.total,
            completed=progress.done,
            devices=progress.devices,
            rate=progress.rate(),
        )

    def close(self) -> None:
        self.bar.stop()
