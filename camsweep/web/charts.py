"""Charts as server-rendered inline SVG: no JavaScript, no CDN, nothing fetched.

Each function takes counts and returns SVG markup whose every label is escaped
(device-supplied strings such as model names are untrusted).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from html import escape

from markupsafe import Markup

from db.repository import DeviceRecord

BAR_HEIGHT_PX = 22
LABEL_WIDTH_PX = 170
PLOT_WIDTH_PX = 320
MAX_BARS = 12
MAX_LABEL_CHARS = 26


def _label(text: str) -> str:
    text = text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"
    return escape(text)


def bar_chart(title: str, counts: Sequence[tuple[str, int]], css_class: str = "bar") -> Markup:
    """Horizontal bars, largest first; beyond ``MAX_BARS`` the rest are summed as "other"."""
    rows = sorted(counts, key=lambda kv: (-kv[1], kv[0]))
    if len(rows) > MAX_BARS:
        rest = sum(n for _, n in rows[MAX_BARS - 1 :])
        rows = [*rows[: MAX_BARS - 1], ("other", rest)]
    top = max((n for _, n in rows), default=0) or 1
    height = max(1, len(rows)) * BAR_HEIGHT_PX + 8
    width = LABEL_WIDTH_PX + PLOT_WIDTH_PX + 50
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    if not rows:
        parts.append('<text x="4" y="16" class="empty">no devices</text>')
    for i, (name, n) in enumerate(rows):
        y = i * BAR_HEIGHT_PX + 4
        w = max(1, round(PLOT_WIDTH_PX * n / top))
        parts.append(
            f'<text x="{LABEL_WIDTH_PX - 6}" y="{y + 15}" text-anchor="end">{_label(name)}</text>'
            f'<rect class="{escape(css_class)}" x="{LABEL_WIDTH_PX}" y="{y}" width="{w}" '
            f'height="{BAR_HEIGHT_PX - 6}"><title>{_label(name)}: {n}</title></rect>'
            f'<text x="{LABEL_WIDTH_PX + w + 4}" y="{y + 15}">{n}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def count_by(devices: Iterable[DeviceRecord], attr: str, missing: str = "unknown") -> list[tuple[str, int]]:
    counter = Counter(getattr(d, attr) or missing for d in devices)
    return list(counter.items())


def flagged_over_time(devices: Iterable[DeviceRecord]) -> list[tuple[str, int]]:
    """Cumulative count of policy-flagged devices by the day each was first seen."""
    per_day = Counter(
        d.first_seen.date().isoformat() for d in devices if d.policy_flags and d.first_seen is not None
    )
    total = 0
    out: list[tuple[str, int]] = []
    for day in sorted(per_day):
        total += per_day[day]
        out.append((day, total))
    return out


def line_chart(title: str, points: Sequence[tuple[str, int]]) -> Markup:
    """A step line of (label, value) points in order, e.g. flagged devices per day."""
    width, height, pad = 520, 180, 34
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    if not points:
        parts.append('<text x="4" y="16" class="empty">no flagged devices yet</text></svg>')
        return Markup("".join(parts))
    top = max(v for _, v in points) or 1
    step = (width - 2 * pad) / max(1, len(points) - 1)
    coords = [
        (pad + i * step, height - pad - (height - 2 * pad) * v / top) for i, (_, v) in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts.append(f'<polyline class="line" fill="none" points="{path}"/>')
    for (x, y), (label, v) in zip(coords, points, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{_label(label)}: {v}</title></circle>')
    parts.append(
        f'<text x="{pad}" y="{height - 8}">{_label(points[0][0])}</text>'
        f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">{_label(points[-1][0])}</text>'
        f'<text x="4" y="{pad}">{top}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def firmware_age(devices: Iterable[DeviceRecord], today: date) -> list[tuple[str, int]]:
    """Devices by how long ago their current firmware was first seen in the inventory.

    Release dates of firmware are not in the fingerprint data yet, so "age" is
    the age of the observation, bucketed; devices without a firmware are "unknown".
    """
    buckets = Counter[str]()
    for d in devices:
        if not d.firmware or d.first_seen is None:
            buckets["unknown"] += 1
            continue
        days = (today - d.first_seen.date()).days
        buckets["< 30 days" if days < 30 else "30-365 days" if days < 365 else "> 1 year"] += 1
    return list(buckets.items())
