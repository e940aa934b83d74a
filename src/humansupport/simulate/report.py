"""The replay's report: Markdown for people, JSON for scripts, one self-contained HTML page with the trade-off chart.

The HTML has no script and loads nothing: styles inline, the chart an inline SVG (continuity against the p90 wait
for an agent, each sweep setting a point, the current settings marked, as-it-happened and upper-bound lines),
so it opens offline and can be mailed as a file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any, Final

from .figures import MISS_REASONS
from .service import SimulationReport

__all__ = ["CURRENT_COLOR", "FORMATS", "POINT_COLOR", "render"]

FORMATS: Final = ("md", "json", "html")
#: the chart's colours (tests find the markers on a screenshot by them)
CURRENT_COLOR: Final = "#f97316"
POINT_COLOR: Final = "#2563eb"
POLICY_COLOR: Final = "#6b7280"
BOUND_COLOR: Final = "#16a34a"
#: x-axis steps (hours): five of the first that fits
_STEPS: Final = (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 12.0, 24.0, 48.0, 96.0, 168.0, 336.0, 720.0)


def render(report: SimulationReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_dict(), default=_default, indent=2, sort_keys=True) + "\n"
    if fmt == "html":
        return _html(report)
    if fmt == "md":
        return _markdown(report)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:g} h"


def _rows(report: SimulationReport) -> list[list[str]]:
    out = []
    for p in report.policies:
        wait = p["wait_to_first_agent_hours"]
        load = p["load"]
        out.append(
            [
                p["label"],
                _pct(p["preferred_agent_share"]),
                _num(p["upc"]),
                _num(p["coc"]),
                _num(p["secon"]),
                _pct(p["repeat_contact_rate"]),
                f"{_hours(wait['median'])} / {_hours(wait['p90'])} / {_hours(wait['max'])}",
                "-" if p["waited_past_timeout"] is None else str(p["waited_past_timeout"]),
                str(p["unassigned_at_end"]),
                "-" if load["min"] is None else f"{load['min']}-{load['max']} (cv {_num(load['cv'])})",
                "yes" if p["capacity_respected"] else "no",
            ]
        )
    return out


_HEAD: Final = [
    "policy",
    "preferred-agent share",
    "UPC",
    "COC",
    "SECON",
    "repeat contact",
    "wait for an agent: median / p90 / max",
    "waited past the timeout",
    "unassigned at the end",
    "conversations per agent",
    "within capacity",
]


def _period(report: SimulationReport) -> str:
    return f"{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC"


def _settings_line(settings: Mapping[str, Any]) -> str:
    window = settings["stickiness_days"]
    return (
        f"threshold {settings['threshold']:g}, "
        f"wait for the preferred agent {settings['wait_for_preferred_hours']:g} h, "
        f"top-k {settings['top_k']}, fallback {settings['fallback']}, half-life {settings['half_life_days']:g} days, "
        f"stickiness window {'none' if window is None else f'{window:g} days'}"
    )


def _markdown(report: SimulationReport) -> str:
    lines = [
        f"# Routing replay: {report.account}",
        "",
        f"{report.summary()}.",
        "",
        f"Period {_period(report)}: {report.conversations} conversations, {report.agents} agents. "
        f"Current settings: {_settings_line(report.settings)}.",
        "",
        "| " + " | ".join(_HEAD) + " |",
        "|" + "---|" * len(_HEAD),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(report)]
    lines += [
        "",
        "## Returning customers who missed their preferred agent, and why",
        "",
        "| policy | missed | " + " | ".join(MISS_REASONS) + " |",
        "|" + "---|" * (len(MISS_REASONS) + 2),
    ]
    for p in report.policies:
        miss = p["missed_preferred"]
        lines.append(f"| {p['label']} | {miss['total']} | " + " | ".join(str(miss[r]) for r in MISS_REASONS) + " |")
    if report.sweep:
        lines += [
            "",
            "## Sweep: continuity against the p90 wait for an agent",
            "",
            "| setting | preferred-agent share | COC | p90 wait | waited past the timeout |",
            "|---|---|---|---|---|",
        ]
        for s in report.sweep:
            label = f"**{s['label']}**" if s["current"] else s["label"]
            lines.append(
                f"| {label} | {_pct(s['preferred_agent_share'])} | {_num(s['coc'])} | "
                f"{_hours(s['wait_to_first_agent_hours']['p90'])} | {s['waited_past_timeout']} |"
            )
    lines += [
        "",
        "As it happened is history as the store has it (its figures are `humansupport metrics` for this period); "
        "history has no assignment times, so it has no wait. The upper bound gives every returning customer their "
        "preferred agent whenever that agent was on shift within the allowed wait, ignoring capacity: a ceiling, "
        "not a policy. What was possible is counted within the preferred-agent replay itself: conversations that "
        "reached their preferred agent, or whose preferred agent was on shift within the allowed wait. "
        "See docs/simulate.md for the assumptions and limits.",
        "",
    ]
    return "\n".join(lines)


# -- HTML ------------------------------------------------------------------------------------------------

_CSS: Final = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; margin: 24px;
       background: #ffffff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
p.summary { font-size: 16px; margin: 8px 0 4px; } p.meta { color: #4b5563; margin: 2px 0; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 4px 10px; border-bottom: 1px solid #e5e7eb;
       text-align: right; white-space: nowrap; } th:first-child, td:first-child { text-align: left; }
th { font-weight: 600; background: #f9fafb; white-space: normal; max-width: 120px; vertical-align: bottom; }
 tr.current td { font-weight: 600; }
.note { color: #4b5563; max-width: 900px; } svg text { font: 12px system-ui, sans-serif; fill: #374151; }
"""


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], *, current: Sequence[bool] = ()) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for i, row in enumerate(rows):
        cls = ' class="current"' if i < len(current) and current[i] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _chart_points(report: SimulationReport) -> list[tuple[str, float, float, str]]:
    """(label, p90 wait h, preferred share, kind) for the chart: sweep points, else the policies that waited."""
    points: list[tuple[str, float, float, str]] = []
    source = report.sweep or [
        {**p, "current": p["policy"] == "preferred"} for p in report.policies if p["policy"] != "upper_bound"
    ]
    for s in source:
        p90, share = s["wait_to_first_agent_hours"]["p90"], s["preferred_agent_share"]
        if p90 is None or share is None:
            continue
        kind = "current" if s["current"] else ("point" if report.sweep else "policy")
        points.append((s["label"], float(p90), float(share), kind))
    return points


