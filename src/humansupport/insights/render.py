"""The reports as Markdown (to paste into an issue tracker), JSON (for scripts) or CSV (one row per theme
or finding). Customer text is escaped for Markdown and @-mentions are broken, so a pasted digest pings
nobody and renders no links or images the customer wrote."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Final

from .avoidable import AvoidableReport, Finding
from .digest import NO_CONVERSATIONS, DigestReport, ThemeDigest
from .periods import humane_duration

__all__ = ["FORMATS", "md_escape", "render_avoidable", "render_digest"]

FORMATS: Final = ("md", "json", "csv")
_MD_SPECIAL: Final = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(text: str) -> str:
    """Customer or tag text made inert in Markdown (no links, images, HTML, tables broken, mentions)."""
    return _MD_SPECIAL.sub(r"\\\1", text).replace("@", "@\u200b")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0%}"


def _day(report_start: object) -> str:
    return str(report_start)[:10]


def _trend(t: ThemeDigest) -> str:
    return f"{t.change:+d} ({_pct(t.change_share)})" if t.previous_conversations else f"{t.change:+d} (new)"


def _satisfaction(t: ThemeDigest) -> str:
    if t.good + t.bad == 0:
        return "no ratings"
    return f"{t.good_share:.0%} good ({t.good}/{t.good + t.bad})"


def _agents(t: ThemeDigest, limit: int = 3) -> str:
    shown = ", ".join(f"{md_escape(name)} ({n})" for _, name, n in t.agents[:limit])
    more = len(t.agents) - limit
    return shown + (f" +{more} more" if more > 0 else "") if shown else "-"


def _ref(cid: str, url: str | None) -> str:
    return f"[#{md_escape(cid)}]({url})" if url else f"#{md_escape(cid)}"


def digest_markdown(report: DigestReport) -> str:
    period = report.period
    head = f"## Feedback digest: {md_escape(report.account)}, {_day(period.start)} to {_day(period.end)}"
    if report.empty:
        return f"{head}\n\n{NO_CONVERSATIONS}.\n"
    lines = [
        head,
        "",
        f"{report.conversations} conversations from {report.customers} customers in "
        f"{humane_duration(period.length)} (previous {humane_duration(period.length)}: "
        f"{report.previous_conversations}).",
        "",
        "| Theme | Conversations | Customers | Trend | Satisfaction | Agents |",
        "|---|---:|---:|---|---|---|",
    ]
    for t in report.themes:
        lines.append(
            f"| {md_escape(t.theme)} | {t.conversations} | {t.customers} | {_trend(t)} | {_satisfaction(t)} "
            f"| {_agents(t)} |"
        )
    for t in report.themes:
        if not t.conversations:
            continue
        lines += [
            "",
            f"### {md_escape(t.theme)}",
            "",
            f"- {t.conversations} conversations from {t.customers} customers; previous period "
            f"{t.previous_conversations}, trend {_trend(t)}.",
            f"- Satisfaction: {_satisfaction(t)}.",
            f"- Agents: {_agents(t, limit=10)}.",
        ]
        if t.examples:
            lines.append("- Examples:")
            for e in t.examples:
                quote = f": “{md_escape(e.quote)}”" if e.quote else ""
                lines.append(f"  - {_ref(e.conversation_id, e.url)} ({_day(e.created_at)}){quote}")
    return "\n".join(lines) + "\n"


def digest_csv(report: DigestReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "theme",
            "conversations",
            "customers",
            "previous_conversations",
            "change",
            "change_share",
            "good",
            "bad",
            "good_share",
            "agents",
            "example_ids",
            "example_urls",
            "quotes",
        ]
    )
    for t in report.themes:
        writer.writerow(
            [
                t.theme,
                t.conversations,
                t.customers,
                t.previous_conversations,
                t.change,
                "" if t.change_share is None else t.change_share,
                t.good,
                t.bad,
                "" if t.good_share is None else t.good_share,
                "; ".join(f"{name} ({n})" for _, name, n in t.agents),
                " ".join(e.conversation_id for e in t.examples),
                " ".join(e.url or "" for e in t.examples).strip(),
                " | ".join(e.quote or "" for e in t.examples if e.quote),
            ]
        )
    return out.getvalue()


def render_digest(report: DigestReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return digest_csv(report)
    return digest_markdown(report)


_TITLES: Final = {
    "repeat_contact": "Customers who came back about the same theme",
    "reopened": "Conversations reopened after being solved",
    "rising": "Themes whose contacts rose",
}


def _finding_detail(f: Finding, report: AvoidableReport) -> str:
    if f.kind == "repeat_contact":
        return f"came back within {humane_duration(report.within)}"
    if f.kind == "reopened":
        n = f.detail["reopenings"]
        return f"{n} reopening{'' if n == 1 else 's'}"
    rise = f.detail["rise"]
    change = "new" if rise is None else f"{rise:+.0%}"
    return f"{f.detail['before_per_day']:.2f}/day before, {f.detail['after_per_day']:.2f}/day after ({change})"


def avoidable_markdown(report: AvoidableReport) -> str:
    period = report.period
    head = f"## Avoidable contacts: {md_escape(report.account)}, {_day(period.start)} to {_day(period.end)}"
    if report.empty:
        return f"{head}\n\n{NO_CONVERSATIONS}.\n"
    lines = [head, "", f"{report.conversations} conversations; rise compared before/after {_day(report.after)}."]
    for kind, title in _TITLES.items():
        found = report.of_kind(kind)
        lines += ["", f"### {title}", ""]
        if not found:
            lines.append("None found.")
            continue
        lines += ["| Theme | Customers | Conversations | Detail | Examples |", "|---|---:|---:|---|---|"]
        for f in found:
            refs = ", ".join(_ref(cid, url) for cid, url in f.examples)
            lines.append(
                f"| {md_escape(f.theme)} | {f.customers} | {f.conversations} | {_finding_detail(f, report)} | {refs} |"
            )
    return "\n".join(lines) + "\n"


def avoidable_csv(report: AvoidableReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "theme", "customers", "conversations", "detail", "example_ids", "example_urls"])
    for f in report.findings:
        writer.writerow(
            [
                f.kind,
                f.theme,
                f.customers,
                f.conversations,
                json.dumps(f.detail, sort_keys=True),
                " ".join(cid for cid, _ in f.examples),
                " ".join(url or "" for _, url in f.examples).strip(),
            ]
        )
    return out.getvalue()


def render_avoidable(report: AvoidableReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return avoidable_csv(report)
    return avoidable_markdown(report)
