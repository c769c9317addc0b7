"""Render an audit report as HTML (inline SVG charts, no external assets), Markdown and JSON.

Everything that came from a device (banners, models, firmware strings) is
untrusted: Jinja2 autoescapes it in HTML, SVG labels are escaped by hand, and
Markdown cells escape the characters that would break a table or inject HTML.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from camsweep.audit.report import CONTRADICTED, AuditReport, DeviceRef, Finding

#: Devices listed per finding in HTML and Markdown (JSON has them all).
MAX_DEVICES_SHOWN = 50
CONNECTIVITY_COLOURS = {
    "networked": "#2b6cb0",
    "recorder-attached": "#6b46c1",
    "conflict": "#c53030",
    "standalone": "#2f855a",
}
FIRMWARE_COLOURS = {"current": "#2f855a", "behind": "#c05621", "unknown": "#a0aec0"}
VERDICT_COLOURS = {"consistent": "#2f855a", "contradicted": "#c53030", "unverifiable": "#975a16"}


def to_json(report: AuditReport) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=False, default=str) + "\n"


def _svg_text(
    x: float, y: float, text: str, anchor: str = "start", size: int = 12, fill: str = "#1a202c"
) -> str:
    return (
        f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">'
        f"{escape(text[:40])}</text>"
    )


def heatmap_svg(data: dict[str, dict[str, int]], concern: dict[str, list[str]]) -> Markup:
    """Manufacturers (rows) × technology (columns), cell shade by count; makers with concerns in red."""
    if not data:
        return Markup("<p>No surveillance devices in the inventory.</p>")
    columns = sorted({tech for row in data.values() for tech in row})
    cell_w, cell_h, left, top = 120, 26, 190, 40
    peak = max(n for row in data.values() for n in row.values())
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{left + cell_w * len(columns) + 10}" '
        f'height="{top + cell_h * len(data) + 10}" aria-label="manufacturers by technology">'
    ]
    for j, tech in enumerate(columns):
        parts.append(_svg_text(left + cell_w * j + cell_w / 2, top - 12, tech, "middle", 11))
    for i, (maker, row) in enumerate(data.items()):
        y = top + cell_h * i
        flagged = maker in concern
        label = f"{maker} ⚠" if flagged else maker
        parts.append(_svg_text(left - 8, y + 17, label, "end", 12, "#c53030" if flagged else "#1a202c"))
        for j, tech in enumerate(columns):
            n = row.get(tech, 0)
            shade = 0.12 + 0.78 * n / peak if n else 0.0
            colour = "197,48,48" if flagged else "43,108,176"
            parts.append(
                f'<rect x="{left + cell_w * j}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                f'fill="rgba({colour},{shade:.2f})" stroke="#e2e8f0"><title>{escape(maker)} / {escape(tech)}: {n}</title></rect>'
            )
            if n:
                parts.append(
                    _svg_text(
                        left + cell_w * j + cell_w / 2,
                        y + 17,
                        str(n),
                        "middle",
                        12,
                        "#fff" if shade > 0.5 else "#1a202c",
                    )
                )
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bars_svg(data: dict[str, dict[str, int]], colours: dict[str, str], title: str) -> Markup:
    """One horizontal bar per technology, split by state, with a legend."""
    if not data:
        return Markup("<p>No data.</p>")
    states = [s for s in colours if any(s in row for row in data.values())]
    states += sorted({s for row in data.values() for s in row} - set(states))
    bar_w, bar_h, left, top = 420, 22, 190, 30
    peak = max(sum(row.values()) for row in data.values()) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{left + bar_w + 60}" '
        f'height="{top + (bar_h + 8) * len(data) + 10}" aria-label="{escape(title)}">'
    ]
    x = left
    for state in states:
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colours.get(state, "#718096")}"/>')
        parts.append(_svg_text(x + 16, 16, state, size=11))
        x += 30 + 7 * len(state)
    for i, (tech, row) in enumerate(data.items()):
        y = top + (bar_h + 8) * i
        parts.append(_svg_text(left - 8, y + 16, tech, "end"))
        x0 = float(left)
        for state in states:
            n = row.get(state, 0)
            if not n:
                continue
            w = bar_w * n / peak
            parts.append(
                f'<rect x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colours.get(state, "#718096")}">'
                f"<title>{escape(tech)}: {escape(state)} {n}</title></rect>"
            )
            x0 += w
        parts.append(_svg_text(x0 + 6, y + 16, str(sum(row.values())), size=11))
    parts.append("</svg>")
    return Markup("".join(parts))


def to_html(report: AuditReport) -> str:
    env = Environment(
        loader=PackageLoader("camsweep.audit", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("report.html.j2")
    return template.render(
        r=report,
        counts=report.counts(),
        verdict_colours=VERDICT_COLOURS,
        max_devices=MAX_DEVICES_SHOWN,
        heatmap=heatmap_svg(report.manufacturers_by_technology, report.concern_makers),
        connectivity=stacked_bars_svg(
            report.connectivity_by_technology, CONNECTIVITY_COLOURS, "networked vs standalone"
        ),
        firmware=stacked_bars_svg(report.firmware_by_technology, FIRMWARE_COLOURS, "firmware age"),
    )


def _md(value: Any) -> str:
    text = "" if value is None else str(value)
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def _claimed(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def _device_line(d: DeviceRef) -> str:
    who = d.declared_as or f"#{d.id} {d.ip or ''} site {d.site}"
    bits = [
        who,
        " / ".join(x for x in (d.brand, d.manufacturer, d.model) if x) or "unknown make",
        f"firmware {d.firmware or '?'}",
        d.connectivity,
    ]
    if d.policy_flags:
        bits.append("flags " + ", ".join(d.policy_flags))
    if d.scans:
        bits.append("scans " + ", ".join(f"#{s}" for s in d.scans))
    if d.evidence:
        bits.append("evidence: " + "; ".join(d.evidence[:3]))
    return "; ".join(_md(b) for b in bits)


def _finding_md(f: Finding) -> list[str]:
    out = [
        f"#### {_md(f.label)}: `{f.question}` is **{f.verdict}**",
        "",
        f"- Answer (line {f.answer_line}): `{_md(_claimed(f.claimed))}`",
        f"- Why: {_md(f.reason)}",
    ]
    for d in f.devices[:MAX_DEVICES_SHOWN]:
        out.append(f"  - {_device_line(d)}")
    if len(f.devices) > MAX_DEVICES_SHOWN:
        out.append(f"  - … and {len(f.devices) - MAX_DEVICES_SHOWN} more (see the JSON report)")
    for s in f.scans:
        out.append(
            f"- Scan #{s.id} (site {_md(s.site)}, {s.status}, {s.started_at} → {s.finished_at or 'unfinished'}, "
            f"{s.addresses_done}/{s.addresses_total} addresses, targets {_md(', '.join(s.targets[:5]))})"
        )
    for c in f.caveats:
        out.append(f"- Caveat: {_md(c)}")
    out.append("")
    return out


def to_markdown(report: AuditReport) -> str:
    counts = report.counts()
    chain = report.chain
    out = [
        f"# Survey audit: {_md(report.force)}",
        "",
        f"- Survey: {_md(report.survey)}; answers `{_md(report.answers_path)}` (sha256 `{report.answers_sha256}`)",
        f"- Inventory: `{_md(report.inventory)}`, sites {_md(', '.join(report.sites))}; generated {report.generated_at}",
        f"- **Chain head: `{report.chain_head}`** — evidence chain "
        + ("intact" if chain["ok"] else f"**BROKEN**: {_md(chain['first_broken_link'])}"),
        *(
            f"- Scan {late['scan_id']} (site {_md(late['site'])}) was interrupted and sealed after the "
            f"fact by {_md(late['by'])} at {late['sealed_at']}: {_md(late['reason'])}"
            for late in chain.get("sealed_after_interruption", [])
        ),
        f"- Verdicts: {counts['contradicted']} contradicted, {counts['consistent']} consistent, "
        f"{counts['unverifiable']} unverifiable",
        "",
        "## Coverage caveats",
        "",
    ]
    out += [f"- {_md(c)}" for c in report.coverage_caveats] or [
        "- none: every site and declared network was scanned in time"
    ]
    out += [
        "",
        "## Answers",
        "",
        "| technology | question | answer | verdict | why |",
        "|---|---|---|---|---|",
    ]
    for f in report.findings:
        out.append(
            f"| {_md(f.label)} | {f.question} | {_md(_claimed(f.claimed))} | "
            f"{'**' + f.verdict + '**' if f.verdict == CONTRADICTED else f.verdict} | {_md(f.reason)} |"
        )
    out += ["", "## Contradictions", ""]
    contradictions = report.contradictions()
    if not contradictions:
        out += ["None.", ""]
    for f in contradictions:
        out += _finding_md(f)
    out += ["## Standalone units with out-of-date firmware", ""]
    out += [
        f"- {_md(s.name)}: {_md(s.manufacturer)} {_md(s.model)} firmware {_md(s.firmware or '?')}: {_md(s.problem)}"
        for s in report.standalone_firmware
    ] or ["None found."]
    out += ["", "## Other findings", ""]
    for f in report.findings:
        if f.verdict != CONTRADICTED:
            out += _finding_md(f)
    return "\n".join(out).rstrip() + "\n"


def render_all(report: AuditReport) -> dict[str, str]:
    return {"html": to_html(report), "md": to_markdown(report), "json": to_json(report)}


__all__: Sequence[str] = (
    "heatmap_svg",
    "render_all",
    "stacked_bars_svg",
    "to_html",
    "to_json",
    "to_markdown",
)