def chart_svg(report: SimulationReport, *, width: int = 720, height: int = 400) -> str:
    """The trade-off chart: preferred-agent share (y) against the p90 wait for an agent (x)."""
    points = _chart_points(report)
    lines: list[tuple[str, float, str]] = []
    wait = f"{report.settings['wait_for_preferred_hours']:g} h"
    for name, color in (("as_it_happened", POLICY_COLOR), ("upper_bound", BOUND_COLOR)):
        p = report.policy(name)
        if p is not None and p["preferred_agent_share"] is not None:
            label = f"upper bound at the current wait ({wait})" if name == "upper_bound" else p["label"]
            lines.append((label, float(p["preferred_agent_share"]), color))
    left, right, top, bottom = 64, 24, 20, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for _, x, _, _ in points] or [0.0]
    ys = [y for _, _, y, _ in points] + [y for _, y, _ in lines] or [0.0, 1.0]
    step = next((s for s in _STEPS if max(xs) * 1.1 <= s * 5), _STEPS[-1])
    x_max = step * 5
    y_lo, y_hi = max(0.0, min(ys) - 0.05), min(1.0, max(ys) + 0.05)
    if y_hi - y_lo < 0.1:
        y_lo, y_hi = max(0.0, y_lo - 0.05), min(1.0, y_hi + 0.05)

    def sx(x: float) -> float:
        return left + x / x_max * plot_w

    def sy(y: float) -> float:
        return top + (1 - (y - y_lo) / (y_hi - y_lo)) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="continuity against p90 wait">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#ffffff" stroke="#d1d5db"/>',
    ]
    for i in range(6):
        y = y_lo + (y_hi - y_lo) * i / 5
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#f3f4f6"/>')
        out.append(f'<text x="{left - 8}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.0%}</text>')
        x = step * i
        out.append(f'<text x="{sx(x):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{x:g}</text>')
    out.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">p90 wait for an agent (hours)</text>'
    )
    out.append(
        f'<text x="14" y="{top + plot_h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2:.0f})">preferred-agent share</text>'
    )
    for label, y, color in lines:
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="{color}" '
            'stroke-width="2" stroke-dasharray="6 4"/>'
        )
        out.append(
            f'<text x="{left + plot_w - 4}" y="{sy(y) - 5:.1f}" text-anchor="end" style="fill:{color}">'
            f"{escape(label)} {y:.0%}</text>"
        )
    labels: dict[tuple[float, float], list[str]] = {}  # points on one spot share one label
    for label, x, y, _kind in sorted(points, key=lambda p: p[3] != "current"):
        labels.setdefault((round(sx(x)), round(sy(y))), []).append(label)
    for label, x, y, kind in sorted(points, key=lambda p: p[3] == "current"):
        cx, cy = sx(x), sy(y)
        if kind == "current":
            out.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="9" fill="{CURRENT_COLOR}" stroke="#7c2d12" stroke-width="1.5">'
                f"<title>{escape(label)}</title></circle>"
            )
        else:
            color = POINT_COLOR if kind == "point" else POLICY_COLOR
            out.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="{color}"><title>{escape(label)}</title></circle>'
            )
        shared = labels.pop((round(cx), round(cy)), None)
        if shared:
            out.append(f'<text x="{cx + 11:.1f}" y="{cy - 8:.1f}">{escape(" = ".join(shared))}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _html(report: SimulationReport) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Routing replay: {escape(report.account)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Routing replay: {escape(report.account)}</h1>",
        f'<p class="summary">{escape(report.summary())}.</p>',
        f'<p class="meta">Period {escape(_period(report))}: {report.conversations} conversations, '
        f"{report.agents} agents.</p>",
        f'<p class="meta">Current settings: {escape(_settings_line(report.settings))}.</p>',
        "<h2>Continuity against the wait</h2>",
        chart_svg(report),
        '<p class="note">Each point is one setting of preferred-agent routing replayed over the period'
        + (" (the larger orange point: the current settings)" if report.sweep else "")
        + "; dashed lines: as it happened and the upper bound.</p>",
        "<h2>Policies</h2>",
        _table(_HEAD, _rows(report)),
        "<h2>Returning customers who missed their preferred agent, and why</h2>",
        _table(
            ["policy", "missed", *MISS_REASONS],
            [
                [
                    p["label"],
                    str(p["missed_preferred"]["total"]),
                    *(str(p["missed_preferred"][r]) for r in MISS_REASONS),
                ]
                for p in report.policies
            ],
        ),
    ]
    if report.sweep:
        parts += [
            "<h2>Sweep</h2>",
            _table(
                ["setting", "preferred-agent share", "COC", "p90 wait", "waited past the timeout"],
                [
                    [
                        s["label"],
                        _pct(s["preferred_agent_share"]),
                        _num(s["coc"]),
                        _hours(s["wait_to_first_agent_hours"]["p90"]),
                        str(s["waited_past_timeout"]),
                    ]
                    for s in report.sweep
                ],
                current=[bool(s["current"]) for s in report.sweep],
            ),
        ]
    parts += [
        '<p class="note">As it happened is the history as the store has it: its figures are those of '
        "<code>humansupport metrics</code> for this period. History has no assignment times, so it shows no wait. "
        "The upper bound gives every returning customer their preferred agent whenever that agent was on shift "
        "within the wait the settings allow, ignoring capacity: a ceiling, not a policy. What was possible is "
        "counted within the preferred-agent replay itself: conversations that reached their preferred agent, or "
        "whose preferred agent was on shift within the allowed wait. Shifts are rebuilt from "
        "the agents' activity; a replay cannot know how customers would have rated other agents, or whether they "
        "would have written again sooner after a longer wait (docs/simulate.md).</p>",
        "</body></html>",
        "",
    ]
    return "\n".join(parts)
